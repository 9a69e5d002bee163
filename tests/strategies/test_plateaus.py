"""Plateaus: which observations count, and that proposals leave them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fasthpo.space import Continuous, Integer, SearchSpace
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.plateaus import (
    GROUP_LIMIT,
    PLATEAU_RADIUS,
    POINT_LIMIT,
    TiedValues,
    plateau_points,
)


def test_equal_values_near_each_other_are_a_plateau() -> None:
    Z = np.array([[0.5, 0.5], [0.52, 0.5], [0.9, 0.1], [0.1, 0.9]])
    y = np.array([1.0, 1.0, 2.0, 3.0])
    assert plateau_points(Z, y).tolist() == [0, 1]


def test_equal_values_far_apart_and_near_unequal_values_are_not() -> None:
    # An accuracy reached twice by unrelated models; and two nearby points that differ.
    Z = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [0.5001, 0.5]])
    y = np.array([0.95, 0.95, 0.3, 0.3 + 1e-12])
    assert plateau_points(Z, y).size == 0
    assert plateau_points(Z, y, twin_distance=2.0).tolist() == [0, 1]


def test_twin_distance_is_inclusive_and_non_finite_values_never_count() -> None:
    Z = np.array([[0.0], [0.25], [0.6], [0.61]])
    y = np.array([4.0, 4.0, np.inf, np.inf])
    assert plateau_points(Z, y).tolist() == [0, 1]


def test_tied_values_grow_with_the_observations() -> None:
    Z = np.array([[0.1], [0.5], [0.12], [0.52], [0.9]])
    y = [1.0, 2.0, 3.0, 2.0, 1.0]
    ties = TiedValues()
    ties.update(y[:3])
    assert ties.plateau_points(Z[:3]).size == 0
    ties.update(y)  # 2.0 repeats next to its twin; 1.0 repeats far from it
    assert ties.plateau_points(Z).tolist() == [1, 3]
    assert plateau_points(Z, y).tolist() == [1, 3]


def test_fewer_than_two_observations_have_no_plateau() -> None:
    assert plateau_points(np.zeros((0, 3)), np.zeros(0)).size == 0
    assert plateau_points(np.zeros((1, 3)), np.zeros(1)).size == 0


def test_only_the_most_recent_points_are_kept() -> None:
    n = 2 * POINT_LIMIT + 10
    Z = np.linspace(0.0, 0.1, n)[:, None]
    rows = plateau_points(Z, np.zeros(n))
    assert rows.tolist() == list(range(n - POINT_LIMIT, n))


def test_a_value_repeated_beyond_the_group_limit_is_judged_by_its_latest_rows() -> None:
    # One value everywhere: the 40 oldest rows share a point, the latest GROUP_LIMIT lie
    # far apart. Only the latest are compared (the cost stays bounded), so none counts.
    n = GROUP_LIMIT + 40
    Z = np.zeros((n, 2))
    Z[40:, 0] = 10.0 + np.arange(GROUP_LIMIT, dtype=float)
    assert plateau_points(Z, np.ones(n)).size == 0
    assert plateau_points(Z[:60], np.ones(60)).tolist() == list(range(40))


def _steps(config: dict) -> float:
    """A forest-like metric: constant on steps in ``a`` and ``b``, a weak trend in ``c``."""
    return round(
        abs(math.floor(10 * config["a"]) - 7) * 0.1
        + abs(math.floor(5 * config["b"]) - 2) * 0.05
        + 0.02 * abs(config["c"] - 15) ** 0.5,
        12,
    )


def _staircase(config: dict) -> float:
    """Ten coordinates, each constant on sixths of its range, of halving weight."""
    return round(sum(abs(math.floor(6 * config[f"x{i}"]) - 4) * 0.5**i for i in range(10)), 12)


STEPS_SPACE = SearchSpace([
    Continuous("a", 0.0, 1.0, scaling="linear"),
    Continuous("b", 0.0, 1.0, scaling="linear"),
    Integer("c", 1, 20, scaling="linear"),
])
# Ten continuous coordinates: sequential proposals search a trust region.
STAIRCASE_SPACE = SearchSpace([Continuous(f"x{i}", 0.0, 1.0, scaling="linear") for i in range(10)])


def _run(
    monkeypatch: pytest.MonkeyPatch, space: SearchSpace, function, seed: int, budget: int, *,
    avoid: bool,
) -> tuple[int, int]:
    """(results repeating an earlier value, proposals within half a radius of a plateau
    point known when they were made) over ``budget`` sequential evaluations."""
    find = TiedValues.plateau_points
    if not avoid:
        monkeypatch.setattr(TiedValues, "plateau_points", lambda self, Z: np.empty(0, dtype=int))
    opt = BayesianOptimizer(space, seed=seed)
    seen: set[float] = set()
    repeats = inside = 0
    for _ in range(budget):
        config = opt.ask(1)[0]
        if len(opt._observations):
            Z = opt._encoder.encode(opt._observations.configs)
            ties = TiedValues()
            ties.update(opt._observations.values)
            rows = find(ties, Z)
            z = opt._encoder.encode([config])[0]
            if len(rows) and np.min(np.linalg.norm(Z[rows] - z, axis=1)) < 0.5 * PLATEAU_RADIUS:
                inside += 1
        value = function(config)
        opt.tell(config, value)
        repeats += value in seen
        seen.add(value)
    monkeypatch.undo()
    return repeats, inside


def test_proposals_leave_a_plateau_instead_of_sampling_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three seeds together, so that no one trajectory decides.
    off = [_run(monkeypatch, STEPS_SPACE, _steps, seed, 40, avoid=False) for seed in range(3)]
    on = [_run(monkeypatch, STEPS_SPACE, _steps, seed, 40, avoid=True) for seed in range(3)]
    # Without the rule the proposals keep landing among the points of a plateau. With it
    # they stay out of the balls but for a rare proposal the model prefers strongly: the
    # barrier is soft (−1.7 nats at half its radius), not a wall.
    assert sum(inside for _, inside in off) >= 10
    assert sum(inside for _, inside in on) <= 1
    assert sum(repeats for repeats, _ in on) < sum(repeats for repeats, _ in off)


def test_proposals_in_a_trust_region_leave_plateaus_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Twelve seeds together: in most runs the trust region never reaches a plateau's points.
    seeds = range(12)
    off = [_run(monkeypatch, STAIRCASE_SPACE, _staircase, s, 50, avoid=False)[1] for s in seeds]
    on = [_run(monkeypatch, STAIRCASE_SPACE, _staircase, s, 50, avoid=True)[1] for s in seeds]
    assert sum(off) >= 3
    assert sum(on) == 0
