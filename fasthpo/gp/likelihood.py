r"""The GP's log marginal likelihood and its gradient: one native call per evaluation.

For points X (n, d) in the kernel's coordinates, outputs y (n,) and θ =
(ℓ, a, σ², c), with K_y = k(X, X; ℓ, a) + (σ² + jitter) I = L Lᵀ and
α = K_y⁻¹ (y − c):

.. math::

    \log p(y \mid θ) = -\tfrac12 (y - c)^T α - \sum_i \log L_{ii} - \tfrac{n}{2} \log 2π

    \frac{∂}{∂θ_j} \log p = \tfrac12 \operatorname{tr}\Big(W \frac{∂K_y}{∂θ_j}\Big),
    \qquad W = αα^T - K_y^{-1}

The whole evaluation — kernel, Cholesky with escalating jitter (LAPACK dpotrf),
α (dpotrs), K_y⁻¹ (a recursive triangular inverse and dlauum), W and the fused
gradient pass over the kernel — runs in one native call without the GIL
(``gp_lml_grad`` in ``fasthpo/gp/_native.pyx``), in an (n, n) scratch that
:class:`MarginalLikelihood` allocates once per data set, so an optimiser's
evaluation costs no Python work proportional to n². Its NumPy twin is ``fasthpo.gp._reference.gp_lml_grad``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fasthpo.gp import _native
from fasthpo.gp.arguments import (
    as_finite_scalar,
    as_lengthscales,
    as_points,
    as_positive_scalar,
    as_vector,
)

__all__ = ["LikelihoodGradient", "MarginalLikelihood"]


@dataclass(frozen=True)
class LikelihoodGradient:
    """log p(y | θ) and its derivatives, as one evaluation returns them.

    Attributes
    ----------
    value
        log p(y | θ); −inf when K_y cannot be factorised even with the largest jitter
        (the derivatives are then zero).
    log_lengthscales (d,), log_amplitude, log_noise, mean
        ∂ log p / ∂ log ℓ_k, ∂ / ∂ log a, ∂ / ∂ log σ² and ∂ / ∂ c.
    inputs
        ∂ log p / ∂ X (n, d) when asked for, else None: the slot through which
        input-warp parameters get their gradient.
    jitter
        The jitter the factorisation needed.
    """

    value: float
    log_lengthscales: np.ndarray
    log_amplitude: float
    log_noise: float
    mean: float
    inputs: np.ndarray | None
    jitter: float


class MarginalLikelihood:
    """log p(y | θ) of fixed outputs y (n,), evaluated natively with reused scratch memory.

    The inputs are passed at each evaluation (warped inputs change with θ); their
    shape is fixed at (n, d) by the first. Not thread-safe: one scratch per object.
    """

    def __init__(self, y: ArrayLike) -> None:
        self.y = values = as_vector(y, "y")
        n = len(values)
        self._work = np.empty((n, n))
        self._parts: np.ndarray | None = None  # the gradient pass's second scratch, on first use
        self._alpha = np.empty(n)
        self._r = np.empty(n)

    def __call__(
        self,
        X: ArrayLike,
        *,
        lengthscales: ArrayLike,
        amplitude: float,
        noise: float,
        mean: float,
        input_grad: bool = False,
    ) -> LikelihoodGradient:
        """Evaluate log p(y | θ) and its gradient at points X (n, d).

        Raises
        ------
        ValueError
            If X does not have one row per output, or an argument is not finite
            (or not positive where it must be); the message names it.
        """
        A = as_points(X, "X")
        n, d = A.shape
        if n != len(self.y):
            raise ValueError(f"X has {n} rows but y has {len(self.y)} values")
        ls = as_lengthscales(lengthscales, d, "X")
        amp = as_positive_scalar(amplitude, "amplitude")
        sigma2 = as_positive_scalar(noise, "noise")
        return self._evaluate(A, ls, amp, sigma2, as_finite_scalar(mean, "mean"), input_grad)

    def value(
        self, X: ArrayLike, *, lengthscales: ArrayLike, amplitude: float, noise: float, mean: float
    ) -> float:
        """log p(y | θ) alone at points X (n, d): no K_y⁻¹ and no gradient pass, about half the work.

        −inf when K_y cannot be factorised even with the largest jitter. Raises as ``__call__``.
        """
        A = as_points(X, "X")
        if len(A) != len(self.y):
            raise ValueError(f"X has {len(A)} rows but y has {len(self.y)} values")
        ls = as_lengthscales(lengthscales, A.shape[1], "X")
        np.subtract(self.y, as_finite_scalar(mean, "mean"), out=self._r)
        value, _, _, _ = _native.gp_lml_grad(
            A, self._r, ls, as_positive_scalar(amplitude, "amplitude"),
            as_positive_scalar(noise, "noise"), self._work, self._alpha, None,
        )
        return float(value)

    def _evaluate(
        self, X: np.ndarray, ls: np.ndarray, amp: float, noise: float, mean: float, input_grad: bool
    ) -> LikelihoodGradient:
        """The native call on arguments already checked (the fit's inner loop calls this)."""
        n, d = X.shape
        np.subtract(self.y, mean, out=self._r)
        g_ls = np.empty(d)
        G_X = np.empty((n, d)) if input_grad else None
        if self._parts is None:
            self._parts = np.empty((n, n))
        value, g_amp, trace, jitter = _native.gp_lml_grad(
            X, self._r, ls, amp, noise, self._work, self._alpha, g_ls, G_X, self._parts
        )
        if not math.isfinite(value):
            return LikelihoodGradient(
                -math.inf, np.zeros(d), 0.0, 0.0, 0.0, None if G_X is None else np.zeros((n, d)),
                jitter,
            )
        return LikelihoodGradient(
            value, g_ls, g_amp, 0.5 * noise * trace, float(self._alpha.sum()), G_X, jitter
        )
