"""The fasthpo command line, run as a real subprocess against a real store."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
# Subprocesses start outside the checkout: `python -m` puts the working folder on
# sys.path, and the source tree there must not shadow the installed package.
NEUTRAL_CWD = tempfile.gettempdir()


def fasthpo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args],
        capture_output=True, text=True, cwd=cwd or NEUTRAL_CWD, env=ENV, timeout=600,
    )


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "fasthpo"
    if not script.exists():
        pytest.skip("fasthpo is not installed as a package in this interpreter")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("fasthpo ")


def test_help_loads_no_numerical_stack():
    code = (
        "import sys\n"
        "from fasthpo.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'yaml') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=NEUTRAL_CWD
    )
    assert proc.returncode == 0
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "describe" in proc.stdout and "trials" in proc.stdout


def test_run_describe_trials_and_list(write_job, tmp_path):
    db = str(tmp_path / "cli.db")
    run = fasthpo("run", str(write_job(limits={"max_trials": 4, "max_parallel": 2})), "--db", db)
    assert run.returncode == 0, run.stderr
    assert "best       trial" in run.stdout
    assert "trial 4 completed" in run.stderr

    described = fasthpo("describe", "toy", "--json", "--db", db)
    summary = json.loads(described.stdout)
    assert summary["name"] == "toy" and summary["status"] == "completed"
    assert summary["counters"] == {
        "completed": 4, "failed": 0, "running": 0, "stopped": 0, "pending": 0
    }

    trials = json.loads(fasthpo("trials", "toy", "--format", "json", "--db", db).stdout)
    assert [t["trial_id"] for t in trials] == [1, 2, 3, 4]
    assert {"trial_id", "status", "hyperparameters", "objective"} <= set(trials[0])
    best = min(trials, key=lambda t: t["objective"])
    assert summary["best"]["trial_id"] == best["trial_id"]
    assert summary["best"]["objective"] == best["objective"]
    assert summary["best"]["hyperparameters"] == best["hyperparameters"]

    rows = list(csv.DictReader(io.StringIO(fasthpo("trials", "toy", "--format", "csv", "--db", db).stdout)))
    assert [float(r["x"]) for r in rows] == [t["hyperparameters"]["x"] for t in trials]  # exact
    table = fasthpo("trials", "toy", "--db", db).stdout.splitlines()
    assert table[0].split()[:5] == ["trial_id", "status", "objective", "x", "y"]
    assert len(table) == 5

    text = fasthpo("describe", "toy", "--db", db).stdout
    assert f"best       trial {best['trial_id']}: loss = " in text
    # The cost of parallelism: none for random proposals (the Bayesian sentence: test_parallel_cost).
    assert "parallel   no cost: random proposals do not depend on earlier results" in text
    assert summary["parallel_cost"].startswith("no cost")
    listing = fasthpo("list", "--db", db).stdout.splitlines()
    assert listing[1].split()[:3] == ["toy", "completed", "4"]


def test_default_db_comes_from_the_environment(write_job, tmp_path):
    env_db = tmp_path / "from-env.db"
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(write_job(limits={"max_trials": 1})), "-q"],
        capture_output=True, text=True, env={**ENV, "FASTHPO_DB": str(env_db)}, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert env_db.exists() and not (tmp_path / "fasthpo.db").exists()


BAD_JOBS = [
    ("name: x\n", "command: required key is missing"),
    ("- a list\n", "must hold a mapping"),
    ("name: [unclosed\n", "invalid YAML at line"),
    ("name: x\ncommand: python train.py\nhyperparameters: {a: {type: integer, min: 0, max: 3}}\n"
     "objective: {metric: m, direction: minimize}\n", "never runs commands through a shell"),
    ("name: x\ncommand: [python]\nhyperparameters: {a: {type: continuous, min: 1, max: 0}}\n"
     "objective: {metric: m, direction: minimize}\n", "hyperparameters.a: low must be less than high"),
    ("name: x\ncommand: [python]\nhyperparameters: {a: {type: integer, min: 0, max: 3}}\n"
     "objective: {metric: m, direction: minimize}\nlimit: {max_trials: 3}\n", "did you mean 'limits'"),
    ("name: x\ncommand: [python]\nhyperparameters: {a: {type: integer, min: 0, max: 3}}\n"
     "objective: {metric: m, direction: minimize}\nstrategy: hyperband\n",
     "hyperband: required with strategy: hyperband"),
]


@pytest.mark.parametrize(("text", "message"), BAD_JOBS)
def test_bad_job_files_give_one_line_and_exit_2(tmp_path, text, message):
    path = tmp_path / "job.yaml"
    path.write_text(text)
    proc = fasthpo("run", str(path), "--db", str(tmp_path / "s.db"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fasthpo: error: ")
    assert not (tmp_path / "s.db").exists()  # nothing written for a refused job


def test_missing_job_file_and_unknown_job(tmp_path):
    proc = fasthpo("run", str(tmp_path / "nope.yaml"), "--db", str(tmp_path / "s.db"))
    assert proc.returncode == 2 and "no such job file" in proc.stderr
    from fasthpo.storage import Store

    Store(tmp_path / "s.db").close()
    proc = fasthpo("describe", "ghost", "--db", str(tmp_path / "s.db"))
    assert proc.returncode == 2 and "no job named 'ghost'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("grace", ["-1", "nan", "inf"])
def test_a_bad_stop_grace_is_refused_before_the_store_is_touched(tmp_path, grace):
    proc = fasthpo("stop", "toy", "--db", str(tmp_path / "s.db"), "--grace", grace)
    assert proc.returncode == 2 and "--grace" in proc.stderr and grace in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "s.db").exists()


def test_unreadable_store_is_one_line(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"garbage" * 1000)
    proc = fasthpo("list", "--db", str(tmp_path / "junk.db"))
    assert proc.returncode == 1 and "not a fasthpo store" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_example_tunes_a_real_model(tmp_path):
    pytest.importorskip("sklearn")
    job = yaml.safe_load((EXAMPLES / "svm_digits" / "job.yaml").read_text())
    job["workdir"] = str(EXAMPLES / "svm_digits")
    job["limits"].update(max_trials=3, max_parallel=2)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    db = str(tmp_path / "ex.db")
    run = fasthpo("run", str(path), "--db", db)
    assert run.returncode == 0, run.stderr
    summary = json.loads(fasthpo("describe", "svm-digits", "--json", "--db", db).stdout)
    assert summary["counters"]["completed"] == 3
    # A real SVM on digits: the validation error is a genuine fraction of mistakes.
    assert 0.0 <= summary["best"]["objective"] < 1.0
    assert set(summary["best"]["hyperparameters"]) == {"C", "gamma", "kernel", "degree"}
