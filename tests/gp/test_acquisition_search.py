"""The acquisition search's edges: a proposal on a bound of the box must be worth it."""

from __future__ import annotations

import numpy as np

from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.acquisition_search import BoxedAcquisition, CandidateSearch, rank_candidates, release_edges
from fasthpo.gp.model import GaussianProcess, Hyperparameters


def _identity(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    W = np.clip(W, 0.0, 1.0)
    return W, W


def _slope() -> tuple[LogExpectedImprovement, np.ndarray]:
    """Values falling towards x0 = 0 (the observed best is x0 = 0.1), x1 irrelevant-ish."""
    X = np.column_stack([np.linspace(0.1, 0.9, 9), np.full(9, 0.5)])
    y = (X[:, 0] - X[:, 0].mean()) / X[:, 0].std()
    gp = GaussianProcess(X, y, Hyperparameters(np.log([0.2, 3.0]), 0.0, np.log(1e-6), 0.0))
    return LogExpectedImprovement(gp, float(y.min())), X[0]


def test_an_edge_the_acquisition_barely_prefers_is_left_for_the_incumbents_value() -> None:
    acquisition, incumbent = _slope()
    corner = np.array([[0.0, 0.0], [0.0, 1.0]])
    out, scores = release_edges(acquisition, corner, incumbent, np.array([True, True]), _identity, 0.25)
    # x0 = 0 is worth about half a nat of LogEI over the incumbent's 0.1: a decision, kept.
    # x1 on either face is worth 0.02 over the middle: an accident of the variance, released.
    np.testing.assert_allclose(out, [[0.0, 0.5], [0.0, 0.5]])
    np.testing.assert_allclose(scores, acquisition(out))
    assert (acquisition(corner) - scores < 0.25).all()


def test_a_face_no_observation_lies_on_is_kept_for_its_first_visit() -> None:
    acquisition, incumbent = _slope()
    corner = np.array([[0.0, 0.0], [0.0, 1.0]])
    free = np.array([True, True])
    observed = acquisition.gp.X  # x1 = 0.5 everywhere: neither x1 face visited yet
    out, scores = release_edges(acquisition, corner, incumbent, free, _identity, 0.25, observed)
    np.testing.assert_array_equal(out, corner)
    np.testing.assert_allclose(scores, acquisition(corner))
    # Once a result lies on the lower x1 face, a point there is released again; the
    # upper face is still unvisited.
    visited = np.vstack([observed, [0.7, 0.0]])
    out, _ = release_edges(acquisition, corner, incumbent, free, _identity, 0.25, visited)
    np.testing.assert_allclose(out, [[0.0, 0.5], [0.0, 1.0]])


def test_no_tolerance_keeps_every_edge() -> None:
    acquisition, incumbent = _slope()
    corner = np.array([[0.0, 0.0]])
    out, _ = release_edges(acquisition, corner, incumbent, np.array([True, True]), _identity, 0.0)
    np.testing.assert_array_equal(out, corner)


def test_a_coordinate_outside_free_is_never_moved() -> None:
    acquisition, incumbent = _slope()
    corner = np.array([[0.0, 0.0]])
    out, _ = release_edges(acquisition, corner, incumbent, np.array([True, False]), _identity, 0.25)
    np.testing.assert_array_equal(out, corner)


def test_a_box_keeps_candidates_and_polish_inside_it() -> None:
    acquisition, _ = _slope()
    rng = np.random.default_rng(0)
    lo, hi = np.array([0.3, 0.2]), np.array([0.6, 0.7])
    Z, scores = rank_candidates(
        acquisition, observed=acquisition.gp.X, values=acquisition.gp.y,
        quasi=lo + (hi - lo) * rng.random((64, 2)),
        perturb=lambda W, step: W + rng.normal(0.0, step, W.shape), settle=_identity,
        free=np.array([True, True]), search=CandidateSearch(n_local=64), box=(lo, hi),
    )
    assert ((Z >= lo - 1e-12) & (Z <= hi + 1e-12)).all()
    # The acquisition falls with x0, so the best in the box is on its lower x0 face.
    np.testing.assert_allclose(Z[0, 0], 0.3, atol=1e-6)
    assert scores[0] == scores.max()


def test_the_boxed_gradient_is_the_chain_rule() -> None:
    acquisition, _ = _slope()
    lo, width = np.array([0.2, 0.1]), np.array([0.5, 0.3])
    boxed = BoxedAcquisition(acquisition, lo, width)
    U = np.array([[0.3, 0.6], [0.7, 0.2]])
    value, grad = boxed.value_and_grad(U)
    np.testing.assert_allclose(value, acquisition(lo + width * U))
    eps = 1e-6
    for j in range(2):
        step = np.zeros(2)
        step[j] = eps
        numeric = (boxed(U + step) - boxed(U - step)) / (2 * eps)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-4, atol=1e-7)

