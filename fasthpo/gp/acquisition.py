"""Acquisition: log expected improvement over a GP, and its gradient-based polish.

For minimisation with incumbent ``best`` (in transformed units),

    LogEI(z) = log E[max(best − f(z), 0)],   f(z) ~ N(μ(z), s(z)²)
    ∇LogEI   = ∂LogEI/∂μ · ∇μ + ∂LogEI/∂s · ∇s

computed stably even where EI underflows (Ament et al., 2023), so the
optimiser still sees a slope far from the incumbent. Shapes: candidates
``Z (m, D)``; values ``(m,)``; gradients ``(m, D)``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from fasthpo.gp.logei import log_expected_improvement
from fasthpo.gp.model import GaussianProcess


class LogExpectedImprovement:
    """LogEI of a fitted GP against the incumbent value ``best``."""

    def __init__(self, gp: GaussianProcess, best: float) -> None:
        self.gp = gp
        self.best = float(best)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """LogEI at each candidate (m,)."""
        if len(Z) == 0:
            return np.empty(0)
        mean, std = self.gp.predict(Z)
        return log_expected_improvement(mean, std, self.best)

    def value_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LogEI (m,) and its gradient in Z (m, D)."""
        mean, std, dmean, dstd = self.gp.predict_with_grad(Z)
        value, d_mu, d_sigma = log_expected_improvement(mean, std, self.best, grad=True)
        return value, d_mu[:, None] * dmean + d_sigma[:, None] * dstd


def polish(
    acquisition: LogExpectedImprovement,
    starts: np.ndarray,
    free: np.ndarray,
    *,
    maxiter: int = 40,
) -> np.ndarray:
    """Maximise LogEI from each start by L-BFGS-B over the ``free`` coordinates in [0, 1].

    The starts are optimised jointly (their LogEIs summed: the terms do not
    interact, so one L-BFGS-B run moves each on its own surface) to pay the
    Python overhead once. Coordinates outside ``free`` (one-hot categoricals)
    stay where they are. Returns the moved points (k, D).
    """
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    k = len(starts)
    idx = np.nonzero(free)[0]
    if k == 0 or len(idx) == 0:
        return starts.copy()

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        Z = starts.copy()
        Z[:, idx] = flat.reshape(k, len(idx))
        value, grad = acquisition.value_and_grad(Z)
        finite = np.isfinite(value)
        if not finite.all():  # a start in a hopeless spot must not poison the others
            value = np.where(finite, value, -1e6)
            grad = np.where(finite[:, None], grad, 0.0)
        return -float(value.sum()), -grad[:, idx].ravel()

    result = minimize(
        objective,
        starts[:, idx].ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (k * len(idx)),
        options={"maxiter": maxiter},
    )
    out = starts.copy()
    out[:, idx] = np.clip(result.x.reshape(k, len(idx)), 0.0, 1.0)
    return out
