"""The GP with warped inputs: the warp-shape gradient of the posterior against a NumPy
reference and finite differences, the InputWarp against the reference warp, and a fit that
finds a log-shaped warp where the data are log-shaped and stays near identity where not."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.gp import _reference as ref
from fasthpo.gp.model import Hyperparameters, fit_hyperparameters, neg_log_posterior
from fasthpo.gp.priors import LENGTHSCALE_POOLING, WARP_PRIOR_STD
from fasthpo.gp.warping import InputWarp


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(6 * X[:, 0] ** 0.3) + (X[:, 1:] ** 2).sum(axis=1) + 0.01 * rng.normal(size=n)
    return X, (y - y.mean()) / max(y.std(), 1e-12)


def _theta(d, columns, seed=1):
    rng = np.random.default_rng(seed)
    hp = Hyperparameters(rng.normal(-0.5, 0.3, d), 0.1, -5.0, 0.2, tuple(columns),
                         rng.normal(0, 0.5, len(columns)), rng.normal(0, 0.5, len(columns)))
    return hp.vector()


def _reference_lml(theta, X, y, columns):
    """log p(y | θ) by dense NumPy: warp the columns with the reference CDF, then the textbook formula."""
    d, m = X.shape[1], len(columns)
    hp = Hyperparameters.from_vector(theta, columns)
    Xw = X.copy()
    for j, c in enumerate(columns):
        Xw[:, c] = ref.kumaraswamy_cdf(X[:, c], np.exp(hp.log_warp_a[j]), np.exp(hp.log_warp_b[j]))
    K = ref.matern52(Xw, Xw, hp.lengthscales, hp.amplitude) + hp.noise * np.eye(len(y))
    r = y - hp.mean
    _, logdet = np.linalg.slogdet(K)
    lml = -0.5 * r @ np.linalg.solve(K, r) - 0.5 * logdet - 0.5 * len(y) * np.log(2 * np.pi)
    assert len(theta) == d + 3 + 2 * m
    return lml


@pytest.mark.parametrize(
    ("n", "d", "columns"), [(1, 1, [0]), (12, 2, [1]), (25, 3, [0, 2]), (30, 20, range(20))]
)
def test_warp_gradient_matches_finite_differences(n, d, columns):
    columns = list(columns)
    X, y = _data(n, d)
    theta = _theta(d, columns)
    value, grad = neg_log_posterior(theta, X, y, columns)
    assert np.isfinite(value)
    eps = 1e-6
    for j in range(len(theta)):
        step = np.zeros_like(theta)
        step[j] = eps
        hi = neg_log_posterior(theta + step, X, y, columns)[0]
        lo = neg_log_posterior(theta - step, X, y, columns)[0]
        assert grad[j] == pytest.approx((hi - lo) / (2 * eps), rel=1e-5, abs=1e-6), j


def test_warped_posterior_matches_the_numpy_reference():
    X, y = _data(15, 3)
    columns = [0, 2]
    theta = _theta(3, columns)
    hp = Hyperparameters.from_vector(theta, columns)
    spread = hp.log_lengthscales - hp.log_lengthscales.mean()
    log_prior = -0.5 * (
        np.sum((hp.log_lengthscales - 0.5 * np.log(3)) ** 2) / 3.0
        + LENGTHSCALE_POOLING * spread @ spread
        + hp.log_amplitude**2
        + ((hp.log_noise + 9.0) / 2.0) ** 2
        + np.sum(np.concatenate([hp.log_warp_a, hp.log_warp_b]) ** 2) / WARP_PRIOR_STD**2
    )
    value, _ = neg_log_posterior(theta, X, y, columns)
    assert -value == pytest.approx(_reference_lml(theta, X, y, columns) + log_prior, abs=1e-5)


def test_identity_warp_gives_the_unwarped_posterior():
    X, y = _data(20, 3)
    base = _theta(3, [])
    warped = np.concatenate([base, np.zeros(4)])
    v_base, g_base = neg_log_posterior(base, X, y)
    v_warp, g_warp = neg_log_posterior(warped, X, y, [0, 1])
    assert v_warp == pytest.approx(v_base, abs=1e-10)
    np.testing.assert_allclose(g_warp[:6], g_base, rtol=1e-9, atol=1e-12)


def test_input_warp_matches_reference_and_round_trips():
    rng = np.random.default_rng(2)
    X = rng.random((50, 4))
    warp = InputWarp([1, 3], [0.2, 1.5], [1.3, 0.4])
    W = warp.apply(X)
    np.testing.assert_array_equal(W[:, [0, 2]], X[:, [0, 2]])
    np.testing.assert_allclose(W[:, 1], ref.kumaraswamy_cdf(X[:, 1], 0.2, 1.3), rtol=1e-10)
    np.testing.assert_allclose(W[:, 3], ref.kumaraswamy_cdf(X[:, 3], 1.5, 0.4), rtol=1e-10)
    np.testing.assert_allclose(warp.inverse(W), X, atol=1e-9)
    with pytest.raises(ValueError, match="same length"):
        InputWarp([0, 1], [1.0], [1.0, 1.0])


def _fit(X, y, columns, bent=None):
    prior = Hyperparameters.prior_mode(X.shape[1], columns)
    starts = [prior]
    if bent is not None:  # as the strategy does: also start from a warp bent towards log
        starts.append(Hyperparameters(
            prior.log_lengthscales - 1.0, prior.log_amplitude, prior.log_noise, prior.mean,
            prior.warp_columns, np.log(np.array(bent[0])), np.log(np.array(bent[1])),
        ).clipped())
    return fit_hyperparameters(X, y, starts=starts)


def test_fit_bends_a_log_shaped_dimension_and_leaves_a_linear_one():
    rng = np.random.default_rng(3)
    lo, hi = 1e-4, 1e2
    v = lo * (hi / lo) ** rng.random(40)  # values spread over the decades, as warped candidates are
    X = np.column_stack([(v - lo) / (hi - lo), rng.random(40)])  # linear encoding of v
    s = np.log(v / lo) / np.log(hi / lo)
    y = np.sin(3.0 * s) + np.cos(3.0 * X[:, 1])  # smooth in log v and in the second coordinate
    y = (y - y.mean()) / y.std()
    hp = _fit(X, y, [0, 1], bent=([0.1, 0.1], [1.0, 1.0]))
    a, b = np.exp(hp.log_warp_a), np.exp(hp.log_warp_b)
    assert a[0] < 0.4  # stretched near 0, as a log scale is
    # The linear dimension is not stretched at either end (cos 3x may be bent, not towards a log).
    assert a[1] > 0.6 and b[1] > 0.6
