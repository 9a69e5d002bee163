"""The verbs around a job: validate, logs and delete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

import pytest

from fasthpo.cli import main
from fasthpo.storage import Store

from .conftest import wait_for

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_validate_prints_the_parsed_space_and_runs_nothing(write_job, tmp_path, capsys):
    job = write_job(strategy="bayesian", hyperparameters={
        "lr": {"type": "continuous", "min": 1e-5, "max": 1.0},
        "x": {"type": "continuous", "min": 0.0, "max": 1.0, "scaling": "linear"},
        "act": {"type": "categorical", "values": ["relu", "tanh"]},
    })
    assert main(["validate", str(job), "--db", str(tmp_path / "none.db")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{job}: valid"
    assert "auto: searched as log at first (checked against the results)" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["x"] == ["continuous", "0", "…", "1", "linear"]
    assert rows["act"] == ["categorical", "relu,", "tanh"]
    assert not (tmp_path / "none.db").exists()


def test_validate_reports_a_bad_file_like_run(write_job, capsys):
    job = write_job(limits={"max_trial": 3})
    assert main(["validate", str(job)]) == 2
    assert "did you mean 'max_trials'" in capsys.readouterr().err


def test_logs_print_a_trials_output(write_job, tmp_path, capsys):
    db = str(tmp_path / "s.db")
    job = write_job(static_hyperparameters={"mode": "fail", "sleep": 0.0}, limits={"max_trials": 1})
    assert main(["run", str(job), "--db", db, "--quiet"]) == 4
    capsys.readouterr()
    assert main(["logs", "toy", "1", "--db", db]) == 0
    assert "step 2: loss=" in capsys.readouterr().out
    assert main(["logs", "toy", "1", "--stderr", "--db", db]) == 0
    assert capsys.readouterr().out == "something went wrong in training\n"
    assert main(["logs", "toy", "2", "--db", db]) == 2
    assert "has no trial 2" in capsys.readouterr().err
    assert main(["logs", "toy", "1", "--rank", "1", "--db", db]) == 2
    assert "--rank: must be between 0 and 0" in capsys.readouterr().err


def test_delete_asks_refuses_a_running_job_and_removes_records_and_folders(write_job, tmp_path, capsys):
    db = tmp_path / "s.db"
    job = write_job(static_hyperparameters={"mode": "ok", "sleep": 60.0}, limits={"max_trials": 1})
    tuner = subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo", "run", str(job), "--db", str(db), "--quiet"],
        env=ENV, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    runs = tmp_path / "s-runs" / "toy"
    try:
        def running():
            # The store marks the trial running just before its folder is made:
            # wait for both, so the SIGTERM below cannot come in between.
            if not db.exists() or not runs.is_dir():
                return False
            with Store(db) as store:
                return bool(store.get_job("toy") and store.trials("toy", status=("running",)))

        wait_for(running)
        assert main(["delete", "toy", "--yes", "--db", str(db)]) == 1
        assert "is being run by process" in capsys.readouterr().err
    finally:
        tuner.send_signal(signal.SIGTERM)
        tuner.wait(timeout=120)
    assert runs.is_dir()
    with Store(db) as store:
        assert len(store.trials("toy")) == 1

    # Without a terminal to ask on, nothing happens without --yes.
    proc = subprocess.run([sys.executable, "-P", "-m", "fasthpo", "delete", "toy", "--db", str(db)],
                          env=ENV, cwd=tempfile.gettempdir(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "confirm with --yes" in proc.stderr
    assert main(["delete", "toy", "--yes", "--db", str(db)]) == 0
    assert "deleted job 'toy' and its 1 trial(s)" in capsys.readouterr().out
    with Store(db) as store:
        assert store.get_job("toy") is None and store.trials("toy") == []
    assert not runs.exists()
    # The name is free again: a new run starts from scratch.
    assert main(["run", str(write_job(limits={"max_trials": 1})), "--db", str(db), "--quiet"]) == 0


@pytest.mark.parametrize("verb", [["logs", "nope", "1"], ["delete", "nope", "--yes"]])
def test_unknown_jobs_are_one_line(tmp_path, write_job, capsys, verb):
    db = str(tmp_path / "s.db")
    assert main(["run", str(write_job(limits={"max_trials": 1})), "--db", db, "--quiet"]) == 0
    assert main([*verb, "--db", db]) == 2
    assert "no job named 'nope'" in capsys.readouterr().err
