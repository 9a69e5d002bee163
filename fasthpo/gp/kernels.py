r"""Matérn-5/2 ARD covariance and its gradients: the validating Python face of the native kernel.

Notation and shapes, used throughout :mod:`fasthpo.gp`:

* ``n1``, ``n2`` (or ``n``) — numbers of points; ``d`` — number of input
  dimensions, one per tunable hyperparameter (``d >= 1``); ``m`` — number of
  candidates.
* ``X1`` ``(n1, d)``, ``X2`` ``(n2, d)``, ``X`` ``(n, d)`` — points, one per
  row, usually in the (warped) unit cube; ``Xc`` ``(m, d)`` — candidates.
* ``lengthscales`` ``(d,)`` — ℓ_k > 0, one per dimension (ARD: automatic
  relevance determination, a long ℓ_k means dimension k hardly matters).
* ``amplitude`` — a = σ² > 0, the prior variance k(x, x).
* ``K`` ``(n1, n2)`` — the covariance matrix, ``K[i, j] = k(X1[i], X2[j])``.
* ``W`` ``(n, n)`` — symmetric weights of a log-marginal-likelihood gradient,
  αα^T − K_y⁻¹; ``V`` ``(m, n)`` — per-candidate weights of a cross-kernel
  gradient (α for the posterior mean, −2 K_y⁻¹ k(X, xc) for the variance).

With Δ_k = x_k − x'_k, r² = Σ_k (Δ_k/ℓ_k)² and s = √5 r, the kernel and the
two derivatives everything else is built from are

.. math::

    k = a (1 + s + s^2/3) e^{-s}, \qquad
    \frac{\partial k}{\partial \log \ell_k} = \tfrac{5}{3} a (1 + s) e^{-s}
        \frac{\Delta_k^2}{\ell_k^2}, \qquad
    \frac{\partial k}{\partial x_k} = -\tfrac{5}{3} a (1 + s) e^{-s}
        \frac{\Delta_k}{\ell_k^2},

in which r has cancelled: both are smooth at r = 0, where they vanish.

The arithmetic runs in C (``csrc/matern52.c``) without the GIL; this module
checks every argument once, so the native code can trust its inputs, and says
which argument is wrong and how when one is.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fasthpo.gp import _native
from fasthpo.gp.arguments import as_lengthscales, as_matrix, as_points, as_positive_scalar

__all__ = ["matern52", "matern52_cross_grad", "matern52_lml_grad"]


def matern52(
    X1: ArrayLike,
    X2: ArrayLike | None = None,
    *,
    lengthscales: ArrayLike,
    amplitude: float = 1.0,
) -> np.ndarray:
    r"""Matérn-5/2 ARD kernel matrix between the rows of X1 and X2.

    .. math::

        k(x, x') = \sigma^2 \left(1 + \sqrt{5}\, r + \tfrac{5}{3} r^2\right)
                   e^{-\sqrt{5}\, r},
        \qquad r^2 = \sum_{k=1}^{d} \left(\frac{x_k - x'_k}{\ell_k}\right)^2

    Twice differentiable sample paths: smooth enough for gradient-based
    acquisition optimisation, rough enough for real validation-loss surfaces.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        Points, one per row; finite.
    X2 : array_like, shape (n2, d), optional
        Second set of points. ``None`` computes ``k(X1, X1)`` through the
        symmetric path, which does half the work and returns a matrix that is
        exactly symmetric with ``amplitude`` on its diagonal.
    lengthscales : array_like, shape (d,)
        ℓ_k, positive and finite.
    amplitude : float, default 1.0
        σ², positive and finite.

    Returns
    -------
    K : ndarray of float64, shape (n1, n2)
        ``(n1, n1)`` when ``X2`` is None. Empty inputs give empty matrices.

    Raises
    ------
    ValueError
        If an argument has the wrong shape or dtype, or a non-finite or
        non-positive entry where one is not allowed; the message names it.
    """
    A = as_points(X1, "X1")
    d = A.shape[1]
    ls = as_lengthscales(lengthscales, d)
    amp = as_positive_scalar(amplitude, "amplitude")
    if X2 is None:
        K = np.empty((A.shape[0], A.shape[0]), dtype=np.float64)
        _native.matern52_symmetric(A, ls, amp, K)
        return K
    B = as_points(X2, "X2")
    if B.shape[1] != d:
        raise ValueError(f"X2 has {B.shape[1]} columns but X1 has {d}; both must be (n, d) with the same d")
    K = np.empty((A.shape[0], B.shape[0]), dtype=np.float64)
    _native.matern52_cross(A, B, ls, amp, K)
    return K


def matern52_lml_grad(
    X: ArrayLike,
    W: ArrayLike,
    *,
    lengthscales: ArrayLike,
    amplitude: float,
    input_grad: bool = False,
) -> tuple[np.ndarray, float, np.ndarray | None]:
    r"""Kernel part of the log-marginal-likelihood gradient, in one fused pass.

    For the log marginal likelihood L = −½ yᵀK_y⁻¹y − ½ log|K_y| − (n/2) log 2π
    with K_y = K + σ_n² I and K = k(X, X), every derivative through K is

    .. math::

        \frac{\partial L}{\partial \theta} = \tfrac12 \sum_{ij} W_{ij}
            \frac{\partial K_{ij}}{\partial \theta},
        \qquad W = \alpha\alpha^T - K_y^{-1}, \quad \alpha = K_y^{-1} y,

    and this function evaluates it for θ = log ℓ_k (each k), θ = log a and,
    on request, θ = X_ik (each i, k):

    .. math::

        g_{\log\ell}[k] = \tfrac12 \sum_{ij} W_{ij}\, \tfrac53 a (1 + s_{ij})
            e^{-s_{ij}} \frac{\Delta_{ijk}^2}{\ell_k^2}, \qquad
        g_{\log a} = \tfrac12 \sum_{ij} W_{ij} K_{ij}, \qquad
        G_X[i, k] = \sum_j W_{ij} \frac{\partial k(x_i, x_j)}{\partial x_{ik}}.

    ``G_X`` is the slot through which input-warp parameters get their gradient
    (chain rule through the warped coordinates). The noise derivative is
    ½ σ_n² tr W, left to the caller. One pass over the upper triangle:
    O(n² d) time, O(n d) scratch (scaled copies of X), never an (n, n, d)
    tensor; the summation order depends on the sizes only, so repeated calls
    return identical bits.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Points, finite.
    W : array_like, shape (n, n)
        Symmetric weights, finite. Only the upper triangle, diagonal included
        (``W[i, j]`` with i <= j), is read; the strict lower triangle is
        assumed to mirror it.
    lengthscales : array_like, shape (d,)
        ℓ_k, positive and finite.
    amplitude : float
        a, positive and finite.
    input_grad : bool, default False
        Also return ``G_X``.

    Returns
    -------
    g_log_ls : ndarray, shape (d,)
        Gradient in the log lengthscales.
    g_log_amp : float
        Gradient in the log amplitude.
    G_X : ndarray, shape (n, d), or None
        Gradient in the points when ``input_grad``, else None.

    Raises
    ------
    ValueError
        If an argument has the wrong shape or dtype, or a non-finite or
        non-positive entry where one is not allowed; the message names it.
    """
    A = as_points(X, "X")
    n, d = A.shape
    Wm = as_matrix(W, "W", (n, n), f"to match X's n={n}")
    ls = as_lengthscales(lengthscales, d, "X")
    amp = as_positive_scalar(amplitude, "amplitude")
    g_log_ls = np.empty(d, dtype=np.float64)
    G_X = np.empty((n, d), dtype=np.float64) if input_grad else None
    g_log_amp = _native.matern52_lml_grad(A, Wm, ls, amp, g_log_ls, G_X)
    return g_log_ls, float(g_log_amp), G_X


def matern52_cross_grad(
    Xc: ArrayLike,
    X: ArrayLike,
    V: ArrayLike,
    *,
    lengthscales: ArrayLike,
    amplitude: float,
) -> np.ndarray:
    r"""Weighted sums of cross-kernel gradients in the candidates.

    .. math::

        G[c, k] = \sum_i V[c, i] \frac{\partial k(x^c_c, x_i)}{\partial x^c_{ck}}
                = -\tfrac53 a \sum_i V[c, i] (1 + s_{ci}) e^{-s_{ci}}
                  \frac{x^c_{ck} - x_{ik}}{\ell_k^2}

    With ``V[c] = α`` this is the gradient of the posterior mean at each
    candidate; with ``V = −2 (K_y⁻¹ k(X, Xc))ᵀ`` the gradient of the posterior
    variance. O(m n d) time, O(n d) scratch.

    Parameters
    ----------
    Xc : array_like, shape (m, d)
        Candidates, finite.
    X : array_like, shape (n, d)
        Points, finite.
    V : array_like, shape (m, n)
        Weights, finite.
    lengthscales : array_like, shape (d,)
        ℓ_k, positive and finite.
    amplitude : float
        a, positive and finite.

    Returns
    -------
    G : ndarray, shape (m, d)
        Zero when n = 0; empty when m = 0.

    Raises
    ------
    ValueError
        If an argument has the wrong shape or dtype, or a non-finite or
        non-positive entry where one is not allowed; the message names it.
    """
    C = as_points(Xc, "Xc")
    m, d = C.shape
    A = as_points(X, "X")
    if A.shape[1] != d:
        raise ValueError(f"X has {A.shape[1]} columns but Xc has {d}; both must be (n, d) with the same d")
    n = A.shape[0]
    Vm = as_matrix(V, "V", (m, n), f"to match Xc's m={m} and X's n={n}")
    ls = as_lengthscales(lengthscales, d, "Xc")
    amp = as_positive_scalar(amplitude, "amplitude")
    G = np.empty((m, d), dtype=np.float64)
    _native.matern52_cross_grad(C, A, Vm, ls, amp, G)
    return G
