"""The hyperparameter priors: the switch to the wide-space priors and its two faces agreeing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fasthpo.gp.model import Hyperparameters
from fasthpo.gp.priors import (
    NOISE_PRIOR,
    WIDE_DIM,
    WIDE_NOISE_PRIOR,
    lengthscale_pooling,
    log_prior,
    prior_moments,
)


def test_from_fifteen_dimensions_the_prior_expects_shorter_lengthscales_and_more_noise() -> None:
    narrow = Hyperparameters.prior_mode(WIDE_DIM - 1)
    wide = Hyperparameters.prior_mode(WIDE_DIM)
    assert narrow.lengthscales[0] == pytest.approx(math.sqrt(WIDE_DIM - 1))
    # BoTorch's mode of ℓ at D = 20 is about 0.9; at 15 our mean puts it at 0.79.
    assert wide.lengthscales[0] == pytest.approx(math.sqrt(WIDE_DIM) * math.exp(-1.586))
    assert Hyperparameters.prior_mode(20).lengthscales[0] == pytest.approx(0.915, abs=0.01)
    assert narrow.log_noise == NOISE_PRIOR[0]
    assert wide.log_noise == WIDE_NOISE_PRIOR[0]


@pytest.mark.parametrize("dim", [3, WIDE_DIM - 1, WIDE_DIM, 20])
def test_log_prior_and_the_native_fits_moments_are_the_same_gaussians(dim: int) -> None:
    # The Python objective uses log_prior; the native fit takes prior_moments.
    mean, precision = prior_moments(dim)
    rng = np.random.default_rng(dim)
    a, b = (mean[: dim + 3] + rng.normal(0.0, 1.0, dim + 3) for _ in range(2))
    a[dim + 2], b[dim + 2] = 0.3, -0.7  # the flat mean c

    pooling = lengthscale_pooling(dim)

    def from_moments(theta: np.ndarray) -> float:
        finite = precision > 0
        spread = theta[:dim] - theta[:dim].mean()
        return float(-0.5 * np.sum(precision[finite] * (theta[finite] - mean[finite]) ** 2)
                     - 0.5 * pooling * spread @ spread)

    value_a, grad_a = log_prior(a, dim)
    value_b, _ = log_prior(b, dim)
    assert value_a - value_b == pytest.approx(from_moments(a) - from_moments(b), rel=1e-12)
    want = -precision * (a - mean)
    want[:dim] -= pooling * (a[:dim] - a[:dim].mean())
    assert grad_a == pytest.approx(want, rel=1e-12)


def test_the_lengthscales_are_pooled_from_two_dimensions_below_the_wide_priors() -> None:
    assert lengthscale_pooling(1) == 0.0  # nothing to pool
    assert lengthscale_pooling(2) > 0.0 and lengthscale_pooling(WIDE_DIM - 1) > 0.0
    assert lengthscale_pooling(WIDE_DIM) == 0.0 and lengthscale_pooling(40) == 0.0


@pytest.mark.parametrize("dim", [2, 8, 20])
def test_log_prior_gradient_matches_finite_differences(dim: int) -> None:
    rng = np.random.default_rng(dim)
    theta = np.concatenate([rng.normal(0.5, 1.5, dim), [0.2, -7.0, 0.1], rng.normal(0, 0.1, 4)])
    _, grad = log_prior(theta, dim)
    h = 1e-6
    fd = [(log_prior(theta + h * e, dim)[0] - log_prior(theta - h * e, dim)[0]) / (2 * h)
          for e in np.eye(len(theta))]
    assert grad == pytest.approx(np.array(fd), rel=1e-6, abs=1e-8)
