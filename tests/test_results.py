"""Results as data: the DataFrame, the CSV of ``fasthpo trials`` and the per-step curves."""

from __future__ import annotations

import csv
import io

import pytest

import fasthpo
from fasthpo.cli import main

pd = pytest.importorskip("pandas")


def _tuned(tmp_path):
    space = fasthpo.SearchSpace(
        [fasthpo.Continuous("lr", 1e-3, 1.0, scaling="log"), fasthpo.Categorical("act", ["relu", "tanh"])]
    )

    def objective(p):
        if p["act"] == "tanh" and p["lr"] > 0.5:
            raise ValueError("diverged\nat step 3")
        for step in range(2):
            fasthpo.report(step=step, loss=p["lr"] + step, accuracy=0.5 + step / 10)
        return p["lr"]

    tuner = fasthpo.Tuner(space, max_trials=6, name="data", db=tmp_path / "t.db", seed=4,
                          strategy="random")
    tuner.optimize(objective, catch=(ValueError,))
    return tuner


def test_the_dataframe_has_one_row_per_trial_with_the_analytics_columns(tmp_path):
    tuner = _tuned(tmp_path)
    frame = tuner.trials_dataframe()
    assert list(frame.columns) == [
        "trial_id", "status", "objective", "lr", "act", "metric.loss", "metric.accuracy",
        "started_at", "ended_at", "duration_s", "attempts", "exit_code", "error",
    ]
    trials = tuner.trials()
    assert frame["trial_id"].tolist() == [t.trial_id for t in trials]
    assert frame["lr"].tolist() == [t.hyperparameters["lr"] for t in trials]
    completed = frame[frame["status"] == "completed"]
    assert (completed["metric.accuracy"] == 0.6).all()  # the last value reported
    assert (completed["objective"] == completed["lr"]).all()
    assert (frame["duration_s"] >= 0).all() and (frame["attempts"] == 1).all()
    assert str(frame["started_at"].dt.tz) == "UTC"
    loaded = fasthpo.load("data", db=tmp_path / "t.db")
    assert loaded.equals(frame)


def test_trials_csv_has_the_same_columns_and_curves_are_long(tmp_path, capsys):
    tuner = _tuned(tmp_path)
    assert main(["trials", "data", "--db", str(tmp_path / "t.db"), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    frame = tuner.trials_dataframe()
    assert list(rows[0]) == list(frame.columns)
    assert [float(r["lr"]) for r in rows] == frame["lr"].tolist()  # full precision
    failed = [r for r in rows if r["status"] == "failed"]
    for row in failed:
        assert row["error"] == "ValueError: diverged ... at step 3" and row["objective"] == ""

    assert main(["trials", "data", "--db", str(tmp_path / "t.db"), "--curves"]) == 0
    curves = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(curves[0]) == ["trial_id", "step", "metric", "value"]
    done = frame[frame["status"] == "completed"].iloc[0]
    first = [(r["step"], r["metric"], r["value"]) for r in curves if r["trial_id"] == str(done["trial_id"])]
    lr = float(done["lr"])
    assert first == [
        ("0", "loss", repr(lr)), ("0", "accuracy", "0.5"),
        ("1", "loss", repr(lr + 1)), ("1", "accuracy", "0.6"), ("", "objective", repr(lr)),
    ]
    assert len(failed) >= 1 or len(rows) == 6
    assert fasthpo.load("data", db=tmp_path / "t.db", curves=True).shape == (len(curves), 4)


def test_load_without_pandas_names_the_extra(tmp_path, monkeypatch):
    import sys

    tuner = _tuned(tmp_path)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'fasthpo\[pandas\]'"):
        tuner.trials_dataframe()


def test_load_of_a_missing_store_or_job_is_one_clear_error(tmp_path):
    from fasthpo.errors import ConfigError, StoreError

    with pytest.raises(StoreError, match="no fasthpo store"):
        fasthpo.load("x", db=tmp_path / "none.db")
    _tuned(tmp_path)
    with pytest.raises(ConfigError, match="no job named 'x'"):
        fasthpo.load("x", db=tmp_path / "t.db")
    assert not (tmp_path / "none.db").exists()
