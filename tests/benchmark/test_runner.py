"""Benchmark runs: determinism, resuming, simulated parallel workers and failures."""

from __future__ import annotations

import json

import pytest

from fasthpo.benchmark.report import load_results
from fasthpo.benchmark.runner import (
    RESULTS_FILE,
    BenchmarkPlan,
    RunKey,
    completed_runs,
    parse_plan,
    read_records,
    run_benchmark,
    run_one,
)
from fasthpo.errors import ConfigError

PLAN = BenchmarkPlan(problems=("branin", "hartmann3"), optimizers=("fasthpo-random",), budget=8, seeds=2)


def _run(plan, out, **kwargs):
    messages = []
    path = run_benchmark(plan, out, log=messages.append, progress=False, **kwargs)
    return path, messages


def _evals(path):
    return [(r["problem"], r["seed"], r["step"], r["config"], r["value"])
            for r in read_records(path) if r["kind"] == "eval"]


def test_every_run_is_recorded_and_deterministic(tmp_path):
    first, _ = _run(PLAN, tmp_path / "a")
    second, _ = _run(PLAN, tmp_path / "b", workers=2)
    assert completed_runs(first) == set(PLAN.runs())
    results = load_results(first)
    assert len(results) == 4 and all(len(r.values) == 8 for r in results)
    # Same seeds give the same configurations and values, whatever the worker count.
    assert sorted(_evals(first)) == sorted(_evals(second))
    seeds = {r.key.seed: r.values.tolist() for r in results if r.key.problem == "branin"}
    assert seeds[0] != seeds[1]


def test_finished_runs_are_skipped_and_torn_runs_redone(tmp_path):
    path, _ = _run(PLAN, tmp_path)
    lines = path.read_text().splitlines()
    # Simulate a kill during the last run: drop its done line and tear the file.
    last_done = max(i for i, line in enumerate(lines) if json.loads(line)["kind"] == "done")
    victim = json.loads(lines[last_done])
    path.write_text("\n".join(lines[:last_done]) + '\n{"kind": "ev')
    assert len(completed_runs(path)) == 3

    _, messages = _run(PLAN, tmp_path)
    assert any("3 run(s) already" in m and "1 to go" in m for m in messages)
    assert completed_runs(path) == set(PLAN.runs())
    results = load_results(path)
    redone = [r for r in results if r.key.problem == victim["problem"] and r.key.seed == victim["seed"]]
    assert len(redone) == 1 and len(redone[0].values) == 8  # only the closing attempt counts

    size = path.stat().st_size
    _run(PLAN, tmp_path)  # nothing left to do
    assert path.stat().st_size == size


def test_simulated_workers_keep_configurations_pending(tmp_path):
    key = RunKey("hartmann3", "fasthpo-random", seed=0, parallel=4, budget=12)
    records = list(run_one(key))
    assert [r["step"] for r in records] == list(range(1, 13))
    configs = {json.dumps(r["config"], sort_keys=True) for r in records}
    assert len(configs) == 12
    assert all(r["propose_s"] >= 0 and r["eval_s"] >= 0 for r in records)


def test_a_failing_run_is_recorded_and_the_rest_go_on(tmp_path):
    # A 5 x 5 grid on Branin runs out of points before a budget of 30.
    plan = BenchmarkPlan(problems=("branin",), optimizers=("fasthpo-grid", "fasthpo-random"),
                         budget=30, seeds=1)
    path, _ = _run(plan, tmp_path)
    results = {r.key.optimizer: r for r in load_results(path)}
    assert results["fasthpo-grid"].status == "error"
    assert "proposed nothing" in results["fasthpo-grid"].error
    assert len(results["fasthpo-grid"].values) == 25
    assert results["fasthpo-random"].status == "ok"


def test_parse_plan_validates_names_and_counts():
    plan = parse_plan(problems=["branin", "branin"], optimizers=["fasthpo-random"], budget=5,
                      seeds=2, parallel=[4])
    assert plan.problems == ("branin",) and plan.parallel == (1, 4)
    assert len(plan.runs()) == 4
    with pytest.raises(ConfigError, match="problem"):
        parse_plan(problems=["branni"], optimizers=["fasthpo-random"], budget=5, seeds=1)
    with pytest.raises(ConfigError, match="optimizers"):
        parse_plan(problems=["branin"], optimizers=["optuna-tp"], budget=5, seeds=1)
    with pytest.raises(ConfigError, match="budget"):
        parse_plan(problems=["branin"], optimizers=["fasthpo-random"], budget=0, seeds=1)


def test_results_file_name(tmp_path):
    path, _ = _run(BenchmarkPlan(("branin",), ("fasthpo-random",), budget=2, seeds=1), tmp_path)
    assert path == tmp_path / RESULTS_FILE


def test_random_arrival_returns_results_out_of_order_and_deterministically():
    key = RunKey("hartmann3", "fasthpo-random", seed=0, parallel=4, budget=12, arrival="random")
    records = list(run_one(key))
    fifo = list(run_one(RunKey("hartmann3", "fasthpo-random", seed=0, parallel=4, budget=12)))
    # Random search proposes the same configurations either way; only the order differs.
    told = [json.dumps(r["config"], sort_keys=True) for r in records]
    oldest_first = [json.dumps(r["config"], sort_keys=True) for r in fifo]
    assert sorted(told) == sorted(oldest_first) and told != oldest_first
    assert [r["config"] for r in run_one(key)] == [r["config"] for r in records]


def test_arrival_is_part_of_the_plan_and_of_each_run_key(tmp_path):
    plan = parse_plan(problems=["branin"], optimizers=["fasthpo-random"], budget=4, seeds=1,
                      parallel=[2], arrival="random")
    assert {(k.parallel, k.arrival) for k in plan.runs()} == {(1, "fifo"), (2, "random")}
    path, _ = _run(plan, tmp_path)
    assert completed_runs(path) == set(plan.runs())
    with pytest.raises(ConfigError, match="arrival"):
        parse_plan(problems=["branin"], optimizers=["fasthpo-random"], budget=4, seeds=1,
                   arrival="lifo")
