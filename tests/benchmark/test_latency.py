"""Latency cells: a real cell runs in a subprocess and reports positive times; a cell past
its cutoff, an unknown or unavailable optimizer and a failing one each give a status
instead of an exception; the table states ratios against the first optimizer."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

import pytest

from fasthpo.benchmark import latency, optimizers
from fasthpo.benchmark.latency import LatencyCell, format_latency, measure_latency
from fasthpo.errors import ConfigError


def test_a_real_cell_reports_positive_times():
    lines: list[str] = []
    [cell] = measure_latency(
        ["fasthpo-random"], [2], [5], cutoff_s=120, loop_steps=3, progress=lines.append
    )
    assert (cell.optimizer, cell.d, cell.n, cell.status) == ("fasthpo-random", 2, 5, "ok")
    assert cell.fresh_s is not None and cell.fresh_s > 0
    assert cell.loop_median_s is not None and cell.loop_median_s > 0
    assert cell.loop_mean_s is not None and cell.loop_mean_s > 0
    assert cell.loop_steps == 3
    assert len(lines) == 1 and lines[0].startswith("fasthpo-random d=2 n=5: ok")


def test_the_child_prints_one_json_result_line():
    request = json.dumps({"optimizer": "random", "d": 3, "n": 4, "loop_steps": 2, "seed": 1})
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.benchmark.latency", "--cell", request],
        capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["status"] == "ok"
    assert len(result["loop_s"]) == 2 and all(t > 0 for t in result["loop_s"])


def test_fresh_is_the_median_over_new_instances_within_its_budget():
    lines: list[str] = []
    [cell] = measure_latency(
        ["fasthpo-random"], [2], [5], cutoff_s=120, loop_steps=2, fresh_repeats=3,
        progress=lines.append,
    )
    assert cell.status == "ok" and cell.fresh_asks == 3 and cell.fresh_s is not None
    assert "(median of 3)" in lines[0]
    assert "median of up to 3 new instances" in format_latency([cell]).splitlines()[0]

    def child(budget: float) -> dict:
        request = json.dumps({"optimizer": "random", "d": 3, "n": 4, "loop_steps": 1, "seed": 1,
                              "fresh_repeats": 4, "fresh_budget_s": budget})
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "fasthpo.benchmark.latency", "--cell", request],
            capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=120,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    full = child(1e9)
    assert len(full["fresh_all_s"]) == 4
    assert full["fresh_s"] == statistics.median(full["fresh_all_s"])
    assert len(child(0.0)["fresh_all_s"]) == 1  # no time for repeats: the loop's own instance


def test_a_cutoff_shorter_than_start_up_times_out_and_spares_larger_cells():
    cells = measure_latency(["fasthpo-random"], [2], [5, 50], cutoff_s=0.01)
    assert [c.status for c in cells] == ["timeout", "timeout"]
    assert all(c.loop_mean_s is None and c.loop_median_s is None for c in cells)
    assert "not run" in cells[1].detail


def test_unknown_and_unavailable_optimizers_are_reported_not_raised(monkeypatch):
    fake = optimizers.OptimizerSpec(
        name="fake-peer",
        description="a peer whose library is not installed",
        requires=("fasthpo_no_such_module_xyz",),
        factory=lambda space, seed: None,  # type: ignore[arg-type,return-value]
        install_hint="pip install fasthpo-no-such-module",
    )
    monkeypatch.setitem(optimizers._OPTIMIZERS, "fake-peer", fake)
    cells = measure_latency(["no-such-optimizer", "fake-peer"], [2], [5], cutoff_s=30)
    assert [c.status for c in cells] == ["unavailable", "unavailable"]
    assert "unknown optimizer" in cells[0].detail
    assert "fasthpo_no_such_module_xyz" in cells[1].detail


def test_an_optimizer_that_fails_in_the_child_gives_an_error_status():
    # A 20-dimensional grid has 5**20 points: GridSearch refuses it.
    [cell] = measure_latency(["fasthpo-grid"], [20], [5], cutoff_s=120)
    assert cell.status.startswith("error: ConfigError")
    assert "\n" not in cell.status


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError):
        measure_latency(["fasthpo-random"], [0], [5])
    with pytest.raises(ConfigError):
        measure_latency(["fasthpo-random"], [2], [5], loop_steps=0)
    with pytest.raises(ConfigError, match="fresh_repeats"):
        measure_latency(["fasthpo-random"], [2], [5], fresh_repeats=0)


def test_the_loop_covers_a_refit_period_by_default():
    assert latency.default_loop_steps(20) == 5
    assert latency.default_loop_steps(100) == 11
    assert latency.default_loop_steps(1000) == 101


def test_format_latency_states_fresh_and_loop_mean_with_ratios_against_the_first_optimizer():
    cells = [
        LatencyCell("fast", 5, 20, 0.004, 0.002, 0.001, "ok"),
        LatencyCell("slow", 5, 20, 0.040, 0.010, 0.010, "ok"),
        LatencyCell("slower", 5, 20, None, None, None, "timeout"),
        LatencyCell("fast", 5, 100, None, None, None, "error: boom"),
        LatencyCell("slow", 5, 100, 1.5, 1.25, 1.0, "ok"),
        LatencyCell("slower", 5, 100, None, None, None, "unavailable", "needs x"),
    ]
    lines = format_latency(cells).splitlines()
    assert "fast is faster" in lines[0] and "mean" in lines[0]
    assert lines[2] == (
        "| d | n | fast fresh | fast loop | slow fresh | slow loop | slower fresh | slower loop |"
    )
    assert lines[4] == "| 5 | 20 | 4.00 | 2.00 | 40.0 (10.0×) | 10.0 (5.0×) | timeout | timeout |"
    # no base: no ratio
    assert lines[5] == "| 5 | 100 | error | error | 1,500 | 1,250 | unavailable | unavailable |"


def test_format_latency_of_nothing():
    assert format_latency([]) == "(no latency cells)"


def test_levy_is_zero_at_its_optimum():
    assert latency.levy_cube([0.55] * 4) == pytest.approx(0.0, abs=1e-12)
    assert latency.levy_cube([0.0] * 4) > 1.0
