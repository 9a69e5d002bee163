"""Tuner.optimize: tuning a Python function in-process, with results in the store."""

from __future__ import annotations

import itertools
import math

import pytest

import fasthpo
from fasthpo.errors import ConfigError
from fasthpo.storage import Store


def _space():
    return fasthpo.SearchSpace(
        [
            fasthpo.Continuous("lr", 1e-4, 1.0, scaling="log"),
            fasthpo.Integer("layers", 1, 4),
            fasthpo.Categorical("act", ["relu", "tanh"]),
        ]
    )


def _loss(p):
    return (math.log10(p["lr"]) + 2) ** 2 + (p["layers"] - 3) ** 2 + (p["act"] == "tanh")


def test_optimize_records_every_trial_and_returns_the_best(tmp_path):
    db = tmp_path / "t.db"
    tuner = fasthpo.Tuner(_space(), max_trials=12, seed=3, name="fn", db=db)
    best = tuner.optimize(_loss)

    trials = tuner.trials()
    assert len(trials) == 12 and all(t.status == "completed" for t in trials)
    for t in trials:
        assert t.objective == pytest.approx(_loss(t.hyperparameters))
    assert best.objective == min(t.objective for t in trials)
    with Store(db) as store:
        assert store.get_job("fn").status == "completed"
        assert store.best_trial("fn", "minimize").trial_id == best.trial_id


def test_maximize_picks_the_largest(tmp_path):
    tuner = fasthpo.Tuner(_space(), objective="maximize", max_trials=6, seed=0, db=tmp_path / "t.db")
    best = tuner.optimize(_loss)
    assert best.objective == max(t.objective for t in tuner.trials())


def test_exception_fails_the_trial_and_is_raised(tmp_path):
    calls = []

    def broken(p):
        calls.append(p)
        raise RuntimeError("diverged")

    tuner = fasthpo.Tuner(_space(), max_trials=5, name="broken", db=tmp_path / "t.db")
    with pytest.raises(RuntimeError, match="diverged"):
        tuner.optimize(broken)
    (trial,) = tuner.trials()
    assert len(calls) == 1
    assert trial.status == "failed" and "RuntimeError: diverged" in trial.error


def test_caught_exceptions_fail_trials_and_tuning_goes_on(tmp_path):
    def flaky(p):
        if p["act"] == "tanh":
            raise ValueError("unstable")
        return _loss(p)

    tuner = fasthpo.Tuner(_space(), max_trials=10, seed=5, db=tmp_path / "t.db")
    best = tuner.optimize(flaky, catch=(ValueError,))
    statuses = {t.hyperparameters["act"]: set() for t in tuner.trials()}
    for t in tuner.trials():
        statuses[t.hyperparameters["act"]].add(t.status)
    assert len(tuner.trials()) == 10
    assert statuses.get("tanh", {"failed"}) == {"failed"}
    assert best.hyperparameters["act"] == "relu"


def test_non_finite_and_non_numeric_results(tmp_path):
    results = iter([float("nan"), 0.5, "oops"])
    tuner = fasthpo.Tuner(_space(), max_trials=3, db=tmp_path / "t.db")
    with pytest.raises(TypeError, match="not a number"):
        tuner.optimize(lambda p: next(results))
    nan_trial, good, bad = tuner.trials()
    assert nan_trial.status == "completed" and nan_trial.objective is None
    assert good.objective == 0.5
    assert bad.status == "failed"
    assert tuner.best().trial_id == good.trial_id


def test_keyboard_interrupt_stops_the_job_and_a_rerun_finishes_the_trial(tmp_path):
    def interrupted(p):
        raise KeyboardInterrupt

    tuner = fasthpo.Tuner(_space(), max_trials=3, name="ki", db=tmp_path / "t.db")
    with pytest.raises(KeyboardInterrupt):
        tuner.optimize(interrupted)
    (trial,) = tuner.trials()
    # The interrupted trial never had a fair run: it waits to run again.
    assert (trial.status, trial.attempt) == ("pending", 2)
    with Store(tmp_path / "t.db") as store:
        assert store.get_job("ki").status == "stopped"
        assert [a.status for a in store.attempts("ki", 1)] == ["stopped"]
        assert store.lease("ki") is None

    seen = []
    tuner.optimize(lambda p: seen.append(p) or p["lr"])
    first, *rest = tuner.trials()
    assert seen[0] == {k: first.hyperparameters[k] for k in seen[0]} == trial.hyperparameters
    assert first.status == "completed" and len(rest) == 2


