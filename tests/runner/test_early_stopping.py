"""The median stopping rule on intermediate objective values."""

from __future__ import annotations

import pytest

from fasthpo.runner.early_stopping import MedianStoppingRule


def _finished(rule: MedianStoppingRule, trial_id: int, values: list[float]) -> None:
    for step, value in enumerate(values):
        rule.report(trial_id, step, value)
    rule.finished(trial_id)


def test_a_trial_worse_than_the_median_of_earlier_trials_is_stopped():
    rule = MedianStoppingRule("minimize", min_trials=3)
    for trial_id, scale in enumerate([1.0, 2.0, 3.0], start=1):
        _finished(rule, trial_id, [scale * 10, scale * 5, scale])
    # Running averages at step 1: 7.5, 15, 22.5 -> median 15.
    rule.report(9, 0, 16.0)
    rule.report(9, 1, 15.5)
    reason = rule.should_stop(9)
    assert reason is not None and "median 15" in reason and "3 earlier trials" in reason
    rule.report(8, 0, 16.0)
    rule.report(8, 1, 14.0)  # its best beats the median: it runs on
    assert rule.should_stop(8) is None


def test_nothing_is_stopped_before_enough_trials_reached_the_step():
    rule = MedianStoppingRule("minimize", min_trials=3)
    _finished(rule, 1, [1.0, 1.0])
    _finished(rule, 2, [1.0, 1.0])
    _finished(rule, 3, [1.0])  # never reached step 1
    rule.report(9, 0, 50.0)
    rule.report(9, 1, 50.0)
    assert rule.should_stop(9) is None
    # Running trials never judge each other.
    rule.report(4, 0, 1.0)
    rule.report(4, 1, 1.0)
    assert rule.should_stop(9) is None


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_direction_decides_what_worse_means(direction):
    rule = MedianStoppingRule(direction, min_trials=1)
    _finished(rule, 1, [0.5])
    rule.report(2, 0, 0.4)
    stopped = rule.should_stop(2) is not None
    assert stopped == (direction == "maximize")


def test_steps_default_to_the_report_count_and_non_finite_values_are_ignored():
    rule = MedianStoppingRule("minimize", min_trials=1)
    for value in (3.0, 2.0, 1.0):
        rule.report(1, None, value)
    rule.finished(1)
    rule.report(2, None, float("nan"))
    assert rule.should_stop(2) is None  # no finite value yet
    rule.report(2, None, 2.5)  # step 1: other's running average 3.0
    assert rule.should_stop(2) is None
    rule.report(2, None, 2.6)  # step 2: other's running average 2.5, best 2.5 is not worse
    assert rule.should_stop(2) is None
    rule.report(2, None, 2.55)  # step 3: average 2.0 < best 2.5
    assert rule.should_stop(2) is not None


def test_a_new_attempt_starts_a_fresh_curve():
    rule = MedianStoppingRule("minimize", min_trials=1)
    _finished(rule, 1, [1.0])
    rule.report(2, 0, 9.0)
    assert rule.should_stop(2) is not None
    rule.restart(2)
    assert rule.should_stop(2) is None
