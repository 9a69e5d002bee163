"""Stop, resume, crash recovery and leases, with the tuner as a real separate process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fasthpo.config import load_job
from fasthpo.runner.recovery import process_running
from fasthpo.runner.tuner import run_job
from fasthpo.storage import Store
from tests.conftest import wait_for

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _static(**values):
    return {"mode": "ok", "sleep": 0.0, **values}


def _slow_until_resumed(tmp_path: Path, **values) -> dict:
    """Trainings that sleep as given, until ``_resume_quickly`` lets the later ones skip it.

    The first trainings must still be running when a test kills or stops the
    tuner; the ones a resume starts only have to finish, and need not wait.
    """
    return _static(quick_if=str(tmp_path / "quick"), **values)


def _resume_quickly(tmp_path: Path) -> None:
    """From now on, trainings that start skip their sleep (those already running keep it)."""
    (tmp_path / "quick").touch()


def _cli(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args], cwd=cwd, env=ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )


def _run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = _cli(*args, cwd=cwd)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _trials(db: Path, status: tuple[str, ...] | None = None) -> list:
    if not db.exists():
        return []
    with Store(db) as store:
        return store.trials("toy", status=status) if store.get_job("toy") else []


def _trainer_pids(db: Path) -> list[int]:
    runs = db.parent / f"{db.stem}-runs" / "toy"
    return [int(p.read_text()) for p in runs.glob("*/trainer.pid") if p.read_text()]


def _objectives(db: Path) -> dict[int, float]:
    return {t.trial_id: t.objective for t in _trials(db, ("completed",))}


@pytest.mark.parametrize("moment", ["first-trials-running", "some-completed", "while-stopping"])
def test_kill_9_then_resume_keeps_every_result_and_finishes_the_budget(write_job, tmp_path, moment):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_slow_until_resumed(tmp_path, sleep=1.0, steps=4),
        limits={"max_trials": 6, "max_parallel": 2},
    )
    tuner = _cli("run", str(job), "--db", str(db), cwd=tmp_path)
    if moment == "first-trials-running":
        wait_for(lambda: len(_trials(db, ("running",))) == 2)
    elif moment == "some-completed":
        wait_for(lambda: len(_trials(db, ("completed",))) >= 2)
    else:  # killed while it was stopping its trials after SIGTERM
        wait_for(lambda: len(_trainer_pids(db)) == 2)
        tuner.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    wait_for(lambda: len(_trainer_pids(db)) >= 1)
    before = _objectives(db)
    tuner.kill()
    tuner.communicate(timeout=30)
    with Store(db) as store:
        assert store.get_job("toy").status in ("running", "stopped")

    _resume_quickly(tmp_path)
    resumed = _run_cli("resume", "toy", "--db", str(db), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr

    trials = _trials(db)
    assert [t.trial_id for t in trials] == [1, 2, 3, 4, 5, 6]  # ids never reused or skipped
    assert all(t.status == "completed" for t in trials)
    after = _objectives(db)
    assert all(after[k] == v for k, v in before.items())  # nothing that finished was redone
    keys = {(t.hyperparameters["x"], t.hyperparameters["y"]) for t in trials}
    assert len(keys) == 6  # the strategy knew every earlier proposal
    # No process of the killed tuner's trials survives.
    assert not [pid for pid in _trainer_pids(db) if process_running(pid)]
    with Store(db) as store:
        assert store.get_job("toy").status == "completed"
        assert store.lease("toy") is None
        lost = [a for a in store.attempts("toy") if a.status in ("lost", "stopped")]
        assert all(store.get_trial("toy", a.trial_id).attempt > a.attempt for a in lost)


def test_fasthpo_stop_from_another_terminal_then_resume(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_slow_until_resumed(tmp_path, sleep=30.0, steps=30),
        limits={"max_trials": 3, "max_parallel": 2},
    )
    tuner = _cli("run", str(job), "--db", str(db), cwd=tmp_path)
    wait_for(lambda: len(_trials(db, ("running",))) == 2)

    stop = _run_cli("stop", "toy", "--db", str(db), cwd=tmp_path)
    assert stop.returncode == 0, stop.stderr
    assert "stop requested" in stop.stdout and "is stopped" in stop.stdout
    _, err = tuner.communicate(timeout=60)
    assert tuner.returncode == 3, err  # the exit code says the job was stopped
    trials = _trials(db)
    assert [(t.status, t.attempt) for t in trials] == [("pending", 2)] * 2
    assert not [pid for pid in _trainer_pids(db) if process_running(pid)]

    again = _run_cli("stop", "toy", "--db", str(db), cwd=tmp_path)  # idempotent
    assert again.returncode == 0 and "is stopped" in again.stdout

    # A quicker training on resume is fine: only binding fields must match.
    described = json.loads(_run_cli("describe", "toy", "--json", "--db", str(db), cwd=tmp_path).stdout)
    assert described["status"] == "stopped" and described["counters"]["pending"] == 2
    _resume_quickly(tmp_path)
    resumed = _run_cli("resume", "toy", "--db", str(db), "--max-trials", "3", cwd=tmp_path, timeout=200)
    assert resumed.returncode == 0, resumed.stderr
    assert [t.status for t in _trials(db)] == ["completed"] * 3


def test_a_second_tuner_is_refused_while_the_first_lives_and_takes_over_when_it_dies(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_slow_until_resumed(tmp_path, sleep=5.0, steps=5),
        limits={"max_trials": 2, "max_parallel": 1},
    )
    first = _cli("run", str(job), "--db", str(db), cwd=tmp_path)
    wait_for(lambda: len(_trials(db, ("running",))) == 1)
    second = _run_cli("run", str(job), "--db", str(db), cwd=tmp_path)
    assert second.returncode == 1
    assert f"being run by process {first.pid}" in second.stderr
    assert len(_trials(db)) == 1  # the refused tuner wrote nothing

    described = _run_cli("describe", "toy", "--db", str(db), cwd=tmp_path).stdout
    assert f"tuner      process {first.pid}" in described

    first.kill()
    first.communicate(timeout=30)
    described = _run_cli("describe", "toy", "--db", str(db), cwd=tmp_path).stdout
    assert "none alive" in described
    _resume_quickly(tmp_path)
    takeover = _run_cli("run", str(job), "--db", str(db), cwd=tmp_path)
    assert takeover.returncode == 0, takeover.stderr
    assert [(t.trial_id, t.status) for t in _trials(db)] == [(1, "completed"), (2, "completed")]


def test_stop_of_a_job_whose_tuner_died_stops_its_orphans(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_static(sleep=60.0, steps=60, mode="spawn"),
        limits={"max_trials": 1},
    )
    tuner = _cli("run", str(job), "--db", str(db), cwd=tmp_path)
    runs = tmp_path / "s-runs" / "toy" / "trial-0001"
    wait_for(lambda: (runs / "grandchild.pid").exists() and (runs / "grandchild.pid").read_text())
    grandchild = int((runs / "grandchild.pid").read_text())
    tuner.kill()
    tuner.communicate(timeout=30)
    assert process_running(grandchild) and _trainer_pids(db) and process_running(_trainer_pids(db)[0])

    # The grandchild ignores SIGTERM: only the SIGKILL after the grace period ends it.
    stop = _run_cli("stop", "toy", "--db", str(db), "--grace", "1", cwd=tmp_path)
    assert stop.returncode == 0, stop.stderr
    assert "no tuner was running it" in stop.stdout
    trainer = _trainer_pids(db)[0]
    wait_for(lambda: not process_running(grandchild) and not process_running(trainer), timeout=30)
    (trial,) = _trials(db)
    assert trial.status == "pending"
    with Store(db) as store:
        assert store.get_job("toy").status == "stopped"
        assert [a.status for a in store.attempts("toy", 1)] == ["lost"]


def test_signal_killed_attempts_are_retried_without_eating_the_budget(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_static(mode="crash-once"),
        limits={"max_trials": 3},
        retry={"max_attempts": 2},
    )
    run_job(load_job(job), db=db)
    trials = _trials(db)
    assert [(t.trial_id, t.status, t.attempt) for t in trials] == [(i, "completed", 2) for i in (1, 2, 3)]
    with Store(db) as store:
        for t in trials:
            first, second = store.attempts("toy", t.trial_id)
            assert (first.status, first.exit_code) == ("failed", -signal.SIGKILL)
            assert first.directory.endswith(f"trial-{t.trial_id:04d}")
            assert second.directory.endswith(f"trial-{t.trial_id:04d}-attempt-2")
            assert second.status == "completed"
            assert store.metrics("toy", t.trial_id, "loss", attempt=1) == []


def test_plain_failures_are_retried_only_for_listed_exit_codes(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(
        static_hyperparameters=_static(mode="fail"), limits={"max_trials": 1},
        retry={"max_attempts": 3},
    )), db=db)
    assert [(t.status, t.attempt) for t in _trials(db)] == [("failed", 1)]

    db2 = tmp_path / "s2.db"
    run_job(load_job(write_job(
        static_hyperparameters=_static(mode="fail", exit_code=75), limits={"max_trials": 1},
        retry={"max_attempts": 3, "exit_codes": [75]},
    )), db=db2)
    (trial,) = _trials(db2)
    assert (trial.status, trial.attempt, trial.exit_code) == ("failed", 3, 75)
    with Store(db2) as store:
        assert [a.status for a in store.attempts("toy", 1)] == ["failed"] * 3


def test_busy_readers_and_concurrent_jobs_in_one_store(write_job, tmp_path):
    db = tmp_path / "s.db"
    jobs = [
        write_job(name=name, static_hyperparameters=_static(sleep=0.2), limits={"max_trials": 8,
                                                                               "max_parallel": 2})
        for name in ("left", "right")
    ]
    Store(db).close()  # the reading verbs refuse a missing store; they read this one from the start
    reader = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time, subprocess\n"
            "from fasthpo.cli import main\n"
            "end = time.monotonic() + 60\n"
            "n = 0\n"
            "while time.monotonic() < end:\n"
            "    for name in ('left', 'right'):\n"
            "        code = main(['describe', name, '--json', '--db', sys.argv[1]])\n"
            "        assert code in (0, 2), code\n"
            "    n += 1\n"
        ), str(db)],
        cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    tuners = [_cli("run", str(j), "--db", str(db), cwd=tmp_path) for j in jobs]
    for tuner in tuners:
        _, err = tuner.communicate(timeout=180)
        assert tuner.returncode == 0, err
    reader.kill()
    _, err = reader.communicate()
    assert "Traceback" not in err, err
    with Store(db) as store:
        for name in ("left", "right"):
            assert [t.status for t in store.trials(name)] == ["completed"] * 8
            assert store.get_job(name).status == "completed"
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_resume_refuses_a_function_job_and_an_unknown_job(tmp_path):
    import fasthpo

    space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])
    fasthpo.Tuner(space, max_trials=2, name="fn", db=tmp_path / "s.db").optimize(lambda p: p["x"])
    proc = _run_cli("resume", "fn", "--db", str(tmp_path / "s.db"), cwd=tmp_path)
    assert proc.returncode == 2 and "optimize(fn)" in proc.stderr
    proc = _run_cli("resume", "nope", "--db", str(tmp_path / "s.db"), cwd=tmp_path)
    assert proc.returncode == 2 and "no job named 'nope'" in proc.stderr


def test_early_stopping_stops_trials_worse_than_the_median_and_keeps_their_last_value(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_static(mode="report", sleep=1.0, steps=5),
        limits={"max_trials": 14},
        early_stopping="auto",
    )
    run_job(load_job(job), db=db)
    trials = _trials(db)
    stopped = [t for t in trials if t.status == "stopped"]
    assert stopped, "with 14 random trials some must fall behind the median"
    assert all(t.status in ("completed", "stopped") for t in trials)
    with Store(db) as store:
        curves = {
            t.trial_id: [(r.step, r.value) for r in store.metrics("toy", t.trial_id, "loss")]
            for t in trials
        }
        best = store.best_trial("toy", "minimize")
    assert best.status == "completed"
    for trial in stopped:
        assert trial.error.startswith("early stopping: best value")
        curve = curves[trial.trial_id]
        assert len(curve) < 5 and trial.objective == curve[-1][1]  # its last value is kept
        step = curve[-1][0]
        # The rule's claim holds: worse than the median of the earlier trials' running averages.
        earlier = [
            statistics.mean(v for s, v in curves[t.trial_id] if s <= step)
            for t in trials
            if t.trial_id < trial.trial_id and curves[t.trial_id] and curves[t.trial_id][-1][0] >= step
        ]
        assert len(earlier) >= 5
        assert min(v for _, v in curve) > statistics.median(earlier)
    assert all(len(curves[t.trial_id]) == 5 for t in trials if t.status == "completed")


def test_ctrl_c_stops_the_job_with_exit_code_130_and_a_resume_finishes_it(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(static_hyperparameters=_slow_until_resumed(tmp_path, sleep=3.0, steps=3),
                    limits={"max_trials": 2})
    tuner = _cli("run", str(job), "--db", str(db), cwd=tmp_path)
    wait_for(lambda: len(_trials(db, ("running",))) == 1)
    tuner.send_signal(signal.SIGINT)
    _, err = tuner.communicate(timeout=60)
    assert tuner.returncode == 128 + signal.SIGINT, err
    assert "fasthpo: interrupted; running trials were stopped" in err and "error:" not in err
    with Store(db) as store:
        assert store.get_job("toy").status == "stopped" and store.lease("toy") is None
    assert [t.status for t in _trials(db)] == ["pending"]
    _resume_quickly(tmp_path)
    resumed = _run_cli("resume", "toy", "--db", str(db), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert [t.status for t in _trials(db)] == ["completed", "completed"]
