"""Completion criteria and limits.max_runtime: the job ends by itself and says why."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import fasthpo
from fasthpo.config import load_job
from fasthpo.errors import ConfigError
from fasthpo.jobspec import CompletionCriteria
from fasthpo.objective import Objective
from fasthpo.runner.completion import CompletionCheck
from fasthpo.runner.tuner import run_job
from fasthpo.space import Continuous, SearchSpace
from fasthpo.storage import Store

EPOCHS = Path(__file__).parent / "jobs" / "epochs.py"


def _space() -> SearchSpace:
    return SearchSpace([Continuous("x", 0.0, 1.0), Continuous("y", 0.0, 1.0)])


def _quadratic(p):
    return (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2


def _reason(tuner: fasthpo.Tuner) -> str | None:
    with Store(tuner.db) as store:
        return store.get_job(tuner.name).reason


def test_target_and_no_improvement_rules():
    check = CompletionCheck(
        CompletionCriteria(target_objective=0.1, max_trials_without_improvement=3, min_improvement=0.05),
        Objective("loss"),
    )
    for trial, value in [(1, 1.0), (2, 0.9), (3, 0.97), (4, 0.93)]:
        check.finished(trial, "completed", value)
    # 0.9 beat 1.0 by more than 0.05; 0.97, 0.93 did not beat it, and 0.9 itself
    # improved by only 0.1 > 0.05, so two trials without improvement so far.
    assert check.reason() is None
    check.finished(5, "completed", 0.88)  # better, but by less than 0.05: no improvement
    assert check.reason().startswith("no improvement over 0.05 in the 3 trials after trial 2")
    target = CompletionCheck(CompletionCriteria(target_objective=0.1), Objective("loss"))
    target.finished(1, "stopped", 0.05)  # a stopped trial's value is of a shorter run
    assert target.reason() is None
    target.finished(2, "completed", 0.1)
    assert target.reason() == "target reached at trial 2 (loss=0.1, target 0.1)"


def test_max_runtime_rule_reads_the_clock():
    check = CompletionCheck(None, Objective("loss"), max_runtime=5.0, clock=-math.inf)
    assert check.reason().startswith("max_runtime of 5 s reached")


def test_target_ends_a_tuner_job_with_its_reason(tmp_path):
    tuner = fasthpo.Tuner(
        _space(), strategy="bayesian", max_trials=40, seed=2, db=tmp_path / "t.db",
        completion={"target_objective": 0.01},
    )
    best = tuner.optimize(_quadratic)
    trials = tuner.trials()
    assert best.objective <= 0.01 and len(trials) < 40
    assert trials[-1].trial_id == best.trial_id  # it ended at the trial that reached the target
    assert _reason(tuner) == (
        f"target reached at trial {best.trial_id} (objective={best.objective:.6g}, target 0.01)"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "describe", tuner.name, "--db", str(tuner.db)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert f"reason     target reached at trial {best.trial_id}" in out


def test_convergence_fires_on_a_smooth_bowl(tmp_path):
    tuner = fasthpo.Tuner(
        _space(), strategy="bayesian", max_trials=60, seed=1, db=tmp_path / "t.db",
        completion={"convergence": "auto"},
    )
    tuner.optimize(_quadratic)
    assert len(tuner.trials()) < 40
    assert _reason(tuner).startswith("converged after")


def test_convergence_does_not_fire_on_a_rugged_landscape(tmp_path):
    tuner = fasthpo.Tuner(
        _space(), strategy="bayesian", max_trials=35, seed=1, db=tmp_path / "t.db",
        completion={"convergence": "auto"},
    )
    tuner.optimize(lambda p: math.sin(40 * p["x"]) * math.cos(37 * p["y"]) + 0.1 * p["x"])
    assert len(tuner.trials()) == 35 and _reason(tuner) is None


def test_max_runtime_from_a_job_file_stops_the_running_trial(write_job, tmp_path):
    db = tmp_path / "s.db"
    job = write_job(
        command=["python", str(EPOCHS)], metrics=[], static_hyperparameters={"epochs": 100, "delay": 0.2},
        limits={"max_trials": 5, "max_parallel": 1, "max_runtime": 1.0},
        completion={"max_trials_without_improvement": 4},
    )
    spec = load_job(job)
    assert spec.limits.max_runtime == 1.0 and spec.completion.max_trials_without_improvement == 4
    result = run_job(spec, db=db)
    assert result.status == "completed"
    with Store(db) as store:
        job_row = store.get_job("toy")
        assert job_row.reason.startswith("max_runtime of 1 s reached")
        trials = store.trials("toy")
        assert len(trials) == 1 and trials[0].status == "stopped"
        assert "the job is complete: max_runtime" in trials[0].error
        assert trials[0].objective is not None  # its last value is kept
    # The stored spec reads back with its completion keys.
    assert json.loads(json.dumps(spec.to_dict()))["limits"]["max_runtime"] == 1.0


@pytest.mark.parametrize(
    ("completion", "message"),
    [
        ({"target_objective": "low"}, r"^completion.target_objective: must be a finite number"),
        ({"max_trials_without_improvement": 0}, r"^completion.max_trials_without_improvement: must"),
        ({"min_improvement": -0.1}, r"^completion.min_improvement: must be a number >= 0"),
        ({"convergence": "yes"}, r"^completion.convergence: must be 'auto' or 'off'"),
        ({"target": 1}, r"^completion.target: unknown key"),
    ],
)
def test_bad_completion_values_are_refused(write_job, completion, message):
    with pytest.raises(ConfigError, match=message):
        load_job(write_job(completion=completion))


def test_bad_max_runtime_is_refused(write_job):
    with pytest.raises(ConfigError, match=r"^limits.max_runtime: must be a positive number"):
        load_job(write_job(limits={"max_runtime": -1}))
