r"""Kumaraswamy CDF input warping: how ``scaling: auto`` discovers log-scaled hyperparameters.

Why a warp
----------
A learning rate or a regularisation strength usually matters per order of
magnitude: on a linear unit-cube coordinate the objective changes violently
near 0 and barely at all elsewhere, which no stationary kernel models well.
When the user declares ``log`` we simply encode in log space. When the scaling
is ``auto`` we let the data decide: each such coordinate x in [0, 1] is passed
through a monotone bijection of [0, 1],

.. math::

    w(x) = 1 - (1 - x^a)^b, \qquad a > 0,\ b > 0,

the CDF of the Kumaraswamy distribution, before the GP kernel sees it. At
``a = b = 1`` it is the identity; ``a < 1`` stretches the region near 0 (what a
log scale does), ``b < 1`` stretches the region near 1 (``reverse_log``). The GP
model fits (a, b) per ``auto`` dimension jointly with its kernel
hyperparameters, under priors that keep the warp near identity until the data
says otherwise; the fitted warp is then compared with the identity, log and
reverse-log maps of the parameter's own range to report the detected scale
(:mod:`fasthpo.strategies.scale_detection`), and candidates are drawn
uniformly in warped space. :class:`InputWarp` applies the warps of several
columns at once and turns an input gradient into warp-shape gradients.
Kumaraswamy rather than the Beta CDF because it, its inverse and its
derivatives all have closed forms.

Notation and shapes
-------------------
* ``x`` — unwarped coordinates in [0, 1], any shape; ``w`` — warped, same shape.
* ``a``, ``b`` — positive finite scalar shapes of one dimension's warp.
* ``dw_dx``, ``dw_da``, ``dw_db`` — partial derivatives of w, shaped like x.

The arithmetic runs in C (``csrc/kumaraswamy.c``) without the GIL, in log space
so that no intermediate cancels or underflows; at x = 0 and x = 1 every output
takes its one-sided limit (possibly +inf for ``dw_dx``), never NaN. This module
checks the arguments once and names the offending one when it rejects a call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fasthpo.gp import _native
from fasthpo.gp.arguments import as_positive_scalar, as_unit_interval

__all__ = ["InputWarp", "kumaraswamy_cdf", "kumaraswamy_grad", "kumaraswamy_inverse"]


def kumaraswamy_cdf(x: ArrayLike, a: float, b: float) -> np.ndarray:
    """Warp unit-interval coordinates: w = 1 - (1 - x^a)^b.

    Parameters
    ----------
    x : array_like of float, any shape
        Coordinates in [0, 1].
    a, b : float
        Positive finite shape parameters; ``a = b = 1`` is the identity.

    Returns
    -------
    w : ndarray of float64, shape of ``x``
        Warped coordinates in [0, 1], nondecreasing in x.
    """
    arr = as_unit_interval(x, "x")
    a_, b_ = _as_shapes(a, b)
    flat = arr.reshape(-1)
    out = np.empty_like(flat)
    _native.kumaraswamy_cdf(flat, a_, b_, out)
    return out.reshape(arr.shape)


def kumaraswamy_inverse(w: ArrayLike, a: float, b: float) -> np.ndarray:
    """Unwarp: x = (1 - (1 - w)^(1/b))^(1/a), the inverse of :func:`kumaraswamy_cdf`.

    Used to map candidates drawn uniformly in warped space back to the unit
    cube the search space decodes.

    Parameters
    ----------
    w : array_like of float, any shape
        Warped coordinates in [0, 1].
    a, b : float
        Positive finite shape parameters.

    Returns
    -------
    x : ndarray of float64, shape of ``w``
        Coordinates in [0, 1] with ``kumaraswamy_cdf(x, a, b) ≈ w``.
    """
    arr = as_unit_interval(w, "w")
    a_, b_ = _as_shapes(a, b)
    flat = arr.reshape(-1)
    out = np.empty_like(flat)
    _native.kumaraswamy_inverse(flat, a_, b_, out)
    return out.reshape(arr.shape)


def kumaraswamy_grad(x: ArrayLike, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Partial derivatives of w = 1 - (1 - x^a)^b, for chain rules through the warp.

    .. math::

        \partial w/\partial x = a b\, x^{a-1} (1 - x^a)^{b-1}, \quad
        \partial w/\partial a = b\, (1 - x^a)^{b-1} x^a \log x, \quad
        \partial w/\partial b = -(1 - x^a)^b \log(1 - x^a)

    ``dw_dx`` feeds the acquisition gradient in x; ``dw_da`` and ``dw_db`` feed
    the marginal-likelihood gradient when the warp is fitted.

    Parameters
    ----------
    x : array_like of float, any shape
        Coordinates in [0, 1].
    a, b : float
        Positive finite shape parameters.

    Returns
    -------
    dw_dx, dw_da, dw_db : ndarray of float64, each shaped like ``x``
        At x = 0 and x = 1, ``dw_da = dw_db = 0`` and ``dw_dx`` is its one-sided
        limit: at 0, +inf if a < 1, b if a = 1, 0 if a > 1; at 1, +inf if b < 1,
        a if b = 1, 0 if b > 1. Never NaN.
    """
    arr = as_unit_interval(x, "x")
    a_, b_ = _as_shapes(a, b)
    flat = arr.reshape(-1)
    dw_dx = np.empty_like(flat)
    dw_da = np.empty_like(flat)
    dw_db = np.empty_like(flat)
    _native.kumaraswamy_grad(flat, a_, b_, dw_dx, dw_da, dw_db)
    return dw_dx.reshape(arr.shape), dw_da.reshape(arr.shape), dw_db.reshape(arr.shape)




