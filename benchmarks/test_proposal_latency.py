"""Micro-benchmarks of one Bayesian proposal after n observations (d = 5 and 20).

The model is fitted once before timing (as in a sequential loop between
refits), so each round times what a typical ``ask`` costs: conditioning,
candidates, LogEI and its polish. Compare peers with ``fasthpo bench latency``.
"""

from __future__ import annotations

import numpy as np
import pytest

import fasthpo
from fasthpo.strategies.bayesian import BayesianOptimizer


@pytest.mark.parametrize(("n", "d"), [(100, 5), (100, 20), (300, 20), (1000, 20)])
def test_ask_after_n_observations(benchmark, n, d):
    space = fasthpo.SearchSpace([fasthpo.Continuous(f"x{i}", 0.0, 1.0) for i in range(d)])
    opt = BayesianOptimizer(space, seed=0)
    rng = np.random.default_rng(0)
    for u in rng.random((n, d)):
        config = space.from_unit(u.tolist())
        opt.tell(config, float(np.sum((u - 0.3) ** 2) + 0.1 * np.sin(9 * u).sum()))
    opt.ask(1)  # the fit happens here, outside the timing
    proposals = benchmark(opt.ask, 1)
    assert len(proposals) == 1
    space.validate(proposals[0])
