"""Turning a results file into tables and plots.

Regret is *simple regret of the incumbent*: after i evaluations, the
incumbent is the configuration with the best observed value so far, and its
regret is its noiseless value minus the reference optimum. The reference is
the problem's known optimum, or else (real tasks) the best value any run in
the file found for that problem — so regrets of real tasks compare optimizers
with each other, not with a true optimum.

Ranks: for each problem and seed, optimizers are ranked by final regret (ties
share the mean rank); a problem's mean rank averages over the seeds every
optimizer of that problem finished, and the overall rank averages the problems.
Proposal time is the median wall time of the ``ask`` calls, per configuration.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fasthpo.benchmark.runner import RunKey, key_of, read_records


@dataclass
class RunResult:
    """One finished run: per-evaluation observed and noiseless values and proposal times."""

    key: RunKey
    values: np.ndarray
    true_values: np.ndarray
    propose_s: np.ndarray
    status: str = "ok"
    error: str | None = None

    def incumbent_true_values(self) -> np.ndarray:
        """Noiseless value of the best-observed configuration after each evaluation."""
        best_index = np.zeros(len(self.values), dtype=int)
        best = 0
        for i in range(len(self.values)):
            if self.values[i] < self.values[best]:
                best = i
            best_index[i] = best
        return self.true_values[best_index]


def load_results(path: str | Path) -> list[RunResult]:
    """The finished runs of a results file (only the attempt each ``done`` line closes)."""
    evals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    done: dict[RunKey, dict[str, Any]] = {}
    for record in read_records(Path(path)):
        if record["kind"] == "eval":
            evals[record["attempt"]].append(record)
        elif record["kind"] == "done":
            done[key_of(record)] = record
    results = []
    for key, record in sorted(done.items()):
        rows = sorted(evals.get(record["attempt"], []), key=lambda r: r["step"])
        results.append(
            RunResult(
                key=key,
                values=np.array([r["value"] for r in rows], dtype=float),
                true_values=np.array([r["true_value"] for r in rows], dtype=float),
                propose_s=np.array([r["propose_s"] for r in rows], dtype=float),
                status=record.get("status", "ok"),
                error=record.get("error"),
            )
        )
    return results


def combine_results(paths: Sequence[str | Path]) -> list[RunResult]:
    """The finished runs of several results files, as one list (a run in several: the last file's).

    Runs keep the order the files give them, so a table's columns follow the files.

    Lets a table mix runs measured at different times, e.g. peers' results kept
    in the repository with fasthpo's own rows rerun after a change.
    """
    runs: dict[RunKey, RunResult] = {}
    for path in paths:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no results file at {path}")
        runs.update((r.key, r) for r in load_results(path))
    return list(runs.values())


def regret_curves(results: Sequence[RunResult]) -> dict[RunKey, np.ndarray]:
    """Regret of the incumbent after each evaluation, for every successful run."""
    from fasthpo.benchmark.problems import get_problem

    ok = [r for r in results if r.status == "ok" and len(r.values)]
    reference: dict[str, float] = {}
    for problem in {r.key.problem for r in ok}:
        optimum = _known_optimum(problem, get_problem)
        best_found = min(float(r.true_values.min()) for r in ok if r.key.problem == problem)
        reference[problem] = optimum if optimum is not None else best_found
    return {r.key: r.incumbent_true_values() - reference[r.key.problem] for r in ok}


def _known_optimum(problem: str, get_problem: Any) -> float | None:
    try:
        return get_problem(problem).optimum
    except Exception:  # a problem this version no longer knows: fall back to best found
        return None


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    return f"{x:.3g}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _order(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def mean_ranks(curves: dict[RunKey, np.ndarray], parallel: int = 1) -> dict[str, dict[str, float]]:
    """problem -> optimizer -> mean rank of final regret over seeds (1 is best).

    Only the seeds on which every optimizer of the problem has a finished run count: a
    seed one optimizer lacks (runs combined from files of different lengths, a failed
    run) would rank the others among fewer rivals and flatter them.
    """
    from scipy.stats import rankdata

    by_problem_seed: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    present: dict[str, set[str]] = defaultdict(set)
    for key, curve in curves.items():
        if key.parallel == parallel:
            by_problem_seed[(key.problem, key.seed)][key.optimizer] = float(curve[-1])
            present[key.problem].add(key.optimizer)
    ranks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (problem, _seed), finals in by_problem_seed.items():
        if len(finals) < len(present[problem]):
            continue
        names = list(finals)
        for name, rank in zip(names, rankdata([finals[n] for n in names]), strict=True):
            ranks[problem][name].append(float(rank))
    return {p: {o: float(np.mean(v)) for o, v in opts.items()} for p, opts in ranks.items()}


def _axes(
    curves: dict[RunKey, np.ndarray], problems: Sequence[str] | None,
    optimizers: Sequence[str] | None,
) -> tuple[list[str], list[str]]:
    """Problems and optimizers present in ``curves``, in the given order when one is given."""
    present_p = _order(k.problem for k in curves)
    present_o = _order(k.optimizer for k in curves)
    return (
        [p for p in problems if p in present_p] if problems else present_p,
        [o for o in optimizers if o in present_o] if optimizers else present_o,
    )


def markdown_report(
    results: Sequence[RunResult],
    *,
    title: str = "Benchmark results",
    problems: Sequence[str] | None = None,
    optimizers: Sequence[str] | None = None,
) -> str:
    """Final-regret, rank, proposal-time and parallelism tables, in markdown.

    ``problems`` and ``optimizers`` set the order of rows and columns (default:
    as found in ``results``).
    """
    curves = regret_curves(results)
    problems, optimizers = _axes(curves, problems, optimizers)
    parts = [f"# {title}", ""]
    budgets = sorted({k.budget for k in curves})
    seeds = sorted({k.seed for k in curves})
    parts.append(
        f"{len(curves)} runs: budget {', '.join(map(str, budgets))} evaluations, "
        f"{len(seeds)} seed(s). Regret: median [25%, 75%] over seeds of the incumbent's "
        "noiseless value minus the optimum (real tasks: minus the best value any run found)."
    )
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        parts.append(f"\n- failed: {r.key.problem} x {r.key.optimizer} seed {r.key.seed}: {r.error}")

    parts += _regret_tables(curves, problems, optimizers, 1, "sequential")
    parts += [
        "",
        "## Proposal time (ms): mean per proposal / median of the last proposal",
        "",
        "The mean includes the initial random proposals of model-based optimizers; the last "
        "proposal is made with budget − 1 observations.",
        "",
    ]
    by_run = {r.key: r for r in results if r.status == "ok"}
    rows = []
    for problem in problems:
        row = [problem]
        for o in optimizers:
            runs = [by_run[k].propose_s for k in curves
                    if k.problem == problem and k.optimizer == o and k.parallel == 1]
            if not runs:
                row.append("-")
                continue
            mean = 1e3 * float(np.mean(np.concatenate(runs)))
            last = 1e3 * float(np.median([t[-1] for t in runs]))
            row.append(f"{_fmt(mean)} / {_fmt(last)}")
        rows.append(row)
    parts.append(_table(["problem", *optimizers], rows))

    qs = sorted({k.parallel for k in curves} - {1})
    for q in qs:
        parts += _regret_tables(curves, problems, optimizers, q, f"{q} trials at a time")
    if qs:
        parts += ["", "## Cost of parallelism: median final regret(q) / regret(1)", ""]
        rows = []
        for problem in problems:
            for q in qs:
                row = [f"{problem} (q={q})"]
                for o in optimizers:
                    base = _median_final(curves, problem, o, 1)
                    other = _median_final(curves, problem, o, q)
                    row.append(_fmt(other / base) if base > 0 else ("1" if other == base else "inf"))
                rows.append(row)
        parts.append(_table(["problem", *optimizers], rows))
    return "\n".join(parts) + "\n"


def _regret_tables(
    curves: dict[RunKey, np.ndarray], problems: Sequence[str], optimizers: Sequence[str],
    q: int, label: str,
) -> list[str]:
    """The final-regret and mean-rank tables of the runs made with ``q`` workers; the
    headings name ``q`` unless it is 1, so tables of several parallelisms never mix."""
    suffix = "" if q == 1 else f", q = {q}"
    parts = ["", f"## Final regret ({label})", ""]
    rows = []
    for problem in problems:
        finals = {
            o: np.array([c[-1] for k, c in curves.items()
                         if k.problem == problem and k.optimizer == o and k.parallel == q])
            for o in optimizers
        }
        medians = {o: float(np.median(v)) for o, v in finals.items() if len(v)}
        if not medians:
            continue
        best = min(medians.values())
        row = [problem]
        for o in optimizers:
            v = finals[o]
            if not len(v):
                row.append("-")
                continue
            q25, q50, q75 = np.percentile(v, [25, 50, 75])
            cell = f"{_fmt(q50)} [{_fmt(q25)}, {_fmt(q75)}]"
            row.append(f"**{cell}**" if q50 == best else cell)
        rows.append(row)
    parts.append(_table(["problem", *optimizers], rows))

    ranks = mean_ranks(curves, parallel=q)
    ranked = [p for p in problems if p in ranks]
    parts += ["", f"## Mean rank (1 = best{suffix})", ""]
    rows = [[p, *(_fmt(ranks[p].get(o, np.nan)) for o in optimizers)] for p in ranked]
    overall = [
        float(np.mean([ranks[p][o] for p in ranked if o in ranks[p]]))
        if any(o in ranks[p] for p in ranked) else np.nan
        for o in optimizers
    ]
    rows.append(["**overall**", *(f"**{_fmt(x)}**" for x in overall)])
    parts.append(_table(["problem", *optimizers], rows))
    return parts


def _median_final(curves: dict[RunKey, np.ndarray], problem: str, optimizer: str, q: int) -> float:
    finals = [c[-1] for k, c in curves.items()
              if k.problem == problem and k.optimizer == optimizer and k.parallel == q]
    return float(np.median(finals)) if finals else np.nan


def plot_report(
    results: Sequence[RunResult],
    out_dir: str | Path,
    *,
    problems: Sequence[str] | None = None,
    optimizers: Sequence[str] | None = None,
) -> list[Path]:
    """Best-so-far regret curves per problem and proposal time against n, as PNG files.

    Needs matplotlib (the ``bench`` extra); raises ImportError with the install hint if missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install 'fasthpo[bench]' (from a checkout: pip install '.[bench]')"
        ) from None

    out = Path(out_dir)
    curves = regret_curves(results)
    problems, optimizers = _axes(curves, problems, optimizers)
    colors = {o: plt.get_cmap("tab10")(i % 10) for i, o in enumerate(optimizers)}

    cols = min(3, len(problems)) or 1
    rows = (len(problems) + cols - 1) // cols or 1
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, problem in zip(axes.flat, problems, strict=False):
        # Regret 0 (a real task's best-known value reached) cannot sit on a log axis:
        # draw it at half the smallest positive regret of the problem.
        positive = [c[c > 0].min() for k, c in curves.items() if k.problem == problem and (c > 0).any()]
        floor = 0.5 * min(positive) if positive else 1e-12
        for o in optimizers:
            runs = [c for k, c in curves.items() if k.problem == problem and k.optimizer == o
                    and k.parallel == 1]
            if not runs:
                continue
            length = min(len(c) for c in runs)
            stack = np.maximum(np.array([c[:length] for c in runs]), floor)
            x = np.arange(1, length + 1)
            q25, q50, q75 = np.percentile(stack, [25, 50, 75], axis=0)
            ax.plot(x, q50, color=colors[o], label=o)
            ax.fill_between(x, q25, q75, color=colors[o], alpha=0.2)
        ax.set_yscale("log")
        ax.set_title(problem)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("regret")
    for ax in list(axes.flat)[len(problems):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    curves_png = out / "curves.png"
    fig.savefig(curves_png, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    by_run = {r.key: r for r in results if r.status == "ok"}
    for o in optimizers:
        times = [by_run[k].propose_s for k in curves if k.optimizer == o and k.parallel == 1]
        if not times:
            continue
        length = min(len(t) for t in times)
        median = np.median(np.array([t[:length] for t in times]), axis=0)
        ax.plot(np.arange(1, length + 1), np.maximum(median, 1e-6) * 1e3, color=colors[o], label=o)
    ax.set_yscale("log")
    ax.set_xlabel("observations n")
    ax.set_ylabel("proposal time (ms, median)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    time_png = out / "proposal_time.png"
    fig.savefig(time_png, dpi=110)
    plt.close(fig)
    return [curves_png, time_png]
