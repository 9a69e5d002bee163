"""The GP model: posterior gradients, rank-one updates and predictions against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.gp import _reference as ref
from fasthpo.gp.model import (
    GaussianProcess,
    Hyperparameters,
    bounds,
    fit_hyperparameters,
    neg_log_posterior,
)
from fasthpo.gp.priors import LENGTHSCALE_POOLING


def _data(n=25, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(6 * X[:, 0]) + (X[:, 1:] ** 2).sum(axis=1) + 0.01 * rng.normal(size=n)
    return X, (y - y.mean()) / max(y.std(), 1e-12)


def _hp(d, seed=1):
    rng = np.random.default_rng(seed)
    return Hyperparameters(rng.normal(-0.5, 0.3, d), 0.1, -5.0, 0.2)


@pytest.mark.parametrize(("n", "d"), [(1, 1), (8, 2), (25, 3), (30, 20)])
def test_posterior_gradient_matches_finite_differences(n, d):
    X, y = _data(n, d)
    theta = _hp(d).vector()
    value, grad = neg_log_posterior(theta, X, y)
    eps = 1e-6
    for j in range(len(theta)):
        step = np.zeros_like(theta)
        step[j] = eps
        fd = (neg_log_posterior(theta + step, X, y)[0] - neg_log_posterior(theta - step, X, y)[0]) / (2 * eps)
        assert grad[j] == pytest.approx(fd, rel=1e-5, abs=1e-6), j
    assert np.isfinite(value)


def test_log_marginal_likelihood_matches_direct_formula():
    X, y = _data(12, 2)
    hp = _hp(2)
    K = ref.matern52(X, X, hp.lengthscales, hp.amplitude) + hp.noise * np.eye(12)
    r = y - hp.mean
    _, logdet = np.linalg.slogdet(K)
    lml = -0.5 * r @ np.linalg.solve(K, r) - 0.5 * logdet - 6 * np.log(2 * np.pi)
    value, _ = neg_log_posterior(hp.vector(), X, y)
    # neg_log_posterior also holds the (Gaussian) log prior; remove it for the check.
    d = 2
    mu = 0.5 * np.log(d)
    spread = hp.log_lengthscales - hp.log_lengthscales.mean()  # the lengthscales' pooling
    prior = -0.5 * (np.sum((hp.log_lengthscales - mu) ** 2) / 3 + hp.log_amplitude**2
                    + ((hp.log_noise + 9) / 2) ** 2 + LENGTHSCALE_POOLING * spread @ spread)
    assert -value == pytest.approx(lml + prior, abs=1e-5)  # jitter of 1e-9 aside


def test_fit_increases_the_posterior_and_respects_bounds():
    X, y = _data(30, 3)
    start = Hyperparameters.prior_mode(3)
    fitted = fit_hyperparameters(X, y, starts=[start])
    assert neg_log_posterior(fitted.vector(), X, y)[0] < neg_log_posterior(start.vector(), X, y)[0]
    lo, hi = np.array(bounds(3)).T
    assert np.all(fitted.vector() >= lo - 1e-12) and np.all(fitted.vector() <= hi + 1e-12)
    # Dimension 0 carries sin(6x): it needs the shortest lengthscale.
    assert fitted.lengthscales[0] < fitted.lengthscales[1:].min()


def test_predictions_match_the_textbook_posterior():
    X, y = _data(15, 2)
    hp = _hp(2)
    gp = GaussianProcess(X, y, hp)
    Z = np.random.default_rng(3).random((7, 2))
    K = ref.matern52(X, X, hp.lengthscales, hp.amplitude) + (hp.noise + gp.jitter) * np.eye(15)
    Ks = ref.matern52(Z, X, hp.lengthscales, hp.amplitude)
    mean = hp.mean + Ks @ np.linalg.solve(K, y - hp.mean)
    var = hp.amplitude - np.einsum("ij,ji->i", Ks, np.linalg.solve(K, Ks.T))
    got_mean, got_std = gp.predict(Z)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got_std, np.sqrt(var), rtol=1e-6, atol=1e-8)


def test_rank_one_append_equals_a_fresh_factorisation():
    X, y = _data(20, 3)
    hp = _hp(3)
    grown = GaussianProcess(X[:12], y[:12], hp)
    for i in range(12, 20):
        grown.append(X[i], y[i])
    fresh = GaussianProcess(X, y, hp)
    Z = np.random.default_rng(4).random((9, 3))
    for a, b in zip(grown.predict(Z), fresh.predict(Z), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_copy_is_independent():
    X, y = _data(10, 2)
    gp = GaussianProcess(X, y, _hp(2))
    twin = gp.copy()
    twin.append(np.array([0.5, 0.5]), 3.0)
    assert len(gp) == 10 and len(twin) == 11


def test_prediction_gradients_match_finite_differences():
    X, y = _data(18, 3)
    gp = GaussianProcess(X, y, _hp(3))
    Z = np.random.default_rng(5).random((4, 3))
    _, _, dmean, dstd = gp.predict_with_grad(Z)
    eps = 1e-6
    for k in range(3):
        step = np.zeros(3)
        step[k] = eps
        m_hi, s_hi = gp.predict(Z + step)
        m_lo, s_lo = gp.predict(Z - step)
        np.testing.assert_allclose(dmean[:, k], (m_hi - m_lo) / (2 * eps), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dstd[:, k], (s_hi - s_lo) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_duplicated_inputs_do_not_break_the_factorisation():
    X = np.repeat(np.array([[0.2, 0.3], [0.7, 0.1]]), 20, axis=0)
    y = np.tile([1.0, -1.0], 20)
    hp = Hyperparameters(np.zeros(2), 0.0, np.log(1e-6), 0.0)
    gp = GaussianProcess(X, y, hp)
    mean, std = gp.predict(X[:2])
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    value, grad = neg_log_posterior(hp.vector(), X, y)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
