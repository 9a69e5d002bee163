"""``tell_failed``: the ask/tell face's way to say an evaluation failed."""

from __future__ import annotations

import pytest

import fasthpo
from fasthpo.errors import ConfigError
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.grid import GridSearch
from fasthpo.strategies.random import RandomSearch

SMALL = fasthpo.SearchSpace([fasthpo.Categorical("a", ["p", "q", "r"]), fasthpo.Integer("b", 0, 1)])


@pytest.mark.parametrize("make", [RandomSearch, GridSearch, BayesianOptimizer])
def test_a_failed_configuration_counts_and_is_never_proposed_again(make):
    opt = make(SMALL, seed=0)
    (failed,) = opt.ask(1)
    opt.tell_failed(failed)
    seen = []
    for _ in range(5):  # the six points of the space, less the failed one
        (config,) = opt.ask(1)
        seen.append(config)
        opt.tell(config, float(config["b"]))
    assert failed not in seen and len({(c["a"], c["b"]) for c in seen}) == 5
    assert opt.ask(1) == []  # the failed point counts: the space is used up
    assert opt.best()[1] == 0.0


def test_nan_is_refused_with_a_pointer_to_tell_failed():
    opt = RandomSearch(SMALL, seed=0)
    (config,) = opt.ask(1)
    with pytest.raises(ConfigError, match=r"tell_failed\(config\)"):
        opt.tell(config, float("nan"))


def test_a_bad_failed_configuration_changes_nothing():
    opt = GridSearch(SMALL, seed=0)
    with pytest.raises(ConfigError, match="a"):
        opt.tell_failed({"a": "zzz", "b": 0})
    assert len(opt.ask(6)) == 6


def test_the_tuner_tells_failed_trials_so_they_are_not_proposed_again(tmp_path):
    tuner = fasthpo.Tuner(SMALL, strategy="grid", max_trials=10, db=tmp_path / "t.db", seed=0)

    def objective(p):
        if p["a"] == "p":
            raise ValueError("p never works")
        return p["b"]

    tuner.optimize(objective, catch=(ValueError,))
    trials = tuner.trials()
    assert len(trials) == 6  # every point once; the failing ones were not retried as new trials
    assert sum(t.status == "failed" for t in trials) == 2
