"""Holding a job while a tuner runs it: a lease in the store, renewed by a heartbeat.

One tuner at a time runs a job. It takes the job's lease when it starts and a
background thread renews it every :data:`HEARTBEAT_SECONDS`; a second tuner is
refused while the lease is held (:class:`~fasthpo.storage.JobBusyError`). A
lease is held until it expires, or at once no longer when its holder's process
is gone (same host), so ``kill -9`` of a tuner frees its job immediately for
``fasthpo resume`` and a tuner on another host takes over after
:data:`LEASE_SECONDS`. The heartbeat also notices ``fasthpo stop`` requests,
so the tuner loop only reads two flags.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType

from fasthpo.errors import StoreError
from fasthpo.storage import Lease, Store

log = logging.getLogger("fasthpo")

#: How long a lease lasts without renewal (seconds).
LEASE_SECONDS = 30.0
#: How often the heartbeat renews the lease and looks for stop requests (seconds).
HEARTBEAT_SECONDS = 0.5


class LeaseLostError(StoreError):
    """Another tuner took the job over (this one looked dead): stop without writing."""


class JobLease:
    """Takes a job's lease on entry, renews it in the background, gives it back on exit.

    Parameters
    ----------
    store
        The tuner's store (used on this thread to take and release the lease).
    job
        The job's name.
    """

    def __init__(self, store: Store, job: str) -> None:
        self._store = store
        self._path = Path(store.path)
        self.job = job
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
                f"more than {LEASE_SECONDS:g} s); stopping without further writes"
            )

    def __enter__(self) -> JobLease:
        self.lease = self._store.acquire_lease(self.job, ttl=LEASE_SECONDS)
        self._thread = threading.Thread(target=self._beat, name="fasthpo-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self.lease is not None and not self._lost.is_set():
            self._store.release_lease(self.job, self.lease.owner)

    def _beat(self) -> None:
        assert self.lease is not None
        try:
            store = Store(self._path)
        except StoreError as exc:  # the main thread will meet the same problem
            log.error("lease heartbeat cannot open the store: %s", exc)
            return
        with store:
            while not self._done.wait(HEARTBEAT_SECONDS):
                try:
                    if not store.renew_lease(self.job, self.lease.owner, ttl=LEASE_SECONDS):
                        self._lost.set()
                        return
                    if store.stop_requested(self.job):
                        self._stop_requested.set()
                except Exception as exc:  # a busy or briefly unreadable store: try again
                    log.debug("lease heartbeat failed: %s", exc)
