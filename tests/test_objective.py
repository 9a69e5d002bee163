"""Objective and ObjectiveTracker: how a trial's reports become its one objective value."""

from __future__ import annotations

import math

import pytest

from fasthpo.errors import ConfigError
from fasthpo.metric_report import MetricReport
from fasthpo.objective import AGGREGATES, Objective, ObjectiveTracker


def _report(value, *, instance=0, at=0.0, name="loss", raw=None):
    finite = value is not None and math.isfinite(value)
    return MetricReport(
        name, value if finite else None, raw=None if finite else (raw or repr(value)),
        reported_at=at, instance=instance,
    )


def _tracker(aggregate, reports):
    tracker = ObjectiveTracker(Objective("loss", "minimize", aggregate))
    for report in reports:
        tracker.add(report)
    return tracker


def test_objective_names_a_bad_aggregate_and_stores_it():
    assert AGGREGATES == ("last", "rank0", "mean", "min", "max")
    assert Objective().aggregate == "last"
    assert Objective("acc", "maximize", "mean").to_dict() == {
        "metric": "acc", "direction": "maximize", "aggregate": "mean",
    }
    with pytest.raises(ConfigError, match=r"^aggregate: must be one of 'last', .* got 'avg'"):
        Objective("loss", "minimize", "avg")


# Two instances: rank 1 reports last in time, rank 0 reports first and last in arrival order.
REPORTS = [
    _report(4.0, instance=0, at=1.0),
    _report(3.0, instance=1, at=2.0),
    _report(1.0, instance=1, at=5.0),
    _report(2.0, instance=0, at=4.0),  # arrives after rank 1's report at t=5
    _report(9.0, name="acc", instance=0, at=9.0),  # another metric: ignored
]


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("last", 1.0), ("rank0", 2.0), ("mean", 1.5), ("min", 1.0), ("max", 2.0)],
)
def test_aggregates(aggregate, expected):
    tracker = _tracker(aggregate, REPORTS)
    assert tracker.value == expected
    assert tracker.problem is None


def test_last_breaks_time_ties_by_arrival():
    tracker = _tracker("last", [_report(1.0, instance=0, at=3.0), _report(2.0, instance=1, at=3.0)])
    assert tracker.value == 2.0


def test_nothing_reported():
    for aggregate in AGGREGATES:
        tracker = _tracker(aggregate, [_report(1.0, name="acc")])
        assert tracker.value is None
        assert "reported no value" in tracker.problem or "no value of metric 'loss'" in tracker.problem


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), None])
@pytest.mark.parametrize("aggregate", AGGREGATES)
def test_a_non_finite_last_value_never_becomes_the_value(aggregate, bad):
    # Each instance's last report is what counts; instance 0 ends on a non-finite value.
    reports = [
        _report(0.5, instance=0, at=1.0),
        _report(0.1, instance=1, at=1.5),
        _report(bad, instance=0, at=2.0, raw="garbage" if bad is None else None),
    ]
    tracker = _tracker(aggregate, reports)
    assert tracker.value is None
    assert "was not a finite number" in tracker.problem
    # Even when the non-finite value is not the deciding one, it never becomes the value.
    value = _tracker(aggregate, [_report(bad, instance=1, at=0.5), *reports[:2]]).value
    assert value is not None and math.isfinite(value)


def test_a_value_stored_as_a_non_finite_float_is_refused_too():
    # A report built by hand with value=nan (not through the parsers) is still no value.
    tracker = _tracker("last", [MetricReport("loss", float("nan"), reported_at=1.0)])
    assert tracker.value is None and "not a finite number ('nan')" in tracker.problem


def test_the_mean_of_huge_values_does_not_overflow():
    tracker = _tracker("mean", [_report(1e308, instance=0), _report(1.7e308, instance=1)])
    assert tracker.value == pytest.approx(1.35e308)


def test_rank0_without_a_report_from_instance_0():
    tracker = _tracker("rank0", [_report(1.0, instance=1)])
    assert tracker.value is None
    assert tracker.problem == "instance 0 reported no value of metric 'loss'"


def test_last_messages_keep_their_wording():
    assert _tracker("last", []).problem == "no value of metric 'loss' was reported"
    tracker = _tracker("last", [_report(0.5, at=1.0), _report(float("nan"), at=2.0, raw="nan")])
    assert tracker.problem == "the last value of 'loss' was not a finite number ('nan')"
