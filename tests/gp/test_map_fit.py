"""The native MAP fit (``_native.gp_map_fit``): its objective against the NumPy twin and
finite differences, its optimum against scipy's L-BFGS-B on the same objective, its bounds,
and how ``fit_hyperparameters`` uses it."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize

from fasthpo.gp import _native, _reference
from fasthpo.gp.model import (
    FitSettings,
    Hyperparameters,
    NegLogPosterior,
    bounds,
    fit_hyperparameters,
)
from fasthpo.gp.priors import lengthscale_pooling, prior_moments

FRESH = FitSettings(maxiter=100, ftol=1e-6)


def _problem(name: str, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in the unit cube and standardised values of a smooth, a bumpy or a curved function."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    if name == "sphere":
        y = np.sum((X - 0.3) ** 2, axis=1)
    elif name == "bumpy":
        y = np.sum(np.sin(7.0 * X) * X, axis=1) + 0.05 * rng.standard_normal(n)
    else:  # a Rosenbrock valley
        Z = 4.0 * X - 2.0
        y = np.log1p(np.sum(100.0 * (Z[:, 1:] - Z[:, :-1] ** 2) ** 2 + (1.0 - Z[:, :-1]) ** 2, axis=1))
    return X, (y - np.median(y)) / y.std()


def _box(d: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = zip(*bounds(d), strict=True)
    return np.array(lo), np.array(hi)


def _native_fit(
    X: np.ndarray, y: np.ndarray, theta: np.ndarray, maxiter: int, settings: FitSettings = FRESH
) -> tuple[float, int, int, np.ndarray, np.ndarray]:
    d = X.shape[1]
    lo, hi = _box(d)
    mean, precision = prior_moments(d)
    theta = np.array(theta, dtype=float)
    grad = np.empty_like(theta)
    value, evaluations, iterations = _native.gp_map_fit(
        X, y, theta, lo, hi, mean, precision, maxiter, settings.ftol, settings.gtol, grad,
        pooling=lengthscale_pooling(d),
    )
    return value, evaluations, iterations, theta, grad


@pytest.mark.parametrize(("n", "d", "seed"), [(12, 2, 0), (40, 5, 1), (30, 12, 2)])
def test_objective_matches_the_numpy_twin_and_finite_differences(n: int, d: int, seed: int) -> None:
    X, y = _problem("bumpy", n, d, seed)
    rng = np.random.default_rng(seed)
    theta = Hyperparameters.prior_mode(d).vector() + rng.normal(0.0, 0.3, d + 3)
    theta[d + 1] = np.log(1e-3)  # a noise that keeps the finite differences well conditioned
    mean, precision = prior_moments(d)
    pooling = lengthscale_pooling(d)
    assert pooling > 0.0  # the pooled lengthscales are part of what is checked
    value, evaluations, iterations, at, grad = _native_fit(X, y, theta, maxiter=0)
    assert (evaluations, iterations) == (1, 0)
    assert_allclose(at, theta)  # inside the box: not moved
    want, want_grad = _reference.neg_log_posterior(theta, X, y, mean, precision, pooling)
    assert value == pytest.approx(want, rel=1e-9)
    assert_allclose(grad, want_grad, rtol=1e-7, atol=1e-8 * np.abs(want_grad).max())
    # The twin's gradient against central differences of its value.
    h = 1e-6
    fd = np.array([
        (_reference.neg_log_posterior(theta + h * e, X, y, mean, precision, pooling)[0]
         - _reference.neg_log_posterior(theta - h * e, X, y, mean, precision, pooling)[0]) / (2 * h)
        for e in np.eye(d + 3)
    ])
    assert_allclose(grad, fd, rtol=1e-4, atol=1e-5 * np.abs(fd).max())
    # And the fit's Python objective (log_prior over the same moments) agrees too.
    assert value == pytest.approx(NegLogPosterior(X, y)(theta)[0], rel=1e-9)


@pytest.mark.parametrize(("n", "d", "seed"), [(2, 1, 0), (35, 4, 1), (140, 20, 2), (600, 3, 3)])
def test_objective_equals_the_plain_likelihood_pass(n: int, d: int, seed: int) -> None:
    # The fit keeps each pair's kernel factors for its gradient pass (the "parts"
    # kernels); without a prior (precision 0) its value and gradient must be exactly
    # those of gp_lml_grad, which computes every distance and exponential again.
    X, y = _problem("bumpy", n, d, seed)
    theta = Hyperparameters.prior_mode(d).vector() + np.random.default_rng(seed).normal(0, 0.3, d + 3)
    lo, hi = np.full(d + 3, -50.0), np.full(d + 3, 50.0)
    flat = np.zeros(d + 3)
    grad = np.empty(d + 3)
    value, _, _ = _native.gp_map_fit(X, y, theta.copy(), lo, hi, flat, flat, 0, 1e-6, 1e-5, grad)
    scales = np.exp(theta)
    r = y - theta[d + 2]
    work, alpha, g_ls = np.empty((n, n)), np.empty(n), np.empty(d)
    lml, g_amp, trace, _ = _native.gp_lml_grad(
        X, r, scales[:d], float(scales[d]), float(scales[d + 1]), work, alpha, g_ls
    )
    assert value == -lml
    # The gradients agree to the last bits, not always bit for bit: OpenBLAS chooses its
    # kernels by CPU, and on some the two passes' sums round differently (4.7e-15 of a
    # largest component 3.7 at n = 140, d = 20).
    assert_allclose(grad[:d], -g_ls, rtol=0, atol=1e-13 * np.abs(g_ls).max())
    assert grad[d] == pytest.approx(-g_amp, rel=1e-12)
    assert grad[d + 1] == pytest.approx(-(0.5 * scales[d + 1] * trace), rel=1e-12)
    assert grad[d + 2] == pytest.approx(-np.sum(alpha), rel=1e-12)  # NumPy sums pairwise


@pytest.mark.parametrize(("name", "n", "d", "seed"), [("bumpy", 40, 5, 4), ("valley", 120, 12, 5)])
def test_the_value_and_gradient_where_it_stops_are_the_reference_ones(
    name: str, n: int, d: int, seed: int
) -> None:
    # Line-search trials are first scored by value alone; the gradient follows only for
    # the accepted one, from the factor the value left behind. What the fit returns after
    # real iterations must be the objective's value and gradient at the returned theta.
    X, y = _problem(name, n, d, seed)
    mean, precision = prior_moments(d)
    value, evaluations, iterations, at, grad = _native_fit(
        X, y, Hyperparameters.prior_mode(d).vector(), maxiter=100
    )
    assert iterations >= 5 and evaluations > iterations  # some trials were rejected
    want, want_grad = _reference.neg_log_posterior(
        at, X, y, mean, precision, lengthscale_pooling(d))
    assert value == pytest.approx(want, rel=1e-9)
    assert_allclose(grad, want_grad, rtol=1e-7, atol=1e-8 * np.abs(want_grad).max())


def test_reaches_scipys_log_posterior_on_random_problems() -> None:
    worse = better = total = 0
    got_sum = want_sum = scale = 0.0
    for name in ("sphere", "bumpy", "rosenbrock"):
        for n, d in ((15, 3), (60, 6), (80, 20)):
            for seed in range(2):
                X, y = _problem(name, n, d, seed)
                objective = NegLogPosterior(X, y)
                start = Hyperparameters.prior_mode(d).vector()
                reference = minimize(
                    objective, start, jac=True, method="L-BFGS-B", bounds=bounds(d),
                    options={"maxiter": FRESH.maxiter, "ftol": FRESH.ftol, "gtol": FRESH.gtol},
                )
                value, _, _, theta, grad = _native_fit(X, y, start, FRESH.maxiter)
                assert value == pytest.approx(objective(theta)[0], rel=1e-9)
                # It stops at a stationary point (of the box): the projected gradient is small
                # against the one it started from.
                lo, hi = _box(d)
                first = _native_fit(X, y, start, 0)[4]
                projected = np.abs(np.clip(theta - grad, lo, hi) - theta).max()
                assert projected < 0.05 * max(1.0, np.abs(np.clip(start - first, lo, hi) - start).max())
                tolerance = 1e-3 * max(1.0, abs(reference.fun))
                worse += int(value > reference.fun + tolerance)
                better += int(value < reference.fun - tolerance)
                got_sum, want_sum = got_sum + value, want_sum + reference.fun
                scale += abs(reference.fun)
                total += 1
    # The posterior is multimodal: either optimiser ends in the other basin now and then
    # (the native fit's first, steepest step differs from scipy's line search), rarely by much.
    assert worse <= total // 4, f"native ended worse than scipy on {worse} of {total} (better on {better})"
    assert got_sum <= want_sum + 0.01 * scale


def test_stays_inside_the_box_and_stops_on_a_bound() -> None:
    X, y = _problem("bumpy", 40, 3, seed=4)
    lo, hi = _box(3)
    hi[3] = np.log(0.05)  # an amplitude cap far below what standardised data want
    mean, precision = prior_moments(3)
    start = Hyperparameters.prior_mode(3).vector()
    start[:3] = 10.0  # beyond the lengthscale bound: clipped first
    theta, grad = start.copy(), np.empty(6)
    value, _, _ = _native.gp_map_fit(
        X, y, theta, lo, hi, mean, precision, FRESH.maxiter, FRESH.ftol, FRESH.gtol, grad
    )
    assert np.all(theta >= lo) and np.all(theta <= hi)
    assert theta[3] == hi[3] and grad[3] < 0.0  # held at the cap, pushing against it
    assert np.abs(np.clip(theta - grad, lo, hi) - theta).max() < 0.05
    clipped = np.clip(start, lo, hi)
    value0, *_ = _native.gp_map_fit(X, y, clipped, lo, hi, mean, precision, 0, 1e-6, 1e-5)
    assert value < value0


def test_fit_hyperparameters_takes_the_best_start_natively() -> None:
    X, y = _problem("bumpy", 50, 4, seed=5)
    far = Hyperparameters.from_vector(np.array([-4.0, -4.0, -4.0, -4.0, 4.0, -1.0, 3.0]))
    starts = [far, Hyperparameters.prior_mode(4)]
    fitted = fit_hyperparameters(X, y, starts=starts, settings=FRESH)
    objective = NegLogPosterior(X, y)
    each = [_native_fit(X, y, s.clipped().vector(), FRESH.maxiter)[0] for s in starts]
    assert objective(fitted.vector())[0] == pytest.approx(min(each), rel=1e-9)


def test_rejects_mismatched_arguments_by_name() -> None:
    X, y = _problem("sphere", 10, 2, seed=0)
    lo, hi = _box(2)
    mean, precision = prior_moments(2)
    theta = Hyperparameters.prior_mode(2).vector()
    with pytest.raises(ValueError, match="y"):
        _native.gp_map_fit(X, y[:-1], theta, lo, hi, mean, precision, 10, 1e-6, 1e-5)
    with pytest.raises(ValueError, match="upper"):
        _native.gp_map_fit(X, y, theta, lo, hi[:-1], mean, precision, 10, 1e-6, 1e-5)
    with pytest.raises(ValueError, match="lower"):
        _native.gp_map_fit(X, y, theta, hi, lo, mean, precision, 10, 1e-6, 1e-5)
    with pytest.raises(ValueError, match="maxiter"):
        _native.gp_map_fit(X, y, theta, lo, hi, mean, precision, -1, 1e-6, 1e-5)
    with pytest.raises(ValueError, match="pooling"):
        _native.gp_map_fit(X, y, theta, lo, hi, mean, precision, 10, 1e-6, 1e-5, pooling=-0.5)


def test_pooling_holds_the_lengthscales_of_a_symmetric_function_together() -> None:
    # A sphere in 8 dimensions has one lengthscale in every coordinate; from 16 points an
    # unpooled MAP fit still spreads them widely. The pooled fit keeps them closer and pays
    # for it in likelihood only what the prior gains back.
    X, y = _problem("sphere", 16, 8, seed=7)
    lo, hi = _box(8)
    mean, precision = prior_moments(8)
    spreads, values = [], []
    for pooling in (0.0, 0.5, 4.0):
        theta = Hyperparameters.prior_mode(8).vector() + np.random.default_rng(1).normal(0, 0.5, 11)
        value, *_ = _native.gp_map_fit(
            X, y, theta, lo, hi, mean, precision, FRESH.maxiter, FRESH.ftol, FRESH.gtol,
            pooling=pooling,
        )
        spreads.append(float(np.std(theta[:8])))
        values.append(value)
    assert spreads[0] > spreads[1] > spreads[2]
    assert values[0] < values[1] < values[2]  # the pooling only ever adds to the objective
