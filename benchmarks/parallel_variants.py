"""Screen variants of the pending-trial handling through the bench's own simulation.

Each variant is a batch mode or a small subclass of the Bayesian strategy, run
by :func:`fasthpo.benchmark.runner.run_one` exactly as ``fasthpo bench
--parallel Q`` runs an optimizer (fifo arrival unless ``--arrival random``).
Final regrets are kept per seed in a JSON file (``--out``; runs already there
are skipped), so two variants can be compared seed for seed. Any registered
optimizer can be run too (``--variant optuna-gp``), at q > 1 only, without its
sequential runs. ``--exploit-*`` set the exploiting slots (share, exclusion
radius, an optional box around the incumbent) of ``marginal`` and ``capped``.

    python benchmarks/parallel_variants.py --variant marginal --seeds 30 --out marginal.json
    python benchmarks/parallel_variants.py --variant marginal --samples 8 --max-std 3.2 ...
    python benchmarks/parallel_variants.py --variant capped -q 1 --seeds 30 --out seq.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np

import fasthpo.benchmark.optimizers as registry
import fasthpo.strategies.bayesian as bayesian
from fasthpo.benchmark.problems import get_problem
from fasthpo.benchmark.runner import RunKey, run_one
from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.model import GaussianProcess, fit_hyperparameters
from fasthpo.gp.trust_region import TrustRegion
from fasthpo.strategies.bayesian import BATCH_MODES, WARM_FIT, BayesianOptimizer

PROBLEMS = ["branin", "hartmann6", "levy-10", "hartmann6+noise0.1"]


class TrustRegionWithPending(BayesianOptimizer):
    """The sequential trust region also for proposals made with trials pending."""

    everywhere = False  # also below bayesian.TRUST_REGION_DIM dimensions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.everywhere and self._trust is None:
            self._trust = TrustRegion.for_dimension(int(self._encoder.continuous.sum()))

    def _propose(self, acquisition: Any, taken: set[tuple[Any, ...]],
                 box: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
        return super()._propose(acquisition, taken, box if box is not None else self._trust_box())


class TrustRegionEverywhere(TrustRegionWithPending):
    everywhere = True


class RefitOnFantasies(BayesianOptimizer):
    """Hyperparameters refitted on the results plus the capped fantasies of the pending trials."""

    def _acquisition(self, busy: list[dict[str, Any]], index: int) -> Any:
        if not busy:
            return super()._acquisition(busy, index)
        model = self._update_model()
        assert self._transform is not None and self._hp is not None
        y = self._sign * np.asarray(self._observations.values)
        best = float(self._transform.transform(np.array([y.min()]))[0])
        Zp = self._encode_busy(busy)
        fantasies = model.extended(self._warp.apply(Zp), floor=best).y[len(model):]
        X = np.vstack([self._Z, Zp])
        t = np.concatenate([self._transform.transform(y), fantasies])
        hp = fit_hyperparameters(X, t, starts=[self._hp], settings=WARM_FIT)
        return LogExpectedImprovement(GaussianProcess(hp.warp.apply(X), t, hp), best)


class ExploitInLocalBox(BayesianOptimizer):
    """Exploiting slots searched in a cube of side ``side`` (unit coordinates, the same in
    every dimension) around the incumbent instead of the whole box."""

    side = 0.15

    def _exploit_box(self) -> tuple[np.ndarray, np.ndarray] | None:
        y = self._sign * np.asarray(self._observations.values)
        center = self._Z[int(np.argmin(y))]
        if len(self._warp):
            center = self._warp.apply(center[None, :])[0]
        region = TrustRegion(failure_tolerance=1, initial_length=self.side)
        return region.box(center, np.ones(len(center)), self._encoder.continuous)


SUBCLASSES: dict[str, type[BayesianOptimizer]] = {
    "exploit-local-box": ExploitInLocalBox,
    "trust-region-pending": TrustRegionWithPending,
    "trust-region-everywhere": TrustRegionEverywhere,
    "refit-on-fantasies": RefitOnFantasies,
}


def register(variant: str) -> str:
    """The registry name to run ``variant`` under (a temporary entry for strategy variants)."""
    if variant in registry.optimizer_names():
        return variant
    if variant in BATCH_MODES:
        def factory(space: Any, seed: int) -> Any:
            return BayesianOptimizer(space, seed=seed, batch=variant)
    elif variant in SUBCLASSES:
        cls = SUBCLASSES[variant]

        def factory(space: Any, seed: int) -> Any:
            return cls(space, seed=seed, batch="marginal" if cls is ExploitInLocalBox else "capped")
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    name = f"variant-{variant}"
    registry._OPTIMIZERS[name] = dataclasses.replace(
        registry._OPTIMIZERS["fasthpo-bayesian"], name=name, factory=factory)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True,
                        help=f"a batch mode ({', '.join(BATCH_MODES)}), one of "
                        f"{', '.join(SUBCLASSES)}, or a registered optimizer")
    parser.add_argument("--problems", nargs="+", default=PROBLEMS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("-q", "--parallel", type=int, default=8)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--arrival", choices=["fifo", "random"], default="fifo",
                        help="oldest trial first, or random durations from the seed")
    parser.add_argument("--samples", type=int, default=bayesian.HYPER_SAMPLES,
                        help="hyperparameter draws of the marginal mode")
    parser.add_argument("--max-std", type=float, default=bayesian.HYPER_MAX_STD,
                        help="their standard deviation cap, in log units")
    parser.add_argument("--exploit-share", type=float, default=bayesian.EXPLOIT_SHARE,
                        help="share of running trials from exploiting slots")
    parser.add_argument("--exploit-radius", type=float, default=bayesian.EXPLOIT_RADIUS,
                        help="their exclusion radius around pending points (unit cube)")
    parser.add_argument("--exploit-box", type=float, default=0.15,
                        help="exploit-local-box: side of the box around the incumbent")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    bayesian.HYPER_SAMPLES, bayesian.HYPER_MAX_STD = args.samples, args.max_std
    bayesian.EXPLOIT_SHARE, bayesian.EXPLOIT_RADIUS = args.exploit_share, args.exploit_radius
    ExploitInLocalBox.side = args.exploit_box
    name = register(args.variant)
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    for problem_name in args.problems:
        problem = get_problem(problem_name)
        for seed in range(args.seeds):
            key = f"{problem_name}|{seed}"
            if key in results:
                continue
            best_value, best_true = math.inf, math.inf
            run = RunKey(problem_name, name, seed, args.parallel, args.budget, args.arrival)
            for record in run_one(run):
                if record["value"] < best_value:
                    best_value, best_true = record["value"], record["true_value"]
            results[key] = {"regret": best_true - (problem.optimum or 0.0)}  # real tasks: the value
            args.out.write_text(json.dumps(results))
        regrets = [results[f"{problem_name}|{s}"]["regret"] for s in range(args.seeds)]
        print(f"{args.variant:12s} q={args.parallel} {problem_name:20s} median "
              f"{statistics.median(regrets):.3g}  " + " ".join(f"{r:.2g}" for r in regrets))


if __name__ == "__main__":
    main()
