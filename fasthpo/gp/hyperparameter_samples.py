"""Laplace samples of the GP hyperparameters, and LogEI averaged over the models they make.

A MAP fit to a few dozen points is one of many hyperparameter settings that
explain them almost as well, and early on it is often overconfident: long
lengthscales that describe a plateau, before the few results in a narrow basin
have been seen. A sequential run corrects that at the next result; with q − 1
trials pending the next proposals are made before it can. Averaging the
acquisition over hyperparameters drawn from a Laplace approximation of their
posterior around the MAP,

    θ_k ~ N(θ̂, H⁻¹),   H = ∇²(−log p(θ | y)) at θ̂ (by central differences of the gradient),

    LogEI_avg(z) = log (1/s) Σ_k EI_k(z)

keeps the settings the data cannot rule out in play (Snoek et al., 2012, integrate
the acquisition over the hyperparameter posterior by slice sampling; the
Laplace draws are a cheap stand-in for the small models where it matters). Only
the lengthscales, amplitude, noise and constant mean are drawn; an input warp
stays at its fitted shape, so every model shares the MAP model's warped inputs
and the candidate search's coordinates. Each direction's standard deviation is
capped (a direction the data do not constrain would otherwise draw from the
whole prior), and the draws are clipped to the fit's bounds.

Shapes: ``X (n, D)`` warped inputs, ``y (n,)`` transformed values, candidates ``Z (m, D)``.
"""

from __future__ import annotations

import numpy as np

from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.model import GaussianProcess, Hyperparameters, NegLogPosterior, bounds

#: Central-difference step of the Hessian, in log units.
STEP = 1e-3


def laplace_samples(
    X: np.ndarray, y: np.ndarray, hp: Hyperparameters, count: int, rng: np.random.Generator,
    *, max_std: float = 2.0,
) -> list[Hyperparameters]:
    """``count`` draws of the hyperparameters from the Laplace approximation around ``hp``.

    ``X`` are the inputs as the GP sees them (already warped by ``hp``'s warp, which
    the draws keep); ``max_std`` caps the standard deviation along each eigendirection
    of the posterior's curvature, in log units.
    """
    dim = X.shape[1]
    theta = hp.vector()[: dim + 3]
    objective = NegLogPosterior(X, y)  # the warp held at its fit: already in X
    H = np.empty((dim + 3, dim + 3))
    for i in range(dim + 3):
        e = np.zeros(dim + 3)
        e[i] = STEP
        H[i] = (objective(theta + e)[1] - objective(theta - e)[1]) / (2.0 * STEP)
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    # Flat or negative curvature (a direction the data do not pin down): the cap.
    std = 1.0 / np.sqrt(np.maximum(w, 1.0 / max_std**2))
    lo, hi = np.array(bounds(dim)).T
    tail = hp.vector()[dim + 3 :]  # the warp shapes, unchanged
    draws = []
    for _ in range(count):
        sample = np.clip(theta + V @ (std * rng.standard_normal(dim + 3)), lo, hi)
        draws.append(Hyperparameters.from_vector(np.concatenate([sample, tail]), hp.warp_columns))
    return draws


def resampled(gp: GaussianProcess, hp: Hyperparameters) -> GaussianProcess:
    """The GP on ``gp``'s data with other hyperparameters (one new factorisation)."""
    return GaussianProcess(gp.X, gp.y, hp)


class AveragedLogEI:
    """LogEI averaged over several LogEI acquisitions: log (1/s) Σ_k exp(LogEI_k).

    Has the faces of :class:`fasthpo.gp.acquisition.LogExpectedImprovement` the
    candidate search uses; ``best`` and ``gp`` are the first part's (the MAP model).
    """

    def __init__(self, parts: list[LogExpectedImprovement]) -> None:
        self.parts = parts
        self.best = parts[0].best
        self.gp = parts[0].gp

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """Averaged LogEI at each candidate (m,)."""
        if len(Z) == 0:
            return np.empty(0)
        return _log_mean_exp(np.stack([part(Z) for part in self.parts], axis=1))

    def ranked(self, Z: np.ndarray, k: int) -> np.ndarray:
        """Exact scores for every candidate (the search's ranking face)."""
        return self(Z)

    def value_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Averaged LogEI (m,) and its gradient in Z (m, D)."""
        values, grads = zip(*(part.value_and_grad(Z) for part in self.parts), strict=True)
        v = np.stack(values, axis=1)  # (m, s)
        total = _log_mean_exp(v)
        weights = np.exp(v - total[:, None]) / v.shape[1]  # softmax over the models
        weights = np.where(np.isfinite(weights), weights, 0.0)
        return total, np.einsum("ik,ikd->id", weights, np.stack(grads, axis=1))


def _log_mean_exp(values: np.ndarray) -> np.ndarray:
    """log of the row means of exp(values) (m, s) → (m,), stable for very negative values."""
    top = np.max(values, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.mean(np.exp(values - safe[:, None]), axis=1))
