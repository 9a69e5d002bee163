"""The sentence ``fasthpo describe`` prints on the measured cost of parallel trials."""

from __future__ import annotations

from pathlib import Path

from fasthpo.benchmark import parallel_cost as module
from fasthpo.benchmark.parallel_cost import COST, Cost, parallel_cost


def test_sequential_jobs_are_told_they_pay_nothing():
    assert parallel_cost(1).startswith("sequential")


def test_a_measured_parallelism_states_both_of_its_costs():
    q = sorted(COST)[0]
    text = parallel_cost(q)
    assert text.startswith(f"at max_parallel {q} expect to need ")
    assert module._times(COST[q].trials[1]) + " the trials" in text
    assert f"up to {module._times(COST[q].worst_trials)}" in text
    assert f"about {module._times(COST[q].regret or 0.0)} its regret" in text
    assert "docs/benchmarks.md" in text


def test_unmeasured_parallelism_is_bracketed_by_the_measured_ones(monkeypatch):
    monkeypatch.setattr(module, "COST", {
        4: Cost((1.2, 1.3), 1.5, 2.0, 9.0), 8: Cost((1.3, 1.7), 2.5, 5.0, 30.0),
        32: Cost((2.6, 3.6), 6.0, 40.0, 1500.0),
    })
    six = parallel_cost(6)
    assert "between 1.2× and 1.7× the trials" in six and "between 2× and 5× its regret" in six
    assert "up to 2.5×" in six and "up to 30×" in six
    assert "need 1.3–1.7× the trials" in parallel_cost(8) and "about 5× its regret" in parallel_cost(8)
    assert "up to 1.3× the trials" in parallel_cost(2) and "up to 2× its regret" in parallel_cost(2)
    many = parallel_cost(64)
    assert "more than 2.6× the trials" in many and "6× or more" in many and "1,500× or more" in many


def test_ends_of_a_range_that_read_alike_are_one_figure(monkeypatch):
    monkeypatch.setattr(module, "COST", {4: Cost((1.31, 1.34), 1.5, 2.0, 9.0)})
    assert "about 1.3× the trials" in parallel_cost(4)


def test_a_parallelism_measured_in_trials_only_is_told_its_trials(monkeypatch):
    # 50 trials say nothing of q = 32 (mostly its initial design): only the trials are known.
    monkeypatch.setattr(module, "COST", {4: Cost((1.2, 1.3), 1.5, 2.0, 9.0), 32: Cost((2.6, 3.6), 4.8)})
    text = parallel_cost(32)
    assert "need 2.6–3.6× the trials" in text and "up to 4.8×" in text
    assert "more than 2× its regret" in text and "9× or more" in text
    assert "between 2× and" not in parallel_cost(16)


def test_the_measured_table_is_consistent():
    # Measured at more than one q: a job in between is told both neighbours' figures.
    low, high = sorted(COST)[:2]
    assert high - low >= 2
    assert f"between {module._times(COST[low].regret or 0.0)} and" in parallel_cost(low + 1)
    for cost in COST.values():
        assert cost.trials[0] <= cost.trials[1] <= cost.worst_trials
        assert cost.regret is None or cost.regret <= (cost.worst_regret or 0.0)


def test_the_readme_shows_what_describe_says_today():
    # The README's sample `describe` output is of a job with max_parallel 2.
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"parallel   {parallel_cost(2)}\n" in readme
