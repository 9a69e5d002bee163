"""Multi-fidelity benchmark: best validation error against total epochs, Hyperband against its peers.

The task is real and its resource is real: an MLP on scikit-learn's bundled
digits (600 training images, 600 held out), trained one epoch per
``partial_fit`` pass, its validation error measured after every epoch. Tuned:
hidden units [8, 64], L2 ``alpha`` [1e-6, 1e-1], ``learning_rate_init``
[1e-4, 0.3] and ``batch_size`` [32, 256] (log scales). One epoch of one trial
costs one unit of resource; a method's curve is its best trial value so far
against the epochs it has spent. A trial's value is its last validation error
(the epoch it was stopped at, or the last).

Methods, all sequential (one trial at a time) and seeded:

* ``fasthpo-hyperband``: :class:`~fasthpo.strategies.hyperband.HyperbandProposals`
  (GP proposals) with the runner's own :class:`~fasthpo.runner.successive_halving.SuccessiveHalving`
  deciding each stop, R0 = 1, R = 27, η = 3;
* ``fasthpo-hyperband-random``: the same with uniform proposals;
* ``fasthpo-bayesian``: the GP strategy, every trial 27 epochs;
* ``optuna-tpe-hyperband`` / ``optuna-tpe-sha``: Optuna's TPE with its
  ``HyperbandPruner`` / ``SuccessiveHalvingPruner`` (same R0, R, η).

Every method spends the same budget: the epochs 30 full trials take (810).

    PYTHONPATH=. python benchmarks/multifidelity.py --seeds 5 --out mf.jsonl
    PYTHONPATH=. python benchmarks/multifidelity.py --report mf.jsonl --plot docs/img/multifidelity.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from fasthpo.jobspec import HyperbandSettings
from fasthpo.metric_report import MetricReport
from fasthpo.objective import Objective
from fasthpo.runner.successive_halving import SuccessiveHalving
from fasthpo.space import Continuous, Integer, SearchSpace
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.hyperband import HyperbandProposals

MIN_EPOCHS, MAX_EPOCHS, ETA = 1, 27, 3
FULL_TRIALS = 30
BUDGET = FULL_TRIALS * MAX_EPOCHS
METHODS = (
    "fasthpo-hyperband", "fasthpo-hyperband-random", "fasthpo-bayesian",
    "optuna-tpe-hyperband", "optuna-tpe-sha",
)
SPACE = SearchSpace([
    Integer("hidden_units", 8, 64, scaling="log"),
    Continuous("alpha", 1e-6, 1e-1, scaling="log"),
    Continuous("learning_rate_init", 1e-4, 0.3, scaling="log"),
    Integer("batch_size", 32, 256, scaling="log"),
])

_DATA: tuple[np.ndarray, ...] | None = None


def _data() -> tuple[np.ndarray, ...]:
    global _DATA
    if _DATA is None:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        order = np.random.default_rng(0).permutation(len(y))
        X, y = X[order] / 16.0, y[order]
        _DATA = (X[:600], y[:600], X[600:1200], y[600:1200])
    return _DATA


def training(config: dict[str, Any], seed: int) -> Iterator[float]:
    """Train the MLP of ``config`` epoch by epoch; yield its validation error after each."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, Xv, yv = _data()
    model = MLPClassifier(
        hidden_layer_sizes=(int(config["hidden_units"]),), alpha=config["alpha"],
        learning_rate_init=config["learning_rate_init"], batch_size=int(config["batch_size"]),
        random_state=seed,
    )
    classes = np.arange(10)
    for _ in range(MAX_EPOCHS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X, y, classes=classes)
        yield float(1.0 - model.score(Xv, yv))


class Curve:
    """Best trial value so far against epochs spent."""

    def __init__(self) -> None:
        self.epochs = 0
        self.best = math.inf
        self.points: list[tuple[int, float]] = []
        self.trials = 0

    def epoch(self) -> None:
        self.epochs += 1

    def trial(self, value: float) -> None:
        self.trials += 1
        if value < self.best:
            self.best = value
            self.points.append((self.epochs, value))

    @property
    def spent(self) -> bool:
        return self.epochs >= BUDGET


def run_hyperband(seed: int, proposals: str) -> Curve:
    settings = HyperbandSettings("epochs", MIN_EPOCHS, MAX_EPOCHS, ETA)
    scheduler = SuccessiveHalving(settings, Objective("error"))
    strategy = HyperbandProposals(SPACE, seed=seed, max_resource=MAX_EPOCHS, proposals=proposals)  # type: ignore[arg-type]
    curve = Curve()
    trial_id = 0
    while not curve.spent:
        trial_id += 1
        config = strategy.ask(1)[0]
        value = math.inf
        for epoch, value in enumerate(training(config, seed * 1000 + trial_id), start=1):
            curve.epoch()
            for resource, at_rung in scheduler.report(trial_id, MetricReport("error", value, step=epoch)):
                strategy.tell_rung(config, resource, at_rung)
            if scheduler.should_stop(trial_id) is not None or curve.spent:
                break
        curve.trial(value)
    return curve


def run_bayesian(seed: int) -> Curve:
    strategy = BayesianOptimizer(SPACE, seed=seed)
    curve = Curve()
    trial_id = 0
    while not curve.spent:
        trial_id += 1
        config = strategy.ask(1)[0]
        values = []
        for error in training(config, seed * 1000 + trial_id):
            curve.epoch()
            values.append(error)
        value = values[-1]
        strategy.tell(config, value)
        curve.trial(value)
    return curve


