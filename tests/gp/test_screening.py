"""The screening bound of the candidate search: a true upper bound, and exact where it matters."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.model import GaussianProcess, Hyperparameters


def _model(n: int = 120, d: int = 4, seed: int = 0) -> GaussianProcess:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(5 * X[:, 0]) + ((X[:, 1:] - 0.3) ** 2).sum(axis=1)
    y = (y - y.mean()) / y.std()
    hp = Hyperparameters(np.full(d, np.log(0.3)), 0.0, np.log(1e-4), 0.0)
    return GaussianProcess(X, y, hp)


def _candidates(gp: GaussianProcess, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    best = gp.X[np.argsort(gp.y)[:5]]
    near = np.clip(np.repeat(best, 40, axis=0) + rng.normal(0, 0.05, (200, gp.X.shape[1])), 0, 1)
    return np.vstack([rng.random((300, gp.X.shape[1])), near])


@pytest.mark.parametrize("size", [1, 10, 40, 119, 120, 500])
def test_screen_bounds_the_standard_deviation_and_keeps_the_mean(size: int) -> None:
    gp = _model()
    Z = _candidates(gp)
    mean, std = gp.predict(Z)
    screened_mean, upper = gp.screen(Z, size)
    np.testing.assert_allclose(screened_mean, mean, rtol=1e-12, atol=1e-12)
    assert (upper >= std * (1 - 1e-9)).all()
    if size < len(gp):  # a bound from fewer points is looser somewhere
        assert (upper > std * 1.01).any()
    else:
        np.testing.assert_allclose(upper, std, rtol=1e-9)


def test_screen_stays_a_bound_after_appends() -> None:
    gp = _model()
    Z = _candidates(gp)
    gp.screen(Z, 30)  # caches the factor of the 30 best
    rng = np.random.default_rng(3)
    for _ in range(5):
        gp.append(rng.random(gp.X.shape[1]), -3.0)  # new best points, outside the cached rows
    _, std = gp.predict(Z)
    _, upper = gp.screen(Z, 30)
    assert (upper >= std * (1 - 1e-9)).all()


@pytest.mark.parametrize(("screen", "k"), [(20, 4), (40, 16), (50, 1)])
def test_ranked_gives_the_exact_top_k(screen: int, k: int) -> None:
    gp = _model()
    Z = _candidates(gp)
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    exact = acquisition(Z)
    scores = acquisition.ranked(Z, k, screen=screen)
    top = np.argsort(-scores, kind="stable")[:k]
    np.testing.assert_array_equal(np.sort(top), np.sort(np.argsort(-exact, kind="stable")[:k]))
    np.testing.assert_allclose(scores[top], exact[top], rtol=1e-12, atol=1e-12)
    assert (scores >= exact - 1e-9).all()  # the others are upper bounds
    assert (scores != exact).any()  # and the screen did skip some candidates


def test_ranked_is_exact_on_small_models() -> None:
    gp = _model(n=30)
    Z = _candidates(gp)
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    np.testing.assert_array_equal(acquisition.ranked(Z, 4, screen=20), acquisition(Z))


def test_ranked_with_an_offset_gives_the_exact_top_k_of_the_sum() -> None:
    # An exclusion barrier around pending points: the best of LogEI + barrier are exact,
    # though the barrier demotes some of LogEI's own best.
    from fasthpo.gp.exploitation import ExcludingAcquisition

    gp = _model()
    Z = _candidates(gp)
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    leaders = Z[np.argsort(-acquisition(Z))[:3]]
    excluding = ExcludingAcquisition(acquisition, leaders, radius=0.05)
    exact = excluding(Z)
    scores = acquisition.ranked(Z, 4, screen=20, offset=excluding._barrier(Z, False)[0])
    top = np.argsort(-scores, kind="stable")[:4]
    np.testing.assert_array_equal(np.sort(top), np.sort(np.argsort(-exact, kind="stable")[:4]))
    np.testing.assert_allclose(scores[top], exact[top], rtol=1e-12, atol=1e-12)
    assert (scores >= exact - 1e-9).all() and (scores != exact).any()
