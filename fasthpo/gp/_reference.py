"""Slow, obvious NumPy twins of the native kernels: oracles for tests and baselines for benchmarks.

Nothing in the library imports this module. Each function transcribes its
formula as literally as NumPy allows (broadcasting, plain powers and logs), so a
reader can check it against the maths by eye; the native code is then checked
against it. Arguments are trusted, as in the C code. Shapes and notation follow
:mod:`fasthpo.gp.kernels`, :mod:`fasthpo.gp.warping` and :mod:`fasthpo.gp.logei`.

The plain Kumaraswamy formulas lose relative accuracy where 1 - x^a cancels
(x very close to 1), which the native log-space forms avoid; compare the two
away from there, or against a high-precision oracle. Likewise the log-EI twin
uses the erfcx form of Ament et al. as published, whose log(1 − ...) loses
about log10(z²) digits for z ≪ −1: fine to z ≈ −100 at 1e-10, not beyond.
"""

from __future__ import annotations

import numpy as np
from scipy import special


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


def _scaled_differences(X1: np.ndarray, X2: np.ndarray, lengthscales: np.ndarray) -> list[np.ndarray]:
    """Per dimension k, the (n1, n2) matrix of (x_k - x'_k) / l_k (one 2-D array at a time)."""
    return [(X1[:, None, k] - X2[None, :, k]) / lengthscales[k] for k in range(X1.shape[1])]


