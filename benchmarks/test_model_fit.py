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
