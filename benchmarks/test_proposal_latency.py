"""Micro-benchmarks of one Bayesian proposal after n observations (d = 5 and 20).

The model is fitted once before timing (as in a sequential loop between
refits), so each round times what a typical ``ask`` costs: conditioning,
candidates, LogEI and its polish. Compare peers with ``fasthpo bench latency``.
The dimensions are declared ``linear``; at (n, d) = (300, 20) the same proposal
is also timed with every dimension ``auto`` (warped inputs: warped candidates,
inverse warp, polish in warped space), which should cost at most 1.5× as much.
"""

from __future__ import annotations

import numpy as np
import pytest

import fasthpo
from fasthpo.strategies.bayesian import BayesianOptimizer


@pytest.mark.parametrize(("n", "d", "scaling"), [
    (100, 5, "linear"), (100, 20, "linear"), (300, 20, "linear"), (300, 20, "auto"), (1000, 20, "linear"),
])
def test_ask_after_n_observations(benchmark, n, d, scaling):
    benchmark.group = f"ask n={n} d={d}"
    space = fasthpo.SearchSpace([fasthpo.Continuous(f"x{i}", 1e-3, 1.0, scaling=scaling) for i in range(d)])
    opt = BayesianOptimizer(space, seed=0)
    rng = np.random.default_rng(0)
    for u in rng.random((n, d)):  # values spread over the cube, the objective smooth in u
        config = space.from_unit(u.tolist())
        opt.tell(config, float(np.sum((u - 0.3) ** 2) + 0.1 * np.sin(9 * u).sum()))
    opt.ask(1)  # the fit happens here, outside the timing
    proposals = benchmark(opt.ask, 1)
    assert len(proposals) == 1
    space.validate(proposals[0])


@pytest.mark.parametrize("screened", [False, True])
def test_candidate_scoring_at_n_1000(benchmark, screened):
    """Scoring a proposal's 516 candidates at (n, d) = (1000, 20): every one exact, or screened
    by the LogEI bound with the top 16 exact (what ``rank_candidates`` does on large models)."""
    from fasthpo.gp.acquisition import LogExpectedImprovement
    from fasthpo.gp.model import GaussianProcess, Hyperparameters

    benchmark.group = "score 516 candidates n=1000 d=20"
    rng = np.random.default_rng(0)
    X = rng.random((1000, 20))
    y = np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(9 * X).sum(axis=1)
    gp = GaussianProcess(X, (y - y.mean()) / y.std(), Hyperparameters.prior_mode(20))
    best = X[np.argsort(gp.y)[:5]]
    Z = np.vstack([
        rng.random((256, 20)),
        np.clip(np.repeat(best, 52, axis=0) + rng.normal(0, 0.05, (260, 20)), 0, 1),
    ])
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    score = (lambda: acquisition.ranked(Z, 16)) if screened else (lambda: acquisition(Z))
    scores = benchmark(score)
    assert np.argmax(scores) == np.argmax(acquisition(Z))


@pytest.mark.parametrize("n", [100, 1000])
@pytest.mark.parametrize("native", [True, False])
def test_polish_at_d_20(benchmark, n, native):
    """The acquisition polish alone (4 starts, 40 iterations at most) at d = 20: the native
    batched L-BFGS against scipy's joint L-BFGS-B on the same GP and starts."""
    from fasthpo.gp.acquisition import LogExpectedImprovement
    from fasthpo.gp.acquisition_search import _polish_scipy, polish
    from fasthpo.gp.model import GaussianProcess, Hyperparameters

    benchmark.group = f"polish n={n} d=20"
    rng = np.random.default_rng(0)
    X = rng.random((n, 20))
    y = np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(9 * X).sum(axis=1)
    gp = GaussianProcess(X, (y - y.mean()) / y.std(), Hyperparameters.prior_mode(20))
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    starts = np.clip(X[np.argsort(gp.y)[:4]] + rng.normal(0, 0.05, (4, 20)), 0, 1)
    free = np.ones(20, dtype=bool)
    if native:
        moved = benchmark(polish, acquisition, starts, free)
    else:
        moved = benchmark(_polish_scipy, acquisition, starts, np.arange(20), 40)
    assert np.all(acquisition(moved) >= acquisition(starts))
