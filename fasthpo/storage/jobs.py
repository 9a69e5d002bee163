"""Jobs in the store: their spec and status, the lease that says which tuner runs one, stop requests."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fasthpo.errors import StoreError
from fasthpo.processes import pid_alive, process_start_time
from fasthpo.storage.connection import json_column, transaction

JOB_STATES = ("running", "completed", "stopped", "failed")


@dataclass(frozen=True)
class Job:
    """A stored job: its validated spec (as a dict) and where it stands."""

    name: str
    spec: dict[str, Any]
    status: str
    seed: int | None
    created_at: float
    updated_at: float
    reason: str | None = None  # why the job ended by itself (completion criteria, max_runtime)
    warm_start: dict[str, Any] | None = None  # the parents' results it took



@dataclass(frozen=True)
class Lease:
    """Which tuner process runs a job.

    Whether its holder still runs is judged without any wall clock: on this
    host by its process (the pid, and the process's start time so a reused
    pid does not pass for it), on every host by its heartbeat counter
    ``beats``, which a waiting tuner watches advance on its own monotonic
    clock (:func:`acquire_lease`). ``expires`` is the holder's own wall-clock
    estimate, shown to users and never compared.
    """

    owner: str
    host: str
    pid: int
    expires: float
    pid_start: int | None = None
    beats: int = 0

    def holder_gone(self) -> bool:
        """Whether the holder certainly no longer runs: on this host, its process is gone."""
        if self.host != socket.gethostname():
            return False  # only its heartbeat can tell
        if not pid_alive(self.pid):
            return True
        started = process_start_time(self.pid)
        return self.pid_start is not None and started is not None and started != self.pid_start

    def held(self) -> bool:
        """Whether the holder may still be running (not :meth:`holder_gone`)."""
        return not self.holder_gone()

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


class JobBusyError(StoreError):
    """Another live tuner holds the job's lease."""


# -- jobs ---------------------------------------------------------------------------------


def create_job(
    db: sqlite3.Connection, path: Path, name: str, spec: Mapping[str, Any], *, seed: int | None
) -> Job:
    """Insert a new job in state ``running``; ``StoreError`` if the name is taken in the store at ``path``."""
    now = time.time()
    try:
        with transaction(db):
            db.execute(
                "INSERT INTO jobs (name, spec, status, seed, created_at, updated_at) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (name, json.dumps(spec), seed, now, now),
            )
    except sqlite3.IntegrityError:
        raise StoreError(f"a job named {name!r} already exists in {str(path)!r}") from None
    job = get_job(db, name)
    assert job is not None
    return job


def get_job(db: sqlite3.Connection, name: str) -> Job | None:
    """The job called ``name``, or ``None``."""
    row = db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
    return None if row is None else _job(row)


def list_jobs(db: sqlite3.Connection) -> list[Job]:
    """Every job, oldest first."""
    rows = db.execute("SELECT * FROM jobs ORDER BY created_at, name").fetchall()
    return [_job(r) for r in rows]


def update_job(
    db: sqlite3.Connection, name: str, *, status: str | None, spec: Mapping[str, Any] | None,
    reason: str | None = None, warm_start: Mapping[str, Any] | None = None,
) -> None:
    """Change a job's status (with its ``reason``, cleared when none), its stored spec, or its
    warm-start record."""
    if status is not None and status not in JOB_STATES:
        raise ValueError(f"unknown job status {status!r}")
    with transaction(db):
        if status is not None:
            db.execute(
                "UPDATE jobs SET status = ?, reason = ?, updated_at = ? WHERE name = ?",
                (status, reason, time.time(), name),
            )
        if warm_start is not None:
            db.execute(
                "UPDATE jobs SET warm_start = ? WHERE name = ?", (json.dumps(warm_start), name)
            )
        if spec is not None:
            db.execute(
                "UPDATE jobs SET spec = ?, updated_at = ? WHERE name = ?",
                (json.dumps(spec), time.time(), name),
            )


# -- leases and stop requests -------------------------------------------------------------


def acquire_lease(db: sqlite3.Connection, path: Path, job: str, *, ttl: float) -> Lease:
    """Make this process the job's tuner, and clear any stop request.

    A recorded holder whose process is gone (same host) gives way at once.
    Otherwise its heartbeat counter is watched on this process's monotonic
    clock: a beat, or another tuner taking the job, means it lives
    (:class:`JobBusyError`); ``ttl`` seconds without a beat mean it is dead
    or frozen, and the job is taken over. No wall clock is compared, so a
    clock jump on either host cannot free a live tuner's job.
    """
    watched: tuple[str, int] | None = None
    since = time.monotonic()
    while True:
        current = _current_lease(db, path, job)
        key = None if current is None else (current.owner, current.beats)
        silent = watched is not None and key == watched and time.monotonic() - since >= ttl
        if current is None or current.holder_gone() or silent:
            taken = _take_lease(db, path, job, key, ttl=ttl)
            if taken is not None:
                return taken
            watched = None  # it changed under us: watch the new state
            continue
        if watched is None:
            watched, since = key, time.monotonic()
        elif key != watched:
            raise JobBusyError(
                f"job {job!r} is being run by {current.describe()}; stop it with "
                f"`fasthpo stop {job}` or wait until it ends"
            )
        time.sleep(min(_WATCH_SECONDS, ttl / 10))


