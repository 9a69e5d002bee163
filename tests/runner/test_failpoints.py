"""A tuner killed at each persistence step of a trial, then resumed: nothing run twice, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fasthpo.runner.failpoints import FAILPOINT_ENV, FAILPOINT_EXIT, POINTS
from fasthpo.runner.recovery import process_running
from fasthpo.storage import Store

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
ENV.pop(FAILPOINT_ENV, None)

#: Records each launch (the attempt's folder and the pid), runs briefly, reports a loss.
TRAINING = """\
import os, sys, time
with open(sys.argv[1], "a") as fh:
    fh.write(f"{os.environ['FASTHPO_TRIAL_DIR']} {os.getpid()}\\n")
time.sleep(0.3)
print(f"loss={os.environ['FASTHPO_TRIAL_ID']}", flush=True)
"""
MAX_TRIALS = 3


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_any_step_then_resume_runs_each_attempt_once(write_job, tmp_path, point):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    launches = tmp_path / "launches"
    job = write_job(
        command=["python", str(script), str(launches)],
        static_hyperparameters={},
        limits={"max_trials": MAX_TRIALS, "max_parallel": 2},
    )
    db = tmp_path / "s.db"
    # The second time a trial meets the point (the first for the job's end): some work is done.
    armed = f"{point}:{1 if point == 'job-ending' else 2}"
    crashed = _cli("run", str(job), "--db", str(db), cwd=tmp_path,
                   env={**ENV, FAILPOINT_ENV: armed})
    assert crashed.returncode == FAILPOINT_EXIT, crashed.stderr
    assert f"failpoint {point} reached" in crashed.stderr

    resumed = _cli("resume", "toy", "--db", str(db), cwd=tmp_path, env=ENV)
    assert resumed.returncode == 0, resumed.stderr

    records = [line.split() for line in launches.read_text().splitlines()]
    folders = [folder for folder, _ in records]
    assert len(folders) == len(set(folders)), folders  # no attempt launched twice
    assert not [pid for _, pid in records if process_running(int(pid))]  # no orphans
    with Store(db) as store:
        trials = store.trials("toy")
        attempts = store.attempts("toy")
        assert store.get_job("toy").status == "completed"
    ids = [t.trial_id for t in trials]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) <= MAX_TRIALS
    assert all(t.status == "completed" and t.objective == t.trial_id for t in trials)
    # Exactly one terminal record per attempt, and every launch is one of them.
    assert all(a.status != "running" and a.ended_at is not None for a in attempts)
    assert len({(a.trial_id, a.attempt) for a in attempts}) == len(attempts)
    recorded = {a.directory for a in attempts}
    assert set(folders) <= recorded
    for trial in trials:
        mine = [a for a in attempts if a.trial_id == trial.trial_id]
        assert [a.attempt for a in mine] == list(range(1, trial.attempt + 1))
        assert mine[-1].status == "completed"
        assert all(a.status == "lost" for a in mine[:-1])


def test_a_misspelt_failpoint_is_refused_in_one_line(write_job, tmp_path):
    job = write_job(limits={"max_trials": 1})
    done = _cli("run", str(job), "--db", str(tmp_path / "s.db"), cwd=tmp_path,
                env={**ENV, FAILPOINT_ENV: "trial-lunched"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"fasthpo: error: {FAILPOINT_ENV}: must be NAME[:COUNT] with NAME one of "
        f"{', '.join(POINTS)}, got 'trial-lunched'"
    ]
