"""Hyperband from job files: rungs, stop decisions and resume, with real subprocess trials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fasthpo.config import load_job, parse_job
from fasthpo.errors import ConfigError
from fasthpo.jobspec import HyperbandSettings
from fasthpo.metric_report import MetricReport
from fasthpo.objective import Objective
from fasthpo.runner.loop import TuningLoop
from fasthpo.runner.successive_halving import (
    SuccessiveHalving,
    bracket_of,
    bracket_rungs,
    rung_reached,
)
from fasthpo.runner.tuner import run_job
from fasthpo.storage import Store
from fasthpo.strategies.hyperband import HyperbandProposals
from tests.conftest import wait_for

EPOCHS = Path(__file__).parent / "jobs" / "epochs.py"
SETTINGS = {"resource": "epochs", "min_resource": 1, "max_resource": 9, "reduction_factor": 3}


def _job(tmp_path: Path, **overrides) -> Path:
    job = {
        "name": "hb",
        "command": ["python", str(EPOCHS)],
        "workdir": str(EPOCHS.parent),
        "hyperparameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "hyperband",
        "hyperband": SETTINGS,
        "seed": 3,
        "limits": {"max_trials": 14, "max_parallel": 1},
    }
    job.update(overrides)
    path = tmp_path / "hb.json"
    path.write_text(json.dumps(job))
    return path


def test_brackets_follow_hyperband():
    settings = HyperbandSettings("epochs", 1, 27, 3)
    assert bracket_rungs(settings) == [[1, 3, 9, 27], [3, 9, 27], [9, 27], [27]]
    # 7, 3, 2 and 1 trials of every 13 start in each bracket.
    assert [bracket_of(settings, t) for t in range(1, 15)] == [0] * 7 + [1] * 3 + [2] * 2 + [3, 0]
    assert rung_reached(settings, 1, 10) == 9 and rung_reached(settings, 8, 2) is None
    assert bracket_rungs(HyperbandSettings("e", 2, 20, 4)) == [[2, 8, 20], [8, 20], [20]]


def test_a_trial_below_the_top_third_of_its_rung_is_stopped():
    rule = SuccessiveHalving(HyperbandSettings("epochs", 1, 9, 3), Objective("loss"))
    decisions = []
    for trial, value in [(1, 0.5), (2, 0.3), (3, 0.4), (7, 0.1)]:
        reached = rule.report(trial, MetricReport("loss", value, step=1))
        assert reached == [(1, value)]
        decisions.append(rule.should_stop(trial))
    # The first continues (top 1 of 1); 0.3 beats it; 0.4 is second of 3; 0.1 is best of 4.
    assert decisions[0] is None and decisions[1] is None and decisions[3] is None
    assert "rung 0 (epochs=1)" in decisions[2] and "top 1 of 3" in decisions[2]
    # The last rung never stops anyone; a report below the next rung decides nothing.
    assert rule.report(1, MetricReport("loss", 0.45, step=2)) == []
    assert rule.should_stop(1) is None


def test_instances_are_combined_per_step_by_the_aggregate():
    rule = SuccessiveHalving(
        HyperbandSettings("epochs", 1, 9, 3), Objective("loss", aggregate="mean"), instances=2
    )
    assert rule.report(1, MetricReport("loss", 0.2, step=1, instance=0)) == []
    assert rule.report(1, MetricReport("loss", 0.4, step=1, instance=1)) == [(1, pytest.approx(0.3))]


def test_hyperband_job_stops_poor_trials_at_their_rungs(tmp_path):
    db = tmp_path / "s.db"
    log = tmp_path / "epochs.log"
    spec = load_job(_job(tmp_path, static_hyperparameters={"log": str(log), "delay": 0.1}))
    result = run_job(spec, db=db)

    assert result.status == "completed"
    with Store(db) as store:
        trials = store.trials("hb")
        assert len(trials) == 14
        stopped = [t for t in trials if t.status == "stopped"]
        completed = [t for t in trials if t.status == "completed"]
        assert stopped and completed
        for t in stopped:
            assert t.error.startswith("hyperband: stopped at rung")
            steps = [r.step for r in store.metrics("hb", t.trial_id, "loss")]
            # Stopped at a rung below the top: it never ran all 9 epochs, and its last value is kept.
            assert max(steps) < 9
            assert t.objective == pytest.approx(store.metrics("hb", t.trial_id, "loss")[-1].value)
        for t in completed:
            assert max(r.step for r in store.metrics("hb", t.trial_id, "loss")) == 9
        # Every trial received the maximum resource as --epochs=9.
        hyper = json.loads((Path(trials[0].directory) / "hyperparameters.json").read_text())
        assert hyper["epochs"] == 9
    # Fewer epochs ran than 14 full trials would have.
    assert len(log.read_text().splitlines()) < 14 * 9


def test_hyperband_runs_trials_in_parallel_and_describe_shows_rungs(tmp_path):
    db = tmp_path / "s.db"
    spec = load_job(_job(tmp_path, limits={"max_trials": 10, "max_parallel": 3},
                         static_hyperparameters={"delay": 0.02}))
    assert run_job(spec, db=db).status == "completed"
    out = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "describe", "hb", "--db", str(db)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "rungs" in out and "epochs=9" in out
    described = json.loads(subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "describe", "hb", "--db", str(db), "--json"],
        capture_output=True, text=True, check=True,
    ).stdout)
    rungs = described["rungs"]
    assert len(rungs) == 10 and all(r["rung"] in (1, 3, 9, None) for r in rungs)
    listed = json.loads(subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "trials", "hb", "--db", str(db), "--format", "json"],
        capture_output=True, text=True, check=True,
    ).stdout)
    assert all(t["intermediate"] and t["intermediate"][0]["step"] == 1 for t in listed)


def test_kill_9_then_resume_rebuilds_the_rungs_from_stored_reports(tmp_path):
    db = tmp_path / "s.db"
    job = _job(tmp_path, limits={"max_trials": 9, "max_parallel": 1},
               static_hyperparameters={"delay": 0.1})
    tuner = subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(job), "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: db.exists() and len(_finished(db)) >= 4, timeout=120)
    finally:
        tuner.kill()
        tuner.wait()
    before = _finished(db)

    # The rungs a new tuner rebuilds from the store are the ones the reports say were reached.
    spec = load_job(job)
    with Store(db) as store:
        trials = [t for t in store.trials("hb") if t.trial_id in before]
        scheduler = SuccessiveHalving(spec.hyperband, spec.objective)
        strategy = HyperbandProposals(spec.space, seed=0, max_resource=9)
        loop = TuningLoop(
            store=store, job="hb", space=spec.space, objective=spec.objective, strategy=strategy,
            backend=None, lease=None, max_trials=9, max_parallel=1, static_hyperparameters={},
            retry=spec.retry, stopping_rule=None, catch=(), scheduler=scheduler,
        )
        loop.restore(trials)
        for t in trials:
            steps = [r.step for r in store.metrics("hb", t.trial_id, "loss", attempt=t.attempt)]
            expected = [r for r in bracket_rungs(spec.hyperband)[bracket_of(spec.hyperband, t.trial_id)]
                        if r <= max(steps)]
            assert scheduler.recorded(t.trial_id) == expected
        assert sum(strategy.results().values()) == sum(len(scheduler.recorded(t)) for t in before)

    resumed = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "resume", "hb", "--db", str(db)],
        capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    with Store(db) as store:
        trials = store.trials("hb")
        assert len(trials) == 9 and all(t.status in ("completed", "stopped") for t in trials)
        assert {t.trial_id: t.status for t in trials if t.trial_id in before} == before
        assert any(t.status == "stopped" for t in trials)


def _finished(db: Path) -> dict[int, str]:
    with Store(db) as store:
        if store.get_job("hb") is None:
            return {}
        return {t.trial_id: t.status for t in store.trials("hb", status=("completed", "stopped"))}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hyperband": {**SETTINGS, "min_resource": 9}}, r"^hyperband.min_resource: must be below"),
        ({"hyperband": {**SETTINGS, "reduction_factor": 1}}, r"^hyperband.reduction_factor: must be"),
        ({"hyperband": {**SETTINGS, "resource": "x"}}, r"^hyperband.resource: 'x' is a tuned"),
        ({"hyperband": {**SETTINGS, "rungs": 3}}, r"^hyperband.rungs: unknown key"),
        ({"hyperband": None}, r"^hyperband: required with strategy: hyperband"),
        ({"early_stopping": "auto"}, r"^early_stopping: 'auto' cannot be combined with"),
        ({"strategy": "random"}, r"^hyperband: is only used with strategy: hyperband"),
    ],
)
def test_bad_hyperband_settings_are_refused(tmp_path, change, message):
    data = json.loads(_job(tmp_path).read_text())
    data.update(change)
    if data.get("hyperband") is None:
        data.pop("hyperband")
    with pytest.raises(ConfigError, match=message):
        parse_job(data, base_dir=tmp_path)


def test_tuner_takes_hyperband_settings_and_passes_the_resource(tmp_path):
    import fasthpo
    from fasthpo.space import Continuous, SearchSpace

    seen = []

    def objective(params):
        seen.append(params["epochs"])
        return (params["x"] - 0.3) ** 2

    tuner = fasthpo.Tuner(
        SearchSpace([Continuous("x", 0.0, 1.0)]), strategy="hyperband", max_trials=4, seed=0,
        db=tmp_path / "t.db", hyperband={"resource": "epochs", "min_resource": 1, "max_resource": 9},
    )
    assert tuner.optimize(objective) is not None
    assert seen == [9, 9, 9, 9]
    with Store(tmp_path / "t.db") as store:
        assert store.get_job(tuner.name).spec["hyperband"]["max_resource"] == 9
    with pytest.raises(ConfigError, match=r"^hyperband.reduction_factor: must be an integer >= 2"):
        fasthpo.Tuner(SearchSpace([Continuous("x", 0.0, 1.0)]), strategy="hyperband",
                      hyperband={"resource": "epochs", "min_resource": 1, "max_resource": 9,
                                 "reduction_factor": 1})


def test_a_python_objective_reporting_per_epoch_is_stopped_at_its_rung(tmp_path):
    """Hyperband in ``Tuner.optimize``: reports made inside the objective reach the rungs,
    and a stopped trial learns it through ``fasthpo.should_stop()``."""
    import threading

    import fasthpo
    from fasthpo.space import Continuous, SearchSpace

    epochs_run: dict[float, int] = {}
    pause = threading.Event()  # never set: a short wait per epoch, as a training step would take

    def objective(params):
        for epoch in range(1, params["epochs"] + 1):
            fasthpo.report(step=epoch, loss=(params["x"] - 0.3) ** 2 + 1.0 / epoch)
            epochs_run[params["x"]] = epoch
            pause.wait(0.05)
            if fasthpo.should_stop():
                return None
        return (params["x"] - 0.3) ** 2 + 1.0 / params["epochs"]

    tuner = fasthpo.Tuner(
        SearchSpace([Continuous("x", 0.0, 1.0)]), objective=Objective(direction="minimize", metric="loss"),
        strategy="hyperband", max_trials=8, seed=1, db=tmp_path / "t.db", hyperband=SETTINGS,
    )
    assert tuner.optimize(objective) is not None
    stopped = [t for t in tuner.trials() if t.status == "stopped"]
    assert stopped, "no trial was stopped at a rung"
    for trial in stopped:
        assert "hyperband: stopped at rung" in trial.error
        assert trial.objective is not None  # its last reported value
        assert epochs_run[trial.hyperparameters["x"]] < SETTINGS["max_resource"]