def _as_shapes(a: object, b: object) -> tuple[float, float]:
    """Validate the two shape parameters as positive finite floats."""
    return as_positive_scalar(a, "a"), as_positive_scalar(b, "b")


class InputWarp:
    """A Kumaraswamy warp on some columns of a point matrix (the others pass through).

    The model's view of the encoded unit cube: ``apply`` maps encoded points to
    the coordinates the kernel sees, ``inverse`` maps them back, and
    ``chain`` turns a gradient in the warped points into gradients in the
    log shapes (log a, log b) of each warped column.

    Parameters
    ----------
    columns : sequence of int
        The warped columns, in the order of ``a`` and ``b``.
    a, b : array_like, shape (len(columns),)
        Positive finite shapes of each column's warp.
    """

    def __init__(self, columns: ArrayLike, a: ArrayLike, b: ArrayLike) -> None:
        self.columns = np.asarray(columns, dtype=np.intp).reshape(-1)
        self.a = np.asarray(a, dtype=np.float64).reshape(-1)
        self.b = np.asarray(b, dtype=np.float64).reshape(-1)
        if not len(self.columns) == len(self.a) == len(self.b):
            raise ValueError(
                f"columns, a and b must have the same length, got {len(self.columns)}, "
                f"{len(self.a)} and {len(self.b)}"
            )

    def __len__(self) -> int:
        return len(self.columns)

    def apply(self, X: ArrayLike) -> np.ndarray:
        """Warped copy of points X (n, D) in [0, 1]; unwarped columns are copied as they are."""
        out = np.array(X, dtype=np.float64, order="C", ndmin=2)
        for c, a, b in zip(self.columns, self.a, self.b, strict=True):
            out[:, c] = kumaraswamy_cdf(np.clip(out[:, c], 0.0, 1.0), a, b)
        return out

    def inverse(self, W: ArrayLike) -> np.ndarray:
        """Encoded points of warped points W (n, D), clipped to [0, 1] first."""
        out = np.array(W, dtype=np.float64, order="C", ndmin=2)
        for c, a, b in zip(self.columns, self.a, self.b, strict=True):
            out[:, c] = kumaraswamy_inverse(np.clip(out[:, c], 0.0, 1.0), a, b)
        return out

    def chain(self, X: np.ndarray, G_W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients in (log a, log b) of each warped column from a gradient G_W (n, D) in the
        warped points: Σ_i G_W[i, c] ∂w/∂a(x_ic) · a, and the same for b."""
        g_log_a = np.empty(len(self.columns))
        g_log_b = np.empty(len(self.columns))
        for j, (c, a, b) in enumerate(zip(self.columns, self.a, self.b, strict=True)):
            _, dw_da, dw_db = kumaraswamy_grad(np.clip(X[:, c], 0.0, 1.0), a, b)
            g_log_a[j] = a * float(G_W[:, c] @ dw_da)
            g_log_b[j] = b * float(G_W[:, c] @ dw_db)
        return g_log_a, g_log_b
