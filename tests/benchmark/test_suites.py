"""The named suites: every name in them resolves, and the full one holds the peers and real tasks."""

from __future__ import annotations

import pytest

from fasthpo.benchmark.runner import parse_plan
from fasthpo.benchmark.suites import SUITES, get_suite
from fasthpo.benchmark.tasks import TASKS
from fasthpo.errors import ConfigError


@pytest.mark.parametrize("name", list(SUITES))
def test_every_problem_and_optimizer_of_a_suite_resolves(name):
    suite = get_suite(name)
    plan = parse_plan(problems=suite.problems, optimizers=suite.optimizers,
                      budget=suite.budget, seeds=suite.seeds)
    assert plan.problems == suite.problems and plan.optimizers == suite.optimizers


def test_full_suite_has_botorch_every_real_task_scored_continuously_and_ten_seeds():
    full = get_suite("full")
    assert "botorch" in full.optimizers and "botorch" not in get_suite("quick").optimizers
    continuous = ["hgb-logloss-breast-cancer", "extratrees-diabetes", "svr-diabetes",
                  "sgd-logloss-digits", "rf-logloss-wine"]
    assert set(continuous) <= set(TASKS) and set(continuous) <= set(full.problems)
    assert full.seeds >= 10 and full.budget == 50


def test_unknown_suite_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown suite 'huge'"):
        get_suite("huge")
