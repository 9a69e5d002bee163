"""How many trials parallel runs need to match a sequential run's regret.

The cost of running q trials at once is usually told at a fixed number of
trials: regret(q) / regret(1) after 50 of them. On a problem whose sequential
runs home in on a narrow basin that ratio is huge (thousands) while the
parallel runs are only a little behind in time; what a user can act on is
how many more trials buy the same result. For each problem this runs the
bench's own simulation (:func:`fasthpo.benchmark.runner.run_one`, fifo
arrival unless ``--arrival random``) sequentially for the largest
``--reference`` and at each q for up to ``--budget`` trials, keeps every
run's regret of the incumbent after each evaluation (``--out``, JSON; runs
already there are skipped), and prints, for each ``--reference``, the target
(the sequential runs' median regret after that many trials) and, for each q,
the fewest trials after which the median over seeds reaches it, as a
multiple of the reference. ">" marks a q that did not reach it within
``--budget``.

    python benchmarks/parallel_trials.py -q 4 8 --seeds 30 --budget 150 --out trials.json
    python benchmarks/parallel_trials.py -q 32 --seeds 30 --budget 250 --reference 20 30 50 --out t32.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from fasthpo.benchmark.problems import get_problem
from fasthpo.benchmark.runner import RunKey, run_one

PROBLEMS = ["branin", "hartmann6", "levy-10", "hartmann6+noise0.1"]


def regret_curve(problem: str, optimizer: str, seed: int, q: int, budget: int,
                 arrival: str) -> list[float]:
    """Regret of the incumbent (best observed value; its true value) after each evaluation."""
    optimum = get_problem(problem).optimum or 0.0
    curve: list[float] = []
    best_value, best_true = float("inf"), float("inf")
    key = RunKey(problem, optimizer, seed, q, budget, arrival)
    for record in run_one(key):
        if record["value"] < best_value:
            best_value, best_true = record["value"], record["true_value"]
        curve.append(best_true - optimum)
    return curve


def trials_to_reach(curves: list[list[float]], target: float) -> int | None:
    """Fewest trials after which the median over the runs is at or below ``target``."""
    for n in range(1, min(len(c) for c in curves) + 1):
        if statistics.median(c[n - 1] for c in curves) <= target:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=PROBLEMS)
    parser.add_argument("-q", "--parallel", nargs="+", type=int, default=[4, 8])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--reference", type=int, nargs="+", default=[50],
                        help="trials of the sequential runs (one table each)")
    parser.add_argument("--budget", type=int, default=150, help="most trials of the parallel runs")
    parser.add_argument("--optimizer", default="fasthpo-bayesian")
    parser.add_argument("--arrival", choices=["fifo", "random"], default="fifo")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    curves: dict[str, list[float]] = (
        json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    )
    plan = [(1, max(args.reference)), *((q, args.budget) for q in args.parallel)]
    lines: dict[int, list[str]] = {reference: [] for reference in args.reference}
    for problem in args.problems:
        for q, budget in plan:
            for seed in range(args.seeds):
                name = f"{problem}|{q}|{seed}|{args.optimizer}|{args.arrival}"
                if name not in curves or len(curves[name]) < budget:
                    curves[name] = regret_curve(problem, args.optimizer, seed, q, budget, args.arrival)
                    args.out.write_text(json.dumps(curves), encoding="utf-8")
        runs = {q: [curves[f"{problem}|{q}|{s}|{args.optimizer}|{args.arrival}"][:budget]
                    for s in range(args.seeds)] for q, budget in plan}
        for reference in args.reference:
            target = statistics.median(c[reference - 1] for c in runs[1])
            cells = []
            for q in args.parallel:
                n = trials_to_reach(runs[q], target)
                cells.append(f">{args.budget / reference:.2g}×" if n is None
                             else f"{n} ({n / reference:.2g}×)")
            lines[reference].append(f"{problem:24s} {target:9.3g} "
                                    + " ".join(f"{c:>12s}" for c in cells))
    for reference in args.reference:
        print(f"\nsequential runs of {reference} trials")
        print(f"{'problem':24s} {'target':>9s} " + " ".join(f"{f'q={q}':>12s}" for q in args.parallel))
        print("\n".join(lines[reference]))


if __name__ == "__main__":
    main()
