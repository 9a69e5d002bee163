"""RandomSearch: reproducible, never repeating, sampling each scaling as declared,
and refusing bad tells without changing anything."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
from fasthpo.strategies.base import Strategy
from fasthpo.strategies.random import RandomSearch, finite_size


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(
        [
            Continuous("lr", 1e-5, 1.0, "log"),
            Continuous("dropout", 0.0, 0.5),
            Integer("layers", 1, 6),
            Categorical("act", ["relu", "tanh", "gelu"]),
        ]
    )


@pytest.fixture
def finite() -> SearchSpace:
    # 2 x 2 x 3 = 12 configurations.
    return SearchSpace(
        [
            Categorical("opt", ["sgd", "adam"]),
            Categorical("bn", [True, False]),
            Integer("depth", 1, 3),
        ]
    )


def _key(config: dict) -> tuple:
    return tuple(sorted((k, type(v).__name__, v) for k, v in config.items()))


def _all(space: SearchSpace) -> list[dict]:
    configs = [{}]
    for p in space:
        values = p.values if p.kind == "categorical" else range(p.low, p.high + 1)
        configs = [{**c, p.name: v} for c in configs for v in values]
    return configs


def test_is_a_strategy(space):
    assert isinstance(RandomSearch(space, seed=0), Strategy)


def test_same_seed_same_proposals_different_seed_different(space):
    a = RandomSearch(space, seed=7).ask(10)
    b = RandomSearch(space, seed=7).ask(10)
    c = RandomSearch(space, seed=8).ask(10)
    assert a == b
    assert a != c


def test_ask_returns_n_distinct_valid_configs(space):
    strategy = RandomSearch(space, seed=0)
    proposals = strategy.ask(50)
    assert len(proposals) == 50
    assert len({_key(c) for c in proposals}) == 50
    for config in proposals:
        assert list(config) == list(space.names)
        assert space.validate(config) == config
        assert type(config["layers"]) is int and type(config["lr"]) is float


def test_no_proposal_repeats_a_told_or_pending_config(finite):
    everything = _all(finite)
    strategy = RandomSearch(finite, seed=3)
    for config in everything[:5]:
        strategy.tell(config, 1.0)
    pending = everything[5:9]
    proposals = strategy.ask(10, pending=pending)
    assert len(proposals) == 3  # only three configurations are left
    assert {_key(c) for c in proposals} == {_key(c) for c in everything[9:]}


def test_finite_space_is_used_up_without_duplicates(finite):
    assert finite_size(finite) == 12
    strategy = RandomSearch(finite, seed=1)
    proposals = strategy.ask(20)
    assert len(proposals) == 12
    assert {_key(c) for c in proposals} == {_key(c) for c in _all(finite)}
    for config in proposals:
        strategy.tell(config, 0.0)
    assert strategy.ask(3) == []
    assert strategy.ask(1) == []


@pytest.mark.parametrize("seed", range(8))
def test_nearly_full_finite_space_still_finds_the_free_config(seed):
    # 200 configurations, 199 of them pending: redrawing at random hits the free one
    # with probability ~27%, so the strategy must find it another way, not repeat one.
    space = SearchSpace([Categorical("k", ["a", "b"]), Integer("i", 0, 99)])
    everything = _all(space)
    free = everything.pop(seed * 17)
    strategy = RandomSearch(space, seed=seed)
    assert strategy.ask(1, pending=everything) == [free]
    assert strategy.ask(5, pending=everything) == [free]
    assert strategy.ask(1, pending=[*everything, free]) == []


def test_continuous_space_has_no_finite_size(space):
    assert finite_size(space) is None


def test_log_dimension_is_sampled_log_uniformly():
    space = SearchSpace([Continuous("lr", 1e-4, 1.0, "log"), Continuous("wd", 0.0, 1.0)])
    proposals = RandomSearch(space, seed=0).ask(4000)
    lr = np.array([c["lr"] for c in proposals])
    wd = np.array([c["wd"] for c in proposals])
    assert lr.min() >= 1e-4 and lr.max() <= 1.0
    decades = np.bincount(np.floor(np.log10(lr)).astype(int).clip(-4, -1) + 4, minlength=4)
    assert np.allclose(decades / len(lr), 0.25, atol=0.04), decades
    assert np.mean(lr < 1e-2) == pytest.approx(0.5, abs=0.04)  # uniform would give 1%
    # `auto` is sampled as linear.
    assert np.mean(wd < 0.5) == pytest.approx(0.5, abs=0.04)
    assert np.mean(wd < 0.1) == pytest.approx(0.1, abs=0.03)


def test_reverse_log_dimension_crowds_towards_one():
    space = SearchSpace([Continuous("momentum", 0.9, 0.999, "reverse_log")])
    values = np.array([c["momentum"] for c in RandomSearch(space, seed=0).ask(4000)])
    assert np.mean(values > 0.99) == pytest.approx(0.5, abs=0.04)


BAD_TELLS = [
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, math.nan, r"^value: must be finite"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, math.inf, r"^value: must be finite"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, -math.inf, r"^value: must be finite"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, "abc", r"^value: must be a number"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, "0.5", r"^value: must be a number"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, None, r"^value: must be a number"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu"}, True, r"^value: must be a number"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "relu", "lrr": 1}, 0.5, r"^lrr: unknown"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2}, 0.5, r"^act: missing"),
    ({"lr": 2.0, "dropout": 0.1, "layers": 2, "act": "relu"}, 0.5, r"^lr: value 2\.0 is outside"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 7, "act": "relu"}, 0.5, r"^layers: value 7 is outside"),
    ({"lr": 1e-3, "dropout": 0.1, "layers": 2, "act": "elu"}, 0.5, r"^act: value 'elu' is not one of"),
]


@pytest.mark.parametrize(("config", "value", "pattern"), BAD_TELLS)
def test_bad_tell_is_refused_and_changes_nothing(space, config, value, pattern):
    strategy = RandomSearch(space, seed=11)
    twin = RandomSearch(space, seed=11)
    first = strategy.ask(2)
    assert twin.ask(2) == first
    for s in (strategy, twin):
        s.tell(first[0], 0.3)
    with pytest.raises(ConfigError, match=pattern):
        strategy.tell(config, value)
    assert strategy.best() == twin.best() == (first[0], 0.3)
    assert strategy.ask(5, pending=first[1:]) == twin.ask(5, pending=first[1:])


def test_tell_accepts_numpy_scalars_and_normalises_the_config(space):
    strategy = RandomSearch(space, seed=0)
    strategy.tell({"lr": 1e-3, "dropout": 0.1, "layers": 2.0, "act": "relu"}, np.float32(0.25))
    config, value = strategy.best()
    assert value == 0.25 and type(value) is float
    assert config["layers"] == 2 and type(config["layers"]) is int


@pytest.mark.parametrize(("direction", "expected"), [("minimize", 0.1), ("maximize", 0.9), ("Maximize", 0.9)])
def test_best_respects_direction(space, direction, expected):
    strategy = RandomSearch(space, seed=0, direction=direction)
    assert strategy.best() is None
    configs = strategy.ask(3)
    for config, value in zip(configs, [0.5, 0.1, 0.9], strict=True):
        strategy.tell(config, value)
    best_config, best_value = strategy.best()
    assert best_value == expected
    assert best_config == configs[[0.5, 0.1, 0.9].index(expected)]


def test_best_returns_a_copy(space):
    strategy = RandomSearch(space, seed=0)
    config = strategy.ask(1)[0]
    strategy.tell(config, 1.0)
    strategy.best()[0]["layers"] = 999
    assert strategy.best()[0] == config


def test_unknown_direction_is_refused(space):
    with pytest.raises(ConfigError, match="must be 'minimize' or 'maximize', got 'up'"):
        RandomSearch(space, direction="up")


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "2", None])
def test_ask_refuses_bad_counts(space, n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        RandomSearch(space, seed=0).ask(n)


def test_pending_outside_the_space_is_refused(space):
    with pytest.raises(ConfigError, match=r"^act: missing"):
        RandomSearch(space, seed=0).ask(1, pending=[{"lr": 1e-3, "dropout": 0.1, "layers": 2}])
