"""Priors of the GP hyperparameters θ: what the MAP fit believes before any data.

θ = (log ℓ (D), log a, log σ², c, log α (m), log β (m)) as in :mod:`fasthpo.gp.model`.
Gaussians on the log scales (the constant mean c is flat), independent but for the
pooling of the lengthscales below:

* log ℓ_k ~ N(½ log D, 3): a dimension-scaled lengthscale prior after Hvarfner et
  al. (2024), so lengthscales grow like √D (their offset of √2 smoothed too much on
  our benchmarks: Levy-10, Ackley-20 and Rosenbrock-10 all lost, with no gain on
  Branin or Hartmann-6);
* log a ~ N(0, 1) for standardised outputs;
* log σ² ~ N(−9, 2), since most training metrics are nearly deterministic and a
  large noise floor blurs the exploitation they allow (Hartmann-6 regret at 50
  evaluations: 0.13 with the common N(−4, 1), 3e-4 with this one);
* from ``WIDE_DIM`` (15) model coordinates on, log ℓ_k ~ N(½ log D − 1.586, 3) and
  log σ² ~ N(−6, 2). With a few dozen points in 20 dimensions the MAP fit under the
  prior above explains the data by two or three short lengthscales and leaves the
  rest near the prior's ℓ ≈ 4.5, so the trust region (whose sides follow the
  lengthscales) spans the whole box along those and the proposals jump far from the
  incumbent; the shifted mean puts the prior's pull where BoTorch's LogNormal on ℓ has
  its mode (ℓ ≈ 0.9 at D = 20), and the looser noise lets a ripple count as noise
  instead of as short lengthscales. Neither helped alone; together Ackley-20 ended
  better on 42 of 60 seeds and the held-out Rosenbrock-20 on 26 of 30
  (docs/benchmarks.md). Below 15 dimensions they lost on Levy-10 and Rosenbrock-10.
* below ``WIDE_DIM``, a partial pooling of the lengthscales: −½ κ Σ_k (log ℓ_k − m)²
  with m the mean of the D log lengthscales and κ = 0.5 (a lengthscale 4× its
  siblings' geometric mean costs about half a nat). With a few dozen points in 6–10
  dimensions the MAP fit otherwise explains the data by whichever two or three
  coordinates the last results happen to favour, and a different set at every
  refit: on Levy-10 the fitted lengthscales jumped between 0.02 and 8 from one
  proposal to the next, and the trust region and the acquisition followed. The
  pooling lets the lengthscales part only as far as the data insist. Over 60 paired
  seeds at 50 evaluations it won on Styblinski–Tang-10 (56 of 60 seeds better),
  Hartmann-6 (44), Rosenbrock-10 (37) and with 8 trials pending on Hartmann-6 and
  Levy-10; from ``WIDE_DIM`` on, where the shifted prior already holds the
  lengthscales near its mode, it lost slightly (Levy-20, Ackley-20) and is off
  (docs/benchmarks.md, "Lengthscales pooled below 15 dimensions");
* log α, log β ~ N(0, 0.2²): the warp stays near the identity unless the data
  insist. The warp sits on top of a scale the strategy already chose for the axis
  (see :mod:`fasthpo.strategies.scale_detection`), which decides by likelihood and
  moves the axis when the data call for another scale, so the warp only bends what
  is left. Runs that reached the optimum (regret < 1e-3 after 50 evaluations) of
  20 seeds, with the prior's standard deviation at 0.3 / 0.2 / 0.1: Hartmann-3 with
  three log dimensions declared ``auto`` 11 / 18 / 14 (2 of 8 at 1.0; the plain log
  declaration: 16), its reverse-log twin 13 / 18 / 14, Hartmann-6 with three log
  dimensions 16 / 15 / 16. Below 0.2 the warp cannot hold even a clearly log-shaped
  bend on 40 points.
"""

from __future__ import annotations

import math

import numpy as np

