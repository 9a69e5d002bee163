"""Python objectives on a Ray cluster: ``Tuner.optimize(fn, backend="ray", max_parallel=N)``.

Each trial is one streaming Ray task (:func:`call_objective`) that calls
``fn(params)`` on some node, in a thread, while it sends back what the call
reports with ``fasthpo.report`` as it reports it (the task points
``FASTHPO_METRICS_FILE`` at a file of its own, as a subprocess trial's
tuner does); the value ``fn`` returns comes last. An exception in ``fn`` fails
the trial and reaches the tuner as an instance of its own type, so
``catch=(...)`` works as in-process. Stopping a trial (early stopping, a
stop of the job) ends its Ray worker, and with it the call. A call whose node
dies is ``lost`` and runs again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fasthpo.runner.backend import Event, Exited, Reported, TrialLaunch
from fasthpo.runner.function import outcome
from fasthpo.runner.logs import LineFollower, parse_report_lines
from fasthpo.runner.ray_backend import PLACEMENT_SECONDS, UNLIMITED, connect, import_ray
from fasthpo.trial_env import METRICS_FILE_ENV

#: How often the task looks for new reports while ``fn`` runs (seconds).
TICK_SECONDS = 0.05


def call_objective(fn: Callable[[dict[str, Any]], Any], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Call ``fn(params)`` on this node; yield ``started``, report lines, then the value.

    Runs inside a Ray worker, one task at a time, so the process-wide
    ``FASTHPO_METRICS_FILE`` belongs to this call while it runs.
    """
    fd, path = tempfile.mkstemp(prefix="fasthpo-reports-", suffix=".jsonl")
    os.close(fd)
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = fn(dict(params))
        except BaseException as exc:
            outcome["error"] = exc

    previous = os.environ.get(METRICS_FILE_ENV)
    os.environ[METRICS_FILE_ENV] = path
    try:
        yield {"started": True}
        follower = LineFollower(path)
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(TICK_SECONDS)
            lines = follower.read(final=not worker.is_alive())
            if lines:
                yield {"reports": lines}
        lines = follower.read(final=True)
        if lines:
            yield {"reports": lines}
    finally:
        if previous is None:
            os.environ.pop(METRICS_FILE_ENV, None)
        else:
            os.environ[METRICS_FILE_ENV] = previous
        with contextlib.suppress(OSError):
            os.unlink(path)
    if "error" in outcome:
        raise outcome["error"]  # Ray sends it to the tuner as an instance of its own type
    yield {"value": outcome.get("value")}


@dataclass
class _Call:
    trial_id: int
    stream: Any  # ray.ObjectRefGenerator
    launched: float  # monotonic
    started: bool = False
    stop_reason: str | None = None


class RayFunctionBackend:
    """Runs ``fn(hyperparameters) -> float`` as Ray tasks, as many at once as the loop allows."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any], *, metric: str,
                 address: str | None = None, num_cpus: float = 1) -> None:
        self._ray = import_ray("backend")
        self._owns_connection = connect(address)
        self._metric = metric
        self._fn_ref = self._ray.put(fn)  # shipped once, not with every call
        self._task = self._ray.remote(num_returns="streaming", max_retries=0, num_cpus=num_cpus)(
            call_objective
        )
        self._calls: dict[int, _Call] = {}
        self._finished: list[Event] = []

    def trial_directory(self, trial_id: int) -> str | None:
        return None

    def free_slots(self) -> int:
        """None while a call has waited long for Ray to place it (the cluster is full), else many."""
        now = time.monotonic()
        waiting = any(not c.started and now - c.launched > PLACEMENT_SECONDS for c in self._calls.values())
        return 0 if waiting else UNLIMITED

    def launch(self, trial: TrialLaunch) -> None:
        stream = self._task.remote(self._fn_ref, dict(trial.hyperparameters))
        self._calls[trial.trial_id] = _Call(trial.trial_id, stream, time.monotonic())

    def poll(self, timeout: float) -> list[Event]:
        events, self._finished = self._finished, []
        if events:
            timeout = 0.0
        streams = [c.stream for c in self._calls.values()]
        if streams:
            self._ray.wait(streams, num_returns=1, timeout=timeout)
        elif timeout > 0:
            time.sleep(timeout)
        for call in list(self._calls.values()):
            events += self._take(call)
        return events

    @property
    def running(self) -> tuple[int, ...]:
        return (*self._calls, *(e.trial_id for e in self._finished if isinstance(e, Exited)))

    def stop(self, trial_id: int, reason: str) -> None:
        """End the call's Ray worker (or drop it if not started); it exits as ``stopped``."""
        call = self._calls.get(trial_id)
        if call is not None and call.stop_reason is None:
            call.stop_reason = reason
            self._ray.cancel(call.stream, force=call.started)

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        for trial_id in list(self._calls):
            self.stop(trial_id, reason)

    def process_groups(self, trial_id: int) -> list[int]:
        """Always empty: calls run in Ray's workers."""
        return []

    def close(self) -> None:
        """Disconnect from Ray if this backend connected."""
        if self._owns_connection:
            self._ray.shutdown()
            self._owns_connection = False

    def _take(self, call: _Call) -> list[Event]:
        ray = self._ray
        events: list[Event] = []
        while True:
            ready, _ = ray.wait([call.stream], num_returns=1, timeout=0)
            if not ready:
                return events
            try:
                item = ray.get(next(call.stream))
            except StopIteration:
                # A call with a value is settled already (and gone from _calls); one that
                # ends without a value was cancelled before it started, or its worker vanished.
                if call.stop_reason is not None:
                    return events + self._end(call, Exited(call.trial_id, "stopped", error=call.stop_reason))
                return events + self._end(
                    call, Exited(call.trial_id, "lost", error="lost: the Ray task ended without a result")
                )
            except ray.exceptions.TaskCancelledError:
                return events + self._end(call, Exited(call.trial_id, "stopped", error=call.stop_reason))
            except ray.exceptions.RayTaskError as exc:
                if call.stop_reason is not None:
                    return events + self._end(call, Exited(call.trial_id, "stopped", error=call.stop_reason))
                cause = exc.cause if exc.cause is not None else exc
                error = "".join(traceback.format_exception_only(type(cause), cause)).strip()
                return events + self._end(call, Exited(call.trial_id, "failed", error=error, exception=exc))
            except ray.exceptions.RayError as exc:  # its node or worker died
                status = "stopped" if call.stop_reason is not None else "lost"
                error = call.stop_reason or f"lost: {str(exc).strip().splitlines()[0]}"
                return events + self._end(call, Exited(call.trial_id, status, error=error))
            if "started" in item:
                call.started = True
            elif "reports" in item:
                events += [
                    Reported(call.trial_id, r) for r in parse_report_lines(item["reports"])
                ]
            elif "value" in item:
                return events + self._end(call, *self._result(call.trial_id, item["value"]))

    def _end(self, call: _Call, *events: Event) -> list[Event]:
        del self._calls[call.trial_id]
        return list(events)

    def _result(self, trial_id: int, result: Any) -> list[Event]:
        """The events of a returned value, checked as the in-process backend checks it."""
        return outcome(trial_id, self._metric, result, stopped=None)
