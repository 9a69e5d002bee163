"""The report's data, read from real stores: scales and why, curves, instances, importance, thinning."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from fasthpo.errors import ConfigError, StoreError
from fasthpo.metric_report import MetricReport
from fasthpo.storage import Store
from fasthpo.visualization.importance import importance
from fasthpo.visualization.job_data import job_data
from fasthpo.visualization.page import script_json
from fasthpo.visualization.store_reader import read_only
from fasthpo.visualization.thinning import points_per_curve, thin
from tests.visualization.stores import SPACE, make_job, spec


def _data(db, name):
    with read_only(db) as connection:
        return job_data(connection, name)


def test_each_parameter_gets_the_declared_or_detected_scale(tmp_path):
    db = tmp_path / "s.db"
    space = SPACE | {"wide": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "auto"},
                     "narrow": {"type": "continuous", "min": 1.0, "max": 5.0, "scaling": "auto"}}
    make_job(db, "j", 8, space=space, verdict="linear")
    scales = {p["name"]: (p["scale"], p["reason"]) for p in _data(db, "j")["parameters"]}
    assert scales["lr"] == ("log", "declared log")
    # The tuner's verdict overrides the range: C spans six decades but was judged linear.
    assert scales["C"][0] == "linear" and "verdict is linear (since trial 1)" in scales["C"][1]
    # No verdict yet: the scale it is searched in first, from its range.
    assert scales["wide"][0] == "log" and "no verdict yet" in scales["wide"][1]
    assert scales["narrow"][0] == "linear"
    assert scales["kernel"][0] == "category"


def test_curves_come_from_the_current_attempt_and_instances_from_their_last_report(tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_job("j", spec("j"), seed=0)
        trial = store.create_trial("j", {"lr": 0.1})
        store.start_trial("j", trial.trial_id, directory=None)
        old = [MetricReport(name="loss", value=9.0, step=s, raw=None, source="report",
                            reported_at=float(s), instance=0) for s in range(3)]
        store.add_metrics("j", trial.trial_id, old)
        store.retry_trial("j", trial.trial_id, status="lost")
        store.start_trial("j", trial.trial_id, directory=None)
        new = [MetricReport(name="loss", value=float(10 - s), step=s, raw=None, source="report",
                            reported_at=10.0 + s, instance=i) for i in range(2) for s in range(4)]
        store.add_metrics("j", trial.trial_id, new)
        store.finish_trial("j", trial.trial_id, status="completed", objective=7.0)
    data = _data(db, "j")
    assert data["curves"] == [{"trial": 1, "steps": [0, 1, 2, 3], "values": [10.0, 9.0, 8.0, 7.0]}]
    assert data["instance_finals"] == [
        {"trial": 1, "instance": 0, "value": 7.0}, {"trial": 1, "instance": 1, "value": 7.0},
    ]
    assert data["summary"]["retries"] == 1


def test_importance_finds_the_parameter_the_objective_depends_on(tmp_path):
    db = tmp_path / "s.db"
    make_job(db, "j", 200)  # the loss depends on lr (strongly) and kernel (a little) only
    data = _data(db, "j")
    shares = importance(data["parameters"], data["trials"])
    assert max(shares, key=shares.__getitem__) == "lr"
    assert shares["lr"] > 0.5
    assert shares["C"] < 0.1 and shares["layers"] < 0.1


def test_importance_of_pure_noise_is_near_zero():
    rng = random.Random(0)
    params = [{"name": "x", "scale": "linear"}, {"name": "k", "scale": "category"}]
    trials = [{"objective": rng.random(), "hyperparameters": {"x": rng.random(), "k": rng.choice("abc")}}
              for _ in range(300)]
    assert all(share < 0.05 for share in importance(params, trials).values())


def test_thinning_keeps_first_last_and_best_within_the_budget():
    steps = list(range(1000))
    values = [abs(s - 617) / 100 for s in steps]
    kept_steps, kept_values = thin(steps, values, 20)
    assert len(kept_steps) <= 22
    assert kept_steps[0] == 0 and kept_steps[-1] == 999 and 617 in kept_steps
    assert kept_values == [values[s] for s in kept_steps]
    assert points_per_curve(10_000) * 10_000 <= 40_000 + 4 * 10_000


def test_the_reader_cannot_write_and_a_missing_job_is_one_error(tmp_path):
    db = tmp_path / "s.db"
    make_job(db, "j", 2)
    with read_only(db) as connection:
        with pytest.raises(sqlite3.OperationalError):
            connection.execute("UPDATE jobs SET status = 'failed'")
        with pytest.raises(ConfigError, match=r"no job named 'nope'.*jobs: j"):
            job_data(connection, "nope")
    with pytest.raises(StoreError, match="no fasthpo store"):
        with read_only(tmp_path / "missing.db"):
            pass
    assert not (tmp_path / "missing.db").exists()


def test_the_embedded_view_cannot_close_its_script_element(tmp_path):
    value = {"k": ["</script><script>alert(1)</script>", "a&b", "<!--"]}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value  # the text itself is intact


def test_importing_the_visualization_keeps_fasthpo_report_the_training_function():
    import fasthpo
    import fasthpo.visualization

    assert callable(fasthpo.report)