def run_optuna(seed: int, pruner_name: str) -> Curve:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner: Any
    if pruner_name == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=MIN_EPOCHS, max_resource=MAX_EPOCHS, reduction_factor=ETA
        )
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=MIN_EPOCHS, reduction_factor=ETA)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    curve = Curve()
    trial_id = 0
    while not curve.spent:
        trial_id += 1
        trial = study.ask()
        config = {
            "hidden_units": trial.suggest_int("hidden_units", 8, 64, log=True),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 0.3, log=True),
            "batch_size": trial.suggest_int("batch_size", 32, 256, log=True),
        }
        value = math.inf
        pruned = False
        for epoch, value in enumerate(training(config, seed * 1000 + trial_id), start=1):
            curve.epoch()
            trial.report(value, epoch)
            if trial.should_prune() or curve.spent:
                pruned = True
                break
        state = optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE
        study.tell(trial, value if not pruned else None, state=state)
        curve.trial(value)
    return curve


RUNNERS: dict[str, Callable[[int], Curve]] = {
    "fasthpo-hyperband": lambda seed: run_hyperband(seed, "gp"),
    "fasthpo-hyperband-random": lambda seed: run_hyperband(seed, "random"),
    "fasthpo-bayesian": run_bayesian,
    "optuna-tpe-hyperband": lambda seed: run_optuna(seed, "hyperband"),
    "optuna-tpe-sha": lambda seed: run_optuna(seed, "sha"),
}


def best_at(points: list[list[float]], epochs: int) -> float:
    """The best value a run had after spending ``epochs``."""
    best = math.inf
    for spent, value in points:
        if spent <= epochs:
            best = min(best, value)
    return best


def epochs_to_reach(points: list[list[float]], target: float) -> float:
    """Epochs a run spent before its best was at least as good as ``target`` (inf: never)."""
    for spent, value in points:
        if value <= target:
            return spent
    return math.inf


def report(rows: list[dict[str, Any]], plot: str | None) -> str:
    """Markdown tables of the targets, and optionally the plot of median curves."""
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    by = {m: {r["seed"]: r for r in rows if r["method"] == m} for m in methods}
    seeds = sorted(set.intersection(*(set(v) for v in by.values())))
    checkpoints = [BUDGET // 9, BUDGET // 3, 2 * BUDGET // 3, BUDGET]
    lines = [
        f"Median over {len(seeds)} seeds of the best validation error after each budget "
        "(epochs summed over all trials; lower is better):", "",
        "| method | " + " | ".join(f"{c} epochs" for c in checkpoints) + " | trials run |",
        "|---|" + "---|" * (len(checkpoints) + 1),
    ]
    for m in methods:
        cells = [f"{statistics.median(best_at(by[m][s]['points'], c) for s in seeds):.4f}"
                 for c in checkpoints]
        trials = statistics.median(by[m][s]["trials"] for s in seeds)
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {trials:g} |")
    if "fasthpo-bayesian" in by and "fasthpo-hyperband" in by:
        lines += ["", "Epochs fasthpo-hyperband needed to reach the best value fasthpo-bayesian "
                  f"reached with {FULL_TRIALS} full trials ({BUDGET} epochs), per seed:", ""]
        needed = []
        for s in seeds:
            target = best_at(by["fasthpo-bayesian"][s]["points"], BUDGET)
            needed.append(epochs_to_reach(by["fasthpo-hyperband"][s]["points"], target))
            lines.append(f"- seed {s}: target {target:.4f}, reached after "
                         + (f"{needed[-1]:g} epochs ({needed[-1] / BUDGET:.2f} of the budget)"
                            if math.isfinite(needed[-1]) else "— (not within the budget)"))
        lines.append(f"- median: {statistics.median(needed):g} epochs (target ≤ {BUDGET // 3})")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        grid = np.arange(1, BUDGET + 1)
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for m in methods:
            curves = np.array([[best_at(by[m][s]["points"], e) for e in grid] for s in seeds])
            curves[~np.isfinite(curves)] = np.nan
            ax.plot(grid, np.nanmedian(curves, axis=0), label=m)
        ax.set_xlabel("epochs spent (all trials)")
        ax.set_ylabel("best validation error (median over seeds)")
        ax.set_ylim(0.015, 0.08)
        ax.set_title("MLP on digits: R0 = 1, R = 27, η = 3")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", help="append one JSON line per run to this file")
    parser.add_argument("--report", help="print the tables of this results file")
    parser.add_argument("--plot", help="with --report: save the median curves here (PNG)")
    args = parser.parse_args()
    if args.report:
        with open(args.report) as f:
            print(report([json.loads(line) for line in f if line.strip()], args.plot))
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for method in args.methods:
            started = time.monotonic()
            curve = RUNNERS[method](seed)
            row = {"method": method, "seed": seed, "points": curve.points, "trials": curve.trials,
                   "epochs": curve.epochs, "seconds": round(time.monotonic() - started, 1)}
            print(f"{method} seed {seed}: best {curve.best:.4f} after {curve.trials} trials, "
                  f"{row['seconds']} s", flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
