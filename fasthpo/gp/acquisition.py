"""Acquisition: log expected improvement over a GP (its search: :mod:`fasthpo.gp.acquisition_search`).

For minimisation with incumbent ``best`` (in transformed units),

    LogEI(z) = log E[max(best − f(z), 0)],   f(z) ~ N(μ(z), s(z)²)
    ∇LogEI   = ∂LogEI/∂μ · ∇μ + ∂LogEI/∂s · ∇s

computed stably even where EI underflows (Ament et al., 2023), so the
optimiser still sees a slope far from the incumbent. Shapes: candidates
``Z (m, D)``; values ``(m,)``; gradients ``(m, D)``.
"""

from __future__ import annotations

import numpy as np

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

