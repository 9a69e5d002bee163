"""Early stopping: the median stopping rule on a trial's intermediate objective values.

A running trial is stopped when its best objective value up to step *s* is
worse than the median, over the other trials that reached step *s*, of their
running averages up to *s* (the rule of Google Vizier and of managed tuners'
``early_stopping: auto``). It acts only once ``min_trials`` other trials reached
that step, so the first trials always run to the end. A trial's step is the
``step`` it reported (``fasthpo.report(step=...)``), else the count of its
objective reports so far (regex metrics carry no step).

Stopped trials keep their last value: the strategy is told it, so the model
still learns where the bad region is.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from fasthpo.objective import Direction


@dataclass
class _Curve:
    points: list[tuple[int, float]] = field(default_factory=list)  # (step, value), steps ascending
    reports: int = 0

    def add(self, step: int | None, value: float) -> int:
        self.reports += 1
        step = self.reports if step is None else step
        if self.points and step < self.points[-1][0]:
            # A job restarting its step count is read as continuing.
            step = self.points[-1][0]
        self.points.append((step, value))
        return step

    def running_average(self, step: int) -> float | None:
        values = [v for s, v in self.points if s <= step]
        return sum(values) / len(values) if values else None

    @property
    def last_step(self) -> int:
        return self.points[-1][0] if self.points else -1


class MedianStoppingRule:
    """Decides which running trials to stop, from the objective values they report.

    Parameters
    ----------
    direction
        ``"minimize"`` or ``"maximize"``.
    min_trials
        Other trials that must have reached a step before it is used to judge.
    """

    def __init__(self, direction: Direction, *, min_trials: int = 5) -> None:
        self.direction = direction
        self.min_trials = min_trials
        self._curves: dict[int, _Curve] = {}
        self._finished: set[int] = set()

    def report(self, trial_id: int, step: int | None, value: float | None) -> None:
        """Record an intermediate objective value (non-finite values are ignored)."""
        if value is None or not math.isfinite(value):
            return
        self._curves.setdefault(trial_id, _Curve()).add(step, value)

    def restart(self, trial_id: int) -> None:
        """Forget a trial's values (a new attempt starts from scratch)."""
        self._curves.pop(trial_id, None)
        self._finished.discard(trial_id)

    def finished(self, trial_id: int) -> None:
        """The trial ended (completed or stopped): its curve now judges the others."""
        self._finished.add(trial_id)

    def should_stop(self, trial_id: int) -> str | None:
        """A reason to stop ``trial_id`` now, or ``None`` to let it run."""
        curve = self._curves.get(trial_id)
        if curve is None or not curve.points:
            return None
        step = curve.last_step
        others = [
            average
            for other, c in self._curves.items()
            if other != trial_id and other in self._finished and c.last_step >= step
            and (average := c.running_average(step)) is not None
        ]
        if len(others) < self.min_trials:
            return None
        median = statistics.median(others)
        values = [v for s, v in curve.points]
        best = min(values) if self.direction == "minimize" else max(values)
        worse = best > median if self.direction == "minimize" else best < median
        if not worse:
            return None
        return (
            f"early stopping: best value {best:.6g} by step {step} is worse than the median "
            f"{median:.6g} of {len(others)} earlier trials at that step"
        )
