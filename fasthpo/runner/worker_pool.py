"""A backend that evaluates a Python callable in worker processes (``executor="process"``).

``Tuner.optimize(fn, max_parallel=4, executor="process")`` runs up to four
trials at once, each in one of four long-lived worker processes started with
``multiprocessing``'s ``spawn`` method (no fork of a threaded tuner). ``fn``
travels to each worker once, when it starts, by multiprocessing's own
serialisation: it must be importable by name, i.e. defined at module level of
an importable module (or of a script guarded by ``if __name__ == "__main__"``).
A lambda or a closure cannot be sent; :class:`ProcessBackend` says so at
once, naming ``executor="thread"``, which runs any callable.

Inside a worker, ``fasthpo.report(step=..., **metrics)`` and
``fasthpo.should_stop()`` work as in a thread: reports travel to the tuner
over the worker's pipe and become the same ``Reported`` events, and a stop
request sets an event the worker's ``should_stop()`` reads. Workers ignore
SIGINT (Ctrl-C reaches the whole terminal's process group): the tuner decides;
a forced stop kills them.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from fasthpo.errors import ConfigError
from fasthpo.runner.backend import Event, Exited, TrialLaunch
from fasthpo.runner.function import outcome, reports
from fasthpo.trial_channel import attached

#: Seconds a worker gets to exit on its own when the tuner is done, before it is killed.
SHUTDOWN_SECONDS = 5.0


class _WorkerChannel:
    """The channel of the trial running in a worker: reports go down the pipe."""

    def __init__(self, conn: Connection, trial_id: int, stop: Any) -> None:
        self.conn = conn
        self.trial_id = trial_id
        self.stop = stop
        self.stop_seen = False

    def report(self, step: int | None, metrics: Mapping[str, float | str], at: float) -> None:
        self.conn.send(("report", self.trial_id, step, dict(metrics), at))

    def should_stop(self) -> bool:
        if self.stop.is_set():
            self.stop_seen = True
            return True
        return False


def _serve(fn: Callable[[dict[str, Any]], Any], conn: Connection, stop: Any) -> None:
    """A worker's life: run each trial the tuner sends, until it sends ``None`` or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        trial_id, params = task
        channel = _WorkerChannel(conn, trial_id, stop)
        try:
            with attached(channel):
                result = fn(params)
        except BaseException as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            try:
                conn.send(("failed", trial_id, error, exc))
            except Exception:  # an exception that cannot travel: its text does
                conn.send(("failed", trial_id, error, None))
            continue
        if result is not None and not isinstance(result, (bool, str, bytes)):
            try:
                result = float(result)
            except (TypeError, ValueError):
                pass
        if not (result is None or isinstance(result, float)):
            result = repr(result)
        conn.send(("done", trial_id, result, channel.stop_seen))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    stop: Any
    trial_id: int | None = None
    stop_reason: str | None = None
    events: list[Event] = field(default_factory=list)


class ProcessBackend:
    """Runs ``fn(hyperparameters)`` for each launched trial in one of ``workers`` processes.

    The workers start here, so a callable that cannot be sent to a process is
    a :class:`~fasthpo.errors.ConfigError` before any trial is created.
    Call :meth:`close` when done.
    """

    def __init__(
        self, fn: Callable[[dict[str, Any]], float | None], *, metric: str, workers: int,
        start_method: str = "spawn",
    ) -> None:
        self._fn = fn
        self._metric = metric
        self._context = multiprocessing.get_context(start_method)
        self._workers: list[_Worker] = []
        try:
            for _ in range(workers):
                self._workers.append(self._start())
        except BaseException:
            self.close()
            raise

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        stop = self._context.Event()
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(self._fn, child, stop), name="fasthpo-worker", daemon=True
        )
        try:
            process.start()
        except Exception as exc:
            parent.close()
            raise ConfigError(
                "fn",
                f"{self._fn!r} cannot be sent to a worker process ({type(exc).__name__}: {exc}); "
                "define it at module level of an importable module, or use executor='thread'",
            ) from None
        finally:
            child.close()
        return _Worker(process, parent, stop)

    def trial_directory(self, trial_id: int) -> str | None:
        return None

    def free_slots(self) -> int:
        return sum(w.trial_id is None for w in self._workers)

    def launch(self, trial: TrialLaunch) -> None:
        index = next(i for i, w in enumerate(self._workers) if w.trial_id is None)
        worker = self._workers[index]
        if not worker.process.is_alive():
            worker = self._workers[index] = self._start()
        worker.stop.clear()
        worker.trial_id, worker.stop_reason = trial.trial_id, None
        try:
            worker.conn.send((trial.trial_id, dict(trial.hyperparameters)))
        except (OSError, ValueError) as exc:
            worker.events.append(Exited(trial.trial_id, "failed", error=f"worker unreachable: {exc}"))

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        for worker in self._workers:
            events.extend(worker.events)
            worker.events.clear()
        busy = {id(w.conn): w for w in self._workers if w.trial_id is not None}
        if not busy:
            return events
        for ready in wait([w.conn for w in busy.values()], 0 if events else timeout):
            worker = busy[id(ready)]
            conn = worker.conn
            while worker.trial_id is not None:
                try:
                    if not conn.poll():
                        break
                    message = conn.recv()
                except (EOFError, OSError):
                    worker.process.join(1.0)
                    code = worker.process.exitcode
                    events.append(Exited(
                        worker.trial_id, "failed",
                        error=f"the worker process running it died (exit code {code})",
                    ))
                    worker.trial_id = None
                    break
                events.extend(self._event(worker, message))
        return events

    def _event(self, worker: _Worker, message: tuple[Any, ...]) -> list[Event]:
        kind, trial_id = message[0], message[1]
        if kind == "report":
            return reports(trial_id, message[2], message[3], message[4])
        worker.trial_id = None
        if kind == "failed":
            error, exc = message[2], message[3]
            return [Exited(trial_id, "failed", error=error, exception=exc or RuntimeError(error))]
        result, stop_seen = message[2], message[3]
        if isinstance(result, str):
            error = f"the objective function returned {result}, not a number"
            return [Exited(trial_id, "failed", error=error, exception=TypeError(error))]
        stopped = (worker.stop_reason or "stopped") if stop_seen else None
        return outcome(trial_id, self._metric, result, stopped=stopped)

    @property
    def running(self) -> tuple[int, ...]:
        return tuple(w.trial_id for w in self._workers if w.trial_id is not None)

    def stop(self, trial_id: int, reason: str) -> None:
        """Ask a running trial to stop: ``fasthpo.should_stop()`` returns True in its worker."""
        for worker in self._workers:
            if worker.trial_id == trial_id and worker.stop_reason is None:
                worker.stop_reason = reason
                worker.stop.set()

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        """Ask every running trial to stop; ``force`` kills their workers now (exit ``stopped``)."""
        for worker in self._workers:
            if worker.trial_id is None:
                continue
            self.stop(worker.trial_id, reason)
            if force:
                worker.process.kill()
                worker.process.join()
                worker.events.append(Exited(worker.trial_id, "stopped", error=reason))
                worker.trial_id = None

    def process_groups(self, trial_id: int) -> list[int]:
        """Always empty: workers are the tuner's children and end with it."""
        return []

    def close(self) -> None:
        """Ask the workers to exit; kill those still running after :data:`SHUTDOWN_SECONDS`."""
        for worker in self._workers:
            if worker.trial_id is None:
                try:
                    worker.conn.send(None)
                except (OSError, ValueError):
                    pass
            else:
                worker.process.kill()
        for worker in self._workers:
            worker.process.join(SHUTDOWN_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers.clear()