def matern52_lml_grad(
    X: np.ndarray, W: np.ndarray, lengthscales: np.ndarray, amplitude: float, input_grad: bool = False
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(g_log_ls, g_log_amp, G_X or None) from the full matrices.

    With dz_k = (x_ik - x_jk) / l_k, s = sqrt(5) r and q = (1 + s) exp(-s):
    dK/dlog l_k = 5/3 a q dz_k^2 and dk(x_i, x_j)/dx_ik = -5/3 a q dz_k / l_k, so
    g_log_ls[k] = 1/2 sum(W * dK/dlog l_k), g_log_amp = 1/2 sum(W * K),
    G_X[i, k] = sum_j W_ij dk(x_i, x_j)/dx_ik. Uses all of W (symmetric).
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    ls = np.asarray(lengthscales, dtype=np.float64)
    dz = _scaled_differences(X, X, ls)
    r = np.sqrt(sum(dz_k**2 for dz_k in dz))
    s = np.sqrt(5.0) * r
    K = amplitude * (1.0 + s + s**2 / 3.0) * np.exp(-s)
    Wq = W * (5.0 / 3.0 * amplitude * (1.0 + s) * np.exp(-s))
    g_log_ls = np.array([0.5 * np.sum(Wq * dz_k**2) for dz_k in dz])
    g_log_amp = 0.5 * float(np.sum(W * K))
    G_X = None
    if input_grad:
        G_X = np.stack([-np.sum(Wq * dz_k, axis=1) / ls[k] for k, dz_k in enumerate(dz)], axis=1)
    return g_log_ls, g_log_amp, G_X


def matern52_cross_grad(
    Xc: np.ndarray, X: np.ndarray, V: np.ndarray, lengthscales: np.ndarray, amplitude: float
) -> np.ndarray:
    """G[c, k] = sum_i V[c, i] * (-5/3 a (1 + s) exp(-s) (xc_k - x_ik) / l_k^2)."""
    Xc = np.asarray(Xc, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    ls = np.asarray(lengthscales, dtype=np.float64)
    dz = _scaled_differences(Xc, X, ls)
    s = np.sqrt(5.0) * np.sqrt(sum(dz_k**2 for dz_k in dz))
    Vq = np.asarray(V, dtype=np.float64) * (5.0 / 3.0 * amplitude * (1.0 + s) * np.exp(-s))
    G = np.stack([-np.sum(Vq * dz_k, axis=1) / ls[k] for k, dz_k in enumerate(dz)], axis=1)
    return G


def gp_lml_grad(
    X: np.ndarray, r: np.ndarray, lengthscales: np.ndarray, amplitude: float, noise: float,
    input_grad: bool = False,
) -> tuple[float, np.ndarray, float, float, float, np.ndarray | None]:
    """(lml, g_log_ls, g_log_amp, g_log_noise, g_mean, G_X or None) from dense matrices.

    K_y = K + (noise + jitter) I with the jitter escalating x10 from 1e-9 a until
    NumPy's Cholesky accepts it (-inf and zeros past 1e-2 a), alpha = K_y^-1 r,
    lml = -1/2 r.alpha - 1/2 log det K_y - n/2 log 2 pi, W = alpha alpha^T - K_y^-1;
    the lengthscale, amplitude and input parts come from :func:`matern52_lml_grad`,
    the noise part is 1/2 noise tr W and the mean part sum(alpha).
    """
    X = np.asarray(X, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    n, d = X.shape
    K = matern52(X, None, lengthscales, amplitude)
    jitter = 1e-9 * amplitude
    while True:
        try:
            L = np.linalg.cholesky(K + (noise + jitter) * np.eye(n))
            break
        except np.linalg.LinAlgError:
            if jitter > 1e-2 * amplitude * (1.0 + 1e-9):
                return -np.inf, np.zeros(d), 0.0, 0.0, 0.0, np.zeros((n, d)) if input_grad else None
            jitter *= 10.0
    K_inv = np.linalg.inv(L @ L.T)
    alpha = K_inv @ r
    lml = -0.5 * float(r @ alpha) - float(np.sum(np.log(np.diag(L)))) - 0.5 * n * np.log(2.0 * np.pi)
    W = np.outer(alpha, alpha) - K_inv
    g_ls, g_amp, G_X = matern52_lml_grad(X, W, lengthscales, amplitude, input_grad)
    return lml, g_ls, g_amp, 0.5 * noise * float(np.trace(W)), float(alpha.sum()), G_X


def gp_posterior_grad(
    Z: np.ndarray, X: np.ndarray, L: np.ndarray, alpha: np.ndarray, lengthscales: np.ndarray,
    amplitude: float, mean: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mu, std, dmu, dstd) of a GP with Cholesky factor L of K_y and alpha = K_y^-1 (y - c).

    mu = c + k*^T alpha, std = sqrt(max(a - k*^T K_y^-1 k*, 1e-12 a)),
    dmu = sum_i alpha_i dk/dz, dstd = -(1/std) sum_i (K_y^-1 k*)_i dk/dz.
    """
    Z = np.asarray(Z, dtype=np.float64)
    K_inv = np.linalg.inv(L @ L.T)
    Ks = matern52(Z, X, lengthscales, amplitude)
    mu = mean + Ks @ alpha
    beta = Ks @ K_inv
    std = np.sqrt(np.maximum(amplitude - np.sum(beta * Ks, axis=1), 1e-12 * amplitude))
    dmu = matern52_cross_grad(Z, X, np.tile(alpha, (len(Z), 1)), lengthscales, amplitude)
    dstd = matern52_cross_grad(Z, X, -beta / std[:, None], lengthscales, amplitude)
    return mu, std, dmu, dstd


def log_h(z: np.ndarray) -> np.ndarray:
    """log h(z), h(z) = phi(z) + z Phi(z), in the two regimes of Ament et al. (2023).

    z >= -1: log(phi(z) + z Phi(z)) directly;
    z < -1:  -z^2/2 - log sqrt(2 pi) + log1p(-sqrt(pi/2) |z| erfcx(|z| / sqrt 2)).
    """
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log(np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi) + z * special.ndtr(z))
        t = np.abs(z)
        tail = (
            -0.5 * z**2
            - 0.5 * np.log(2.0 * np.pi)
            + np.log1p(-np.sqrt(np.pi / 2.0) * t * special.erfcx(t / np.sqrt(2.0)))
        )
    return np.where(z >= -1.0, direct, tail)


def log_expected_improvement(
    mu: np.ndarray, sigma: np.ndarray, best: float, grad: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log EI = log sigma + log h(z), z = (best - mu) / sigma, and optionally

    d log EI / d mu    = -Phi(z) / (sigma h(z)) = -exp(log_ndtr(z) - log h(z)) / sigma,
    d log EI / d sigma =  phi(z) / (sigma h(z)) =  exp(log phi(z) - log h(z)) / sigma.
    """
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    z = (best - mu) / sigma
    lh = log_h(z)
    value = np.log(sigma) + lh
    if not grad:
        return value
    d_mu = -np.exp(special.log_ndtr(z) - lh) / sigma
    d_sigma = np.exp(-0.5 * z**2 - 0.5 * np.log(2.0 * np.pi) - lh) / sigma
    return value, d_mu, d_sigma


def gp_logei_grad(
    Z: np.ndarray, X: np.ndarray, L: np.ndarray, alpha: np.ndarray, lengthscales: np.ndarray,
    amplitude: float, mean: float, best: float,
) -> tuple[np.ndarray, np.ndarray]:
    """LogEI of the posterior at Z against ``best`` and its gradient in Z, by the chain rule
    d LogEI/dz = d LogEI/d mu dmu + d LogEI/d std dstd on :func:`gp_posterior_grad`."""
    mu, std, dmu, dstd = gp_posterior_grad(Z, X, L, alpha, lengthscales, amplitude, mean)
    value, d_mu, d_std = log_expected_improvement(mu, std, best, grad=True)
    return value, d_mu[:, None] * dmu + d_std[:, None] * dstd


def neg_log_posterior(
    theta: np.ndarray, X: np.ndarray, y: np.ndarray, prior_mean: np.ndarray,
    prior_precision: np.ndarray, pooling: float = 0.0,
) -> tuple[float, np.ndarray]:
    """-log p(y | theta) - log p(theta) and its gradient, theta = (log ls (d), log a, log noise, c),
    the prior independent Gaussians -1/2 sum prec_i (theta_i - mean_i)^2 plus the pooling
    -1/2 pooling sum_k (log ls_k - mean_j log ls_j)^2 (the twin of the native MAP fit's
    objective); 1e25 and a zero gradient where K_y cannot be factorised."""
    theta = np.asarray(theta, dtype=np.float64)
    d = np.asarray(X).shape[1]
    scales = np.exp(theta)
    lml, g_ls, g_amp, g_noise, g_mean, _ = gp_lml_grad(
        X, np.asarray(y, dtype=np.float64) - theta[d + 2], scales[:d], scales[d], scales[d + 1]
    )
    if not np.isfinite(lml):
        return 1e25, np.zeros_like(theta)
    z = theta - prior_mean
    spread = theta[:d] - theta[:d].mean()
    value = lml - 0.5 * float(np.sum(prior_precision * z**2)) - 0.5 * pooling * float(spread @ spread)
    grad = np.concatenate([g_ls, [g_amp, g_noise, g_mean]]) - prior_precision * z
    grad[:d] -= pooling * spread
    return -value, -grad
