"""Warm start from parent jobs: both types, from job files and the Tuner, and the refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fasthpo
from fasthpo.config import load_job
from fasthpo.errors import ConfigError
from fasthpo.runner.tuner import run_job
from fasthpo.space import Continuous, SearchSpace
from fasthpo.storage import Store
from fasthpo.strategies.bayesian import BayesianOptimizer


def _space(high: float = 1.0, **extra) -> SearchSpace:
    return SearchSpace([Continuous("x", 0.0, high), Continuous("y", 0.0, 1.0), *extra.values()])


def _loss(p):
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2


def _parent(db, name="parent", objective="minimize", space=None, static=None, trials=12):
    tuner = fasthpo.Tuner(
        space or _space(), objective=objective, strategy="random", max_trials=trials, seed=5,
        name=name, db=db, static_hyperparameters=static,
    )
    tuner.optimize(_loss)
    return tuner


def test_bayesian_optimizer_takes_prior_results():
    space = _space()
    prior = [({"x": x, "y": 0.5}, (x - 0.3) ** 2) for x in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    warm = BayesianOptimizer(space, seed=0, prior=prior)
    first = warm.ask(1)[0]
    assert len(warm._observations) == 6 and warm.last_log_ei is not None  # a model proposal
    assert first != BayesianOptimizer(space, seed=0).ask(1)[0]  # not the initial design


def test_identical_warm_start_tells_the_parents_results_first(tmp_path):
    db = tmp_path / "t.db"
    _parent(db)
    _parent(db, name="parent2", trials=4)
    child = fasthpo.Tuner(
        _space(), strategy="bayesian", max_trials=3, seed=1, name="child", db=db,
        warm_start={"parents": ["parent", "parent2"], "type": "identical_data_and_algorithm"},
    )
    child.optimize(_loss)
    cold = fasthpo.Tuner(_space(), strategy="bayesian", max_trials=3, seed=1, name="cold", db=db)
    cold.optimize(_loss)
    with Store(db) as store:
        record = store.get_job("child").warm_start
    assert record["parents"] == [
        {"name": "parent", "taken": 12, "dropped": 0}, {"name": "parent2", "taken": 4, "dropped": 0},
    ]
    # With 16 results the model proposes from the first trial on: better than the cold design.
    assert min(t.objective for t in child.trials()) < min(t.objective for t in cold.trials())
    out = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "describe", "child", "--db", str(db)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "warm start identical_data_and_algorithm: 12 from parent, 4 from parent2 result(s)" in out


def test_results_outside_the_new_ranges_are_dropped_and_added_hyperparameters_take_static_values(
    tmp_path,
):
    db = tmp_path / "t.db"
    _parent(db, static={"z": 0.25})
    narrow = SearchSpace([Continuous("x", 0.0, 0.5), Continuous("y", 0.0, 1.0), Continuous("z", 0.0, 1.0)])
    child = fasthpo.Tuner(
        narrow, max_trials=1, seed=1, name="child", db=db, warm_start={"parents": ["parent"]},
    )
    child.optimize(lambda p: _loss(p) + p["z"])
    with Store(db) as store:
        parent_xs = [t.hyperparameters["x"] for t in store.trials("parent")]
        (entry,) = store.get_job("child").warm_start["parents"]
    assert entry["dropped"] == sum(x > 0.5 for x in parent_xs) > 0
    assert entry["taken"] == sum(x <= 0.5 for x in parent_xs)


def test_transfer_learning_evaluates_the_parents_best_configurations_first(tmp_path):
    db = tmp_path / "t.db"
    _parent(db)
    child = fasthpo.Tuner(
        _space(), max_trials=6, seed=1, name="child", db=db,
        warm_start={"parents": ["parent"], "type": "transfer_learning"},
    )
    child.optimize(lambda p: _loss(p) + 1.0)  # a related task, shifted
    with Store(db) as store:
        best = sorted(store.trials("parent"), key=lambda t: t.objective)[:2]
    tried = [t.hyperparameters for t in child.trials()]
    assert tried[:2] == [t.hyperparameters for t in best]
    assert all(t not in tried[2:] for t in tried[:2])  # then the job's own proposals


def test_warm_start_from_another_store_in_a_job_file(write_job, tmp_path):
    parents = tmp_path / "parents.db"
    run_job(load_job(write_job(name="old", limits={"max_trials": 4})), db=parents)
    job = write_job(name="new", warm_start={"parents": ["old"], "store": str(parents)},
                    strategy="bayesian", limits={"max_trials": 1})
    spec = load_job(job)
    assert spec.warm_start.store == str(parents)
    run_job(spec, db=tmp_path / "new.db")
    with Store(tmp_path / "new.db") as store:
        assert store.get_job("new").warm_start["parents"] == [{"name": "old", "taken": 4, "dropped": 0}]


@pytest.mark.parametrize(
    ("warm_start", "message"),
    [
        ({"parents": ["nope"]}, r"^warm_start.parents\[0\]: no job named 'nope' in the store"),
        ({"parents": ["up"]}, r"^warm_start.parents\[0\]: job 'up' has another objective \(maximize"),
        ({"parents": ["parent", "nope"]}, r"^warm_start.parents\[1\]: no job named 'nope'"),
        ({"parents": list("abcdef")}, r"^warm_start.parents: at most 5 parent jobs, got 6"),
        ({"parents": ["parent"], "type": "similar"}, r"^warm_start.type: must be one of"),
    ],
)
def test_bad_warm_starts_are_refused_before_the_job_exists(tmp_path, warm_start, message):
    db = tmp_path / "t.db"
    _parent(db)
    _parent(db, name="up", objective="maximize")
    with pytest.raises(ConfigError, match=message):
        fasthpo.Tuner(_space(), max_trials=2, name="child", db=db, warm_start=warm_start).optimize(_loss)
    with Store(db) as store:
        assert store.get_job("child") is None


def test_a_hyperparameter_the_parent_never_had_is_refused(tmp_path):
    db = tmp_path / "t.db"
    _parent(db)
    wider = SearchSpace([Continuous("x", 0.0, 1.0), Continuous("y", 0.0, 1.0), Continuous("z", 0.0, 1.0)])
    with pytest.raises(ConfigError, match=r"job 'parent' has no value for hyperparameter 'z'"):
        fasthpo.Tuner(wider, max_trials=1, name="c", db=db, warm_start={"parents": ["parent"]}).optimize(
            lambda p: 0.0
        )


def test_warm_start_keys_in_a_job_file_are_checked(write_job):
    with pytest.raises(ConfigError, match=r"^warm_start.parents: must be a list of job names"):
        load_job(write_job(warm_start={"parents": "old"}))
    with pytest.raises(ConfigError, match=r"^warm_start.parent: unknown key; did you mean 'parents'"):
        load_job(write_job(warm_start={"parent": ["old"]}))
