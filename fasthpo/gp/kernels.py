"""Matérn-5/2 ARD covariance: the validating Python face of the native kernel.

Notation and shapes, used throughout :mod:`fasthpo.gp`:

* ``n1``, ``n2`` (or ``n``) — numbers of points; ``d`` — number of input
  dimensions, one per tunable hyperparameter (``d >= 1``).
* ``X1`` ``(n1, d)``, ``X2`` ``(n2, d)`` — points, one per row, usually in the
  (warped) unit cube.
* ``lengthscales`` ``(d,)`` — ℓ_k > 0, one per dimension (ARD: automatic
  relevance determination, a long ℓ_k means dimension k hardly matters).
* ``amplitude`` — σ² > 0, the prior variance k(x, x).
* ``K`` ``(n1, n2)`` — the covariance matrix, ``K[i, j] = k(X1[i], X2[j])``.

The arithmetic runs in C (``csrc/matern52.c``) without the GIL; this module
checks every argument once, so the native code can trust its inputs, and says
which argument is wrong and how when one is.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from fasthpo.gp import _native

__all__ = ["matern52"]


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
    A = _as_points(X1, "X1")
    d = A.shape[1]
    ls = _as_lengthscales(lengthscales, d)
    amp = _as_positive_scalar(amplitude, "amplitude")
    if X2 is None:
        K = np.empty((A.shape[0], A.shape[0]), dtype=np.float64)
        _native.matern52_symmetric(A, ls, amp, K)
        return K
    B = _as_points(X2, "X2")
    if B.shape[1] != d:
        raise ValueError(f"X2 has {B.shape[1]} columns but X1 has {d}; both must be (n, d) with the same d")
    K = np.empty((A.shape[0], B.shape[0]), dtype=np.float64)
    _native.matern52_cross(A, B, ls, amp, K)
    return K


# --------------------------------------------------------------------------
# Argument checks. Each returns a C-contiguous float64 array (no copy for input
# that is already one) or raises ValueError naming the argument.
# --------------------------------------------------------------------------


def _as_float64(value: ArrayLike, name: str) -> np.ndarray:
    """Convert a real numeric array-like to C-contiguous float64."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    # order="C" rather than np.ascontiguousarray, which would turn 0-d into (1,).
    return np.asarray(arr, dtype=np.float64, order="C")


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    """Describe the first flagged entry as ``[i, j] = value`` for an error message."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"[{', '.join(map(str, index))}] = {float(arr[index])!r}"


def _as_points(value: ArrayLike, name: str) -> np.ndarray:
    """Validate an (n, d) matrix of finite points with d >= 1."""
    arr = _as_float64(value, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n, d), got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{name} must be finite, but {name}{_first_bad(arr, ~finite)}")
    return arr


def _as_lengthscales(value: ArrayLike, d: int) -> np.ndarray:
    """Validate a (d,) vector of positive finite lengthscales."""
    arr = _as_float64(value, "lengthscales")
    if arr.shape != (d,):
        raise ValueError(f"lengthscales must have shape ({d},) to match X1's d={d}, got shape {arr.shape}")
    ok = np.isfinite(arr) & (arr > 0)
    if not ok.all():
        raise ValueError(f"lengthscales must be positive and finite, but lengthscales{_first_bad(arr, ~ok)}")
    return arr


def _as_positive_scalar(value: object, name: str) -> float:
    """Validate a positive finite real scalar (Python or NumPy), returned as float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be positive and finite, got {x!r}")
    return x
