"""Gaussian-process regression: Matérn-5/2 ARD kernel, constant mean, Gaussian noise, MAP fit.

Notation (shapes written once):

    X  (n, D)   inputs in [0, 1]^D          y  (n,)   transformed outputs
    θ = (log ℓ (D), log a, log σ², c, log α (m), log β (m))
                                             hyperparameters, in the order of ``vector``
    w(X)                                     X with the m warped columns c_j passed through the
                                             Kumaraswamy CDF 1 − (1 − x^α_j)^β_j (the others as is)
    K  = k(w(X), w(X); ℓ, a)                 Matérn-5/2 ARD, k(r) = a(1 + √5r + 5r²/3)e^{−√5r}
    K_y = K + (σ² + jitter) I = L Lᵀ         α = K_y⁻¹ (y − c)

    log p(y | θ) = −½ (y − c)ᵀ α − Σ_i log L_ii − (n/2) log 2π
    ∂/∂θ_j log p = ½ tr(W ∂K_y/∂θ_j),  W = ααᵀ − K_y⁻¹   (the native fused pass)
    ∂/∂log α_j log p = Σ_i G_X[i, c_j] ∂w/∂α(x_ic_j) α_j  (G_X = ∂ log p/∂w(X), same pass; β alike)

The warped columns are those of ``auto`` hyperparameters (the strategy decides);
with m = 0 this is the plain GP.

Priors (MAP) keep the fit sane at d = 20 with few points; they live in
:mod:`fasthpo.gp.priors`, with the measurements that chose them.

A near-singular K_y is never an error: the jitter escalates (×10 from 1e-9·a up to
1e-2·a) and the escalation is logged at debug level.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import minimize

from fasthpo.gp import _native
from fasthpo.gp.arguments import as_points
from fasthpo.gp.kernels import matern52
from fasthpo.gp.likelihood import MarginalLikelihood
from fasthpo.gp.priors import (
    AMPLITUDE_PRIOR,
    lengthscale_pooling,
    lengthscale_prior_mean,
    log_prior,
    noise_prior,
    prior_moments,
)
from fasthpo.gp.warping import InputWarp

log = logging.getLogger("fasthpo.gp")

LOG_2PI = math.log(2.0 * math.pi)
BOUNDS_LOG_LENGTHSCALE = (math.log(1e-2), math.log(1e3))
BOUNDS_LOG_AMPLITUDE = (math.log(1e-2), math.log(1e2))
BOUNDS_LOG_NOISE = (math.log(1e-6), math.log(1.0))
BOUNDS_MEAN = (-5.0, 5.0)
BOUNDS_LOG_WARP = (math.log(0.02), math.log(50.0))


@dataclass(frozen=True)
class Hyperparameters:
    """GP hyperparameters θ; ``vector`` is the order the optimiser sees.

    ``warp_columns`` names the input columns that get a Kumaraswamy warp (fixed by the
    search space, not fitted); ``log_warp_a`` and ``log_warp_b`` hold their log shapes,
    in the same order, and are empty when nothing is warped.
    """

    log_lengthscales: np.ndarray
    log_amplitude: float
    log_noise: float
    mean: float
    warp_columns: tuple[int, ...] = ()
    log_warp_a: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_warp_b: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def prior_mode(cls, dim: int, warp_columns: Sequence[int] = ()) -> Hyperparameters:
        """The most likely hyperparameters before any data (every warp the identity)."""
        m = len(warp_columns)
        return cls(
            np.full(dim, lengthscale_prior_mean(dim)),
            AMPLITUDE_PRIOR[0],
            noise_prior(dim)[0],
            0.0,
            tuple(int(c) for c in warp_columns),
            np.zeros(m),
            np.zeros(m),
        ).clipped()

    @classmethod
    def from_vector(cls, theta: np.ndarray, warp_columns: Sequence[int] = ()) -> Hyperparameters:
        m = len(warp_columns)
        d = len(theta) - 3 - 2 * m
        return cls(
            np.array(theta[:d]), float(theta[d]), float(theta[d + 1]), float(theta[d + 2]),
            tuple(int(c) for c in warp_columns),
            np.array(theta[d + 3 : d + 3 + m]), np.array(theta[d + 3 + m :]),
        )

    def vector(self) -> np.ndarray:
        return np.concatenate([
            self.log_lengthscales, [self.log_amplitude, self.log_noise, self.mean],
            self.log_warp_a, self.log_warp_b,
        ])

    def clipped(self) -> Hyperparameters:
        """The same hyperparameters pulled inside the optimiser's bounds."""
        lo, hi = zip(*bounds(len(self.log_lengthscales), len(self.warp_columns)), strict=True)
        return Hyperparameters.from_vector(np.clip(self.vector(), lo, hi), self.warp_columns)

    @property
    def lengthscales(self) -> np.ndarray:
        return np.exp(self.log_lengthscales)

    @property
    def amplitude(self) -> float:
        return math.exp(self.log_amplitude)

    @property
    def noise(self) -> float:
        return math.exp(self.log_noise)

    @property
    def warp(self) -> InputWarp:
        """The fitted input warp (identity on every column when ``warp_columns`` is empty)."""
        return InputWarp(self.warp_columns, np.exp(self.log_warp_a), np.exp(self.log_warp_b))


