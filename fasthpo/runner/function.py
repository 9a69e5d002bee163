"""A backend that evaluates a Python callable in the tuner's own process.

``Tuner.optimize(fn)`` uses it: trials run one at a time, ``fn(params)``
returns the objective value, and an exception fails the trial (the loop
decides whether to re-raise it). There is no runtime limit: a function cannot
be interrupted safely from outside, so use a job file for long trainings. For
the same reason :meth:`FunctionBackend.stop` only drops a trial that has not
started yet; a call already running always runs to its end.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from fasthpo.metric_report import MetricReport
from fasthpo.runner.backend import Event, Exited, Reported, TrialLaunch

#: What :meth:`FunctionBackend.free_slots` says: calls queue, so any number may be launched.
UNLIMITED = 1 << 30


class FunctionBackend:
    """Runs ``fn(hyperparameters) -> float`` for each launched trial, in order."""

    def __init__(self, fn: Callable[[dict[str, Any]], float], *, metric: str) -> None:
        self._fn = fn
        self._metric = metric
        self._queue: deque[TrialLaunch] = deque()
        self._stopped: list[Event] = []

    def trial_directory(self, trial_id: int) -> str | None:
        return None

    def free_slots(self) -> int:
        return UNLIMITED

    def launch(self, trial: TrialLaunch) -> None:
        self._queue.append(trial)

    def poll(self, timeout: float) -> list[Event]:
        if self._stopped:
            stopped, self._stopped = self._stopped, []
            return stopped
        if not self._queue:
            return []
        trial = self._queue.popleft()
        try:
            result = self._fn(dict(trial.hyperparameters))
        except Exception as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return [Exited(trial.trial_id, "failed", error=error, exception=exc)]
        if isinstance(result, (bool, str, bytes)) or not hasattr(result, "__float__"):
            error = f"the objective function returned {result!r}, not a number"
            return [Exited(trial.trial_id, "failed", error=error, exception=TypeError(error))]
        value = float(result)
        finite = math.isfinite(value)
        report = MetricReport(
            name=self._metric,
            value=value if finite else None,
            raw=None if finite else repr(value),
            source="return",
            reported_at=time.time(),
        )
        return [Reported(trial.trial_id, report), Exited(trial.trial_id, "completed")]

    @property
    def running(self) -> tuple[int, ...]:
        # A trial runs only inside poll(); between polls only stop events wait to be reaped.
        return tuple(e.trial_id for e in self._stopped)

    def stop(self, trial_id: int, reason: str) -> None:
        """Drop ``trial_id`` if it has not started: it exits as ``stopped`` on the next poll.

        A function call cannot be interrupted from outside, so a trial whose call
        is under way (or done) is not affected.
        """
        for trial in list(self._queue):
            if trial.trial_id == trial_id:
                self._queue.remove(trial)
                self._stopped.append(Exited(trial_id, "stopped", error=reason))

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        self._queue.clear()

    def process_groups(self, trial_id: int) -> list[int]:
        """Always empty: trials run inside the tuner's own process."""
        return []
