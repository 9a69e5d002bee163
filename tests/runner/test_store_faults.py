"""The store failing under a running tuner: a full disk, a file-size limit, a lock held past the busy timeout.

Real tuner processes, real SQLite files. Each ends in one line (no traceback)
and loses nothing committed; a resume continues the job.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fasthpo.runner.recovery import process_running
from fasthpo.storage import Store

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "fasthpo.cli", *args]


def _limit_file_size(limit: int):
    def preexec() -> None:
        # Writes past the limit then fail with EFBIG instead of killing the process with SIGXFSZ.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_file_size_limit_ends_the_tuner_in_one_line_and_a_resume_continues(tmp_path, write_job):
    db = tmp_path / "s.db"
    job = write_job(static_hyperparameters={"mode": "ok", "sleep": 0.0, "steps": 40},
                    limits={"max_trials": 12, "max_parallel": 2})
    Store(db).close()
    limit = db.stat().st_size + 96 * 1024  # room for the WAL to take a few trials, not twelve
    proc = subprocess.run(
        _cli("run", str(job), "--db", str(db), "--quiet"), capture_output=True, text=True,
        env=ENV, cwd=tempfile.gettempdir(), timeout=180, preexec_fn=_limit_file_size(limit),
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "the store" in errors[0] and "resume" in errors[0], proc.stderr

    with Store(db) as store:
        before = {t.trial_id: t.objective for t in store.trials("toy") if t.status == "completed"}
    assert len(before) < 12, proc.stderr
    # No trial process outlived the tuner.
    for pid_file in (tmp_path / "s-runs" / "toy").glob("trial-*/trainer.pid"):
        pid = int(pid_file.read_text())
        end = time.monotonic() + 30
        while process_running(pid) and time.monotonic() < end:
            time.sleep(0.05)
        assert not process_running(pid), pid_file

    resumed = subprocess.run(_cli("resume", "toy", "--db", str(db), "--quiet"), capture_output=True,
                             text=True, env=ENV, cwd=tempfile.gettempdir(), timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    with Store(db) as store:
        trials = store.trials("toy")
    assert [t.status for t in trials] == ["completed"] * 12
    assert {t.trial_id: t.objective for t in trials if t.trial_id in before} == before


@contextlib.contextmanager
def _small_disk(path: Path, size: str):
    """A tmpfs of ``size`` mounted at ``path`` (root only; the test is skipped where mounting is refused)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True) if os.geteuid() == 0 else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip("needs root and a tmpfs mount to make a small disk")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_disk_ends_the_tuner_in_one_line_and_a_resume_continues(tmp_path, write_job):
    job = write_job(static_hyperparameters={"mode": "ok", "sleep": 0.0, "steps": 40},
                    limits={"max_trials": 30, "max_parallel": 2})
    with _small_disk(tmp_path / "disk", "400k") as disk:
        db = disk / "s.db"
        proc = subprocess.run(_cli("run", str(job), "--db", str(db), "--quiet"), capture_output=True,
                              text=True, env=ENV, cwd=tempfile.gettempdir(), timeout=180)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and "full" in errors[0] and "resume" in errors[0], proc.stderr
        with Store(db, create=False) as store:
            before = {t.trial_id: t.objective for t in store.trials("toy") if t.status == "completed"}
        assert 0 < len(before) < 30, proc.stderr

        # Room again: the same store, folders and results, and the job finishes.
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        resumed = subprocess.run(_cli("resume", "toy", "--db", str(db), "--quiet"), capture_output=True,
                                 text=True, env=ENV, cwd=tempfile.gettempdir(), timeout=180)
        assert resumed.returncode == 0, resumed.stderr
        with Store(db, create=False) as store:
            trials = store.trials("toy")
        assert [t.status for t in trials] == ["completed"] * 30
        assert {t.trial_id: t.objective for t in trials if t.trial_id in before} == before


LOCKER = """
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
deadline = time.monotonic() + 120
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.02)
db.execute("COMMIT")
"""


def test_a_lock_held_past_the_busy_timeout_is_waited_out(tmp_path, write_job):
    db = tmp_path / "s.db"
    Store(db).close()
    held, release = tmp_path / "held", tmp_path / "release"
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), str(held), str(release)])
    try:
        end = time.monotonic() + 60
        while not held.exists():
            assert time.monotonic() < end and locker.poll() is None
            time.sleep(0.02)
        # SQLite gives up after 0.2 s; the lock is held until the tuner said it waits for it.
        tuner = subprocess.Popen(
            _cli("run", str(write_job(limits={"max_trials": 2})), "--db", str(db)),
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            cwd=tempfile.gettempdir(), env={**ENV, "FASTHPO_TEST_BUSY_TIMEOUT": "0.2"},
        )
        assert tuner.stderr is not None
        lines = []
        for line in tuner.stderr:
            lines.append(line)
            if "locked by another process; waiting" in line:
                break
        release.touch()
        _, rest = tuner.communicate(timeout=180)
    finally:
        release.touch()
        locker.wait(timeout=60)
    stderr = "".join(lines) + rest
    assert tuner.returncode == 0, stderr
    assert "locked by another process; waiting" in stderr
    with Store(db) as store:
        assert [t.status for t in store.trials("toy")] == ["completed"] * 2
