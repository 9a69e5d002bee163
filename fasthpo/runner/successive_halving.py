"""Asynchronous successive halving over Hyperband's brackets: which running trial stops where.

Hyperband (Li et al., 2018) runs successive halving in several *brackets*,
each starting trials at a different resource: bracket ``s`` has rungs at
``min_resource * η^(s+k)`` for ``k = 0, 1, ...`` and a last rung at
``max_resource``. Bracket 0 is the most aggressive (many cheap starts), the
last bracket runs every trial to the end. A trial's bracket follows from its id
(trial ids cycle through the brackets in the proportions of Hyperband's
bracket sizes, ``η^(S-s)/(S-s+1)`` configurations for bracket ``s``), so it is
the same after a resume and needs no storing.

Decisions are asynchronous, as in ASHA (Li et al., 2020): trials never wait
for a rung to fill. When a trial reaches a rung (it reports a step ≥ that
rung's resource), its value there is recorded; it continues only if it is
among the best ``max(1, n // η)`` of the ``n`` values its bracket recorded at
that rung (itself included), so the first trial at a rung always continues.
A trial that reached the last rung is never stopped.

The resource of a report is its ``step`` (``fasthpo.report(step=epoch, ...)``);
a report without one counts as the next step of its instance. With several
instances the rung is reached when the instances the objective's aggregate
reads have reached it (any instance for ``last``, instance 0 for ``rank0``,
all of them for ``mean``, ``min`` and ``max``), and the rung's value combines
their values there the same way.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from fasthpo.jobspec import HyperbandSettings
from fasthpo.metric_report import MetricReport
from fasthpo.objective import Objective


def bracket_rungs(settings: HyperbandSettings) -> list[list[int]]:
    """The rung resources of each bracket, most aggressive bracket first."""
    eta, low, high = settings.reduction_factor, settings.min_resource, settings.max_resource
    brackets: list[list[int]] = []
    start = low
    while start < high:
        rungs = []
        resource = start
        while resource < high:
            rungs.append(resource)
            resource *= eta
        brackets.append([*rungs, high])
        start *= eta
    brackets.append([high])
    return brackets


def bracket_weights(settings: HyperbandSettings) -> list[int]:
    """How many of each cycle of trial ids go to each bracket (Hyperband's bracket sizes)."""
    eta = settings.reduction_factor
    brackets = bracket_rungs(settings)
    top = len(brackets) - 1
    return [max(1, math.ceil(eta ** (top - s) / (top - s + 1))) for s in range(len(brackets))]


def bracket_of(settings: HyperbandSettings, trial_id: int) -> int:
    """The bracket of trial ``trial_id`` (ids from 1 cycle through the weights)."""
    weights = bracket_weights(settings)
    position = (trial_id - 1) % sum(weights)
    for bracket, weight in enumerate(weights):
        if position < weight:
            return bracket
        position -= weight
    raise AssertionError("unreachable")


def rung_reached(settings: HyperbandSettings, trial_id: int, step: int | None) -> int | None:
    """The highest rung resource of the trial's bracket at or below ``step``; ``None`` below all."""
    if step is None:
        return None
    reached = [r for r in bracket_rungs(settings)[bracket_of(settings, trial_id)] if r <= step]
    return reached[-1] if reached else None


@dataclass
class _Trial:
    rungs: list[int]
    steps: dict[int, int] = field(default_factory=dict)  # instance -> reports without a step
    crossed: dict[int, dict[int, float]] = field(default_factory=dict)  # rung -> instance -> value
    recorded: list[int] = field(default_factory=list)  # rungs recorded, ascending
    last: float | None = None


class SuccessiveHalving:
    """The rung records of one job and the stop decisions made from them.

    Parameters
    ----------
    settings
        The job's ``hyperband`` settings.
    objective
        The objective (direction, and the aggregate that combines instances).
    instances
        Processes per trial.
    """

    def __init__(self, settings: HyperbandSettings, objective: Objective, *, instances: int = 1) -> None:
        self.settings = settings
        self.objective = objective
        self.instances = instances
        self._brackets = bracket_rungs(settings)
        self._values: dict[tuple[int, int], dict[int, float]] = {}  # (bracket, rung) -> trial -> value
        self._trials: dict[int, _Trial] = {}
        self._pending: dict[int, int] = {}  # trial -> rung just recorded, awaiting a decision

    def restart(self, trial_id: int) -> None:
        """A new attempt starts from scratch: forget what its earlier attempt recorded."""
        self._trials.pop(trial_id, None)
        self._pending.pop(trial_id, None)
        for values in self._values.values():
            values.pop(trial_id, None)

    def report(self, trial_id: int, report: MetricReport) -> list[tuple[int, float]]:
        """Take one report of the objective metric; return the rungs it made the trial reach,
        as ``(resource, value)`` (non-finite values are ignored)."""
        if report.name != self.objective.metric or report.value is None or not math.isfinite(report.value):
            return []
        trial = self._trials.get(trial_id)
        if trial is None:
            bracket = bracket_of(self.settings, trial_id)
            trial = self._trials[trial_id] = _Trial(self._brackets[bracket])
        step = report.step
        if step is None:
            step = trial.steps[report.instance] = trial.steps.get(report.instance, 0) + 1
        reached = []
        for rung in trial.rungs:
            if rung > step or rung in trial.recorded:
                continue
            trial.crossed.setdefault(rung, {}).setdefault(report.instance, report.value)
            value = self._combined(trial.crossed[rung], report.instance)
            if value is None:
                continue
            trial.recorded.append(rung)
            bracket = bracket_of(self.settings, trial_id)
            self._values.setdefault((bracket, rung), {})[trial_id] = value
            reached.append((rung, value))
        if reached:
            self._pending[trial_id] = reached[-1][0]
        return reached

    def should_stop(self, trial_id: int) -> str | None:
        """A reason to stop ``trial_id`` at the rung it just reached, or ``None`` to let it go on."""
        rung = self._pending.pop(trial_id, None)
        if rung is None or rung >= self.settings.max_resource:
            return None
        bracket = bracket_of(self.settings, trial_id)
        values = self._values[(bracket, rung)]
        keep = max(1, len(values) // self.settings.reduction_factor)
        sign = 1.0 if self.objective.direction == "minimize" else -1.0
        ranked = sorted(values, key=lambda t: (sign * values[t], t))
        if trial_id in ranked[:keep]:
            return None
        cutoff = values[ranked[keep - 1]]
        return (
            f"hyperband: stopped at rung {self.rung_index(trial_id, rung)} "
            f"({self.settings.resource}={rung}) with {self.objective.metric}="
            f"{values[trial_id]:.6g}, not in the top {keep} of {len(values)} trials of "
            f"bracket {bracket} there (cut-off {cutoff:.6g})"
        )

    def rung_index(self, trial_id: int, resource: int) -> int:
        """The position (from 0) of rung ``resource`` in the trial's bracket."""
        return self._brackets[bracket_of(self.settings, trial_id)].index(resource)

    def recorded(self, trial_id: int) -> list[int]:
        """The rungs ``trial_id`` has reached, ascending."""
        trial = self._trials.get(trial_id)
        return [] if trial is None else list(trial.recorded)

    def _combined(self, at_rung: dict[int, float], instance: int) -> float | None:
        aggregate = self.objective.aggregate
        if aggregate == "last":
            return at_rung[instance]
        if aggregate == "rank0":
            return at_rung.get(0)
        if len(at_rung) < self.instances:
            return None
        values = list(at_rung.values())
        if aggregate == "mean":
            return statistics.fmean(values)
        return min(values) if aggregate == "min" else max(values)
