"""One tuner per job, whatever freezes or clocks do: fencing, heartbeats, and honest endings."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import fasthpo
from fasthpo.runner.lease import LEASE_SECONDS_ENV
from fasthpo.storage import JobBusyError, Store
from fasthpo.strategies.random import RandomSearch
from tests.conftest import wait_for

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

#: A training that records its launch, waits for a file, and reports its attempt number.
WAITING_TRAINING = """\
import os, sys, time
launches, release = sys.argv[1], sys.argv[2]
with open(launches, "a") as fh:
    fh.write(f"{os.environ['FASTHPO_TRIAL_DIR']} {os.getpid()}\\n")
deadline = time.monotonic() + 120
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.05)
print(f"loss={os.environ['FASTHPO_ATTEMPT']}", flush=True)
"""


def _waiting_job(write_job, tmp_path: Path, **overrides) -> Path:
    script = tmp_path / "train.py"
    script.write_text(WAITING_TRAINING)
    return write_job(
        command=["python", str(script), str(tmp_path / "launches"), str(tmp_path / "release")],
        static_hyperparameters={},
        **overrides,
    )


def _launches(tmp_path: Path) -> list[str]:
    path = tmp_path / "launches"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args], cwd=cwd, env=env or ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = _cli(*args, cwd=cwd, env=env)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _freeze(pid: int, db: Path) -> None:
    """SIGSTOP the tuner at a moment it holds no write transaction (a frozen writer would
    keep the store's write lock, a different fault: every other writer waits for it)."""
    for _ in range(100):
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: _state(pid) == "T", timeout=10)
        probe = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.01)
        finally:
            probe.close()
    raise AssertionError("the tuner never paused outside a write transaction")


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def _attempts(db: Path) -> dict[int, list[str]]:
    with Store(db) as store:
        out: dict[int, list[str]] = {}
        for attempt in store.attempts("toy"):
            out.setdefault(attempt.trial_id, []).append(attempt.status)
        return out


def test_a_frozen_tuner_that_wakes_after_a_takeover_stops_and_writes_nothing(write_job, tmp_path):
    db = tmp_path / "s.db"
    env = {**ENV, LEASE_SECONDS_ENV: "2"}  # a freeze of a few seconds outlasts the lease
    job = _waiting_job(write_job, tmp_path, limits={"max_trials": 2, "max_parallel": 2})
    first = _cli("run", str(job), "--db", str(db), cwd=tmp_path, env=env)
    wait_for(lambda: len(_launches(tmp_path)) == 2)
    _freeze(first.pid, db)
    try:
        # Its heartbeat is frozen with it: the second tuner sees the silence and takes over,
        # stopping the first one's trials and running them again as attempt 2.
        second = _cli("resume", "toy", "--db", str(db), cwd=tmp_path, env=env)
        wait_for(lambda: len(_launches(tmp_path)) == 4)
        wait_for(lambda: _attempts(db) == {1: ["lost", "running"], 2: ["lost", "running"]})
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 1, err
    errors = [line for line in err.splitlines() if line.startswith("fasthpo: error:")]
    assert len(errors) == 1 and "another tuner took job 'toy' over" in errors[0], err
    # The woken tuner wrote nothing: the successor's attempts are untouched.
    assert _attempts(db) == {1: ["lost", "running"], 2: ["lost", "running"]}
    with Store(db) as store:
        assert store.get_job("toy").status == "running"
        assert store.lease("toy").pid == second.pid
        assert all(store.metrics("toy", t, attempt=1) == [] for t in (1, 2))

    (tmp_path / "release").touch()
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert _attempts(db) == {1: ["lost", "completed"], 2: ["lost", "completed"]}
    with Store(db) as store:
        assert [(t.status, t.objective) for t in store.trials("toy")] == [("completed", 2.0)] * 2
        assert store.get_job("toy").status == "completed"
    assert sorted(set(_launches(tmp_path))) == sorted(_launches(tmp_path))  # each attempt ran once


def test_a_live_tuner_keeps_its_job_when_its_stored_expiry_lies_in_the_past(write_job, tmp_path):
    # What a wall clock jumping forward would do to an expiry-based lease.
    db = tmp_path / "s.db"
    job = _waiting_job(write_job, tmp_path, limits={"max_trials": 1})
    first = _cli("run", str(job), "--db", str(db), cwd=tmp_path)
    try:
        wait_for(lambda: len(_launches(tmp_path)) == 1)
        with sqlite3.connect(db) as raw:
            raw.execute("UPDATE jobs SET lease_expires = 0")
        second = _run_cli("resume", "toy", "--db", str(db), cwd=tmp_path)
        assert second.returncode == 1 and f"being run by process {first.pid}" in second.stderr
        described = _run_cli("describe", "toy", "--db", str(db), cwd=tmp_path).stdout
        assert f"tuner      process {first.pid}" in described
    finally:
        (tmp_path / "release").touch()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert _attempts(db) == {1: ["completed"]}


