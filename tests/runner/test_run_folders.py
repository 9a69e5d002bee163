"""Trial folders are made new, never over files the store does not know, never through a link."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from fasthpo.storage import Store
from tests.conftest import wait_for

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "fasthpo.cli", *args]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cli(*args), capture_output=True, text=True, env=ENV,
                          cwd=tempfile.gettempdir(), timeout=180)


def _one_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_store_that_lost_its_wal_does_not_start_over_the_old_trial_folders(tmp_path, write_job):
    """kill -9 the tuner mid-run and delete the -wal file: the store forgets the job."""
    db = tmp_path / "s.db"
    job = write_job(static_hyperparameters={"mode": "ok", "sleep": 30.0}, limits={"max_trials": 2})
    runs = tmp_path / "s-runs" / "toy"
    tuner = subprocess.Popen(_cli("run", str(job), "--db", str(db)), env=ENV,
                             cwd=tempfile.gettempdir(), stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (runs / "trial-0001" / "trainer.pid").exists())
        os.kill(tuner.pid, signal.SIGKILL)
        tuner.wait(timeout=30)
    finally:
        if tuner.poll() is None:
            tuner.kill()
    trainer = int((runs / "trial-0001" / "trainer.pid").read_text())
    os.kill(trainer, signal.SIGKILL)  # the orphan a resume would have stopped
    os.unlink(f"{db}-wal")
    with Store(db) as store:
        assert store.get_job("toy") is None  # what the WAL held is gone
    before = _snapshot(runs)

    proc = _run("run", str(job), "--db", str(db))
    _one_line(proc, "has no job 'toy'", str(runs))
    assert _snapshot(runs) == before
    with Store(db) as store:
        assert store.get_job("toy") is None  # refused before the job was recorded


def test_a_trial_folder_the_store_does_not_know_is_never_written_over(tmp_path, write_job):
    db = tmp_path / "s.db"
    job = write_job(limits={"max_trials": 1})
    assert _run("run", str(job), "--db", str(db)).returncode == 0
    stray = tmp_path / "s-runs" / "toy" / "trial-0002"
    stray.mkdir()
    (stray / "stdout.log").write_text("results of another run\n")

    proc = _run("resume", "toy", "--max-trials", "2", "--db", str(db))
    _one_line(proc, str(stray), "already exists")
    assert (stray / "stdout.log").read_text() == "results of another run\n"
    assert sorted(p.name for p in stray.iterdir()) == ["stdout.log"]
    # Once the folder is moved away, a resume continues the job.
    stray.rename(tmp_path / "moved")
    assert _run("resume", "toy", "--max-trials", "2", "--db", str(db)).returncode == 0
    with Store(db) as store:
        assert [t.status for t in store.trials("toy")] == ["completed", "completed"]


def test_a_planted_symlink_never_leads_a_write_out_of_the_runs_folder(tmp_path, write_job):
    db = tmp_path / "s.db"
    job = write_job(limits={"max_trials": 1})
    assert _run("run", str(job), "--db", str(db)).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / "s-runs" / "toy" / "trial-0002"
    planted.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "stdout.log").symlink_to(victim)

    proc = _run("resume", "toy", "--max-trials", "2", "--db", str(db))
    _one_line(proc, str(planted))
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["stdout.log"]


def test_a_runs_folder_that_is_a_link_is_refused(tmp_path, write_job):
    db = tmp_path / "s.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "s-runs").mkdir()
    (tmp_path / "s-runs" / "toy").symlink_to(elsewhere, target_is_directory=True)
    proc = _run("run", str(write_job(limits={"max_trials": 1})), "--db", str(db))
    _one_line(proc, "symbolic link", str(tmp_path / "s-runs" / "toy"))
    assert list(elsewhere.iterdir()) == []
