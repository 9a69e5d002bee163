"""Pending evaluations as fantasies: LogEI averaged over models that each imagine their results.

While q trials run, their results are unknown but not arbitrary: the GP says
they are jointly Gaussian, y_P ~ N(μ_P, Σ_P + σ²I). Each of ``s`` fantasy
models conditions on one joint sample of y_P; the acquisition is the mean EI
over them (Snoek et al., 2012),

    LogEI_avg(z) = log (1/s) Σ_k EI_k(z),   EI_k against best_k = min(best, min y_P^k)

The models share their inputs, hence one Cholesky factor and one posterior
standard deviation; only the weights α_k = K_y⁻¹(y_k − c) and so the means
differ, μ_k(z) = c + k(z, X) α_k. A point next to a pending one keeps a low
variance (no information is expected there) but, unlike the kriging believer
(every fantasy at its mean), the incumbent is not lowered by an optimistic
guess in every model at once, and the spread of the samples keeps EI alive
where the pending results might disappoint.

Shapes: candidates ``Z (m, D)``; ``alphas (n, s)``; values ``(m,)``; gradients ``(m, D)``.
"""

from __future__ import annotations

import math

import numpy as np

from fasthpo.gp.kernels import matern52
from fasthpo.gp.logei import log_expected_improvement
from fasthpo.gp.model import GaussianProcess

SQRT5 = math.sqrt(5.0)