class _SlowToPropose(RandomSearch):
    """Proposals that keep the tuner's main thread busy (computing) for longer than the lease."""

    def __init__(self, space, *, db: Path, busy_seconds: float) -> None:
        super().__init__(space, seed=1)
        self.db = db
        self.busy_seconds = busy_seconds
        self.competitor: list[BaseException | None] = []

    def ask(self, n=1, *, pending=()):
        if not self.competitor:
            outcome: list[BaseException | None] = []
            thread = threading.Thread(target=self._compete, args=(outcome,))
            thread.start()
            end = time.monotonic() + self.busy_seconds
            while time.monotonic() < end:
                sum(range(1000))  # busy in Python, holding the GIL between switches
            thread.join()
            self.competitor.extend(outcome)
        return super().ask(n, pending=pending)

    def _compete(self, outcome: list[BaseException | None]) -> None:
        try:
            with Store(self.db) as store:
                store.acquire_lease("busy", ttl=self.busy_seconds / 2)
        except JobBusyError as exc:
            outcome.append(exc)
        else:
            outcome.append(None)


def test_a_busy_main_thread_keeps_the_lease(tmp_path, monkeypatch):
    monkeypatch.setenv(LEASE_SECONDS_ENV, "1")
    space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])
    strategy = _SlowToPropose(space, db=tmp_path / "s.db", busy_seconds=2.0)  # two leases
    tuner = fasthpo.Tuner(space, strategy=strategy, max_trials=2, name="busy", db=tmp_path / "s.db")
    best = tuner.optimize(lambda p: p["x"])
    # Another tuner trying to take the job meanwhile saw the heartbeat and was refused.
    assert len(strategy.competitor) == 1 and isinstance(strategy.competitor[0], JobBusyError)
    assert best is not None
    with Store(tmp_path / "s.db") as store:
        assert store.get_job("busy").status == "completed"
        assert [t.status for t in store.trials("busy")] == ["completed"] * 2


@pytest.mark.parametrize("case", ["metric-never-printed", "script-missing"])
def test_a_job_without_any_objective_fails_and_says_why(write_job, tmp_path, case):
    db = tmp_path / "s.db"
    if case == "metric-never-printed":
        job = write_job(static_hyperparameters={"mode": "silent"}, limits={"max_trials": 2})
    else:
        job = write_job(command=["python", str(tmp_path / "no-such-script.py")],
                        limits={"max_trials": 2})
    done = _run_cli("run", str(job), "--db", str(db), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("fasthpo: error:")]
    assert len(errors) == 1, done.stderr
    if case == "metric-never-printed":
        assert "metric 'loss'" in errors[0] and r"'loss=([^\\s]+)'" in errors[0], errors[0]
    else:
        assert "every trial failed; trial 1:" in errors[0] and "no-such-script.py" in errors[0], errors
    with Store(db) as store:
        assert store.get_job("toy").status == "failed"
        assert len(store.trials("toy")) == 2


def test_stop_takes_over_a_frozen_tuner_and_the_tuner_stays_fenced_off(write_job, tmp_path):
    db = tmp_path / "s.db"
    env = {**ENV, LEASE_SECONDS_ENV: "1"}
    job = _waiting_job(write_job, tmp_path, limits={"max_trials": 1})
    tuner = _cli("run", str(job), "--db", str(db), cwd=tmp_path, env=env)
    wait_for(lambda: len(_launches(tmp_path)) == 1)
    _freeze(tuner.pid, db)
    try:
        stop = _run_cli("stop", "toy", "--db", str(db), cwd=tmp_path, env=env)
        assert stop.returncode == 0, stop.stderr
        assert "job 'toy' is stopped" in stop.stdout
    finally:
        os.kill(tuner.pid, signal.SIGCONT)
    _, err = tuner.communicate(timeout=60)
    assert tuner.returncode == 1 and "another tuner took job 'toy' over" in err, err
    assert _attempts(db) == {1: ["lost"]}
    with Store(db) as store:
        assert store.get_job("toy").status == "stopped" and store.lease("toy") is None
        assert [t.status for t in store.trials("toy")] == ["pending"]
