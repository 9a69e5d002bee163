"""GridSearch: size, enumeration, axis spacing, walking order, skipping what is taken,
and its refusals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace, render_value
from fasthpo.strategies.base import Strategy
from fasthpo.strategies.grid import GridSearch


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(
        [
            Categorical("act", ["relu", "tanh", "gelu"]),
            Integer("layers", 1, 4),
            Continuous("dropout", 0.0, 0.4),
            Continuous("lr", 1e-4, 1.0, "log"),
        ]
    )


def _key(config: dict) -> tuple:
    return tuple((k, type(v).__name__, v) for k, v in config.items())


def test_is_a_strategy(space):
    assert isinstance(GridSearch(space), Strategy)


@pytest.mark.parametrize(("resolution", "size"), [(2, 48), (5, 3 * 4 * 5 * 5), (7, 3 * 4 * 7 * 7)])
def test_size_is_the_product_of_the_axes(space, resolution, size):
    grid = GridSearch(space, resolution=resolution)
    assert grid.size == size
    assert len(grid) == size


def test_iteration_yields_every_point_once(space):
    grid = GridSearch(space, resolution=3)
    points = list(grid)
    assert len(points) == len(grid) == 3 * 4 * 3 * 3
    assert len({_key(p) for p in points}) == len(points)
    dropout = [0.0, 0.2, 0.4]
    lr = [1e-4, 1e-2, 1.0]
    expected = {
        (a, n, d, round(r, 12))
        for a, n, d, r in itertools.product(["relu", "tanh", "gelu"], range(1, 5), dropout, lr)
    }
    got = {(p["act"], p["layers"], p["dropout"], round(p["lr"], 12)) for p in points}
    assert got == expected
    for p in points:
        assert space.validate(p) == p


def test_point_is_lexicographic(space):
    grid = GridSearch(space, resolution=2)
    assert grid.point(0) == {"act": "relu", "layers": 1, "dropout": 0.0, "lr": 1e-4}
    assert grid.point(1) == {"act": "relu", "layers": 1, "dropout": 0.0, "lr": 1.0}
    assert grid.point(2) == {"act": "relu", "layers": 1, "dropout": 0.4, "lr": 1e-4}
    assert grid.point(len(grid) - 1) == {"act": "gelu", "layers": 4, "dropout": 0.4, "lr": 1.0}


def test_log_axis_is_log_spaced_and_includes_both_ends():
    space = SearchSpace([Continuous("lr", 1e-5, 10.0, "log")])
    values = [p["lr"] for p in GridSearch(space, resolution=7, seed=None)]
    assert values[0] == 1e-5 and values[-1] == 10.0  # exactly the declared ends
    assert np.allclose(np.log10(values), np.arange(-5, 2), rtol=0, atol=1e-12)
    assert np.allclose(np.diff(np.log(values)), np.log(10.0))


@pytest.mark.parametrize("scaling", ["auto", "linear"])
def test_linear_axis_is_evenly_spaced_and_includes_both_ends(scaling):
    space = SearchSpace([Continuous("x", -1.0, 3.0, scaling)])
    values = [p["x"] for p in GridSearch(space, resolution=5, seed=None)]
    assert values == pytest.approx([-1.0, 0.0, 1.0, 2.0, 3.0], abs=1e-12)
    assert values[0] == -1.0 and values[-1] == 3.0


def test_reverse_log_axis_is_spaced_in_log_of_one_minus_x():
    space = SearchSpace([Continuous("m", 0.9, 0.999, "reverse_log")])
    values = [p["m"] for p in GridSearch(space, resolution=4, seed=None)]
    assert values[0] == 0.9 and values[-1] == 0.999
    assert np.allclose(1 - np.array(values), np.geomspace(0.1, 0.001, 4), rtol=1e-9)


def test_grid_values_are_plain_python_numbers(space):
    for p in GridSearch(space, resolution=3):
        assert type(p["dropout"]) is float and type(p["lr"]) is float
        assert type(p["layers"]) is int
        # What the training job receives on its command line.
        assert "np." not in render_value(p["dropout"])


def test_seeded_order_is_a_permutation_and_none_is_lexicographic(space):
    lexicographic = list(GridSearch(space, resolution=3))
    n = len(lexicographic)
    ordered = GridSearch(space, resolution=3, seed=None).ask(n)
    assert ordered == lexicographic
    shuffled = GridSearch(space, resolution=3, seed=0).ask(n)
    assert shuffled != lexicographic
    assert sorted(map(_key, shuffled)) == sorted(map(_key, lexicographic))
    assert GridSearch(space, resolution=3, seed=0).ask(n) == shuffled
    assert GridSearch(space, resolution=3, seed=1).ask(n) != shuffled


def test_ask_never_repeats_and_returns_empty_when_used_up(space):
    grid = GridSearch(space, resolution=2, seed=5)
    seen = []
    while batch := grid.ask(7):
        assert len(batch) <= 7
        seen.extend(batch)
    assert len(seen) == len(grid) == 48
    assert len({_key(p) for p in seen}) == 48
    assert grid.ask(1) == []
    assert grid.ask(10) == []


@pytest.mark.parametrize("seed", [None, 0])
def test_told_and_pending_points_are_skipped(space, seed):
    everything = list(GridSearch(space, resolution=2))
    grid = GridSearch(space, resolution=2, seed=seed)
    told = everything[::3]
    pending = everything[1::3]
    for point in told:
        grid.tell(point, 1.0)
    proposals = grid.ask(100, pending=pending)
    assert {_key(p) for p in proposals} == {_key(p) for p in everything[2::3]}
    assert len(proposals) == len(everything[2::3])


def test_told_points_are_skipped_whatever_the_number_type(space):
    # A config read back from JSON or NumPy: 0 for 0.0, 1.0 for 1, np.float64 for float.
    grid = GridSearch(space, resolution=2, seed=None)
    grid.tell({"act": "relu", "layers": 1.0, "dropout": 0, "lr": np.float64(1e-4)}, 0.5)
    assert grid.ask(1)[0] == {"act": "relu", "layers": 1, "dropout": 0.0, "lr": 1.0}


def test_max_size_refusal_names_the_widest_hyperparameter():
    space = SearchSpace(
        [Categorical("act", ["a", "b"]), Integer("wide", 0, 99_999), Continuous("x", 0.0, 1.0)]
    )
    with pytest.raises(
        ConfigError,
        match=r"^wide: the grid would hold 1000000 points \(more than max_size=100000\); "
        r"'wide' alone contributes 100000 values",
    ):
        GridSearch(space)
    small = SearchSpace([Categorical("a", ["p", "q"]), Continuous("x", 0, 1)])
    with pytest.raises(ConfigError, match=r"^x: the grid would hold 24 points \(more than max_size=20\)"):
        GridSearch(small, resolution=12, max_size=20)
    assert len(GridSearch(SearchSpace([Integer("n", 1, 20)]), max_size=20)) == 20


@pytest.mark.parametrize("resolution", [1, 0, -3, 2.5, True, "5"])
def test_resolution_below_two_or_not_an_integer_is_refused(space, resolution):
    with pytest.raises(ConfigError, match=r"^resolution: must be an integer >= 2"):
        GridSearch(space, resolution=resolution)


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_ask_refuses_bad_counts(space, n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        GridSearch(space).ask(n)


def test_bad_tell_changes_nothing_and_best_respects_direction(space):
    grid = GridSearch(space, resolution=2, direction="maximize")
    a, b = grid.ask(2)
    grid.tell(a, 0.2)
    grid.tell(b, 0.7)
    with pytest.raises(ConfigError, match="must be finite"):
        grid.tell(a, float("nan"))
    with pytest.raises(ConfigError, match=r"^layers: value 9 is outside"):
        grid.tell({**a, "layers": 9}, 5.0)
    assert grid.best() == (b, 0.7)
    low = GridSearch(space, resolution=2, direction="minimize")
    low.tell(a, 0.2)
    low.tell(b, 0.7)
    assert low.best() == (a, 0.2)
