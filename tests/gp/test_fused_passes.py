"""The fused native passes (likelihood, posterior) against their NumPy twins and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.linalg import cholesky

from fasthpo.gp import _native, _reference
from fasthpo.gp.kernels import matern52
from fasthpo.gp.likelihood import MarginalLikelihood


def _data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    y = np.sin(5 * X).sum(axis=1) + 0.1 * rng.normal(size=n)
    return X, y - y.mean(), np.exp(rng.uniform(np.log(0.2), np.log(2.0), size=d))


# Orders around the recursion's base block (16) and its halvings, odd splits included.
@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 31, 33, 64, 100, 257])
def test_cholesky_inverse_matches_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    B = rng.normal(size=(n, n))
    A = B @ B.T / n + 0.1 * np.eye(n)
    L = cholesky(A, lower=True)
    a = np.asfortranarray(L + np.triu(np.full((n, n), 7.0), 1))  # junk above the factor
    assert _native.cholesky_inverse(a) == 0
    inverse = np.linalg.inv(A)
    assert_allclose(np.tril(a), np.tril(inverse), rtol=1e-9, atol=1e-11 * np.abs(inverse).max())
    assert (np.triu(a, 1) == np.triu(np.full((n, n), 7.0), 1)).all()  # left as it was


def test_cholesky_inverse_reports_a_zero_pivot() -> None:
    L = np.asfortranarray(np.tril(np.ones((40, 40))))
    L[25, 25] = 0.0
    assert _native.cholesky_inverse(L) == 26  # LAPACK's 1-based index of the zero
    with pytest.raises(ValueError, match="square"):
        _native.cholesky_inverse(np.zeros((3, 4), order="F"))
    assert _native.cholesky_inverse(np.zeros((0, 0), order="F")) == 0


@pytest.mark.parametrize(("n", "d"), [(1, 1), (7, 3), (40, 5), (120, 20)])
@pytest.mark.parametrize("input_grad", [False, True])
def test_likelihood_matches_reference(n: int, d: int, input_grad: bool) -> None:
    X, y, ls = _data(n, d, seed=n + d)
    got = MarginalLikelihood(y)(X, lengthscales=ls, amplitude=1.3, noise=1e-3, mean=0.2,
                                input_grad=input_grad)
    lml, g_ls, g_amp, g_noise, g_mean, G_X = _reference.gp_lml_grad(X, y - 0.2, ls, 1.3, 1e-3, input_grad)
    assert got.value == pytest.approx(lml, rel=1e-9)
    assert_allclose(got.log_lengthscales, g_ls, rtol=1e-7, atol=1e-9)
    assert got.log_amplitude == pytest.approx(g_amp, rel=1e-7, abs=1e-9)
    assert got.log_noise == pytest.approx(g_noise, rel=1e-7, abs=1e-9)
    assert got.mean == pytest.approx(g_mean, rel=1e-7, abs=1e-9)
    if input_grad:
        assert G_X is not None and got.inputs is not None
        assert_allclose(got.inputs, G_X, rtol=1e-7, atol=1e-9)
    else:
        assert got.inputs is None


@pytest.mark.parametrize(("n", "d"), [(1, 1), (2, 3), (45, 6), (530, 2)])
@pytest.mark.parametrize("input_grad", [False, True])
def test_likelihood_with_kept_pair_factors_is_bit_identical(n: int, d: int, input_grad: bool) -> None:
    # ``parts`` keeps each pair's distance and exponential from the kernel for the
    # gradient pass; the arithmetic is the same, so every output must be too.
    X, y, ls = _data(n, d, seed=5 * n + d)
    outputs = []
    for parts in (None, np.empty((n, n))):
        work, alpha, g_ls = np.empty((n, n)), np.empty(n), np.empty(d)
        G_X = np.empty((n, d)) if input_grad else None
        head = _native.gp_lml_grad(X, y - 0.2, ls, 1.3, 1e-3, work, alpha, g_ls, G_X, parts)
        outputs.append((head, alpha, g_ls, G_X))
    (head0, alpha0, g0, G0), (head1, alpha1, g1, G1) = outputs
    assert head0 == head1
    assert np.array_equal(alpha0, alpha1) and np.array_equal(g0, g1)
    assert (G0 is None and G1 is None) or np.array_equal(G0, G1)
    with pytest.raises(ValueError, match="parts"):
        _native.gp_lml_grad(X, y, ls, 1.3, 1e-3, np.empty((n, n)), np.empty(n), np.empty(d),
                            None, np.empty((n + 1, n)))


@pytest.mark.parametrize(("n", "d"), [(1, 1), (40, 5), (120, 20)])
def test_likelihood_value_alone_matches_reference_and_full_evaluation(n: int, d: int) -> None:
    X, y, ls = _data(n, d, seed=2 * n + d)
    lik = MarginalLikelihood(y)
    alone = lik.value(X, lengthscales=ls, amplitude=0.7, noise=1e-4, mean=-0.1)
    full = lik(X, lengthscales=ls, amplitude=0.7, noise=1e-4, mean=-0.1).value
    assert alone == pytest.approx(_reference.gp_lml_grad(X, y + 0.1, ls, 0.7, 1e-4)[0], rel=1e-9)
    assert alone == pytest.approx(full, rel=1e-12)
    with pytest.raises(ValueError, match="amplitude"):
        lik.value(X, lengthscales=ls, amplitude=0.0, noise=1e-4, mean=0.0)


def test_likelihood_gradient_matches_finite_differences() -> None:
    X, y, ls = _data(30, 4, seed=3)
    lik = MarginalLikelihood(y)
    theta = np.concatenate([np.log(ls), [math.log(0.8), math.log(1e-2), 0.1]])

    def value(t: np.ndarray, Xs: np.ndarray = X) -> float:
        return lik(Xs, lengthscales=np.exp(t[:4]), amplitude=math.exp(t[4]), noise=math.exp(t[5]),
                   mean=t[6]).value

    g = lik(X, lengthscales=ls, amplitude=0.8, noise=1e-2, mean=0.1, input_grad=True)
    analytic = np.concatenate([g.log_lengthscales, [g.log_amplitude, g.log_noise, g.mean]])
    eps = 1e-6
    for j in range(len(theta)):
        step = np.zeros_like(theta)
        step[j] = eps
        fd = (value(theta + step) - value(theta - step)) / (2 * eps)
        assert fd == pytest.approx(analytic[j], rel=1e-5, abs=1e-6)
    assert g.inputs is not None
    for i, k in [(0, 0), (5, 2), (29, 3)]:
        Xp, Xm = X.copy(), X.copy()
        Xp[i, k] += eps
        Xm[i, k] -= eps
        fd = (value(theta, Xp) - value(theta, Xm)) / (2 * eps)
        assert fd == pytest.approx(g.inputs[i, k], rel=1e-5, abs=1e-6)


def test_likelihood_is_finite_on_duplicates() -> None:
    X, y, ls = _data(10, 2, seed=1)
    X = np.vstack([X, X])  # every point twice: K is singular without jitter or noise
    y = np.concatenate([y, y])
    got = MarginalLikelihood(y)(X, lengthscales=ls, amplitude=1.0, noise=1e-300, mean=0.0)
    want = _reference.gp_lml_grad(X, y, ls, 1.0, 1e-300)
    assert got.jitter >= 1e-9
    assert math.isfinite(got.value)
    assert got.value == pytest.approx(want[0], rel=1e-6)


def test_likelihood_rejects_mismatched_inputs() -> None:
    X, y, ls = _data(10, 2, seed=1)
    with pytest.raises(ValueError, match="rows"):
        MarginalLikelihood(y[:5])(X, lengthscales=ls, amplitude=1.0, noise=1e-3, mean=0.0)
    with pytest.raises(ValueError, match="noise"):
        MarginalLikelihood(y)(X, lengthscales=ls, amplitude=1.0, noise=-1.0, mean=0.0)


def _posterior_case(n: int, m: int, d: int, seed: int):
    X, y, ls = _data(n, d, seed)
    K = matern52(X, lengthscales=ls, amplitude=1.4)
    K[np.diag_indices(n)] += 1e-4
    L = np.ascontiguousarray(cholesky(K, lower=True))
    alpha = np.linalg.solve(K, y - 0.3)
    Z = np.random.default_rng(seed + 1).uniform(size=(m, d))
    return X, L, alpha, ls, Z


def _native_posterior(X, L, alpha, ls, Z):
    m, d = Z.shape
    out = np.empty(m), np.empty(m), np.empty((m, d)), np.empty((m, d))
    _native.gp_posterior_grad(Z, X, L, alpha, ls, 1.4, 0.3, *out, np.empty((m, len(X))))
    return out


@pytest.mark.parametrize(("n", "m", "d"), [(1, 1, 1), (15, 4, 3), (90, 7, 20)])
def test_posterior_matches_reference(n: int, m: int, d: int) -> None:
    X, L, alpha, ls, Z = _posterior_case(n, m, d, seed=n)
    got = _native_posterior(X, L, alpha, ls, Z)
    want = _reference.gp_posterior_grad(Z, X, L, alpha, ls, 1.4, 0.3)
    for g, w in zip(got, want, strict=True):
        assert_allclose(g, w, rtol=1e-7, atol=1e-9)


def test_posterior_gradient_matches_finite_differences() -> None:
    X, L, alpha, ls, Z = _posterior_case(25, 3, 4, seed=2)
    _, _, dmu, dstd = _native_posterior(X, L, alpha, ls, Z)
    eps = 1e-6
    for k in range(4):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[:, k] += eps
        Zm[:, k] -= eps
        mp, sp, _, _ = _native_posterior(X, L, alpha, ls, Zp)
        mm, sm, _, _ = _native_posterior(X, L, alpha, ls, Zm)
        assert_allclose((mp - mm) / (2 * eps), dmu[:, k], rtol=1e-5, atol=1e-7)
        assert_allclose((sp - sm) / (2 * eps), dstd[:, k], rtol=1e-5, atol=1e-7)


def test_posterior_rejects_bad_shapes() -> None:
    X, L, alpha, ls, Z = _posterior_case(10, 2, 3, seed=4)
    with pytest.raises(ValueError, match="L"):
        _native.gp_posterior_grad(
            Z, X, np.ascontiguousarray(L[:5, :5]), alpha, ls, 1.0, 0.0, np.empty(2), np.empty(2),
            np.empty((2, 3)), np.empty((2, 3)), np.empty((2, 10)),
        )


def _native_logei(X, L, alpha, ls, Z, best):
    m, d = Z.shape
    value, grad = np.empty(m), np.empty((m, d))
    _native.gp_logei_grad(Z, X, L, alpha, ls, 1.4, 0.3, best, value, grad, np.empty((m, len(X))))
    return value, grad


# Up to four points the pass solves each against the factor alone (dtrsv), beyond in one
# dtrsm: the cases cover both.
@pytest.mark.parametrize(("n", "m", "d"), [(1, 1, 1), (15, 4, 3), (40, 3, 6), (90, 7, 20)])
@pytest.mark.parametrize("best", [-2.0, 0.0, 0.5])
def test_logei_pass_matches_reference(n: int, m: int, d: int, best: float) -> None:
    X, L, alpha, ls, Z = _posterior_case(n, m, d, seed=3 * n)
    value, grad = _native_logei(X, L, alpha, ls, Z, best)
    want_value, want_grad = _reference.gp_logei_grad(Z, X, L, alpha, ls, 1.4, 0.3, best)
    assert_allclose(value, want_value, rtol=1e-9, atol=1e-12)
    assert_allclose(grad, want_grad, rtol=1e-7, atol=1e-9)


def test_logei_pass_gradient_matches_finite_differences() -> None:
    X, L, alpha, ls, Z = _posterior_case(25, 3, 4, seed=5)
    _, grad = _native_logei(X, L, alpha, ls, Z, -0.5)
    eps = 1e-6
    for k in range(4):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[:, k] += eps
        Zm[:, k] -= eps
        fd = (_native_logei(X, L, alpha, ls, Zp, -0.5)[0] - _native_logei(X, L, alpha, ls, Zm, -0.5)[0])
        assert_allclose(fd / (2 * eps), grad[:, k], rtol=1e-5, atol=1e-7)


def test_logei_pass_rejects_bad_shapes() -> None:
    X, L, alpha, ls, Z = _posterior_case(10, 2, 3, seed=4)
    with pytest.raises(ValueError, match="work"):
        _native.gp_logei_grad(Z, X, L, alpha, ls, 1.0, 0.0, 0.0, np.empty(2), np.empty((2, 3)),
                              np.empty((2, 9)))
    with pytest.raises(ValueError, match="observation"):
        _native.gp_logei_grad(Z, X[:0], np.empty((0, 0)), alpha[:0], ls, 1.0, 0.0, 0.0,
                              np.empty(2), np.empty((2, 3)), np.empty((2, 0)))
