"""Laplace draws of the hyperparameters and LogEI averaged over the models they make."""

from __future__ import annotations

import numpy as np

from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.hyperparameter_samples import AveragedLogEI, laplace_samples, resampled
from fasthpo.gp.model import FitSettings, GaussianProcess, Hyperparameters, fit_hyperparameters
from tests.gp.finite_differences import numeric_grad

D = 3


def _fitted(n: int, seed: int = 0) -> GaussianProcess:
    rng = np.random.default_rng(seed)
    X = rng.random((n, D))
    y = np.sin(4 * X[:, 0]) + 0.3 * X[:, 1]
    y = (y - y.mean()) / y.std()
    hp = fit_hyperparameters(X, y, starts=[Hyperparameters.prior_mode(D)], settings=FitSettings())
    return GaussianProcess(X, y, hp)


def test_draws_spread_less_where_more_data_pin_the_fit_down():
    # The curvature of the posterior grows with the data: 60 points leave the
    # lengthscale of the dimension that matters less room than 8 do.
    spreads = []
    for n in (8, 60):
        gp = _fitted(n)
        draws = laplace_samples(gp.X, gp.y, gp.hp, 200, np.random.default_rng(1), max_std=2.0)
        assert len(draws) == 200
        ls = np.array([h.log_lengthscales for h in draws])
        assert np.all(np.isfinite(ls))
        np.testing.assert_allclose(np.median(ls, axis=0), gp.hp.log_lengthscales, atol=0.5)
        spreads.append(ls[:, 0].std())
    assert spreads[1] < 0.7 * spreads[0]
    assert spreads[0] <= 2.0 + 1e-9  # the cap


def test_draws_keep_the_warp_shapes_and_columns():
    gp = _fitted(20)
    warped = Hyperparameters(gp.hp.log_lengthscales, gp.hp.log_amplitude, gp.hp.log_noise,
                             gp.hp.mean, (1,), np.array([0.3]), np.array([-0.2]))
    for h in laplace_samples(gp.X, gp.y, warped, 5, np.random.default_rng(2)):
        assert h.warp_columns == (1,)
        assert h.log_warp_a.tolist() == [0.3] and h.log_warp_b.tolist() == [-0.2]


def test_averaged_logei_gradient_and_single_model_limit():
    gp = _fitted(25)
    best = float(gp.y.max())  # EI of moderate size everywhere: finite differences hold
    draws = laplace_samples(gp.X, gp.y, gp.hp, 3, np.random.default_rng(3))
    parts = [LogExpectedImprovement(gp, best)] + [
        LogExpectedImprovement(resampled(gp, h), best) for h in draws
    ]
    acquisition = AveragedLogEI(parts)
    Z = np.random.default_rng(4).random((5, D))
    value, grad = acquisition.value_and_grad(Z)
    np.testing.assert_allclose(value, acquisition(Z), rtol=1e-9)
    np.testing.assert_allclose(grad, numeric_grad(acquisition, Z), rtol=1e-4, atol=1e-5)
    # The mean of EI lies between the parts' smallest and largest.
    each = np.stack([p(Z) for p in parts], axis=1)
    assert np.all(value <= each.max(axis=1) + 1e-12) and np.all(value >= each.min(axis=1) - 1e-12)
    single = AveragedLogEI(parts[:1])
    np.testing.assert_allclose(single(Z), parts[0](Z), rtol=1e-12)
    assert single.best == best and single.gp is gp


def test_empty_candidates_score_nothing():
    gp = _fitted(10)
    acquisition = AveragedLogEI([LogExpectedImprovement(gp, float(gp.y.min()))])
    assert acquisition(np.empty((0, D))).shape == (0,)
