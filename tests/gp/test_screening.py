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


@pytest.mark.parametrize(("n", "k"), [(100, 4), (150, 16), (300, 1)])
def test_ranked_bounds_by_the_nearest_observation_on_mid_sized_models(n: int, k: int) -> None:
    # Up to 2 * SCREEN_POINTS observations the bound is each candidate's standard
    # deviation given its nearest observation alone; the k best must still be exact.
    gp = _model(n=n, seed=n)
    Z = _candidates(gp)
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    exact = acquisition(Z)
    scores = acquisition.ranked(Z, k)
    top = np.argsort(-scores, kind="stable")[:k]
    np.testing.assert_array_equal(np.sort(top), np.sort(np.argsort(-exact, kind="stable")[:k]))
    np.testing.assert_allclose(scores[top], exact[top], rtol=1e-12, atol=1e-12)
    assert (scores >= exact - 1e-9).all()
    assert (scores > exact + 1e-6).sum() > len(Z) // 2  # most candidates were only bounded


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


def _subset_std(gp: GaussianProcess, z: np.ndarray, rows: np.ndarray) -> float:
    """NumPy reference: the posterior standard deviation at z given only ``rows``."""
    from fasthpo.gp.kernels import matern52

    ls, amp = gp.hp.lengthscales, gp.hp.amplitude
    K = matern52(gp.X[rows], lengthscales=ls, amplitude=amp)
    K[np.diag_indices(len(rows))] = gp.diagonal[rows]
    k = matern52(z[None, :], gp.X[rows], lengthscales=ls, amplitude=amp)[0]
    var = amp - k @ np.linalg.solve(K, k)
    return float(np.sqrt(max(var, 1e-12 * amp) + 1e-10 * amp))


@pytest.mark.parametrize("size", [1, 3, 8, 16])
def test_neighbour_bound_matches_a_numpy_reference_and_bounds_the_std(size: int) -> None:
    gp = _model()
    Z = _candidates(gp)
    cross = gp.cross(Z)
    bound = gp.neighbour_bound(cross, size)
    _, std = gp.predict(Z)
    assert (bound >= std * (1 - 1e-12)).all()
    for i in range(0, len(Z), 37):
        nearest = np.argsort(-cross[i], kind="stable")[:size]
        np.testing.assert_allclose(bound[i], _subset_std(gp, Z[i], nearest), rtol=1e-9)
    # More neighbours condition on more: the bound can only tighten.
    assert (gp.neighbour_bound(cross, size + 4) <= bound * (1 + 1e-9)).all()


def test_neighbour_bound_of_a_point_on_an_observation_is_its_noise_level() -> None:
    gp = _model()
    cross = gp.cross(gp.X[:5])
    bound = gp.neighbour_bound(cross, 8)
    _, std = gp.predict(gp.X[:5])
    # Conditioned on a noisy observation at the point itself: about the noise's size.
    assert (bound < 3 * np.sqrt(gp.hp.noise)).all()
    assert (bound >= std * (1 - 1e-12)).all()


def test_neighbour_bound_rejects_mismatched_shapes() -> None:
    from fasthpo.gp import _native

    gp = _model()
    with pytest.raises(ValueError, match="cross"):
        _native.neighbour_std_bound(
            np.zeros((3, len(gp) + 1)), gp.X, gp.hp.lengthscales, gp.diagonal,
            gp.hp.amplitude, 4, np.empty(3))
    with pytest.raises(ValueError, match="size"):
        gp.neighbour_bound(gp.cross(gp.X[:2]), 0)


def test_diagonal_follows_the_factor_through_appends_and_extensions() -> None:
    gp = _model()
    rng = np.random.default_rng(4)
    gp.append(rng.random(gp.X.shape[1]), 0.5)
    fantasies = gp.extended(rng.random((6, gp.X.shape[1])), extra_noise=0.3)
    for model in (gp, fantasies, fantasies.copy()):
        np.testing.assert_allclose(model.diagonal, np.einsum("ij,ij->i", model.L, model.L), rtol=1e-12)
    assert np.allclose(fantasies.diagonal[-6:] - gp.diagonal[0], 0.3, rtol=1e-6)


def test_ranked_gives_the_exact_top_k_with_noisy_fantasies() -> None:
    # Extra noise on fantasy rows loosens what they tell: the bounds must account for it.
    gp = _model()
    rng = np.random.default_rng(5)
    best = gp.X[np.argsort(gp.y)[:6]]
    fantasies = gp.extended(np.clip(best + rng.normal(0, 0.02, best.shape), 0, 1), extra_noise=0.5)
    Z = _candidates(fantasies)
    acquisition = LogExpectedImprovement(fantasies, float(gp.y.min()))
    exact = acquisition(Z)
    scores = acquisition.ranked(Z, 8, screen=20)
    top = np.argsort(-scores, kind="stable")[:8]
    np.testing.assert_array_equal(np.sort(top), np.sort(np.argsort(-exact, kind="stable")[:8]))
    assert (scores >= exact - 1e-9).all()
