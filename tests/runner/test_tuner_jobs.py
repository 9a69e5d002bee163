"""The tuner running real subprocess trials from job files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fasthpo.config import load_job
from fasthpo.errors import ConfigError
from fasthpo.runner.recovery import process_running
from fasthpo.runner.tuner import run_job
from fasthpo.storage import Store


def _static(**values):
    return {"mode": "ok", "sleep": 0.0, **values}


def test_trials_run_as_subprocesses_and_results_are_stored(write_job, tmp_path):
    db = tmp_path / "store.db"
    result = run_job(load_job(write_job()), db=db)

    assert result.status == "completed"
    with Store(db) as store:
        trials = store.trials("toy")
        assert [t.trial_id for t in trials] == [1, 2, 3]
        assert all(t.status == "completed" for t in trials)
        for t in trials:
            x, y = t.hyperparameters["x"], t.hyperparameters["y"]
            # The regex metric's last report (step 2) is the objective.
            assert t.objective == pytest.approx((x - 0.3) ** 2 + (y - 0.6) ** 2, abs=1e-9)
            reports = store.metrics("toy", t.trial_id, "loss")
            assert len(reports) == 3 and all(r.source == "regex" for r in reports)
            folder = Path(t.directory)
            assert folder == tmp_path / "store-runs" / "toy" / f"trial-{t.trial_id:04d}"
            saved = json.loads((folder / "hyperparameters.json").read_text())
            assert saved == {**_static(), "x": x, "y": y}
            assert "loss=" in (folder / "stdout.log").read_text()
        best = store.best_trial("toy", "minimize")
        assert best.objective == min(t.objective for t in trials)
        assert store.get_job("toy").status == "completed"


def test_max_parallel_is_never_exceeded(write_job, tmp_path):
    record = tmp_path / "times.jsonl"
    job = write_job(
        static_hyperparameters=_static(sleep=0.4, record=str(record)),
        limits={"max_trials": 6, "max_parallel": 2},
    )
    run_job(load_job(job), db=tmp_path / "s.db")

    spans = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(spans) == 6
    events = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2  # two at once were used, and never more


def test_report_metrics_are_read_from_the_metrics_file(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(static_hyperparameters=_static(mode="report"), metrics=[])), db=db)
    with Store(db) as store:
        for t in store.trials("toy"):
            reports = store.metrics("toy", t.trial_id, "loss")
            assert [r.step for r in reports] == [0, 1, 2]
            assert all(r.source == "report" for r in reports)
            assert t.objective == reports[-1].value


def test_failing_trial_keeps_exit_code_and_stderr_tail(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(static_hyperparameters=_static(mode="fail"))), db=db)
    with Store(db) as store:
        trials = store.trials("toy")
        assert all(t.status == "failed" and t.exit_code == 3 for t in trials)
        assert all("something went wrong in training" in t.error for t in trials)
        assert all(t.objective is None for t in trials)
        assert store.best_trial("toy", "minimize") is None


def test_trial_without_objective_is_completed_but_never_best(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(static_hyperparameters=_static(mode="silent"))), db=db)
    with Store(db) as store:
        trials = store.trials("toy")
        assert all(t.status == "completed" and t.objective is None for t in trials)
        assert all("no value of metric 'loss'" in t.error for t in trials)
        assert store.best_trial("toy", "minimize") is None


def test_non_finite_last_value_fails_the_objective(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(static_hyperparameters=_static(mode="nan"), limits={"max_trials": 1})
    run_job(load_job(job), db=db)
    with Store(db) as store:
        (trial,) = store.trials("toy")
        # 0.5 was reported before nan: the last report decides, and nan is no value.
        assert trial.status == "completed" and trial.objective is None
        assert "not a finite number" in trial.error
        values = [r.value for r in store.metrics("toy", 1, "loss")]
        assert values == [0.5, None]


def test_runtime_limit_stops_the_trial_and_its_children(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_static(mode="spawn", sleep=30.0, steps=1),
        limits={"max_trials": 1, "max_runtime_per_trial": 0.5},
    )
    started = time.monotonic()
    run_job(load_job(job), db=db)
    assert time.monotonic() - started < 20  # stopped long before its 30 s of sleep
    with Store(db) as store:
        (trial,) = store.trials("toy")
    assert trial.status == "stopped"
    assert "max_runtime_per_trial" in trial.error
    grandchild = int((Path(trial.directory) / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while process_running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_running(grandchild)


def test_command_that_cannot_start_fails_its_trials(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(command=["/nonexistent/trainer"])), db=db)
    with Store(db) as store:
        trials = store.trials("toy")
    assert len(trials) == 3
    assert all(t.status == "failed" and "cannot start the trial" in t.error for t in trials)


@pytest.mark.parametrize("placeholder", [False, True])
def test_hostile_values_arrive_as_one_argument_each(tmp_path, placeholder):
    echo = tmp_path / "echo_args.py"
    echo.write_text(
        "import json, os, sys\n"
        "open(os.path.join(os.environ['FASTHPO_TRIAL_DIR'], 'argv.json'), 'w')"
        ".write(json.dumps(sys.argv[1:]))\n"
        "print('loss=1')\n"
    )
    canary = tmp_path / "canary"
    hostile = [
        "a b", "it's \"quoted\"", f"; touch {canary}", f"$(touch {canary})", f"`touch {canary}`",
        f"x && touch {canary} || y", f"| touch {canary}", "${HOME}", "line\nbreak", "-rf", "--lr=5 --x=1",
        "*", "\ttab",
    ]
    job = {
        "name": "hostile",
        "command": ["python", str(echo), *(["{v}"] if placeholder else [])],
        "workdir": str(tmp_path),
        "hyperparameters": {"v": {"type": "categorical", "values": hostile}},
        "objective": {"metric": "loss", "direction": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([0-9.]+)"}],
        "strategy": "grid",
        "limits": {"max_trials": len(hostile), "max_parallel": 2},
    }
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(job))
    db = tmp_path / "s.db"
    run_job(load_job(path), db=db)
    with Store(db) as store:
        trials = store.trials("hostile")
    assert len(trials) == len(hostile) and all(t.status == "completed" for t in trials)
    seen = sorted(json.loads((Path(t.directory) / "argv.json").read_text()) for t in trials)
    assert seen == sorted([v] if placeholder else [f"--v={v}"] for v in hostile)  # one element each
    assert not canary.exists()  # nothing was executed


def test_placeholders_put_values_where_the_template_says(tmp_path):
    echo = tmp_path / "echo_args.py"
    echo.write_text(
        "import json, os, sys\n"
        "open(os.path.join(os.environ['FASTHPO_TRIAL_DIR'], 'argv.json'), 'w')"
        ".write(json.dumps({'argv': sys.argv[1:], "
        "'hp': json.loads(os.environ['FASTHPO_HYPERPARAMETERS'])}))\n"
        "print('loss=1')\n"
    )
    job = {
        "name": "template",
        "command": ["python", str(echo), "train", "--lr", "{lr}", "--tag={{x}}-{epochs}"],
        "workdir": str(tmp_path),
        "hyperparameters": {"lr": {"type": "continuous", "min": 0.001, "max": 0.1, "scaling": "log"}},
        "static_hyperparameters": {"epochs": 5, "unused": "kept"},
        "objective": {"metric": "loss", "direction": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([0-9.]+)"}],
        "limits": {"max_trials": 1},
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(job))
    run_job(load_job(path), db=tmp_path / "s.db")
    (folder,) = (tmp_path / "s-runs" / "template").iterdir()
    seen = json.loads((folder / "argv.json").read_text())
    lr = seen["hp"]["lr"]
    assert seen["argv"] == ["train", "--lr", repr(lr), "--tag={x}-5"]
    assert seen["hp"] == {"epochs": 5, "unused": "kept", "lr": lr}


def test_running_again_continues_the_job_without_reusing_ids(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(limits={"max_trials": 2})), db=db)
    # Same job with a larger budget: two more trials, ids 3 and 4.
    run_job(load_job(write_job(limits={"max_trials": 4})), db=db)
    with Store(db) as store:
        trials = store.trials("toy")
    assert [t.trial_id for t in trials] == [1, 2, 3, 4]
    keys = {(t.hyperparameters["x"], t.hyperparameters["y"]) for t in trials}
    assert len(keys) == 4  # the strategy knew what had been tried


def test_running_a_changed_job_is_refused_with_the_differences(write_job, tmp_path):
    db = tmp_path / "s.db"
    run_job(load_job(write_job(limits={"max_trials": 1})), db=db)
    changed = write_job(objective={"metric": "loss", "direction": "maximize"})
    with pytest.raises(ConfigError, match=r"different definition(.|\n)*objective"):
        run_job(load_job(changed), db=db)
    with Store(db) as store:
        assert len(store.trials("toy")) == 1


def test_sigterm_stops_running_trials_and_marks_the_job_stopped(write_job, tmp_path):
    # The interrupted trials had no fair run: they wait, pending, for a resume.
    db = tmp_path / "s.db"
    job = write_job(
        static_hyperparameters=_static(sleep=60.0, steps=60),
        limits={"max_trials": 4, "max_parallel": 2},
    )
    tuner = subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(job), "--db", str(db)],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert _wait_for(lambda: _count(db, "running") == 2, timeout=30)
    tuner.send_signal(signal.SIGTERM)
    _, err = tuner.communicate(timeout=60)
    assert tuner.returncode == 128 + signal.SIGTERM, err
    with Store(db) as store:
        trials = store.trials("toy")
        assert store.get_job("toy").status == "stopped"
        attempts = store.attempts("toy")
    assert len(trials) == 2
    assert [(t.status, t.attempt) for t in trials] == [("pending", 2)] * 2
    assert [(a.status, a.error) for a in attempts] == [("stopped", "the tuner was interrupted")] * 2


def _count(db: Path, status: str) -> int:
    if not db.exists():
        return 0
    with Store(db) as store:
        return len(store.trials("toy", status=(status,))) if store.get_job("toy") else 0


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
