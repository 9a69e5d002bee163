"""``Store``: one SQLite file holding jobs, trials and every metric report.

The tuner writes here *before* it acts on a change (a trial row exists before
its process starts), so a killed tuner loses nothing. WAL mode lets readers
(``fasthpo describe`` in another terminal) run while a tuner writes. Structured
values are JSON columns; nothing is pickled.

``Store`` owns the connection; each of its methods is one operation of
:mod:`~fasthpo.storage.jobs`, :mod:`~fasthpo.storage.trials`,
:mod:`~fasthpo.storage.metrics` or :mod:`~fasthpo.storage.scalings`, run on it.

A store that took a job's lease is fenced (:mod:`~fasthpo.storage.fencing`):
its writes to that job fail with ``LeaseLostError`` once another tuner holds
the job, each checked inside its own write transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fasthpo.errors import StoreError
from fasthpo.metric_report import MetricReport
from fasthpo.storage import fencing, jobs, metrics, scalings, trials
from fasthpo.storage.connection import configure, connect
from fasthpo.storage.fencing import fenced
from fasthpo.storage.jobs import Job, Lease
from fasthpo.storage.scalings import ScalingVerdict
from fasthpo.storage.schema import check_existing, create_store, migrate
from fasthpo.storage.trials import Attempt, Trial

DB_ENV = "FASTHPO_DB"
DEFAULT_DB = "fasthpo.db"


def default_db_path() -> str:
    """``$FASTHPO_DB`` if set, else ``fasthpo.db`` in the current folder."""
    return os.environ.get(DB_ENV) or DEFAULT_DB


class Store:
    """A SQLite file holding any number of jobs.

    Parameters
    ----------
    path
        The database file.
    create
        Make the store (and its folder) when no file is there. The command
        line's reading verbs pass ``False``: a missing file is then a
        :class:`StoreError`, so a mistyped ``--db`` creates nothing.
    verify
        Also check every page of an existing file (``PRAGMA quick_check``)
        before writing to it: a tuner does, so it never adds to a damaged store.

    An existing file is checked before anything is written to it (see
    :func:`~fasthpo.storage.schema.check_existing`): an empty, foreign or newer
    file is refused.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, verify: bool = False
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise StoreError(f"no fasthpo store at {str(self.path)!r}")
            create_store(self.path)
        check_existing(self.path, verify=verify)
        #: The lease owner this store writes each fenced job as (see :mod:`~fasthpo.storage.fencing`).
        self.fences: dict[str, str] = {}
        self._db = connect(self.path)
        try:
            configure(self._db)
            migrate(self._db, self.path)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{str(self.path)!r} is not a fasthpo store: {exc}") from None

    def close(self) -> None:
        """Close the connection (the store stays consistent whether or not this runs)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs -------------------------------------------------------------------------

    def create_job(self, name: str, spec: Mapping[str, Any], *, seed: int | None) -> Job:
        """Insert a new job in state ``running``; ``StoreError`` if the name is taken."""
        return jobs.create_job(self._db, self.path, name, spec, seed=seed)

    def get_job(self, name: str) -> Job | None:
        """The job called ``name``, or ``None``."""
        return jobs.get_job(self._db, name)

    def list_jobs(self) -> list[Job]:
        """Every job, oldest first."""
        return jobs.list_jobs(self._db)

    @fenced
    def update_job(
        self, name: str, *, status: str | None = None, spec: Mapping[str, Any] | None = None,
        reason: str | None = None, warm_start: Mapping[str, Any] | None = None,
    ) -> None:
        """Change a job's status (and the reason it ended by itself), its stored spec, or
        its warm-start record."""
        jobs.update_job(
            self._db, name, status=status, spec=spec, reason=reason, warm_start=warm_start
        )

    # -- leases and stop requests -----------------------------------------------------

    def acquire_lease(self, job: str, *, ttl: float) -> Lease:
        """Make this process the job's tuner, clear any stop request, and fence this store's writes.

        Raises :class:`~fasthpo.storage.jobs.JobBusyError` while another live
        tuner holds the job; waits up to ``ttl`` seconds for a holder whose
        heartbeat has stopped (see :func:`~fasthpo.storage.jobs.acquire_lease`).
        From now on this store writes the job only while the lease is ours.
        """
        lease = jobs.acquire_lease(self._db, self.path, job, ttl=ttl)
        fencing.install(self._db, job, lease.owner)
        self.fences[job] = lease.owner
        return lease

    def renew_lease(self, job: str, owner: str, *, ttl: float) -> bool:
        """Beat for the lease ``owner`` holds; ``False`` if it is no longer theirs."""
        return jobs.renew_lease(self._db, job, owner, ttl=ttl)

    def release_lease(self, job: str, owner: str) -> None:
        """Give the job up (only if ``owner`` still holds it), and lift the fence."""
        # A store that lost the lease stays fenced: it must never write the job again.
        if jobs.release_lease(self._db, job, owner) and self.fences.get(job) == owner:
            fencing.remove(self._db, job)
            del self.fences[job]

    def lease(self, job: str) -> Lease | None:
        """The job's lease as recorded (held or not; see :meth:`Lease.held`)."""
        return jobs.lease(self._db, job)

    def delete_job(self, job: str) -> bool:
        """Delete a job and all its records, unless a live tuner holds it (see :func:`jobs.delete_job`)."""
        return jobs.delete_job(self._db, job)

    def request_stop(self, job: str) -> None:
        """Ask the job's tuner to stop (it notices within a second); idempotent."""
        jobs.request_stop(self._db, job)

    def stop_requested(self, job: str) -> bool:
        """Whether a stop was asked for since the job's tuner started."""
        return jobs.stop_requested(self._db, job)

    # -- scaling verdicts -------------------------------------------------------------

    @fenced
    def add_scalings(
        self, job: str, trial_id: int, verdicts: Mapping[str, tuple[str, Mapping[str, Any]]]
    ) -> None:
        """Record new verdicts on ``auto`` parameters, reached once ``trial_id``'s result was known."""
        scalings.add_scalings(self._db, job, trial_id, verdicts)

    def scalings(self, job: str) -> list[ScalingVerdict]:
        """Every verdict change of ``job``, oldest first."""
        return scalings.scalings(self._db, job)

    # -- trials -----------------------------------------------------------------------

    @fenced
    def create_trial(self, job: str, hyperparameters: Mapping[str, Any]) -> Trial:
        """Insert a ``pending`` trial with the next id of ``job`` (ids are never reused)."""
        return trials.create_trial(self._db, job, hyperparameters)

    @fenced
    def start_trial(self, job: str, trial_id: int, *, directory: str | None) -> None:
        """Mark a trial ``running`` and open its current attempt (just before its work starts)."""
        trials.start_trial(self._db, job, trial_id, directory=directory)

    @fenced
    def record_process_groups(self, job: str, trial_id: int, groups: Iterable[int]) -> None:
        """Remember the process groups of a trial's running attempt (to find them after a crash)."""
        trials.record_process_groups(self._db, job, trial_id, groups)

    @fenced
    def finish_trial(
        self,
        job: str,
        trial_id: int,
        *,
        status: str,
        objective: float | None = None,
        exit_code: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a trial (and its current attempt) ended: ``completed``, ``failed`` or ``stopped``."""
        trials.finish_trial(
            self._db, job, trial_id,
            status=status, objective=objective, exit_code=exit_code, error=error,
        )

    @fenced
    def retry_trial(
        self,
        job: str,
        trial_id: int,
        *,
        status: str,
        exit_code: int | None = None,
        error: str | None = None,
    ) -> int:
        """End the current attempt as ``status`` and make the trial ``pending`` for the next one.

        Returns the number of the new attempt.
        """
        return trials.retry_trial(
            self._db, job, trial_id, status=status, exit_code=exit_code, error=error
        )

    def attempts(self, job: str, trial_id: int | None = None) -> list[Attempt]:
        """The attempts of one trial (or of every trial of ``job``), in order."""
        return trials.attempts(self._db, job, trial_id)

    def get_trial(self, job: str, trial_id: int) -> Trial | None:
        """One trial, or ``None``."""
        return trials.get_trial(self._db, job, trial_id)

    def trials(self, job: str, *, status: Iterable[str] | None = None) -> list[Trial]:
        """The trials of ``job`` by id, optionally only those in the given states."""
        return trials.trials(self._db, job, status=status)

    def counters(self, job: str) -> dict[str, int]:
        """How many trials of ``job`` are in each state (every state present, zero or not)."""
        return trials.counters(self._db, job)

    def best_trial(self, job: str, direction: str) -> Trial | None:
        """The completed trial with the best finite objective (lowest id on ties)."""
        return trials.best_trial(self._db, job, direction)

    # -- metrics ----------------------------------------------------------------------

    @fenced
    def add_metrics(self, job: str, trial_id: int, reports: Iterable[MetricReport]) -> None:
        """Append metric reports of one trial in a single transaction."""
        metrics.add_metrics(self._db, job, trial_id, reports)

    def metrics(
        self, job: str, trial_id: int, name: str | None = None, *, attempt: int | None = None
    ) -> list[MetricReport]:
        """A trial's metric reports (of every attempt, or of one) in the order they were recorded."""
        return metrics.metrics(self._db, job, trial_id, name, attempt=attempt)