#: How often a tuner waiting for a job looks at its holder's heartbeat (seconds).
_WATCH_SECONDS = 0.05


def _current_lease(db: sqlite3.Connection, path: Path, job: str) -> Lease | None:
    row = db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
    if row is None:
        raise StoreError(f"no job named {job!r} in {str(path)!r}")
    return _lease(row)


def _take_lease(
    db: sqlite3.Connection, path: Path, job: str, seen: tuple[str, int] | None, *, ttl: float
) -> Lease | None:
    """Take the lease if it is still as last ``seen`` (compare-and-set); ``None`` if it changed."""
    now = time.time()
    pid = os.getpid()
    lease = Lease(
        secrets.token_hex(8), socket.gethostname(), pid, now + ttl, process_start_time(pid), 0
    )
    with transaction(db):
        current = _current_lease(db, path, job)
        if (None if current is None else (current.owner, current.beats)) != seen:
            return None
        db.execute(
            "UPDATE jobs SET lease_owner = ?, lease_host = ?, lease_pid = ?, lease_expires = ?, "
            "lease_pid_start = ?, lease_beats = 0, stop_requested_at = NULL WHERE name = ?",
            (lease.owner, lease.host, lease.pid, lease.expires, lease.pid_start, job),
        )
    return lease


def renew_lease(db: sqlite3.Connection, job: str, owner: str, *, ttl: float) -> bool:
    """Beat: advance the counter of the lease ``owner`` holds; ``False`` if it is no longer theirs."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE jobs SET lease_beats = lease_beats + 1, lease_expires = ? "
            "WHERE name = ? AND lease_owner = ?",
            (time.time() + ttl, job, owner),
        )
    return cursor.rowcount == 1


def release_lease(db: sqlite3.Connection, job: str, owner: str) -> bool:
    """Give the job up (only if ``owner`` still holds it); whether it did."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, "
            "lease_expires = NULL, lease_pid_start = NULL, lease_beats = 0 "
            "WHERE name = ? AND lease_owner = ?",
            (job, owner),
        )
    return cursor.rowcount == 1


def lease(db: sqlite3.Connection, job: str) -> Lease | None:
    """The job's lease as recorded (held or not; see :meth:`Lease.held`)."""
    row = db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
    return None if row is None else _lease(row)


def delete_job(db: sqlite3.Connection, job: str) -> bool:
    """Delete the job and everything recorded of it; ``False`` if there was none.

    Refused (:class:`JobBusyError`) while a tuner that may be alive holds its
    lease: judged inside the write transaction, so no tuner can take the job
    between the check and the delete.
    """
    with transaction(db):
        row = db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
        if row is None:
            return False
        current = _lease(row)
        if current is not None and current.held():
            raise JobBusyError(
                f"job {job!r} is being run by {current.describe()}; stop it first "
                f"(fasthpo stop {job}), then delete it"
            )
        db.execute("DELETE FROM jobs WHERE name = ?", (job,))  # trials, attempts, metrics: cascaded
    return True


def request_stop(db: sqlite3.Connection, job: str) -> None:
    """Ask the job's tuner to stop (it notices within a second); idempotent."""
    with transaction(db):
        db.execute(
            "UPDATE jobs SET stop_requested_at = COALESCE(stop_requested_at, ?) WHERE name = ?",
            (time.time(), job),
        )


def stop_requested(db: sqlite3.Connection, job: str) -> bool:
    """Whether a stop was asked for since the job's tuner started."""
    row = db.execute("SELECT stop_requested_at FROM jobs WHERE name = ?", (job,)).fetchone()
    return row is not None and row[0] is not None


def _job(row: sqlite3.Row) -> Job:
    return Job(
        name=row["name"],
        spec=json_column(row["spec"], f"the spec of job {row['name']!r}"),
        status=row["status"],
        seed=row["seed"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        warm_start=None if row["warm_start"] is None
        else json_column(row["warm_start"], f"the warm-start record of job {row['name']!r}"),
    )


def _lease(row: sqlite3.Row) -> Lease | None:
    if row["lease_owner"] is None:
        return None
    return Lease(
        owner=row["lease_owner"], host=row["lease_host"], pid=row["lease_pid"],
        expires=row["lease_expires"], pid_start=row["lease_pid_start"], beats=row["lease_beats"],
    )
