"""The Python API: throwaway stores, intermediate reports, stop requests and parallel trials."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

import fasthpo
from fasthpo.errors import ConfigError
from fasthpo.storage import Store

JOBS = Path(__file__).parent / "jobs"


def _space():
    return fasthpo.SearchSpace(
        [fasthpo.Continuous("x", 0.0, 1.0, scaling="linear"), fasthpo.Continuous("y", 0.0, 1.0)]
    )


def test_memory_store_runs_and_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTHPO_DB", raising=False)
    explicit = fasthpo.Tuner(_space(), max_trials=3, seed=0, db=":memory:")
    best = explicit.optimize(lambda p: p["x"])
    assert best is not None and len(explicit.trials()) == 3
    default = fasthpo.Tuner(_space(), max_trials=2, seed=0)
    default.optimize(lambda p: p["y"])
    assert len(default.trials()) == 2 and default.best() is not None
    assert os.listdir(tmp_path) == []  # nothing written where the user works
    folder = Path(default.db).parent
    assert folder.exists()
    del default
    import gc

    gc.collect()
    assert not folder.exists()


def test_fasthpo_db_in_the_environment_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTHPO_DB", str(tmp_path / "env.db"))
    tuner = fasthpo.Tuner(_space(), max_trials=1, name="env")
    tuner.optimize(lambda p: p["x"])
    with Store(tmp_path / "env.db") as store:
        assert [t.status for t in store.trials("env")] == ["completed"]


def test_describe_of_an_api_job_shows_the_budget(tmp_path):
    from fasthpo.cli import _describe_text, _summary

    tuner = fasthpo.Tuner(_space(), max_trials=3, name="api", db=tmp_path / "t.db", strategy="random")
    tuner.optimize(lambda p: p["x"])
    with Store(tmp_path / "t.db") as store:
        text = _describe_text(_summary(store, store.get_job("api")))
    assert "trials     3 of 3: 3 completed" in text


def test_reports_inside_the_objective_are_stored_like_a_subprocess_trials(tmp_path):
    def objective(p):
        for epoch in range(3):
            fasthpo.report(step=epoch, loss=p["x"] + 1 / (epoch + 1), accuracy=0.5)
        assert fasthpo.should_stop() is False
        return None  # the last reported loss is the objective

    tuner = fasthpo.Tuner(
        _space(), objective=fasthpo.Objective("loss", "minimize"), max_trials=2, name="r",
        db=tmp_path / "t.db", strategy="random", seed=1,
    )
    tuner.optimize(objective)
    with Store(tmp_path / "t.db") as store:
        for trial in store.trials("r"):
            losses = store.metrics("r", trial.trial_id, "loss")
            assert [(m.step, m.source) for m in losses] == [(0, "report"), (1, "report"), (2, "report")]
            assert trial.objective == pytest.approx(trial.hyperparameters["x"] + 1 / 3)
            assert [m.value for m in store.metrics("r", trial.trial_id, "accuracy")] == [0.5] * 3


def test_median_rule_stops_a_python_objective_through_should_stop(tmp_path):
    calls = []

    def objective(p):
        calls.append(p)
        if len(calls) <= 5:  # the first five run to the end: the rule needs five to compare
            for step in range(3):
                fasthpo.report(step=step, loss=1.0)
            return None
        sys.path.insert(0, str(JOBS))
        from objectives import waits_for_stop

        return waits_for_stop(p)

    tuner = fasthpo.Tuner(
        _space(), objective=fasthpo.Objective("loss", "minimize"), max_trials=7, name="es",
        db=tmp_path / "t.db", strategy="random", seed=2,
    )
    tuner.optimize(objective, early_stopping="auto")
    trials = tuner.trials()
    assert [t.status for t in trials] == ["completed"] * 5 + ["stopped"] * 2
    assert all(t.objective == 100.0 for t in trials[5:])
    assert "median" in trials[5].error


def test_parallel_threads_run_at_once_with_distinct_proposals(tmp_path):
    both_running = threading.Barrier(2, timeout=60)

    def objective(p):
        both_running.wait()  # passes only when two trials run at the same time
        return p["x"]

    tuner = fasthpo.Tuner(_space(), max_trials=4, name="t", db=tmp_path / "t.db", seed=0)
    tuner.optimize(objective, max_parallel=2)
    trials = tuner.trials()
    assert [t.status for t in trials] == ["completed"] * 4
    assert len({(t.hyperparameters["x"], t.hyperparameters["y"]) for t in trials}) == 4
    # Optuna's spelling runs them at once too.
    again = fasthpo.Tuner(_space(), max_trials=2, name="n", db=tmp_path / "t.db", seed=1)
    again.optimize(objective, n_jobs=2)
    assert [t.status for t in again.trials()] == ["completed"] * 2


def test_parallel_worker_processes_report_and_fail_like_threads(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(JOBS))
    import objectives

    tuner = fasthpo.Tuner(_space(), max_trials=6, name="p", db=tmp_path / "t.db", seed=0)
    best = tuner.optimize(objectives.quadratic, max_parallel=2, executor="process")
    trials = tuner.trials()
    assert [t.status for t in trials] == ["completed"] * 6
    assert best.objective == min(t.objective for t in trials)
    with Store(tmp_path / "t.db") as store:
        pids = {m.value for t in trials for m in store.metrics("p", t.trial_id, "pid")}
    assert len(pids) == 2 and os.getpid() not in pids

    failing = fasthpo.Tuner(_space(), max_trials=2, name="f", db=tmp_path / "t.db", seed=0)
    failing.optimize(objectives.fails, max_parallel=2, executor="process", catch=(ValueError,))
    assert [t.status for t in failing.trials()] == ["failed"] * 2
    assert "ValueError: bad x" in failing.trials()[0].error
    with pytest.raises(ValueError, match="bad x"):
        fasthpo.Tuner(_space(), max_trials=1, db=tmp_path / "t.db").optimize(
            objectives.fails, executor="process"
        )


def test_a_callable_that_cannot_reach_a_process_names_the_thread_option(tmp_path):
    tuner = fasthpo.Tuner(_space(), max_trials=1, name="lam", db=tmp_path / "t.db")
    with pytest.raises(ConfigError, match="executor='thread'"):
        tuner.optimize(lambda p: p["x"], max_parallel=2, executor="process")
    assert not (tmp_path / "t.db").exists() or tuner.trials() == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_parallel": 0}, "max_parallel"),
        ({"executor": "gpu"}, "executor"),
        ({"early_stopping": "median"}, "early_stopping"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"n_jobs": "4"}, "n_jobs"),
        ({"n_jobs": 2, "max_parallel": 2}, "n_jobs"),
    ],
)
def test_bad_optimize_arguments_are_refused_by_name(tmp_path, kwargs, field):
    tuner = fasthpo.Tuner(_space(), max_trials=1, db=tmp_path / "t.db")
    with pytest.raises(ConfigError, match=field):
        tuner.optimize(lambda p: 1.0, **kwargs)


def _until(backend, predicate, timeout=60.0):
    """Poll the backend until an event satisfies ``predicate``; return every event seen."""
    import time

    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(backend.poll(0.05))
        if any(predicate(e) for e in seen):
            return seen
    raise AssertionError(f"timed out; events: {seen}")


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_stop_sets_the_flag_should_stop_reads_and_the_trial_exits_stopped(executor, monkeypatch):
    from fasthpo.runner.backend import Exited, Reported, TrialLaunch

    monkeypatch.syspath_prepend(str(JOBS))
    import objectives

    if executor == "thread":
        from fasthpo.runner.function import FunctionBackend

        backend = FunctionBackend(objectives.waits_for_stop, metric="loss", workers=2)
    else:
        from fasthpo.runner.worker_pool import ProcessBackend

        backend = ProcessBackend(objectives.waits_for_stop, metric="loss", workers=2)
    try:
        assert backend.free_slots() == 2
        backend.launch(TrialLaunch(7, {"x": 0.5}))
        assert backend.running == (7,) and backend.free_slots() == 1
        events = _until(backend, lambda e: isinstance(e, Reported))
        (report,) = [e.report for e in events if isinstance(e, Reported)]
        assert (report.name, report.value, report.step, report.source) == ("loss", 100.0, 0, "report")
        backend.stop(7, "early stopping: worse than the median")
        events = _until(backend, lambda e: isinstance(e, Exited))
        assert events[-1] == Exited(7, "stopped", error="early stopping: worse than the median")
        assert backend.running == () and backend.free_slots() == 2
    finally:
        getattr(backend, "close", lambda: None)()


def test_outside_an_objective_should_stop_is_false_and_report_does_nothing(monkeypatch):
    monkeypatch.delenv("FASTHPO_METRICS_FILE", raising=False)
    assert fasthpo.should_stop() is False
    fasthpo.report(step=1, loss=0.5)  # no trial: nothing to write, nothing raised


def test_a_worker_that_dies_fails_its_trial_and_is_replaced(monkeypatch):
    from fasthpo.runner.backend import Exited, TrialLaunch
    from fasthpo.runner.worker_pool import ProcessBackend

    monkeypatch.syspath_prepend(str(JOBS))
    import objectives

    backend = ProcessBackend(objectives.dies_if_big, metric="loss", workers=1)
    try:
        backend.launch(TrialLaunch(1, {"x": 0.9}))
        events = _until(backend, lambda e: isinstance(e, Exited))
        assert events[-1].status == "failed" and "exit code 3" in events[-1].error
        assert backend.free_slots() == 1
        backend.launch(TrialLaunch(2, {"x": 0.25}))
        events = _until(backend, lambda e: isinstance(e, Exited))
        assert events[-1] == Exited(2, "completed") and events[0].report.value == 0.25
    finally:
        backend.close()
