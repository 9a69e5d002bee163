r"""Log expected improvement: the acquisition function, stable for every z.

Expected improvement below the incumbent ``best`` (we minimise) of a Gaussian
posterior f ~ N(μ, σ²) at a candidate is

.. math::

    \mathrm{EI} = \mathbb{E}[\max(\mathit{best} - f, 0)] = \sigma\, h(z), \qquad
    z = \frac{\mathit{best} - \mu}{\sigma}, \qquad h(z) = \varphi(z) + z\,\Phi(z),

with φ and Φ the standard normal density and CDF. Its gradients are

.. math::

    \frac{\partial \log \mathrm{EI}}{\partial \mu} = -\frac{\Phi(z)}{\sigma\, h(z)},
    \qquad
    \frac{\partial \log \mathrm{EI}}{\partial \sigma} = \frac{\varphi(z)}{\sigma\, h(z)}.

Why the logarithm
-----------------
Away from the incumbent, EI underflows: at z = −40 it is below 1e-300 and at
z = −40 and beyond a double holds 0, so an optimiser sees a flat zero surface
with no gradient. log EI is finite there (about −z²/2 − log √(2π) − 2 log|z|),
and its gradient still points uphill (∂/∂μ ≈ −|z|/σ). This is the LogEI of
Ament et al., "Unexpected Improvements to Expected Improvement for Bayesian
Optimization" (NeurIPS 2023). The native code goes one step further than their
erfcx formula for z ≪ 0: it never forms 1 − √(π/2)|z| erfcx(|z|/√2) as a
difference (which loses log10(z²) digits), so log EI and both ratios
Φ/h (≈ |z|) and φ/h (≈ z²) keep full relative precision for every z.

Notation and shapes
-------------------
* ``m`` — number of candidates (``m = 0`` is valid).
* ``mu`` ``(m,)``, ``sigma`` ``(m,)`` — posterior mean and standard deviation
  of the objective at each candidate; σ > 0.
* ``best`` — the incumbent (lowest observed, or a quantile of it), a float.
* ``z`` ``(m,)`` — standardised improvement (best − μ)/σ, internal.

The arithmetic runs in C (``csrc/logei.c``, including its own erfcx) without
the GIL; this module checks the arguments once and names the offending one.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from fasthpo.gp import _native
from fasthpo.gp.arguments import as_finite_scalar, as_float64, as_vector, first_bad

__all__ = ["erfcx", "log_expected_improvement"]


@overload
def log_expected_improvement(
    mu: ArrayLike, sigma: ArrayLike, best: float, *, grad: Literal[False] = ...
) -> np.ndarray: ...


@overload
def log_expected_improvement(
    mu: ArrayLike, sigma: ArrayLike, best: float, *, grad: Literal[True]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def log_expected_improvement(
    mu: ArrayLike, sigma: ArrayLike, best: float, *, grad: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log EI of minimisation at each candidate, and optionally its gradient in (μ, σ).

    Parameters
    ----------
    mu : array_like, shape (m,)
        Posterior means, finite.
    sigma : array_like, shape (m,)
        Posterior standard deviations, positive and finite.
    best : float
        Incumbent objective value, finite.
    grad : bool, default False
        Also return the two partial derivatives.

    Returns
    -------
    log_ei : ndarray, shape (m,)
        log EI. Finite wherever the true value is a finite double (|z| up to
        about 1e154; in particular for z ≥ −1e3 whatever σ), −inf beyond.
        Never NaN.
    d_mu, d_sigma : ndarray, shape (m,)
        Only with ``grad=True``: −Φ(z)/(σ h(z)) and φ(z)/(σ h(z)). For z ≪ 0
        these grow like −|z|/σ and z²/σ, and overflow to ∓inf only where the
        true value does.

    Raises
    ------
    ValueError
        If an argument has the wrong shape or dtype, or a non-finite or
        non-positive entry where one is not allowed; the message names it.
    """
    mu_ = as_vector(mu, "mu")
    sigma_ = as_vector(sigma, "sigma")
    if sigma_.shape != mu_.shape:
        raise ValueError(f"sigma has shape {sigma_.shape} but mu has {mu_.shape}; both must be (m,)")
    positive = sigma_ > 0.0
    if not positive.all():
        raise ValueError(f"sigma must be positive, but sigma{first_bad(sigma_, ~positive)}")
    best_ = as_finite_scalar(best, "best")
    out = np.empty_like(mu_)
    if not grad:
        _native.log_expected_improvement(mu_, sigma_, best_, out)
        return out
    d_mu = np.empty_like(mu_)
    d_sigma = np.empty_like(mu_)
    _native.log_expected_improvement(mu_, sigma_, best_, out, d_mu, d_sigma)
    return out, d_mu, d_sigma


def erfcx(x: ArrayLike) -> np.ndarray:
    r"""Scaled complementary error function erfcx(x) = exp(x²) erfc(x), elementwise.

    The primitive under :func:`log_expected_improvement`: the upper normal
    tail is 1 − Φ(t) = ½ exp(−t²/2) erfcx(t/√2), so the Mills ratio
    (1 − Φ(t))/φ(t) = √(π/2) erfcx(t/√2) has no exponential to underflow.
    Within about an ulp of the true value for x ≥ 0 (where it decreases from
    1 to 0 like 1/(x√π)); for x < 0 it is 2 exp(x²) − erfcx(−x), +inf below
    x ≈ −26.6.

    Parameters
    ----------
    x : array_like of float, any shape
        Arguments; ±inf give 0 and +inf, NaN gives NaN.

    Returns
    -------
    ndarray of float64, shape of ``x``
    """
    arr = as_float64(x, "x")
    flat = arr.reshape(-1)
    out = np.empty_like(flat)
    _native.erfcx(flat, out)
    return out.reshape(arr.shape)