def sample_fantasies(
    gp: GaussianProcess, P: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[GaussianProcess, np.ndarray, np.ndarray]:
    """Condition a copy of ``gp`` on pending points ``P (k, D)`` and draw their results.

    Returns the conditioned copy (its outputs at P are the posterior means), the
    weights ``alphas (n + k, s)`` of the ``s`` fantasy models, and each model's
    lowest fantasy ``(s,)``. The draws include the observation noise (a result,
    not the latent value, is what will arrive).
    """
    mean, cov = gp.joint(P)
    cov[np.diag_indices(len(P))] += gp.hp.noise
    w, V = np.linalg.eigh(0.5 * (cov + cov.T))
    root = V * np.sqrt(np.clip(w, 0.0, None))
    draws = mean[:, None] + root @ rng.standard_normal((len(P), samples))  # (k, s)
    model = gp.copy()
    model.extend(P, mean)
    y = np.repeat(model.y[:, None], samples, axis=1)
    y[len(gp) :] = draws
    return model, model.weights(y), draws.min(axis=0)


class FantasyLogEI:
    """LogEI averaged over fantasy models sharing ``gp``'s inputs (see the module docstring).

    ``alphas (n, s)`` are the models' weights and ``bests (s,)`` their incumbents,
    in the GP's transformed units. Has the faces of
    :class:`fasthpo.gp.acquisition.LogExpectedImprovement` the candidate search uses.
    """

    def __init__(self, gp: GaussianProcess, alphas: np.ndarray, bests: np.ndarray) -> None:
        self.gp = gp
        self.alphas = np.ascontiguousarray(alphas)
        self.bests = np.asarray(bests, dtype=float)
        self.best = float(self.bests.min())

    def _means(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each model's mean (m, s) and the shared standard deviation (m,)."""
        _, std = self.gp.predict(Z)
        Ks = matern52(Z, self.gp.X, lengthscales=self.gp.hp.lengthscales,
                      amplitude=self.gp.hp.amplitude)
        return self.gp.hp.mean + Ks @ self.alphas, std

    def _each(self, means: np.ndarray, std: np.ndarray) -> np.ndarray:
        return np.stack(
            [log_expected_improvement(means[:, k], std, float(b)) for k, b in enumerate(self.bests)],
            axis=1,
        )

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """Averaged LogEI at each candidate (m,)."""
        if len(Z) == 0:
            return np.empty(0)
        return _log_mean_exp(self._each(*self._means(Z)))

    def ranked(self, Z: np.ndarray, k: int) -> np.ndarray:
        """Exact scores for every candidate (the search's ranking face)."""
        return self(Z)

    def value_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Averaged LogEI (m,) and its gradient in Z (m, D)."""
        gp = self.gp
        _, std, _, dstd = gp.predict_with_grad(Z)
        ls, amp = gp.hp.lengthscales, gp.hp.amplitude
        diff = (Z[:, None, :] - gp.X[None, :, :]) / ls  # (m, n, D)
        r = np.sqrt(np.sum(diff**2, axis=-1))
        g = -(5.0 / 3.0) * amp * (1.0 + SQRT5 * r) * np.exp(-SQRT5 * r)  # dk/dz = g (z − x)/ℓ²
        Ks = amp * (1.0 + SQRT5 * r + 5.0 / 3.0 * r**2) * np.exp(-SQRT5 * r)
        means = gp.hp.mean + Ks @ self.alphas  # (m, s)
        # dμ_k/dz_d = Σ_j g_ij (z_id − x_jd)/ℓ_d² α_jk
        dmeans = np.einsum("ij,ijd,jk->ikd", g, diff, self.alphas) / ls  # (m, s, D)
        values = np.empty(means.shape)
        d_mu = np.empty(means.shape)
        d_sigma = np.empty(means.shape)
        for k, b in enumerate(self.bests):
            values[:, k], d_mu[:, k], d_sigma[:, k] = log_expected_improvement(
                means[:, k], std, float(b), grad=True
            )
        total = _log_mean_exp(values)
        weights = np.exp(values - total[:, None]) / values.shape[1]  # softmax over the models
        weights = np.where(np.isfinite(weights), weights, 0.0)
        grad = np.einsum("ik,ik,ikd->id", weights, d_mu, dmeans)
        grad += np.sum(weights * d_sigma, axis=1)[:, None] * dstd
        return total, grad


def _log_mean_exp(values: np.ndarray) -> np.ndarray:
    """log of the row means of exp(values) (m, s) → (m,), stable for very negative values."""
    top = np.max(values, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.mean(np.exp(values - safe[:, None]), axis=1))


class PenalisedLogEI:
    """LogEI of the real model times a local penaliser per pending point (González et al., 2016).

    A pending point x_j whose result will be f_j ~ N(μ_j, σ_j²) excludes, for a
    function with Lipschitz constant L, the ball of radius (f_j − best)/L around
    it; the penaliser is the probability that z lies outside that ball,

        φ_j(z) = Φ((best + L‖z − x_j‖ − μ_j) / σ_j)

    and the acquisition is LogEI(z) + Σ_j log φ_j(z). Unlike fantasies, the model
    and its incumbent stay as the data made them; the pending points only carve
    out the regions they are expected to settle.
    """

    def __init__(self, gp: GaussianProcess, best: float, P: np.ndarray, lipschitz: float) -> None:
        from fasthpo.gp.acquisition import LogExpectedImprovement

        self.gp = gp
        self.best = float(best)
        self._logei = LogExpectedImprovement(gp, best)
        self.P = np.asarray(P, dtype=float)
        mean, std = gp.predict(self.P)
        self._mu, self._sigma = mean, np.maximum(std, 1e-6 * math.sqrt(gp.hp.amplitude))
        self.L = float(lipschitz)

    def _penalty(self, Z: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        from scipy.special import log_ndtr

        diff = Z[:, None, :] - self.P[None, :, :]  # (m, k, D)
        dist = np.sqrt(np.sum(diff**2, axis=-1))  # (m, k)
        x = (self.best + self.L * dist - self._mu) / self._sigma
        value = np.sum(log_ndtr(x), axis=1)
        if not grad:
            return value, None
        # d log Φ(x)/dx = φ(x)/Φ(x); dx/dz = L (z − x_j) / (σ_j ‖z − x_j‖)
        ratio = np.exp(-0.5 * x**2 - 0.5 * math.log(2 * math.pi) - log_ndtr(x))
        scale = ratio * self.L / (self._sigma * np.maximum(dist, 1e-12))
        return value, np.einsum("mk,mkd->md", scale, diff)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        if len(Z) == 0:
            return np.empty(0)
        return self._logei(Z) + self._penalty(Z, False)[0]

    def ranked(self, Z: np.ndarray, k: int) -> np.ndarray:
        return self(Z)

    def value_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, grad = self._logei.value_and_grad(Z)
        pv, pg = self._penalty(Z, True)
        assert pg is not None
        return value + pv, grad + pg


def lipschitz_estimate(gp: GaussianProcess, Z: np.ndarray) -> float:
    """The largest norm of the posterior mean's gradient over the points Z (m, D)."""
    _, _, dmean, _ = gp.predict_with_grad(Z)
    top = float(np.max(np.linalg.norm(dmean, axis=1))) if len(Z) else 0.0
    return top if top > 1e-7 else 10.0
