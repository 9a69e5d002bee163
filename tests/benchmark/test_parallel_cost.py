"""The sentence ``fasthpo describe`` prints on the measured cost of parallel trials."""

from __future__ import annotations

from fasthpo.benchmark import parallel_cost as module
from fasthpo.benchmark.parallel_cost import COST, parallel_cost


def test_sequential_jobs_are_told_they_pay_nothing():
    assert parallel_cost(1).startswith("sequential")


def test_a_measured_parallelism_states_its_factor():
    q = sorted(COST)[0]
    text = parallel_cost(q)
    assert f"at max_parallel {q} expect about " in text and "×" in text
    assert "docs/benchmarks.md" in text


def test_unmeasured_parallelism_is_bracketed_by_the_measured_ones(monkeypatch):
    monkeypatch.setattr(module, "COST", {4: (2.0, 9.0), 8: (5.0, 30.0), 32: (40.0, 1500.0)})
    assert "between 2× and 5×" in parallel_cost(6) and "up to 30×" in parallel_cost(6)
    assert "up to 2×" in parallel_cost(2)
    assert "more than 40×" in parallel_cost(64) and "up to 1,500×" in parallel_cost(64)
    assert "about 5×" in parallel_cost(8)


def test_the_measured_table_brackets_a_job_between_two_measured_parallelisms():
    # Measured at more than one q: a job in between is told both neighbours' figures.
    low, high = sorted(COST)[:2]
    assert high - low >= 2
    text = parallel_cost(low + 1)
    assert f"between {module._times(COST[low][0])} and {module._times(COST[high][0])}" in text
    assert all(median <= worst for median, worst in COST.values())
