"""A strategy whose first proposals are given configurations."""

from __future__ import annotations

from fasthpo.space import Continuous, SearchSpace
from fasthpo.strategies.hyperband import HyperbandProposals
from fasthpo.strategies.initial_design import WithInitialDesign
from fasthpo.strategies.random import RandomSearch

SPACE = SearchSpace([Continuous("x", 0.0, 1.0)])


def test_design_comes_first_and_is_never_repeated():
    strategy = WithInitialDesign(RandomSearch(SPACE, seed=0), [{"x": 0.1}, {"x": 0.2}, {"x": 0.3}])
    strategy.tell({"x": 0.2}, 1.0)  # already evaluated (a resumed job): skipped
    first = strategy.ask(2, pending=[{"x": 0.3}])  # 0.3 is running: skipped too
    assert first[0] == {"x": 0.1} and first[1] not in ({"x": 0.2}, {"x": 0.3})
    assert len(strategy.ask(3)) == 3


def test_rung_values_reach_the_wrapped_hyperband_strategy():
    inner = HyperbandProposals(SPACE, seed=0, max_resource=9)
    strategy = WithInitialDesign(inner, [{"x": 0.5}])
    strategy.tell_rung({"x": 0.5}, 3, 0.25)
    assert inner.results() == {3: 1}
    assert {"x": 0.5} not in strategy.ask(2)
