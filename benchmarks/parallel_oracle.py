"""Where the cost of parallel trials comes from: perfect fantasies against lagging hyperparameters.

Two counterfactual variants of the Bayesian strategy separate the two things a
proposal made with q − 1 trials pending lacks:

* ``oracle`` (parallel runs): each pending trial enters the acquisition's GP at
  its *true* result, as if the fantasy were perfect; the incumbent is the best of
  the observed and the true pending values. What it still lacks against a
  sequential run is that the hyperparameters are fitted to the results that are in.
* ``lag`` (sequential runs): the GP is conditioned on every result, but the
  hyperparameters are fitted without the q − 1 most recent ones.

Noiseless problems only (the oracle's value is the result itself). If
``oracle`` at q is far from sequential and close to ``lag`` = q − 1, no
treatment of the pending points can close the gap: the fit is what is missing.

    python benchmarks/parallel_oracle.py --problem hartmann6 --parallel 8 --seeds 10
"""

from __future__ import annotations

import argparse
import heapq
import statistics
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from fasthpo.benchmark.problems import get_problem
from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.strategies.bayesian import BayesianOptimizer


class OracleFantasies(BayesianOptimizer):
    """Pending trials enter at their true results (a counterfactual, for measurement only)."""

    def __init__(self, *args: Any, truth: Callable[[dict[str, Any]], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._truth = truth

    def _acquisition(self, busy: list[dict[str, Any]], index: int) -> Any:
        if not busy:
            return super()._acquisition(busy, index)
        model = self._update_model()
        assert self._transform is not None
        y = self._sign * np.asarray(self._observations.values)
        raw = self._sign * np.array([self._truth(c) for c in busy])
        Z = self._encoder.encode(busy)
        true = self._transform.transform(raw)
        gp = model.extended(self._warp.apply(Z), true)
        best = float(self._transform.transform(np.array([min(y.min(), raw.min())]))[0])
        return LogExpectedImprovement(gp, best)


class LaggingFit(BayesianOptimizer):
    """Hyperparameters fitted without the ``lag`` most recent results (sequential runs)."""

    def __init__(self, *args: Any, lag: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lag = lag

    def _subset(self, y: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
        chosen = super()._subset(y, rows, size)
        if size == self.fit_points and len(y) - self._lag >= 3:  # the fit's subset only
            chosen = chosen[chosen < len(y) - self._lag]
        return chosen


def simulate(make: Callable[[], BayesianOptimizer], problem: Any, seed: int, q: int,
             budget: int) -> float:
    """Final noiseless regret of one run with q simulated workers (oldest result first)."""
    opt = make()
    pending: list[tuple[int, dict[str, Any]]] = []
    asked = 0

    def ask(k: int) -> None:
        nonlocal asked
        for config in opt.ask(k, pending=[c for _, c in pending]):
            heapq.heappush(pending, (asked, config))
            asked += 1

    ask(min(q, budget))
    best, best_true = np.inf, np.inf
    for _ in range(budget):
        _, config = heapq.heappop(pending)
        value = problem.evaluate(config, seed=seed)
        opt.tell(config, value)
        if value < best:
            best = value
            best_true = problem.true_value(config) if problem.noise else value
        if asked < budget:
            ask(1)
    return float(best_true - problem.optimum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="hartmann6")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    problem = get_problem(args.problem)
    q, lag = args.parallel, args.parallel - 1
    rows: dict[str, Callable[[int], BayesianOptimizer]] = {
        "sequential": lambda s: BayesianOptimizer(problem.space, seed=s),
        f"parallel q={q} (default)": lambda s: BayesianOptimizer(problem.space, seed=s),
        f"parallel q={q}, oracle fantasies": lambda s: OracleFantasies(
            problem.space, seed=s, truth=lambda c: problem.evaluate(c, seed=s)),
        f"sequential, fit lagging {lag} results": lambda s: LaggingFit(
            problem.space, seed=s, lag=lag),
    }
    for name, factory in rows.items():
        workers = q if name.startswith("parallel") else 1
        regrets = [simulate(partial(factory, s), problem, s, workers, args.budget)
                   for s in range(args.seeds)]
        print(f"{name:40s} median regret {statistics.median(regrets):.3g}  "
              + " ".join(f"{r:.2g}" for r in regrets))


if __name__ == "__main__":
    main()
