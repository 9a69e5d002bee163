"""Holding a job while a tuner runs it: a lease in the store, renewed by a heartbeat.

One tuner at a time runs a job. It takes the job's lease when it starts and a
background thread beats (advances the lease's counter) every
:data:`HEARTBEAT_SECONDS`; a second tuner is refused as soon as it sees a beat
(:class:`~fasthpo.storage.JobBusyError`). A holder whose process is gone (same
host) frees the job at once, so ``kill -9`` of a tuner frees its job
immediately for ``fasthpo resume``; a holder whose heartbeat stays silent for
:data:`LEASE_SECONDS` on the waiting tuner's monotonic clock (frozen, hung,
or dead on another host) is taken over. Taking the lease fences the tuner's
store, so a frozen tuner that wakes up after a takeover cannot write
(:class:`LeaseLostError`). The heartbeat also notices ``fasthpo stop``
requests, so the tuner loop only reads two flags.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from types import TracebackType

from fasthpo.errors import ConfigError, StoreError
from fasthpo.storage import Lease, LeaseLostError, Store

log = logging.getLogger("fasthpo")

#: How long a holder's heartbeat may stay silent before another tuner takes its job (seconds).
LEASE_SECONDS = 30.0
#: Overrides :data:`LEASE_SECONDS` — meant for tests, which freeze a tuner for a few seconds.
LEASE_SECONDS_ENV = "FASTHPO_LEASE_SECONDS"
#: How often the heartbeat beats and looks for stop requests, at most (seconds).
HEARTBEAT_SECONDS = 0.5

__all__ = ["HEARTBEAT_SECONDS", "LEASE_SECONDS", "JobLease", "LeaseLostError", "lease_seconds"]


def lease_seconds() -> float:
    """The lease duration: :data:`LEASE_SECONDS`, or ``$FASTHPO_LEASE_SECONDS`` (for tests)."""
    value = os.environ.get(LEASE_SECONDS_ENV)
    if not value:
        return LEASE_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ConfigError(LEASE_SECONDS_ENV, f"must be a positive number of seconds, got {value!r}")
    return seconds


class JobLease:
    """Takes a job's lease on entry, beats in the background, gives it back on exit.

    Parameters
    ----------
    store
        The tuner's store (used on this thread to take and release the lease;
        taking it fences the store's writes to the job).
    job
        The job's name.
    """

    def __init__(self, store: Store, job: str) -> None:
        self._store = store
        self._path = Path(store.path)
        self.job = job
        self.ttl = lease_seconds()
        self.lease: Lease | None = None
        self._stop_requested = threading.Event()
        self._lost = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stop_requested(self) -> bool:
        """``fasthpo stop`` was asked for this job."""
        return self._stop_requested.is_set()

    def check(self) -> None:
        """Raise :class:`LeaseLostError` if another tuner took the job over."""
        if self._lost.is_set():
            raise LeaseLostError(
                f"another tuner took job {self.job!r} over (this one was unresponsive for "
                f"more than {self.ttl:g} s); stopped this tuner's trials without further writes"
            )

    def __enter__(self) -> JobLease:
        current = self._store.lease(self.job)
        if current is not None and current.held():
            log.info(
                "job %s is recorded as run by %s: watching its heartbeat (taken over after "
                "%g s of silence)", self.job, current.describe(), self.ttl,
            )
        self.lease = self._store.acquire_lease(self.job, ttl=self.ttl)
        self._thread = threading.Thread(target=self._beat, name="fasthpo-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if kind is not None and issubclass(kind, LeaseLostError):
            self._lost.set()
        if self.lease is not None and not self._lost.is_set():
            self._store.release_lease(self.job, self.lease.owner)

    def _beat(self) -> None:
        # A thread of the tuner process: it beats while the main thread is busy
        # (a long proposal, a slow log), and stops with every other thread when
        # the process is frozen (SIGSTOP), which is what lets another tuner
        # see the silence and take over.
        assert self.lease is not None
        try:
            store = Store(self._path)
        except StoreError as exc:  # the main thread will meet the same problem
            log.error("lease heartbeat cannot open the store: %s", exc)
            return
        with store:
            while not self._done.wait(min(HEARTBEAT_SECONDS, self.ttl / 4)):
                try:
                    if not store.renew_lease(self.job, self.lease.owner, ttl=self.ttl):
                        self._lost.set()
                        return
                    if store.stop_requested(self.job):
                        self._stop_requested.set()
                except Exception as exc:  # a busy or briefly unreadable store: try again
                    log.debug("lease heartbeat failed: %s", exc)
