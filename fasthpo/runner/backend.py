"""What the tuner loop asks of a backend, and the events a backend reports back.

The loop does the bookkeeping (store, strategy, budget); a backend only starts
trials, watches them and stops them. Two backends exist: :mod:`local`
(subprocesses) and :mod:`function` (a Python callable, for ``Tuner.optimize``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fasthpo.metric_report import MetricReport

#: Seconds between SIGTERM and SIGKILL when a trial's processes are stopped.
DEFAULT_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class TrialLaunch:
    """Everything a backend needs to start one trial.

    ``directory`` is where this attempt's files go (the tuner may choose one
    per attempt); ``attempt`` counts tries at the same trial, from 1.
    """

    trial_id: int
    hyperparameters: Mapping[str, Any]  # static and tuned, as the job receives them
    directory: str | None = None
    attempt: int = 1


@dataclass(frozen=True)
class Reported:
    """A trial reported a metric value."""

    trial_id: int
    report: MetricReport


@dataclass(frozen=True)
class Exited:
    """A trial ended: ``status`` is ``completed`` (exit 0), ``failed``, ``stopped`` or ``lost``.

    ``lost``: the attempt ended through no fault of its own (the node it ran on
    died); the loop runs it again, not counting it as a failure, up to
    ``loop.MAX_LOST_ATTEMPTS`` lost attempts in a row, after which the trial fails.
    """

    trial_id: int
    status: str
    exit_code: int | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False)


Event = Reported | Exited


class Backend(Protocol):
    """Starts, watches and stops trials."""

    def trial_directory(self, trial_id: int) -> str | None:
        """Where the trial's files will live (known before it starts), or ``None``."""
        ...

    def free_slots(self) -> int:
        """How many more trials could start now (devices, workers); the loop asks for no more."""
        ...

    def launch(self, trial: TrialLaunch) -> None:
        """Start a trial; a start that fails is reported as an ``Exited`` event."""
        ...

    def poll(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` seconds for news, and return it (possibly nothing)."""
        ...

    @property
    def running(self) -> tuple[int, ...]:
        """Ids of trials that may still produce events."""
        ...

    def stop(self, trial_id: int, reason: str) -> None:
        """Ask one trial to stop gracefully; it exits as ``stopped`` with ``reason``.

        Its ``Exited`` event comes from a later :meth:`poll`. Stopping an
        unknown or finished trial does nothing.
        """
        ...

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        """Ask every running trial to stop (``force``: kill now); they exit as ``stopped``."""
        ...

    def process_groups(self, trial_id: int) -> list[int]:
        """Process group ids of a running trial's processes (empty when it has none).

        The loop stores them so a later tuner can find what a crashed one left running.
        """
        ...
