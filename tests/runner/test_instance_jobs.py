"""Whole jobs with several instances per trial and devices handed out by the tuner."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from fasthpo.config import parse_job
from fasthpo.errors import ConfigError
from fasthpo.runner.local import LocalBackend
from fasthpo.runner.resources import DevicePool
from fasthpo.runner.tuner import Tuner, run_job
from fasthpo.storage import Store
from fasthpo.strategies.random import RandomSearch

INSTANCE = Path(__file__).parent / "jobs" / "instance.py"


def _job(tmp_path, **overrides):
    job = {
        "name": "multi",
        "command": ["python", str(INSTANCE)],
        "workdir": str(tmp_path),
        "env": {"PYTHONPATH": os.pathsep.join(sys.path)},
        "hyperparameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "seed": 0,
        "limits": {"max_trials": 2, "max_parallel": 1},
    }
    job.update(overrides)
    return parse_job(job, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("aggregate", "offset"), [("mean", 0.5), ("rank0", 0.0), ("max", 1.0), ("last", None)]
)
def test_instances_report_and_the_objective_aggregates_them(tmp_path, aggregate, offset):
    spec = _job(
        tmp_path, instance_count=2,
        objective={"metric": "loss", "direction": "minimize", "aggregate": aggregate},
    )
    db = tmp_path / "s.db"
    run_job(spec, db=db)
    with Store(db) as store:
        for trial in store.trials("multi"):
            assert trial.status == "completed"
            x = trial.hyperparameters["x"]
            final = {r.instance: r for r in store.metrics("multi", trial.trial_id, "loss") if r.step == 1}
            assert {i: r.value for i, r in final.items()} == {0: x, 1: x + 1}
            if offset is None:  # the later of the two final reports; a tie goes to the later arrival
                latest = max(r.reported_at for r in final.values())
                expected = [r for r in final.values() if r.reported_at == latest][-1].value
            else:
                expected = x + offset
            assert trial.objective == pytest.approx(expected, abs=1e-12)
            assert sorted(p.name for p in Path(trial.directory).glob("rank-*")) == ["rank-0", "rank-1"]


def test_a_failing_rank_fails_the_trial_naming_it(tmp_path):
    spec = _job(
        tmp_path, instance_count=2, limits={"max_trials": 1},
        static_hyperparameters={"fail_rank": 1, "fail_after": 0.2, "sleep": 60.0},
    )
    db = tmp_path / "s.db"
    run_job(spec, db=db)
    with Store(db) as store:
        (trial,) = store.trials("multi")
    assert trial.status == "failed" and trial.exit_code == 3 and trial.objective is None
    assert trial.error.startswith("instance 1 of 2 exited with code 3; the other instances were stopped")


def test_fake_gpus_are_exclusive_and_every_trial_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    record = tmp_path / "spans.jsonl"
    spec = _job(
        tmp_path,
        instance_count=1,
        resources={"gpus_per_instance": 1, "gpu_ids": [0, 1, 2]},
        static_hyperparameters={"sleep": 0.8, "record": str(record)},
        limits={"max_trials": 8, "max_parallel": 5},
    )
    db = tmp_path / "s.db"
    result = run_job(spec, db=db)
    assert result.status == "completed"
    with Store(db) as store:
        trials = store.trials("multi")
    assert len(trials) == 8 and all(t.status == "completed" for t in trials)
    spans = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted(int(s["trial"]) for s in spans) == list(range(1, 9))
    assert {s["gpus"] for s in spans} <= {"0", "1", "2"}
    for a in spans:
        for b in spans:
            if a is not b and a["gpus"] == b["gpus"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)  # never shared
    events = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 3  # the devices, not max_parallel=5, were the limit


class CountingRandom(RandomSearch):
    """Random search that records how many proposals each ask wants and how many are pending."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asks = []

    def ask(self, n, pending=None):
        self.asks.append((n, len(pending or [])))
        return super().ask(n, pending=pending)


def test_the_strategy_is_never_asked_for_a_trial_that_cannot_start(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    spec = _job(tmp_path, instance_count=2, static_hyperparameters={"sleep": 0.2},
                limits={"max_trials": 5, "max_parallel": 4})
    strategy = CountingRandom(spec.space, seed=0)
    tuner = Tuner(spec.space, objective=spec.objective, strategy=strategy, max_trials=5, name="multi",
                  db=tmp_path / "s.db")
    pool = DevicePool(gpus=["0", "1", "2", "3", "4"], gpus_per_instance=1, instance_count=2)
    backend = LocalBackend(
        job_name="multi", command=spec.command, workdir=spec.workdir, env=spec.env, metrics=[],
        runs_dir=tmp_path / "runs", instance_count=2, pool=pool,
    )
    with Store(tmp_path / "s.db") as store:
        result = tuner._run(store, spec.to_dict(), backend, max_parallel=4)
        assert all(t.status == "completed" for t in store.trials("multi"))
    assert result.status == "completed"
    assert sum(n for n, _ in strategy.asks) == 5
    assert all(n + pending <= 2 for n, pending in strategy.asks), strategy.asks  # 5 GPUs: 2 trials


def test_an_impossible_gpu_request_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: no GPUs
    spec = _job(tmp_path, instance_count=2, resources={"gpus_per_instance": 1})
    db = tmp_path / "s.db"
    with pytest.raises(ConfigError, match=r"^resources\.gpus_per_instance: a trial needs 1 x 2 instance"):
        run_job(spec, db=db)
    if db.exists():
        with Store(db) as store:
            assert store.get_job("multi") is None
