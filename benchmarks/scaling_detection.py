"""Does ``scaling: auto`` find log and reverse-log scales? Regret and verdicts over seeds.

For each group of problems — the same function with some dimensions declared
``auto``, ``linear`` or as their true scale (``log`` / ``reverse_log``) — the
script runs fasthpo's Bayesian strategy through :mod:`fasthpo.benchmark`
(resumable results in ``--out``) and prints

* the median regret of the incumbent after each ``--regret-at`` evaluation
  count, per declaration, and the ratio auto / true-scale declaration;
* the share of correct verdicts of :meth:`BayesianOptimizer.detected_scaling`
  on the ``auto`` dimensions after each ``--checkpoints`` count (the truth is
  the problem's ``true_scaling``; ``undetermined`` counts as wrong);
* the share of ``log`` verdicts on dimensions that are truly linear and over a
  range where ``log`` could be declared (the ``+lin`` controls).

Real tasks have no known optimum: their regret is measured from the best value
any run of the group found, and their verdicts have no truth to score (the
script lists how often each verdict was given).

    python benchmarks/scaling_detection.py --seeds 10 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fasthpo.benchmark.problems import get_problem
from fasthpo.benchmark.report import load_results
from fasthpo.benchmark.runner import BenchmarkPlan, read_records, run_benchmark

OPTIMIZER = "fasthpo-bayesian"

#: Problem templates ({} is the declaration) and the declarations compared; the first is auto.
GROUPS: dict[str, tuple[str, ...]] = {
    "styblinski-tang-1+log-{}": ("auto", "linear", "log"),
    "hartmann3+log-{}": ("auto", "linear", "log"),
    "hartmann6+log3-{}": ("auto", "linear", "log"),
    "hartmann3+revlog-{}": ("auto", "linear", "reverse_log"),
    "styblinski-tang-1+lin-{}": ("auto", "linear"),
    "hartmann3+lin-{}": ("auto", "linear"),
    "hartmann6+lin3-{}": ("auto", "linear"),
    "mlp-wine+as-{}": ("auto", "linear", "log"),
}


def _regrets(
    out: Path, group: str, declarations: Sequence[str], at: Sequence[int]
) -> dict[str, dict[int, float]]:
    """Median regret per declaration after each count in ``at`` (one shared reference per group)."""
    names = {group.format(d): d for d in declarations}
    runs = [r for r in load_results(out / "results.jsonl") if r.key.problem in names and r.status == "ok"]
    optimum = get_problem(next(iter(names))).optimum
    reference = optimum if optimum is not None else min(float(r.true_values.min()) for r in runs)
    table: dict[str, dict[int, float]] = {}
    for name, declared in names.items():
        curves = [r.incumbent_true_values() - reference for r in runs if r.key.problem == name]
        table[declared] = {n: float(np.median([c[n - 1] for c in curves if len(c) >= n])) for n in at}
    return table


def _verdicts(
    out: Path, problem: str, checkpoints: Sequence[int]
) -> dict[int, list[tuple[str, str, str]]]:
    """(name, true scale or '', verdict) of each auto dimension of each finished run, per checkpoint."""
    spec = get_problem(problem)
    auto = [p.name for p in spec.space if p.kind != "categorical" and p.scaling == "auto"]
    truth = spec.true_scaling or {}
    path = out / "results.jsonl"
    finished = {r["attempt"] for r in read_records(path)
                if r["kind"] == "done" and r["problem"] == problem and r.get("status") == "ok"}
    found: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for record in read_records(path):
        if record["kind"] == "eval" and record["attempt"] in finished and record["step"] in checkpoints:
            for name in auto:
                verdict = record.get("scaling", {}).get(name, "")
                found[record["step"]].append((name, truth.get(name, ""), verdict))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="bench-results/scaling-detection")
    parser.add_argument("--groups", nargs="*", default=list(GROUPS),
                        help="problem templates, e.g. 'hartmann3+log-{}'")
    parser.add_argument("--regret-at", nargs="*", type=int, default=[20, 50])
    parser.add_argument("--checkpoints", nargs="*", type=int, default=[10, 20, 40])
    parser.add_argument("--cache", default=None, help="evaluation cache folder of real tasks")
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group {unknown[0]!r}; known: {', '.join(GROUPS)}")
    budget = max([*args.regret_at, *args.checkpoints])
    out = Path(args.out)
    problems = tuple(g.format(d) for g in args.groups for d in GROUPS[g])
    plan = BenchmarkPlan(problems=problems, optimizers=(OPTIMIZER,), budget=budget, seeds=args.seeds)
    run_benchmark(plan, out, workers=args.workers, cache_dir=args.cache, progress=sys.stderr.isatty())

    at = args.regret_at
    print(f"{args.seeds} seeds, {budget} evaluations, {OPTIMIZER}; median regret of the incumbent.\n")
    print("| problem | " + " | ".join(f"{d} @{n}" for n in at for d in ("auto", "linear", "true scale"))
          + " | " + " | ".join(f"auto / true @{n}" for n in at) + " |")
    print("|---" * (1 + 4 * len(at)) + "|")
    for group in args.groups:
        declarations = GROUPS[group]
        table = _regrets(out, group, declarations, at)
        true_decl = declarations[2] if len(declarations) > 2 else "linear"
        cells = [f"{table[d][n]:.3g}" if d in table else "" for n in at
                 for d in ("auto", "linear", true_decl)]
        ratios = [table["auto"][n] / table[true_decl][n] if table[true_decl][n] > 0 else float("nan")
                  for n in at]
        print(f"| `{group.format('*')}` (true: {true_decl}) | " + " | ".join(cells) + " | "
              + " | ".join(f"{r:.2f}" for r in ratios) + " |")

    print("\nShare of correct verdicts on the auto dimensions (count of dimension-runs):\n")
    print("| problem | " + " | ".join(f"after {n}" for n in args.checkpoints) + " | verdicts at the end |")
    print("|---" * (2 + len(args.checkpoints)) + "|")
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    false_log = [0, 0]
    for group in args.groups:
        problem = group.format("auto")
        found = _verdicts(out, problem, args.checkpoints)
        cells = []
        for n in args.checkpoints:
            scored = [(t, v) for _, t, v in found.get(n, []) if t]
            if not scored:
                cells.append("–")
                continue
            right = sum(t == v for t, v in scored)
            totals[n][0] += right
            totals[n][1] += len(scored)
            cells.append(f"{right / len(scored):.0%} ({len(scored)})")
        last = Counter(v for _, _, v in found.get(max(args.checkpoints), []))
        print(f"| `{problem}` | " + " | ".join(cells) + " | "
              + ", ".join(f"{v} {c}" for v, c in last.most_common()) + " |")
        # False log verdicts: only where log could be declared at all (min > 0).
        spec = get_problem(problem)
        loggable = {p.name for p in spec.space if p.kind != "categorical" and p.low > 0}
        for n in args.checkpoints:
            verdicts = [v for name, t, v in found.get(n, []) if t == "linear" and name in loggable]
            false_log[0] += sum(v == "log" for v in verdicts)
            false_log[1] += len(verdicts)
    print("| **all with a known scale** | " + " | ".join(
        f"**{r / t:.0%}** ({t})" if t else "–" for r, t in (totals[n] for n in args.checkpoints)) + " | |")
    share = false_log[0] / false_log[1] if false_log[1] else float("nan")
    print(f"\nFalse `log` verdicts on truly linear dimensions whose range allows log "
          f"(all checkpoints): {false_log[0]} of {false_log[1]} ({share:.1%}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
