"""Slow, obvious NumPy twins of the native kernels: oracles for tests and baselines for benchmarks.

Nothing in the library imports this module. Each function transcribes its
formula as literally as NumPy allows (broadcasting, plain powers and logs), so a
reader can check it against the maths by eye; the native code is then checked
against it. Arguments are trusted, as in the C code. Shapes and notation follow
:mod:`fasthpo.gp.kernels` and :mod:`fasthpo.gp.warping`.

The plain Kumaraswamy formulas lose relative accuracy where 1 - x^a cancels
(x very close to 1), which the native log-space forms avoid; compare the two
away from there, or against a high-precision oracle.
"""

from __future__ import annotations

import numpy as np


def matern52(X1: np.ndarray, X2: np.ndarray | None, lengthscales: np.ndarray, amplitude: float) -> np.ndarray:
    """Matérn-5/2 ARD kernel via an (n1, n2, d) broadcast of scaled differences.

    k = amplitude * (1 + sqrt(5) r + 5/3 r^2) * exp(-sqrt(5) r),
    r^2 = sum_k ((x_k - x'_k) / lengthscales_k)^2.
    """
    X1 = np.asarray(X1, dtype=np.float64)
    X2 = X1 if X2 is None else np.asarray(X2, dtype=np.float64)
    diff = (X1[:, None, :] - X2[None, :, :]) / np.asarray(lengthscales, dtype=np.float64)
    r = np.sqrt(np.sum(diff**2, axis=-1))
    return amplitude * (1.0 + np.sqrt(5.0) * r + 5.0 / 3.0 * r**2) * np.exp(-np.sqrt(5.0) * r)


def kumaraswamy_cdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """w = 1 - (1 - x^a)^b, with w = 0 for x <= 0 and w = 1 for x >= 1."""
    x = np.asarray(x, dtype=np.float64)
    xc = np.clip(x, 0.0, 1.0)
    w = 1.0 - (1.0 - xc**a) ** b
    return np.where(x <= 0.0, 0.0, np.where(x >= 1.0, 1.0, w))


def kumaraswamy_inverse(w: np.ndarray, a: float, b: float) -> np.ndarray:
    """x = (1 - (1 - w)^(1/b))^(1/a), with x = 0 for w <= 0 and x = 1 for w >= 1."""
    w = np.asarray(w, dtype=np.float64)
    wc = np.clip(w, 0.0, 1.0)
    x = (1.0 - (1.0 - wc) ** (1.0 / b)) ** (1.0 / a)
    return np.where(w <= 0.0, 0.0, np.where(w >= 1.0, 1.0, x))


def kumaraswamy_grad(x: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dw/dx, dw/da, dw/db) from the textbook formulas, endpoints by their limits.

    dw/dx = a b x^(a-1) (1 - x^a)^(b-1)
    dw/da = b (1 - x^a)^(b-1) x^a log x
    dw/db = -(1 - x^a)^b log(1 - x^a)

    At x <= 0: dw/da = dw/db = 0, dw/dx = inf / b / 0 for a < 1 / a = 1 / a > 1.
    At x >= 1: dw/da = dw/db = 0, dw/dx = inf / a / 0 for b < 1 / b = 1 / b > 1.
    """
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x <= 0.0, x >= 1.0
    # Evaluate the formulas at a harmless interior point wherever x is an
    # endpoint; those entries are replaced by the limits below.
    xi = np.where(lo | hi, 0.5, x)
    s = 1.0 - xi**a
    dx = a * b * xi ** (a - 1.0) * s ** (b - 1.0)
    da = b * s ** (b - 1.0) * xi**a * np.log(xi)
    db = -(s**b) * np.log(s)

    dx_at_0 = np.inf if a < 1.0 else (b if a == 1.0 else 0.0)
    dx_at_1 = np.inf if b < 1.0 else (a if b == 1.0 else 0.0)
    dx = np.where(lo, dx_at_0, np.where(hi, dx_at_1, dx))
    da = np.where(lo | hi, 0.0, da)
    db = np.where(lo | hi, 0.0, db)
    return dx, da, db
