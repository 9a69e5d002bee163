"""Hyperband's proposals: the highest rung with enough results proposes."""

from __future__ import annotations

import pytest

from fasthpo.space import Continuous, SearchSpace
from fasthpo.strategies.hyperband import HyperbandProposals

SPACE = SearchSpace([Continuous("x", 0.0, 1.0), Continuous("y", 0.0, 1.0)])


def test_the_highest_rung_with_enough_results_proposes():
    strategy = HyperbandProposals(SPACE, seed=0, max_resource=9)
    assert strategy.min_points == 6
    first = strategy.ask(3)  # nothing reported: the lowest rung's Sobol design
    assert len(first) == 3 and strategy.last_log_ei is None
    xs = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 0.5]
    for x in xs:
        strategy.tell_rung({"x": x, "y": 0.5}, 1, (x - 0.3) ** 2)
    for x in xs[:6]:
        strategy.tell_rung({"x": x, "y": 0.5}, 3, (x - 0.7) ** 2)
    strategy.tell_rung({"x": 0.2, "y": 0.5}, 9, 0.0)
    assert strategy.results() == {1: 7, 3: 6, 9: 1}
    assert strategy._proposer() is strategy._rungs[3]  # rung 9 has too few results
    assert len(strategy.ask(1)) == 1
    assert strategy.last_log_ei is not None  # a model proposal
    # tell() is a full-resource result: it goes to the top rung.
    strategy.tell({"x": 0.7, "y": 0.5}, 0.1)
    assert strategy.results()[9] == 2


def test_random_proposals_ignore_the_models():
    strategy = HyperbandProposals(SPACE, seed=0, max_resource=9, proposals="random")
    assert len(strategy.ask(4)) == 4 and strategy.last_log_ei is None
    with pytest.raises(ValueError, match="proposals must be 'gp' or 'random'"):
        HyperbandProposals(SPACE, proposals="tpe")  # type: ignore[arg-type]
