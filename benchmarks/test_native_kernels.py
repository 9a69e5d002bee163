"""Micro-benchmarks of the native kernels, each next to its NumPy reference twin.

Run with ``python -m pytest benchmarks/test_native_kernels.py --benchmark-only``.
Each benchmark group holds one native and one reference measurement of the same
work, so the speed-up reads off the group's table. These are not tests: they
assert only that both sides computed the same thing, never a timing.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fasthpo.gp import _reference
from fasthpo.gp.kernels import matern52
from fasthpo.gp.warping import kumaraswamy_cdf, kumaraswamy_grad

SIZES = [(100, 20), (300, 20), (1000, 20)]
IMPLS = ["native", "reference"]


def _points(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, d)), np.exp(rng.uniform(np.log(0.1), np.log(2.0), size=d))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("n", "d"), SIZES)
def test_matern52_symmetric(benchmark, n: int, d: int, impl: str) -> None:
    X, ls = _points(n, d, seed=n)
    benchmark.group = f"matern52 symmetric n={n} d={d}"
    if impl == "native":
        K = benchmark(lambda: matern52(X, lengthscales=ls, amplitude=1.5))
    else:
        K = benchmark(lambda: _reference.matern52(X, None, ls, 1.5))
    assert_allclose(K, _reference.matern52(X, None, ls, 1.5), rtol=1e-10)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("n", "d"), SIZES)
def test_matern52_cross(benchmark, n: int, d: int, impl: str) -> None:
    # n observations against n candidates: the acquisition's cross-kernel.
    X1, ls = _points(n, d, seed=n)
    X2, _ = _points(n, d, seed=n + 1)
    benchmark.group = f"matern52 cross n1=n2={n} d={d}"
    if impl == "native":
        K = benchmark(lambda: matern52(X1, X2, lengthscales=ls, amplitude=1.5))
    else:
        K = benchmark(lambda: _reference.matern52(X1, X2, ls, 1.5))
    assert_allclose(K, _reference.matern52(X1, X2, ls, 1.5), rtol=1e-10)


@pytest.mark.parametrize("impl", IMPLS)
def test_kumaraswamy_cdf_and_grad(benchmark, impl: str) -> None:
    x = np.random.default_rng(0).uniform(1e-4, 1.0 - 1e-4, size=100_000)
    a, b = 0.6, 1.7
    benchmark.group = "kumaraswamy cdf+grad n=1e5"
    if impl == "native":
        w, dx, _, _ = benchmark(lambda: (kumaraswamy_cdf(x, a, b), *kumaraswamy_grad(x, a, b)))
    else:
        w, dx, _, _ = benchmark(
            lambda: (_reference.kumaraswamy_cdf(x, a, b), *_reference.kumaraswamy_grad(x, a, b))
        )
    assert_allclose(w, _reference.kumaraswamy_cdf(x, a, b), rtol=1e-10, atol=1e-14)
    assert_allclose(dx, _reference.kumaraswamy_grad(x, a, b)[0], rtol=1e-10)
