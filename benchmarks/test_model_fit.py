"""Micro-benchmarks of the Bayesian strategy's model fit alone, from scratch, at d = 20.

Each round builds a new optimizer with n observations (not timed) and times the
first model update: the MAP fit of the hyperparameters on at most ``fit_points``
observations (best half and a random sample of the rest) and the GP conditioned
on all of them — what the first proposal after loading a sweep pays before its
acquisition search. Compare ``fasthpo bench latency`` for whole proposals.
"""

from __future__ import annotations

import numpy as np
import pytest

import fasthpo
from fasthpo.benchmark.latency import levy_cube
from fasthpo.gp.threads import single_threaded_blas
from fasthpo.strategies.bayesian import BayesianOptimizer

D = 20


def _loaded(n: int) -> BayesianOptimizer:
    space = fasthpo.SearchSpace(
        [fasthpo.Continuous(f"x{i}", 0.0, 1.0, scaling="linear") for i in range(D)], max_tunable=D
    )
    opt = BayesianOptimizer(space, seed=0)
    for row in np.random.default_rng(n).random((n, D)).tolist():
        opt.tell(dict(zip(space.names, row, strict=True)), levy_cube(row))
    return opt


@pytest.mark.parametrize("n", [100, 300, 1000])
def test_fresh_model_fit(benchmark, n: int) -> None:
    benchmark.group = f"fresh model fit d={D}"

    def fit(opt: BayesianOptimizer) -> int:
        with single_threaded_blas():
            return len(opt._update_model())

    size = benchmark.pedantic(fit, setup=lambda: ((_loaded(n),), {}), rounds=3, iterations=1)
    assert size == n


@pytest.mark.parametrize("engine", ["native", "scipy"])
@pytest.mark.parametrize("n", [100, 200])
def test_map_fit_engine(benchmark, n: int, engine: str) -> None:
    """The MAP fit alone from the prior mode at d = 20 (200 is the largest fit subset): the
    native projected L-BFGS against scipy's L-BFGS-B on the same objective and settings."""
    from scipy.optimize import minimize

    from fasthpo.gp.model import Hyperparameters, NegLogPosterior, bounds, fit_hyperparameters
    from fasthpo.strategies.bayesian import FRESH_FIT

    benchmark.group = f"MAP fit d={D} n={n}"
    X = np.random.default_rng(n).random((n, D))
    y = np.array([levy_cube(row) for row in X])
    y = (y - np.median(y)) / y.std()
    start = Hyperparameters.prior_mode(D)
    objective = NegLogPosterior(X, y)

    def native() -> float:
        return float(objective(fit_hyperparameters(X, y, starts=[start], settings=FRESH_FIT).vector())[0])

    def scipy() -> float:
        result = minimize(
            objective, start.vector(), jac=True, method="L-BFGS-B", bounds=bounds(D),
            options={"maxiter": FRESH_FIT.maxiter, "ftol": FRESH_FIT.ftol, "gtol": FRESH_FIT.gtol},
        )
        return float(result.fun)

    with single_threaded_blas():
        value = benchmark.pedantic(native if engine == "native" else scipy, rounds=3, iterations=1)
    assert np.isfinite(value)