NOISE_PRIOR = (-9.0, 2.0)  # mean, std of log σ²: near-deterministic unless data say otherwise
WIDE_DIM = 15  # from this many model coordinates on, the priors below (see the module docstring)
WIDE_NOISE_PRIOR = (-6.0, 2.0)
WIDE_LENGTHSCALE_OFFSET = -1.586  # BoTorch's mode of ℓ in our log ℓ parameterisation
AMPLITUDE_PRIOR = (0.0, 1.0)  # mean, std of log a
LENGTHSCALE_PRIOR_STD = math.sqrt(3.0)
LENGTHSCALE_POOLING = 0.5  # precision of log ℓ_k around their mean, below WIDE_DIM (docstring)
WARP_PRIOR_STD = 0.2  # std of log α and log β around 0 (the identity warp); see the module docstring


def lengthscale_prior_mean(dim: int) -> float:
    """Mean of log ℓ under the dimension-scaled prior (√D scaling; offset chosen by benchmark)."""
    offset = WIDE_LENGTHSCALE_OFFSET if dim >= WIDE_DIM else 0.0
    return 0.5 * math.log(dim) + offset


def noise_prior(dim: int) -> tuple[float, float]:
    """Mean and std of log σ² in ``dim`` model coordinates (looser from ``WIDE_DIM`` on)."""
    return WIDE_NOISE_PRIOR if dim >= WIDE_DIM else NOISE_PRIOR


def lengthscale_pooling(dim: int) -> float:
    """Precision of each log ℓ_k around the mean of all of them in ``dim`` model coordinates
    (0: none; see the module docstring for why only from 2 up to ``WIDE_DIM`` − 1)."""
    return LENGTHSCALE_POOLING if 2 <= dim < WIDE_DIM else 0.0


def log_prior(theta: np.ndarray, dim: int) -> tuple[float, np.ndarray]:
    """log p(θ) up to a constant, and its gradient in θ (the mean c has a flat prior)."""
    grad = np.zeros_like(theta)
    z_ls = (theta[:dim] - lengthscale_prior_mean(dim)) / LENGTHSCALE_PRIOR_STD
    spread = theta[:dim] - theta[:dim].mean()  # the pooling's: its own gradient sums to 0
    pooling = lengthscale_pooling(dim)
    z_amp = (theta[dim] - AMPLITUDE_PRIOR[0]) / AMPLITUDE_PRIOR[1]
    noise_mean, noise_std = noise_prior(dim)
    z_noise = (theta[dim + 1] - noise_mean) / noise_std
    z_warp = theta[dim + 3 :] / WARP_PRIOR_STD
    value = -0.5 * (
        float(z_ls @ z_ls) + pooling * float(spread @ spread) + z_amp**2 + z_noise**2
        + float(z_warp @ z_warp)
    )
    grad[:dim] = -z_ls / LENGTHSCALE_PRIOR_STD - pooling * spread
    grad[dim] = -z_amp / AMPLITUDE_PRIOR[1]
    grad[dim + 1] = -z_noise / noise_std
    grad[dim + 3 :] = -z_warp / WARP_PRIOR_STD
    return value, grad


def prior_moments(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and precisions (1/std²; 0 for the flat mean c) of θ = (log ℓ, log a, log σ², c)
    without warps: the same independent Gaussians as :func:`log_prior`, as the native fit
    takes them, with :func:`lengthscale_pooling` beside (``tests/gp/test_priors.py`` fails
    when the two disagree)."""
    mean = np.full(dim + 3, lengthscale_prior_mean(dim))
    std = np.full(dim + 3, LENGTHSCALE_PRIOR_STD)
    noise_mean, noise_std = noise_prior(dim)
    mean[dim:] = (AMPLITUDE_PRIOR[0], noise_mean, 0.0)
    std[dim:] = (AMPLITUDE_PRIOR[1], noise_std, math.inf)
    return mean, 1.0 / std**2
