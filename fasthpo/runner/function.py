"""A backend that evaluates a Python callable in threads of the tuner's own process.

``Tuner.optimize(fn)`` uses it (``executor="thread"``, the default): each
trial calls ``fn(params)`` in a thread of its own, up to ``workers`` at a time,
while the tuner's loop keeps running in the main thread. So the loop sees a
trial's ``fasthpo.report(step=..., **metrics)`` calls while it runs (the same
:class:`~fasthpo.runner.backend.Reported` events a subprocess trial's reports
become) and can ask it to stop: :meth:`FunctionBackend.stop` sets the flag
that ``fasthpo.should_stop()`` reads inside the objective.

``fn`` returns the objective value (or ``None`` when it reported the
objective metric itself); an exception fails the trial (the loop decides
whether to re-raise it), and ``KeyboardInterrupt`` raised inside ``fn``
interrupts the tuner as Ctrl-C does. A thread cannot be interrupted from
outside: a trial asked to stop stops when its objective next checks
``should_stop()``, and a forced stop abandons the thread (its later results
are dropped). For CPU-bound objectives in parallel, see
:mod:`fasthpo.runner.worker_pool`.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from fasthpo.metric_report import MetricReport
from fasthpo.runner.backend import Event, Exited, Reported, TrialLaunch
from fasthpo.trial_channel import attached


def reports(
    trial_id: int, step: int | None, metrics: Mapping[str, float | str], at: float
) -> list[Event]:
    """One ``fasthpo.report`` call as events, exactly as a subprocess trial's record becomes them."""
    return [
        Reported(
            trial_id,
            MetricReport(
                name=name,
                value=value if isinstance(value, float) else None,
                step=step,
                raw=value if isinstance(value, str) else None,
                source="report",
                reported_at=at,
            ),
        )
        for name, value in metrics.items()
    ]


def outcome(
    trial_id: int, metric: str, result: object, *, stopped: str | None
) -> list[Event]:
    """The events of an objective that returned ``result``.

    ``stopped`` is the reason when the objective saw ``should_stop()`` return
    True: the trial then ends ``stopped`` with the last value it reported.
    """
    events: list[Event] = []
    if result is not None:
        if isinstance(result, (bool, str, bytes)) or not hasattr(result, "__float__"):
            error = f"the objective function returned {result!r}, not a number"
            return [Exited(trial_id, "failed", error=error, exception=TypeError(error))]
        value = float(result)
        finite = math.isfinite(value)
        report = MetricReport(
            name=metric,
            value=value if finite else None,
            raw=None if finite else repr(value),
            source="return",
            reported_at=time.time(),
        )
        events.append(Reported(trial_id, report))
    if stopped is not None:
        events.append(Exited(trial_id, "stopped", error=stopped))
    else:
        events.append(Exited(trial_id, "completed"))
    return events


def failure(trial_id: int, exc: BaseException) -> Exited:
    """The event of an objective that raised ``exc``."""
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return Exited(trial_id, "failed", error=error, exception=exc)


class _ThreadTrial:
    """One running trial's channel: its reports go to the backend's queue, its stop flag is read here."""

    def __init__(self, backend: FunctionBackend, trial_id: int) -> None:
        self.backend = backend
        self.trial_id = trial_id
        self.stop_reason: str | None = None
        self.stop_seen = False
        self.abandoned = False

    def report(self, step: int | None, metrics: Mapping[str, float | str], at: float) -> None:
        self.put(reports(self.trial_id, step, metrics, at))

    def should_stop(self) -> bool:
        if self.stop_reason is not None:
            self.stop_seen = True
            return True
        return False

    def put(self, events: list[Event]) -> None:
        if not self.abandoned:
            for event in events:
                self.backend._events.put(event)


class FunctionBackend:
    """Runs ``fn(hyperparameters) -> float`` for each launched trial, in a thread of its own.

    Parameters
    ----------
    fn
        The objective.
    metric
        The objective metric's name: a returned value is reported under it.
    workers
        How many trials may run at once (the loop's ``max_parallel``).
    """

    def __init__(
        self, fn: Callable[[dict[str, Any]], float | None], *, metric: str, workers: int = 1
    ) -> None:
        self._fn = fn
        self._metric = metric
        self._workers = workers
        self._events: queue.Queue[Event] = queue.Queue()
        self._trials: dict[int, _ThreadTrial] = {}

    def trial_directory(self, trial_id: int) -> str | None:
        return None

    def free_slots(self) -> int:
        return max(0, self._workers - len(self._trials))

    def launch(self, trial: TrialLaunch) -> None:
        channel = _ThreadTrial(self, trial.trial_id)
        self._trials[trial.trial_id] = channel
        thread = threading.Thread(
            target=self._call, args=(channel, dict(trial.hyperparameters)),
            name=f"fasthpo-trial-{trial.trial_id}", daemon=True,
        )
        thread.start()

    def _call(self, channel: _ThreadTrial, params: dict[str, Any]) -> None:
        try:
            with attached(channel):
                result = self._fn(params)
        except BaseException as exc:  # the loop (main thread) decides what an exception means
            channel.put([failure(channel.trial_id, exc)])
            return
        stopped = channel.stop_reason if channel.stop_seen else None
        channel.put(outcome(channel.trial_id, self._metric, result, stopped=stopped))

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        try:
            events.append(self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait())
            while True:
                events.append(self._events.get_nowait())
        except queue.Empty:
            pass
        delivered: list[Event] = []
        for event in events:
            if event.trial_id not in self._trials:
                continue  # a thread abandoned by a forced stop: it already exited ``stopped``
            if isinstance(event, Exited):
                del self._trials[event.trial_id]
                if isinstance(event.exception, KeyboardInterrupt):
                    # Ctrl-C inside the objective interrupts the tuner, as it would the
                    # main thread; the trial never had a fair run and is requeued.
                    raise KeyboardInterrupt
            delivered.append(event)
        return delivered

    @property
    def running(self) -> tuple[int, ...]:
        return tuple(self._trials)

    def stop(self, trial_id: int, reason: str) -> None:
        """Ask a running trial to stop: ``fasthpo.should_stop()`` returns True in it from now on.

        It exits ``stopped`` if its objective saw the request (``completed`` if
        it returned without looking). Unknown or finished trials: nothing.
        """
        channel = self._trials.get(trial_id)
        if channel is not None and channel.stop_reason is None:
            channel.stop_reason = reason

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        """Ask every running trial to stop; ``force`` abandons their threads now (exit ``stopped``)."""
        for trial_id, channel in list(self._trials.items()):
            if channel.stop_reason is None:
                channel.stop_reason = reason
            if force:
                channel.abandoned = True
                self._events.put(Exited(trial_id, "stopped", error=reason))

    def process_groups(self, trial_id: int) -> list[int]:
        """Always empty: trials run inside the tuner's own process."""
        return []
