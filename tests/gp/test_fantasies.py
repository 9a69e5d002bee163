"""Pending points in the acquisition: block conditioning, averaged fantasies, local penalties."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.fantasies import (
    FantasyLogEI,
    PenalisedLogEI,
    lipschitz_estimate,
    sample_fantasies,
)
from fasthpo.gp.model import GaussianProcess, Hyperparameters
from tests.gp.finite_differences import numeric_grad

D = 4


@pytest.fixture
def gp():
    rng = np.random.default_rng(0)
    X = rng.random((30, D))
    hp = Hyperparameters(np.log(np.full(D, 0.4)), 0.0, np.log(1e-3), 0.0)
    return GaussianProcess(X, np.sin(3 * X).sum(axis=1), hp)


def test_extend_equals_appending_one_at_a_time(gp):
    P = np.random.default_rng(1).random((6, D))
    values = gp.predict(P)[0] + 0.1
    one, block = gp.copy(), gp.copy()
    for x, v in zip(P, values, strict=True):
        one.append(x, v)
    block.extend(P, values)
    Z = np.random.default_rng(2).random((5, D))
    for a, b in zip(one.predict(Z), block.predict(Z), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert len(gp) == 30 and len(block) == 36  # the original is untouched


def test_extra_noise_makes_a_fantasy_less_certain(gp):
    P = np.random.default_rng(1).random((1, D))
    firm, soft = gp.copy(), gp.copy()
    firm.extend(P, gp.predict(P)[0])
    soft.extend(P, gp.predict(P)[0], extra_noise=0.5)
    assert soft.predict(P)[1][0] > 10 * firm.predict(P)[1][0]


def test_averaged_fantasies_gradient_and_single_model_limit(gp):
    rng = np.random.default_rng(3)
    P = rng.random((5, D))
    model, alphas, lowest = sample_fantasies(gp, P, 8, rng)
    assert alphas.shape == (35, 8) and lowest.shape == (8,)
    acquisition = FantasyLogEI(model, alphas, np.minimum(gp.y.min(), lowest))
    Z = rng.random((4, D))
    value, grad = acquisition.value_and_grad(Z)
    np.testing.assert_allclose(value, acquisition(Z), rtol=1e-12)
    np.testing.assert_allclose(grad, numeric_grad(acquisition, Z), rtol=1e-4, atol=1e-6)
    # One model whose fantasies sit at the posterior mean is the kriging believer.
    best = min(gp.y.min(), float(gp.predict(P)[0].min()))
    believer = FantasyLogEI(model, model.weights(model.y)[:, None], np.array([best]))
    np.testing.assert_allclose(believer(Z), LogExpectedImprovement(model, best)(Z), atol=1e-10)


def test_local_penalty_gradient_and_exclusion(gp):
    rng = np.random.default_rng(4)
    P = rng.random((3, D))
    lipschitz = lipschitz_estimate(gp, rng.random((64, D)))
    assert lipschitz > 0
    acquisition = PenalisedLogEI(gp, float(gp.y.min()), P, lipschitz)
    Z = rng.random((4, D))
    value, grad = acquisition.value_and_grad(Z)
    np.testing.assert_allclose(value, acquisition(Z), rtol=1e-12)
    np.testing.assert_allclose(grad, numeric_grad(acquisition, Z), rtol=1e-4, atol=1e-6)
    # The penalty only lowers the acquisition, most at the pending points themselves.
    plain = LogExpectedImprovement(gp, float(gp.y.min()))
    assert np.all(acquisition(Z) <= plain(Z) + 1e-12)
    near = P + 1e-3
    assert np.all(plain(near) - acquisition(near) > 0.5)