def bounds(dim: int, n_warped: int = 0) -> list[tuple[float, float]]:
    """Box bounds of θ for L-BFGS-B."""
    return (
        [BOUNDS_LOG_LENGTHSCALE] * dim
        + [BOUNDS_LOG_AMPLITUDE, BOUNDS_LOG_NOISE, BOUNDS_MEAN]
        + [BOUNDS_LOG_WARP] * (2 * n_warped)
    )


def _factorize(K: np.ndarray, base: float) -> tuple[np.ndarray, float]:
    """Cholesky factor of K (diagonal already holds the noise), escalating jitter on failure."""
    jitter = 1e-9 * base
    while True:
        try:
            A = K.copy()
            A[np.diag_indices_from(A)] += jitter
            return cholesky(A, lower=True, check_finite=False), jitter
        except np.linalg.LinAlgError:
            if jitter > 1e-2 * base:
                raise
            jitter *= 10.0
            log.debug("kernel matrix not positive definite: jitter raised to %.3g", jitter)


class NegLogPosterior:
    """−log p(y | θ) − log p(θ) and its gradient in θ on fixed data: the MAP fit's objective.

    X holds the encoded (unwarped) points; the columns in ``warp_columns`` are warped
    by the shapes at the end of θ before the kernel sees them, and their gradient
    comes through the inputs: ∂L/∂log a_j = Σ_i G_X[i, c_j] ∂w/∂a(x_ic_j) a_j, with
    G_X from the same fused pass as the lengthscale gradient. The data are checked
    once here; each evaluation is then one native call (:mod:`fasthpo.gp.likelihood`)
    plus O(n m + D) work in Python. ``evaluations`` counts the calls.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, warp_columns: Sequence[int] = ()) -> None:
        self.X = as_points(X, "X")
        self.columns = tuple(int(c) for c in warp_columns)
        self.likelihood = MarginalLikelihood(y)
        if len(self.X) != len(self.likelihood.y):
            raise ValueError(f"X has {len(self.X)} rows but y has {len(self.likelihood.y)} values")
        self.evaluations = 0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        dim, m = self.X.shape[1], len(self.columns)
        if not np.isfinite(theta).all():
            return 1e25, np.zeros_like(theta)
        scales = np.exp(theta)
        warp = InputWarp(self.columns, scales[dim + 3 : dim + 3 + m], scales[dim + 3 + m :])
        Xw = warp.apply(self.X) if m else self.X
        g = self.likelihood._evaluate(
            Xw, scales[:dim], float(scales[dim]), float(scales[dim + 1]), float(theta[dim + 2]), m > 0
        )
        if not math.isfinite(g.value):
            return 1e25, np.zeros_like(theta)
        grad = np.empty_like(theta)
        grad[:dim] = g.log_lengthscales
        grad[dim] = g.log_amplitude
        grad[dim + 1] = g.log_noise
        grad[dim + 2] = g.mean
        if m:
            assert g.inputs is not None
            grad[dim + 3 : dim + 3 + m], grad[dim + 3 + m :] = warp.chain(self.X, g.inputs)
        prior, prior_grad = log_prior(theta, dim)
        return -(g.value + prior), -(grad + prior_grad)


def neg_log_posterior(
    theta: np.ndarray, X: np.ndarray, y: np.ndarray, warp_columns: Sequence[int] = ()
) -> tuple[float, np.ndarray]:
    """−log p(y | θ) − log p(θ) and its gradient in θ (one evaluation of :class:`NegLogPosterior`)."""
    return NegLogPosterior(X, y, warp_columns)(np.asarray(theta, dtype=float))


@dataclass(frozen=True)
class FitSettings:
    """How hard the MAP fit works.

    Attributes
    ----------
    maxiter
        L-BFGS-B iterations per start.
    ftol
        Stop when the objective's relative decrease in an iteration falls below this.
    gtol
        Stop when the largest projected gradient entry falls below this.
    """

    maxiter: int = 200
    ftol: float = 2.220446049250313e-09  # scipy's default
    gtol: float = 1e-5


def fit_hyperparameters(
    X: np.ndarray,
    y: np.ndarray,
    *,
    starts: list[Hyperparameters],
    settings: FitSettings = FitSettings(),
) -> Hyperparameters:
    """MAP hyperparameters by L-BFGS-B with analytic gradients, best of the given starts.

    X holds encoded points; the starts' ``warp_columns`` (all the same) say which
    columns are warped, and their warp shapes are fitted with the rest.
    """
    columns = starts[0].warp_columns
    if not columns:
        return _fit_native(X, y, starts, settings)
    best: tuple[float, np.ndarray] | None = None
    box = bounds(X.shape[1], len(columns))
    objective = NegLogPosterior(X, y, columns)
    options = {
        "maxiter": settings.maxiter,
        "ftol": settings.ftol,
        "gtol": settings.gtol,
    }
    for start in starts:
        result = minimize(
            objective, start.clipped().vector(), jac=True, method="L-BFGS-B", bounds=box,
            options=options,
        )
        if np.isfinite(result.fun) and (best is None or result.fun < best[0]):
            best = (float(result.fun), result.x)
    log.debug("MAP fit: n=%d, %d evaluations", len(y), objective.evaluations)
    if best is None:
        return starts[0].clipped()
    return Hyperparameters.from_vector(best[1], columns)


def _fit_native(
    X: np.ndarray, y: np.ndarray, starts: list[Hyperparameters], settings: FitSettings
) -> Hyperparameters:
    """:func:`fit_hyperparameters` without warped columns: each start is one native call
    (``_native.gp_map_fit``, a projected L-BFGS around the fused likelihood pass), so no
    Python runs between evaluations. It reaches the same log posterior as scipy's
    L-BFGS-B on the same objective, a different local optimum now and then either way
    (``tests/gp/test_map_fit.py``)."""
    A = as_points(X, "X")
    t = np.ascontiguousarray(y, dtype=float)
    if len(t) != len(A):
        raise ValueError(f"X has {len(A)} rows but y has {len(t)} values")
    dim = A.shape[1]
    lo, hi = (np.ascontiguousarray(b, dtype=float) for b in zip(*bounds(dim), strict=True))
    prior_mean, prior_precision = prior_moments(dim)
    best: tuple[float, np.ndarray] | None = None
    for start in starts:
        theta = np.ascontiguousarray(start.vector(), dtype=float)
        value, evaluations, _ = _native.gp_map_fit(
            A, t, theta, lo, hi, prior_mean, prior_precision, settings.maxiter, settings.ftol,
            settings.gtol, pooling=lengthscale_pooling(dim),
        )
        log.debug("MAP fit: n=%d, %d evaluations", len(t), evaluations)
        if value < 1e25 and (best is None or value < best[0]):
            best = (float(value), theta)
    if best is None:
        return starts[0].clipped()
    return Hyperparameters.from_vector(best[1])


class GaussianProcess:
    """A GP conditioned on data with fixed hyperparameters; grows by rank-one updates.

    Its inputs are in the kernel's coordinates: when ``hp`` warps some columns, the
    caller passes points through ``hp.warp.apply`` first (the fit itself takes encoded
    points), so predictions, their gradients and the acquisition all live in warped space.

    ``append`` adds an observation in O(n²) (a new Cholesky row), which is how
    both new results between refits and fantasies of pending trials enter.
    ``diagonal`` (n,) is K_y's diagonal as factorised (fantasies may carry extra noise).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, hp: Hyperparameters) -> None:
        self.hp = hp
        self._ls = hp.lengthscales
        self._amp = hp.amplitude
        self.X = np.ascontiguousarray(X, dtype=float)
        self.y = np.asarray(y, dtype=float).copy()
        K = matern52(self.X, lengthscales=self._ls, amplitude=self._amp)
        K[np.diag_indices(len(self.X))] += hp.noise
        L, self.jitter = _factorize(K, self._amp)
        self.L = np.ascontiguousarray(L)  # row-major, as the native posterior pass reads it
        self.diagonal = np.full(len(self.X), self._amp + hp.noise + self.jitter)
        self._solve()

    def _solve(self) -> None:
        # Two triangular solves on the row-major L as it is (scipy's cho_solve would
        # first copy L into column-major order: most of an append's time at n = 1,500).
        u = solve_triangular(self.L, self.y - self.hp.mean, lower=True, check_finite=False)
        self.alpha = solve_triangular(self.L, u, lower=True, trans="T", check_finite=False)

    def __len__(self) -> int:
        return len(self.y)

    def copy(self) -> GaussianProcess:
        """An independent copy (for fantasies that must not touch the real model)."""
        new = GaussianProcess.__new__(GaussianProcess)
        new.__dict__.update(self.__dict__)
        new.X, new.y, new.L, new.alpha = self.X.copy(), self.y.copy(), self.L.copy(), self.alpha.copy()
        new.diagonal = self.diagonal.copy()
        return new

    def append(self, x: np.ndarray, y: float) -> None:
        """Condition on one more observation (x (D,), y) by a rank-one Cholesky extension."""
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=float)
        k = matern52(x, self.X, lengthscales=self._ls, amplitude=self._amp)[0]
        row = solve_triangular(self.L, k, lower=True, check_finite=False)
        diag = self._amp + self.hp.noise + self.jitter - float(row @ row)
        n = len(self.y)
        # Every entry written once: np.zeros would clear the (n + 1)² buffer first (half
        # a millisecond at n = 1,000), only for the old factor to overwrite it.
        L = np.empty((n + 1, n + 1))
        L[:n, :n] = self.L
        L[:n, n] = 0.0
        L[n, :n] = row
        L[n, n] = math.sqrt(max(diag, 1e-12 * self._amp))
        self.L = L
        self.diagonal = np.append(self.diagonal, float(row @ row) + L[n, n] ** 2)
        self.X = np.vstack([self.X, x])
        self.y = np.append(self.y, y)
        self._solve()

    def extend(
        self, Xn: np.ndarray, yn: np.ndarray | None = None, extra_noise: float = 0.0,
        *, floor: float = -math.inf,
    ) -> None:
        """Condition on k more observations at once (Xn (k, D), yn (k,)) by a block
        Cholesky extension: one new factor instead of k growing copies (pending sets of 64).
        ``yn=None`` takes the posterior means, raised to at least ``floor`` (fantasies of
        pending trials, from the same solve). ``extra_noise`` is added to their noise
        variance (less certain than real results)."""
        Xn = np.ascontiguousarray(np.atleast_2d(Xn), dtype=float)
        if len(Xn) == 0:
            return
        Kc = matern52(Xn, self.X, lengthscales=self._ls, amplitude=self._amp)  # (k, n)
        if yn is None:
            yn = np.maximum(self.hp.mean + Kc @ self.alpha, floor)
        B = solve_triangular(self.L, Kc.T, lower=True, check_finite=False)  # (n, k)
        S = matern52(Xn, lengthscales=self._ls, amplitude=self._amp) - B.T @ B
        S[np.diag_indices(len(Xn))] += self.hp.noise + self.jitter + extra_noise
        C, _ = _factorize(0.5 * (S + S.T), self._amp)
        n, k = len(self.y), len(Xn)
        L = np.empty((n + k, n + k))  # every entry written once, as in append
        L[:n, :n] = self.L
        L[:n, n:] = 0.0
        L[n:, :n] = B.T
        L[n:, n:] = C
        self.L = L
        self.diagonal = np.concatenate(
            [self.diagonal, np.einsum("ij,ij->j", B, B) + np.einsum("ij,ij->i", C, C)])
        self.X = np.vstack([self.X, Xn])
        self.y = np.concatenate([self.y, np.asarray(yn, dtype=float)])
        self._solve()

    def extended(
        self, Xn: np.ndarray, yn: np.ndarray | None = None, extra_noise: float = 0.0,
        *, floor: float = -math.inf,
    ) -> GaussianProcess:
        """A new GP conditioned on these k more observations too (see :meth:`extend`); this
        one is untouched, and nothing is copied that the extension replaces anyway."""
        new = GaussianProcess.__new__(GaussianProcess)
        new.__dict__.update(self.__dict__)  # extend replaces X, y, L and alpha, never writes into them
        new.extend(Xn, yn, extra_noise, floor=floor)
        return new

    def joint(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean (m,) and covariance (m, m) of the latent function at Z (m, D)."""
        Ks = matern52(Z, self.X, lengthscales=self._ls, amplitude=self._amp)
        mean = self.hp.mean + Ks @ self.alpha
        V = solve_triangular(self.L, Ks.T, lower=True, check_finite=False)
        return mean, matern52(Z, lengthscales=self._ls, amplitude=self._amp) - V.T @ V

    def weights(self, y: np.ndarray) -> np.ndarray:
        """K_y⁻¹ (y − c) for other outputs y (n,) or (n, s) at the same inputs: the posterior
        mean under those outputs is ``mean + k(Z, X) @ weights`` (fantasy models share L)."""
        u = solve_triangular(self.L, y - self.hp.mean, lower=True, check_finite=False)
        return solve_triangular(self.L, u, lower=True, trans="T", check_finite=False)

    def cross(self, Z: np.ndarray) -> np.ndarray:
        """k(Z, X) (m, n): the kernel between points Z (m, D) and the observations, which
        :meth:`screen` and :meth:`predict` take instead of Z when a caller needs both."""
        return matern52(Z, self.X, lengthscales=self._ls, amplitude=self._amp)

    def mean_from_cross(self, cross: np.ndarray) -> np.ndarray:
        """Posterior mean (m,) at the points whose kernel with the observations is
        ``cross`` (m, n), from :meth:`cross`: no solve, so a caller that bounds the
        standard deviation some other way pays only this product."""
        return self.hp.mean + cross @ self.alpha

    def _posterior(
        self, Z: np.ndarray, cross: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, standard deviation and V = L⁻¹ k(X, Z) (n, m) at Z (m, D); ``cross`` is
        k(Z, X) when the caller has it already (:meth:`cross`)."""
        Ks = self.cross(Z) if cross is None else cross
        mean = self.mean_from_cross(Ks)
        V = solve_triangular(self.L, Ks.T, lower=True, check_finite=False)
        var = self._amp - np.einsum("ij,ij->j", V, V)
        return mean, np.sqrt(np.maximum(var, 1e-12 * self._amp)), V

    def screen(
        self, Z: np.ndarray, size: int, cross: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean at Z (m, D) and an upper bound on the standard deviation there.

        The bound is the standard deviation given only the ``size`` observations with
        the lowest y (conditioning on more data never raises the variance), so it
        costs a triangular solve against ``size`` points instead of n. Its factor is
        computed once per model and stays a valid bound after appends (a subset of
        the observations all the same); it is tight near the incumbents, and
        :meth:`neighbour_bound` elsewhere. Why: see :meth:`LogExpectedImprovement.ranked`.
        ``cross`` is k(Z, X) when the caller has it already.
        """
        Ks = self.cross(Z) if cross is None else cross
        mean = self.mean_from_cross(Ks)
        if size >= len(self.y):
            return mean, self._posterior(Z, Ks)[1]
        rows, L = self._screen_factor(size)
        V = solve_triangular(L, Ks[:, rows].T, lower=True, check_finite=False)
        var = self._amp - np.einsum("ij,ij->j", V, V)
        return mean, np.sqrt(np.maximum(var, 1e-12 * self._amp))

    def neighbour_bound(self, cross: np.ndarray, size: int = 8) -> np.ndarray:
        """An upper bound on the posterior standard deviation at points whose kernel
        with the observations is ``cross`` (m, n): each point's standard deviation given
        only its ``size`` nearest observations. Tight wherever the point lies, where the
        bound of :meth:`screen` is tight only near the incumbents; O(n + size² D) a point."""
        out = np.empty(len(cross))
        _native.neighbour_std_bound(
            np.ascontiguousarray(cross), self.X, self._ls, self.diagonal, self._amp, size, out)
        return out

    def _screen_factor(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``size`` lowest y and the Cholesky factor of their K_y (cached)."""
        cached = self.__dict__.get("_screen")
        if cached is not None and len(cached[0]) == size:
            return cached
        rows = np.sort(np.argsort(self.y, kind="stable")[:size])
        K = matern52(self.X[rows], lengthscales=self._ls, amplitude=self._amp)
        K[np.diag_indices(size)] = self.diagonal[rows]  # fantasies may carry extra noise
        factor = (rows, cholesky(K, lower=True, check_finite=False))
        self.__dict__["_screen"] = factor
        return factor

    def predict(
        self, Z: np.ndarray, cross: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at Z (m, D)
        (``cross``: k(Z, X), when the caller has it already)."""
        mean, std, _ = self._posterior(Z, cross)
        return mean, std

    def predict_with_grad(
        self, Z: np.ndarray, alpha: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, standard deviation and their gradients (m, D) at Z (m, D), in one native pass
        (the acquisition polish calls this at every step); ``alpha`` (from :meth:`weights`)
        gives the mean under other outputs at the same inputs."""
        Z = np.ascontiguousarray(Z, dtype=float)
        m, d = Z.shape
        n = len(self.y)
        mean, std = np.empty(m), np.empty(m)
        dmean, dstd = np.empty((m, d)), np.empty((m, d))
        if not np.isfinite(Z).all():
            raise ValueError("Z must be finite")
        _native.gp_posterior_grad(
            Z, self.X, self.L, self.alpha if alpha is None else alpha, self._ls, self._amp,
            self.hp.mean, mean, std, dmean, dstd, np.empty((m, n)),
        )
        return mean, std, dmean, dstd
