"""Micro-benchmarks of the native GP gradient and acquisition kernels, each next to its NumPy twin.

Run with ``python -m pytest benchmarks/test_native_gp.py --benchmark-enable``.
Each benchmark group holds the native and the reference measurement of the same
work, so the speed-up reads off the group's table. These are not tests: they
assert only that both sides computed the same thing, never a timing.

* lml_grad: the fused log-marginal-likelihood gradient pass that runs in every
  hyperparameter-fit iteration, with and without the input gradient (the
  reference always forms everything).
* cross_grad: 1000 candidates against 300 observations, the acquisition
  gradient's cross-kernel term.
* logei: log EI and its gradient over 1e5 candidates.
* cholesky_inverse: K⁻¹ from its Cholesky factor, which every fit evaluation
  forms for the gradient, against LAPACK's dpotri on the same factor.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.linalg import cholesky, lapack

from fasthpo.gp import _native, _reference
from fasthpo.gp.kernels import matern52_cross_grad, matern52_lml_grad
from fasthpo.gp.logei import log_expected_improvement

SIZES = [(100, 20), (300, 20), (1000, 20)]


def _problem(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, n))
    return rng.uniform(size=(n, d)), np.exp(rng.uniform(np.log(0.1), np.log(2.0), size=d)), W + W.T


@pytest.mark.parametrize("impl", ["native", "native-with-input-grad", "reference"])
@pytest.mark.parametrize(("n", "d"), SIZES)
def test_lml_grad(benchmark, n: int, d: int, impl: str) -> None:
    X, ls, W = _problem(n, d, seed=n)
    benchmark.group = f"lml_grad n={n} d={d}"
    if impl == "reference":
        g_ls, g_amp, _ = benchmark(lambda: _reference.matern52_lml_grad(X, W, ls, 1.5, input_grad=True))
    else:
        input_grad = impl == "native-with-input-grad"
        g_ls, g_amp, _ = benchmark(
            lambda: matern52_lml_grad(X, W, lengthscales=ls, amplitude=1.5, input_grad=input_grad)
        )
    want_ls, want_amp, _ = _reference.matern52_lml_grad(X, W, ls, 1.5)
    assert_allclose(g_ls, want_ls, rtol=1e-9)
    assert g_amp == pytest.approx(want_amp, rel=1e-9)


@pytest.mark.parametrize("impl", ["native", "reference"])
def test_cross_grad(benchmark, impl: str) -> None:
    rng = np.random.default_rng(0)
    X, Xc = rng.uniform(size=(300, 20)), rng.uniform(size=(1000, 20))
    ls = np.exp(rng.uniform(np.log(0.1), np.log(2.0), size=20))
    V = rng.normal(size=(1000, 300))
    benchmark.group = "cross_grad m=1000 n=300 d=20"
    if impl == "native":
        G = benchmark(lambda: matern52_cross_grad(Xc, X, V, lengthscales=ls, amplitude=1.5))
    else:
        G = benchmark(lambda: _reference.matern52_cross_grad(Xc, X, V, ls, 1.5))
    want = _reference.matern52_cross_grad(Xc, X, V, ls, 1.5)
    assert_allclose(G, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("impl", ["native", "reference"])
def test_logei(benchmark, impl: str) -> None:
    # z spread over [-40, 10], the range an acquisition optimiser meets.
    rng = np.random.default_rng(1)
    sigma = np.exp(rng.uniform(-3.0, 1.0, size=100_000))
    mu = sigma * rng.uniform(-10.0, 40.0, size=sigma.size)
    benchmark.group = "logei + grad m=1e5"
    if impl == "native":
        value, d_mu, _ = benchmark(lambda: log_expected_improvement(mu, sigma, 0.0, grad=True))
    else:
        value, d_mu, _ = benchmark(lambda: _reference.log_expected_improvement(mu, sigma, 0.0, grad=True))
    want, want_mu, _ = _reference.log_expected_improvement(mu, sigma, 0.0, grad=True)
    assert_allclose(value, want, rtol=1e-10, atol=1e-12)
    assert_allclose(d_mu, want_mu, rtol=1e-10)


@pytest.mark.parametrize("impl", ["recursive", "dpotri"])
@pytest.mark.parametrize("n", [100, 200, 300])
def test_cholesky_inverse(benchmark, n: int, impl: str) -> None:
    rng = np.random.default_rng(n)
    B = rng.normal(size=(n, n))
    L = np.asfortranarray(cholesky(B @ B.T / n + 0.1 * np.eye(n), lower=True))
    copies = iter([L.copy(order="F") for _ in range(2_000)])  # each round inverts a fresh factor
    benchmark.group = f"cholesky_inverse n={n}"
    if impl == "recursive":
        def run() -> np.ndarray:
            a = next(copies)
            assert _native.cholesky_inverse(a) == 0
            return a
    else:
        def run() -> np.ndarray:
            a, info = lapack.dpotri(next(copies), lower=1, overwrite_c=1)
            assert info == 0
            return a
    got = benchmark.pedantic(run, rounds=200, iterations=1, warmup_rounds=5)
    want, _ = lapack.dpotri(L, lower=1)
    assert_allclose(np.tril(got), np.tril(want), rtol=1e-9, atol=1e-12 * np.abs(want).max())