def test_same_name_continues_and_grid_exhausts(tmp_path):
    space = fasthpo.SearchSpace([fasthpo.Categorical("a", [1, 2, 3]), fasthpo.Integer("b", 0, 1)])
    db = tmp_path / "t.db"
    first = fasthpo.Tuner(space, strategy="grid", max_trials=4, name="g", db=db)
    first.optimize(lambda p: p["a"] * 10 + p["b"])
    again = fasthpo.Tuner(space, strategy="grid", max_trials=50, name="g", db=db)
    again.optimize(lambda p: p["a"] * 10 + p["b"])
    trials = again.trials()
    # The grid has 6 points: the second run adds only the two not yet evaluated.
    assert len(trials) == 6
    assert len({(t.hyperparameters["a"], t.hyperparameters["b"]) for t in trials}) == 6


def test_static_hyperparameters_reach_the_function(tmp_path):
    seen = []
    tuner = fasthpo.Tuner(
        _space(), max_trials=2, db=tmp_path / "t.db", static_hyperparameters={"epochs": 7}
    )
    tuner.optimize(lambda p: seen.append(p) or 1.0)
    assert all(p["epochs"] == 7 and set(p) == {"lr", "layers", "act", "epochs"} for p in seen)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"objective": "up"}, "objective"),
        ({"max_trials": 0}, "max_trials"),
        ({"max_trials": True}, "max_trials"),
        ({"name": "../escape"}, "name"),
        ({"name": "/tmp/escape"}, "name"),
        ({"seed": -1}, "seed"),
        ({"strategy": "hyperband"}, "hyperband"),
        ({"strategy": "hyperband", "hyperband": {"resource": "epochs", "min_resource": 3,
                                                 "max_resource": 3}}, "hyperband.min_resource"),
        ({"completion": {"min_improvement": -1}}, "completion.min_improvement"),
        ({"max_runtime": 0}, "max_runtime"),
        ({"warm_start": {"parents": ["a", "b", "c", "d", "e", "f"]}}, "warm_start.parents"),
        ({"strategy": object()}, "strategy"),
    ],
)
def test_bad_arguments_are_refused_by_name(tmp_path, kwargs, field):
    with pytest.raises(ConfigError, match=field):
        fasthpo.Tuner(_space(), db=tmp_path / "t.db", **kwargs)
    assert not (tmp_path / "t.db").exists()


def test_scale_verdicts_are_stored_with_the_trial_they_date_from(tmp_path):
    from fasthpo.cli import _describe_text, _summary

    space = fasthpo.SearchSpace([
        fasthpo.Continuous("lr", 1e-5, 1.0),  # auto
        fasthpo.Continuous("x", 0.0, 1.0, scaling="linear"),
    ])
    tuner = fasthpo.Tuner(space, max_trials=16, name="scales", db=tmp_path / "t.db", seed=0)
    tuner.optimize(lambda p: (math.log10(p["lr"]) + 3.0) ** 2 + (p["x"] - 0.5) ** 2)
    with Store(tmp_path / "t.db") as store:
        history = store.scalings("scales")
        summary = _summary(store, store.get_job("scales"))
    assert history and {h.parameter for h in history} == {"lr"}
    assert history[-1].verdict == "log" and "loglik_linear" in history[-1].evidence
    since = history[-1].trial_id
    assert 1 <= since <= 16
    # One record per change of verdict, never two equal states in a row.
    states = [(h.verdict, "margin" in h.evidence) for h in history]
    assert all(a != b for a, b in itertools.pairwise(states))
    assert summary["detected_scaling"]["lr"]["verdict"] == "log"
    assert summary["detected_scaling"]["lr"]["since_trial"] == since
    assert f"lr: log (since trial {since})" in _describe_text(summary)


def test_a_judged_undetermined_verdict_is_stored_and_described_as_judged(tmp_path):
    """A parameter the objective ignores is judged undetermined once enough results exist;
    ``describe`` must say so, not that no judgement was made yet."""
    from fasthpo.cli import _describe_text, _summary

    space = fasthpo.SearchSpace([
        fasthpo.Continuous("lr", 1e-5, 1.0),  # auto, and irrelevant to the objective
        fasthpo.Continuous("x", 0.0, 1.0, scaling="linear"),
    ])
    tuner = fasthpo.Tuner(space, max_trials=11, name="flat", db=tmp_path / "t.db", seed=0)
    tuner.optimize(lambda p: (p["x"] - 0.5) ** 2)
    with Store(tmp_path / "t.db") as store:
        history = store.scalings("flat")
        summary = _summary(store, store.get_job("flat"))
    assert "margin" not in history[0].evidence  # the first verdict: too few results
    last = history[-1]
    assert "margin" in last.evidence and last.trial_id >= 10
    text = _describe_text(summary)
    assert f"lr: {last.verdict} (since trial {last.trial_id})" in text
    assert "not judged" not in text
