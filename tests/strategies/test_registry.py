"""The strategy registry: names to classes, planned names refused, typos suggested."""

from __future__ import annotations

import pytest

from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
from fasthpo.strategies import Strategy, available_strategies, make_strategy
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.grid import GridSearch
from fasthpo.strategies.random import RandomSearch
from fasthpo.strategies.registry import check_strategy_name


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(
        [Continuous("x", 0.0, 1.0), Integer("n", 1, 3), Categorical("c", ["a", "b"])]
    )


def test_available_strategies():
    assert available_strategies() == ("bayesian", "grid", "hyperband", "random")


@pytest.mark.parametrize(
    ("name", "cls"),
    [("random", RandomSearch), ("grid", GridSearch), ("bayesian", BayesianOptimizer)],
)
def test_make_strategy_builds_the_class(space, name, cls):
    strategy = make_strategy(name, space, seed=3, direction="maximize")
    assert type(strategy) is cls
    assert isinstance(strategy, Strategy)
    assert strategy.space is space
    assert strategy.direction == "maximize"


def test_make_strategy_passes_the_seed(space):
    assert make_strategy("random", space, seed=4, direction="minimize").ask(5) == RandomSearch(
        space, seed=4
    ).ask(5)
    grid = make_strategy("grid", space, seed=9, direction="minimize")
    assert grid.ask(30) == GridSearch(space, seed=9).ask(30)
    assert make_strategy("grid", space, seed=None, direction="minimize").ask(30) == list(GridSearch(space))


def test_hyperband_is_available(space):
    from fasthpo.strategies.hyperband import HyperbandProposals

    assert isinstance(make_strategy("hyperband", space, seed=0, direction="minimize"), HyperbandProposals)


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("randm", "random"), ("Random", "random"), ("gird", "grid"), ("bayesain", "bayesian")],
)
def test_typos_get_a_suggestion(space, typo, suggestion):
    pattern = (
        rf"^strategy: unknown strategy '{typo}' \(did you mean '{suggestion}'\?\); "
        "available: bayesian, grid, hyperband, random"
    )
    with pytest.raises(ConfigError, match=pattern):
        make_strategy(typo, space, seed=0, direction="minimize")


def test_unknown_name_without_a_close_match(space):
    pattern = r"^strategy: unknown strategy 'xyzzy'; available: bayesian, grid, hyperband, random"
    with pytest.raises(ConfigError, match=pattern):
        make_strategy("xyzzy", space, seed=0, direction="minimize")


def test_check_strategy_name_uses_the_given_field():
    assert check_strategy_name("grid") == "grid"
    with pytest.raises(ConfigError, match=r"^tuner\.strategy: unknown strategy") as info:
        check_strategy_name("randm", field="tuner.strategy")
    assert info.value.field == "tuner.strategy"
    with pytest.raises(ConfigError, match="unknown strategy None"):
        check_strategy_name(None)
