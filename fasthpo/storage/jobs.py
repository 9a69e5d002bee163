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
from fasthpo.processes import pid_alive
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


@dataclass(frozen=True)
class Lease:
    """Which tuner process runs a job, until when (wall clock) unless renewed."""

    owner: str
    host: str
    pid: int
    expires: float

    def held(self, now: float | None = None) -> bool:
        """Whether the holder may still be running: not expired, and alive if on this host."""
        if (now if now is not None else time.time()) >= self.expires:
            return False
        return self.host != socket.gethostname() or pid_alive(self.pid)

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
    db: sqlite3.Connection, name: str, *, status: str | None, spec: Mapping[str, Any] | None
) -> None:
    """Change a job's status and/or its stored spec."""
    if status is not None and status not in JOB_STATES:
        raise ValueError(f"unknown job status {status!r}")
    with transaction(db):
        if status is not None:
            db.execute(
                "UPDATE jobs SET status = ?, updated_at = ? WHERE name = ?",
                (status, time.time(), name),
            )
        if spec is not None:
            db.execute(
                "UPDATE jobs SET spec = ?, updated_at = ? WHERE name = ?",
                (json.dumps(spec), time.time(), name),
            )


# -- leases and stop requests -------------------------------------------------------------


def acquire_lease(db: sqlite3.Connection, path: Path, job: str, *, ttl: float) -> Lease:
    """Make this process the job's tuner for ``ttl`` seconds, and clear any stop request.

    Raises :class:`JobBusyError` while another live tuner holds the job.
    """
    now = time.time()
    lease = Lease(secrets.token_hex(8), socket.gethostname(), os.getpid(), now + ttl)
    with transaction(db):
        row = db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
        if row is None:
            raise StoreError(f"no job named {job!r} in {str(path)!r}")
        current = _lease(row)
        if current is not None and current.held(now):
            raise JobBusyError(
                f"job {job!r} is being run by {current.describe()}; stop it with "
                f"`fasthpo stop {job}` or wait until it ends"
            )
        db.execute(
            "UPDATE jobs SET lease_owner = ?, lease_host = ?, lease_pid = ?, "
            "lease_expires = ?, stop_requested_at = NULL WHERE name = ?",
            (lease.owner, lease.host, lease.pid, lease.expires, job),
        )
    return lease


def renew_lease(db: sqlite3.Connection, job: str, owner: str, *, ttl: float) -> bool:
    """Extend the lease ``owner`` holds; ``False`` if it is no longer theirs."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE jobs SET lease_expires = ? WHERE name = ? AND lease_owner = ?",
            (time.time() + ttl, job, owner),
        )
    return cursor.rowcount == 1


def release_lease(db: sqlite3.Connection, job: str, owner: str) -> None:
    """Give the job up (only if ``owner`` still holds it)."""
    with transaction(db):
        db.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, "
            "lease_expires = NULL WHERE name = ? AND lease_owner = ?",
            (job, owner),
        )


def lease(db: sqlite3.Connection, job: str) -> Lease | None:
    """The job's lease as recorded (held or not; see :meth:`Lease.held`)."""
    row = db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
    return None if row is None else _lease(row)


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
    )


def _lease(row: sqlite3.Row) -> Lease | None:
    if row["lease_owner"] is None:
        return None
    return Lease(
        owner=row["lease_owner"], host=row["lease_host"], pid=row["lease_pid"],
        expires=row["lease_expires"],
    )
