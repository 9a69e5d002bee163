"""The SQLite store: jobs, trials and every metric report, in one file.

The tuner writes here *before* it acts on a change (a trial row exists before
its process starts), so a killed tuner loses nothing. WAL mode lets readers
(``fasthpo describe`` in another terminal) run while a tuner writes. Structured
values are JSON columns; nothing is pickled.

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`)::

    jobs(name PK, spec JSON, status, seed, created_at, updated_at,
         stop_requested_at, lease_owner, lease_host, lease_pid, lease_expires)
    trials(job, trial_id, status, hyperparameters JSON, objective, exit_code,
           error, directory, created_at, started_at, ended_at, attempt)
                                                           PK (job, trial_id)
    attempts(job, trial_id, attempt, status, exit_code, error, directory,
             process_groups JSON, started_at, ended_at)   PK (job, trial_id, attempt)
    metrics(job, trial_id, attempt, instance, name, step, value, raw, source,
            reported_at)
    scalings(job, parameter, trial_id, verdict, evidence JSON, recorded_at)

A trial's ``objective`` is NULL unless it completed (or was stopped early by
the stopping rule) with a finite objective; a metric's ``value`` is NULL when
the job reported something that is not a finite number (``raw`` keeps the
text). A trial is run by one or more *attempts*: a retry is a new attempt of
the same trial, with the same id and hyperparameters. The ``lease_*`` columns
say which tuner process runs a job (see :class:`Lease`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fasthpo.errors import StoreError
from fasthpo.metric_report import MetricReport
from fasthpo.processes import pid_alive

SCHEMA_VERSION = 2
DB_ENV = "FASTHPO_DB"
DEFAULT_DB = "fasthpo.db"

TRIAL_STATES = ("pending", "running", "completed", "failed", "stopped")
JOB_STATES = ("running", "completed", "stopped", "failed")
ATTEMPT_STATES = ("running", "completed", "failed", "stopped", "lost")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name        TEXT PRIMARY KEY,
    spec        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running','completed','stopped','failed')),
    seed        INTEGER,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    stop_requested_at REAL,
    lease_owner   TEXT,
    lease_host    TEXT,
    lease_pid     INTEGER,
    lease_expires REAL
);
CREATE TABLE IF NOT EXISTS trials (
    job             TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    trial_id        INTEGER NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending','running','completed','failed','stopped')),
    hyperparameters TEXT NOT NULL,
    objective       REAL,
    exit_code       INTEGER,
    error           TEXT,
    directory       TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    ended_at        REAL,
    attempt         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job, trial_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    job            TEXT NOT NULL,
    trial_id       INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('running','completed','failed','stopped','lost')),
    exit_code      INTEGER,
    error          TEXT,
    directory      TEXT,
    process_groups TEXT NOT NULL DEFAULT '[]',
    started_at     REAL NOT NULL,
    ended_at       REAL,
    PRIMARY KEY (job, trial_id, attempt),
    FOREIGN KEY (job, trial_id) REFERENCES trials(job, trial_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS scalings (
    job         TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    parameter   TEXT NOT NULL,
    trial_id    INTEGER NOT NULL,
    verdict     TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    job         TEXT NOT NULL,
    trial_id    INTEGER NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 1,
    instance    INTEGER NOT NULL DEFAULT 0,
    name        TEXT NOT NULL,
    step        INTEGER,
    value       REAL,
    raw         TEXT,
    source      TEXT NOT NULL,
    reported_at REAL NOT NULL,
    FOREIGN KEY (job, trial_id) REFERENCES trials(job, trial_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS metrics_by_trial ON metrics(job, trial_id, name);
"""

#: Statements that bring a store of version ``k`` to ``k + 1``: first the
#: ``ALTER`` statements, then the schema (which creates new tables), then the
#: data moves in :data:`_BACKFILLS`.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE jobs ADD COLUMN stop_requested_at REAL",
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_host TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_pid INTEGER",
        "ALTER TABLE jobs ADD COLUMN lease_expires REAL",
        "ALTER TABLE trials ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE metrics ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE metrics ADD COLUMN instance INTEGER NOT NULL DEFAULT 0",
    ),
}
_BACKFILLS: dict[int, tuple[str, ...]] = {
    1: (
        # Every trial a version-1 store started ran once.
        "INSERT INTO attempts (job, trial_id, attempt, status, exit_code, error, directory, "
        "started_at, ended_at) SELECT job, trial_id, 1, "
        "CASE status WHEN 'pending' THEN 'lost' WHEN 'running' THEN 'lost' ELSE status END, "
        "exit_code, error, directory, started_at, ended_at FROM trials "
        "WHERE started_at IS NOT NULL",
    ),
}


_BEST_QUERY = {
    "minimize": "SELECT * FROM trials WHERE job = ? AND status = 'completed' "
    "AND objective IS NOT NULL ORDER BY objective ASC, trial_id ASC LIMIT 1",
    "maximize": "SELECT * FROM trials WHERE job = ? AND status = 'completed' "
    "AND objective IS NOT NULL ORDER BY objective DESC, trial_id ASC LIMIT 1",
}


def default_db_path() -> str:
    """``$FASTHPO_DB`` if set, else ``fasthpo.db`` in the current folder."""
    return os.environ.get(DB_ENV) or DEFAULT_DB


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
class Trial:
    """One stored trial. ``objective`` is ``None`` unless it completed with a finite value."""

    job: str
    trial_id: int
    status: str
    hyperparameters: dict[str, Any]
    objective: float | None
    exit_code: int | None
    error: str | None
    directory: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    attempt: int = 1  # the current (or last) attempt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by ``fasthpo trials --format json``."""
        return {
            "trial_id": self.trial_id,
            "status": self.status,
            "hyperparameters": self.hyperparameters,
            "objective": self.objective,
            "exit_code": self.exit_code,
            "error": self.error,
            "directory": self.directory,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "attempt": self.attempt,
        }


@dataclass(frozen=True)
class Attempt:
    """One run of a trial: a retry is a new attempt with the same trial id."""

    job: str
    trial_id: int
    attempt: int
    status: str  # running | completed | failed | stopped | lost
    exit_code: int | None
    error: str | None
    directory: str | None
    process_groups: tuple[int, ...]
    started_at: float
    ended_at: float | None


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


@dataclass(frozen=True)
class ScalingVerdict:
    """What the strategy concluded about an ``auto`` parameter's scale, from a trial on."""

    parameter: str
    trial_id: int
    verdict: str
    evidence: dict[str, Any]
    recorded_at: float


class JobBusyError(StoreError):
    """Another live tuner holds the job's lease."""


class Store:
    """A SQLite file holding any number of jobs.

    Parameters
    ----------
    path
        The database file; created (with its folder) when missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {str(self.path)!r}: {exc}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives any process crash; only power loss can drop
            # the last transactions, and never corrupts the file.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{str(self.path)!r} is not a fasthpo store: {exc}") from None

    def _migrate(self) -> None:
        # Readers of a current store take no write lock (a busy tuner is not slowed).
        if self._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{str(self.path)!r} was written by a newer fasthpo (schema {version}, "
                    f"this version reads up to {SCHEMA_VERSION}); upgrade fasthpo"
                )
            if version == 0:
                tables = self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                ).fetchall()
                if tables:
                    raise StoreError(
                        f"{str(self.path)!r} is an SQLite file that fasthpo did not create"
                    )
            # A new file gets the schema as is; an older store is altered step by step.
            steps = range(version, SCHEMA_VERSION) if version else range(0)
            for step in steps:
                for statement in _MIGRATIONS[step]:
                    self._db.execute(statement)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            for step in steps:
                for statement in _BACKFILLS.get(step, ()):
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection (the store stays consistent whether or not this runs)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so two tuners never interleave
        # a read-modify-write (such as choosing the next trial id).
        if self._db.in_transaction:
            # A signal (Ctrl-C) landed between an earlier BEGIN and its try block:
            # that transaction never finished, so drop it rather than nest.
            self._db.execute("ROLLBACK")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # -- jobs -------------------------------------------------------------------------

    def create_job(self, name: str, spec: Mapping[str, Any], *, seed: int | None) -> Job:
        """Insert a new job in state ``running``; ``StoreError`` if the name is taken."""
        now = time.time()
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO jobs (name, spec, status, seed, created_at, updated_at) "
                    "VALUES (?, ?, 'running', ?, ?, ?)",
                    (name, json.dumps(spec), seed, now, now),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"a job named {name!r} already exists in {str(self.path)!r}") from None
        job = self.get_job(name)
        assert job is not None
        return job

    def get_job(self, name: str) -> Job | None:
        """The job called ``name``, or ``None``."""
        row = self._db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        return None if row is None else _job(row)

    def list_jobs(self) -> list[Job]:
        """Every job, oldest first."""
        rows = self._db.execute("SELECT * FROM jobs ORDER BY created_at, name").fetchall()
        return [_job(r) for r in rows]

    def update_job(
        self, name: str, *, status: str | None = None, spec: Mapping[str, Any] | None = None
    ) -> None:
        """Change a job's status and/or its stored spec."""
        if status is not None and status not in JOB_STATES:
            raise ValueError(f"unknown job status {status!r}")
        with self._transaction() as db:
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

    # -- leases and stop requests -----------------------------------------------------

    def acquire_lease(self, job: str, *, ttl: float) -> Lease:
        """Make this process the job's tuner for ``ttl`` seconds, and clear any stop request.

        Raises :class:`JobBusyError` while another live tuner holds the job.
        """
        now = time.time()
        lease = Lease(secrets.token_hex(8), socket.gethostname(), os.getpid(), now + ttl)
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
            if row is None:
                raise StoreError(f"no job named {job!r} in {str(self.path)!r}")
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

    def renew_lease(self, job: str, owner: str, *, ttl: float) -> bool:
        """Extend the lease ``owner`` holds; ``False`` if it is no longer theirs."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE jobs SET lease_expires = ? WHERE name = ? AND lease_owner = ?",
                (time.time() + ttl, job, owner),
            )
        return cursor.rowcount == 1

    def release_lease(self, job: str, owner: str) -> None:
        """Give the job up (only if ``owner`` still holds it)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, "
                "lease_expires = NULL WHERE name = ? AND lease_owner = ?",
                (job, owner),
            )

    def lease(self, job: str) -> Lease | None:
        """The job's lease as recorded (held or not; see :meth:`Lease.held`)."""
        row = self._db.execute("SELECT * FROM jobs WHERE name = ?", (job,)).fetchone()
        return None if row is None else _lease(row)

    def request_stop(self, job: str) -> None:
        """Ask the job's tuner to stop (it notices within a second); idempotent."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET stop_requested_at = COALESCE(stop_requested_at, ?) WHERE name = ?",
                (time.time(), job),
            )

    def stop_requested(self, job: str) -> bool:
        """Whether a stop was asked for since the job's tuner started."""
        row = self._db.execute(
            "SELECT stop_requested_at FROM jobs WHERE name = ?", (job,)
        ).fetchone()
        return row is not None and row[0] is not None

    # -- scaling verdicts -------------------------------------------------------------

    def add_scalings(
        self, job: str, trial_id: int, verdicts: Mapping[str, tuple[str, Mapping[str, Any]]]
    ) -> None:
        """Record new verdicts on ``auto`` parameters, reached once ``trial_id``'s result was known."""
        if not verdicts:
            return
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO scalings (job, parameter, trial_id, verdict, evidence, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (job, name, trial_id, verdict, json.dumps(dict(evidence)), now)
                    for name, (verdict, evidence) in verdicts.items()
                ],
            )

    def scalings(self, job: str) -> list[ScalingVerdict]:
        """Every verdict change of ``job``, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM scalings WHERE job = ? ORDER BY rowid", (job,)
        ).fetchall()
        return [
            ScalingVerdict(
                parameter=r["parameter"], trial_id=r["trial_id"], verdict=r["verdict"],
                evidence=json.loads(r["evidence"]), recorded_at=r["recorded_at"],
            )
            for r in rows
        ]

    # -- trials -----------------------------------------------------------------------

    def create_trial(self, job: str, hyperparameters: Mapping[str, Any]) -> Trial:
        """Insert a ``pending`` trial with the next id of ``job`` (ids are never reused)."""
        with self._transaction() as db:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(trial_id), 0) FROM trials WHERE job = ?", (job,)
            ).fetchone()
            db.execute(
                "INSERT INTO trials (job, trial_id, status, hyperparameters, created_at) "
                "VALUES (?, ?, 'pending', ?, ?)",
                (job, last + 1, json.dumps(dict(hyperparameters)), time.time()),
            )
        trial = self.get_trial(job, last + 1)
        assert trial is not None
        return trial

    def start_trial(self, job: str, trial_id: int, *, directory: str | None) -> None:
        """Mark a trial ``running`` and open its current attempt (just before its work starts)."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE trials SET status = 'running', directory = ?, started_at = ?, "
                "ended_at = NULL WHERE job = ? AND trial_id = ?",
                (directory, now, job, trial_id),
            )
            db.execute(
                "INSERT OR REPLACE INTO attempts (job, trial_id, attempt, status, directory, "
                "started_at) SELECT job, trial_id, attempt, 'running', ?, ? FROM trials "
                "WHERE job = ? AND trial_id = ?",
                (directory, now, job, trial_id),
            )

    def record_process_groups(self, job: str, trial_id: int, groups: Iterable[int]) -> None:
        """Remember the process groups of a trial's running attempt (to find them after a crash)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE attempts SET process_groups = ? WHERE job = ? AND trial_id = ? "
                "AND attempt = (SELECT attempt FROM trials WHERE job = ? AND trial_id = ?)",
                (json.dumps(sorted(set(groups))), job, trial_id, job, trial_id),
            )

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
        if status not in ("completed", "failed", "stopped"):
            raise ValueError(f"a trial cannot finish as {status!r}")
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE trials SET status = ?, objective = ?, exit_code = ?, error = ?, "
                "ended_at = ? WHERE job = ? AND trial_id = ?",
                (status, objective, exit_code, error, now, job, trial_id),
            )
            self._end_attempt(db, job, trial_id, status, exit_code, error, now)

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
        if status not in ("failed", "stopped", "lost"):
            raise ValueError(f"an attempt is not retried after {status!r}")
        now = time.time()
        with self._transaction() as db:
            self._end_attempt(db, job, trial_id, status, exit_code, error, now)
            db.execute(
                "UPDATE trials SET status = 'pending', attempt = attempt + 1, directory = NULL, "
                "started_at = NULL, ended_at = NULL, exit_code = NULL, error = NULL "
                "WHERE job = ? AND trial_id = ?",
                (job, trial_id),
            )
            (attempt,) = db.execute(
                "SELECT attempt FROM trials WHERE job = ? AND trial_id = ?", (job, trial_id)
            ).fetchone()
        return int(attempt)

    @staticmethod
    def _end_attempt(
        db: sqlite3.Connection, job: str, trial_id: int, status: str,
        exit_code: int | None, error: str | None, now: float,
    ) -> None:
        db.execute(
            "UPDATE attempts SET status = ?, exit_code = ?, error = ?, ended_at = ? "
            "WHERE job = ? AND trial_id = ? AND status = 'running' "
            "AND attempt = (SELECT attempt FROM trials WHERE job = ? AND trial_id = ?)",
            (status, exit_code, error, now, job, trial_id, job, trial_id),
        )

    def attempts(self, job: str, trial_id: int | None = None) -> list[Attempt]:
        """The attempts of one trial (or of every trial of ``job``), in order."""
        query, args = "SELECT * FROM attempts WHERE job = ?", [job]
        if trial_id is not None:
            query += " AND trial_id = ?"
            args.append(trial_id)
        rows = self._db.execute(query + " ORDER BY trial_id, attempt", args).fetchall()
        return [_attempt(r) for r in rows]

    def get_trial(self, job: str, trial_id: int) -> Trial | None:
        """One trial, or ``None``."""
        row = self._db.execute(
            "SELECT * FROM trials WHERE job = ? AND trial_id = ?", (job, trial_id)
        ).fetchone()
        return None if row is None else _trial(row)

    def trials(self, job: str, *, status: Iterable[str] | None = None) -> list[Trial]:
        """The trials of ``job`` by id, optionally only those in the given states."""
        rows = self._db.execute(
            "SELECT * FROM trials WHERE job = ? ORDER BY trial_id", (job,)
        ).fetchall()
        wanted = None if status is None else set(status)
        return [_trial(r) for r in rows if wanted is None or r["status"] in wanted]

    def counters(self, job: str) -> dict[str, int]:
        """How many trials of ``job`` are in each state (every state present, zero or not)."""
        counts = dict.fromkeys(TRIAL_STATES, 0)
        for status, count in self._db.execute(
            "SELECT status, COUNT(*) FROM trials WHERE job = ? GROUP BY status", (job,)
        ):
            counts[status] = count
        return counts

    def best_trial(self, job: str, direction: str) -> Trial | None:
        """The completed trial with the best finite objective (lowest id on ties)."""
        row = self._db.execute(_BEST_QUERY[direction], (job,)).fetchone()
        return None if row is None else _trial(row)

    # -- metrics ----------------------------------------------------------------------

    def add_metrics(self, job: str, trial_id: int, reports: Iterable[MetricReport]) -> None:
        """Append metric reports of one trial in a single transaction."""
        rows = [
            (job, trial_id, r.name, r.step, r.value, r.raw, r.source, r.reported_at, r.instance,
             job, trial_id)
            for r in reports
        ]
        if not rows:
            return
        with self._transaction() as db:
            # Reports belong to the trial's current attempt.
            db.executemany(
                "INSERT INTO metrics (job, trial_id, name, step, value, raw, source, reported_at,"
                " instance, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT attempt FROM trials WHERE job = ? AND trial_id = ?))",
                rows,
            )

    def metrics(
        self, job: str, trial_id: int, name: str | None = None, *, attempt: int | None = None
    ) -> list[MetricReport]:
        """A trial's metric reports (of every attempt, or of one) in the order they were recorded."""
        query = "SELECT * FROM metrics WHERE job = ? AND trial_id = ?"
        args: tuple[Any, ...] = (job, trial_id)
        if name is not None:
            query += " AND name = ?"
            args += (name,)
        if attempt is not None:
            query += " AND attempt = ?"
            args += (attempt,)
        rows = self._db.execute(query + " ORDER BY rowid", args).fetchall()
        return [
            MetricReport(
                name=r["name"], value=r["value"], step=r["step"], raw=r["raw"],
                source=r["source"], reported_at=r["reported_at"], instance=r["instance"],
            )
            for r in rows
        ]


def _job(row: sqlite3.Row) -> Job:
    return Job(
        name=row["name"],
        spec=json.loads(row["spec"]),
        status=row["status"],
        seed=row["seed"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _trial(row: sqlite3.Row) -> Trial:
    return Trial(
        job=row["job"],
        trial_id=row["trial_id"],
        status=row["status"],
        hyperparameters=json.loads(row["hyperparameters"]),
        objective=row["objective"],
        exit_code=row["exit_code"],
        error=row["error"],
        directory=row["directory"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        attempt=row["attempt"],
    )


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        job=row["job"],
        trial_id=row["trial_id"],
        attempt=row["attempt"],
        status=row["status"],
        exit_code=row["exit_code"],
        error=row["error"],
        directory=row["directory"],
        process_groups=tuple(json.loads(row["process_groups"])),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )


def _lease(row: sqlite3.Row) -> Lease | None:
    if row["lease_owner"] is None:
        return None
    return Lease(
        owner=row["lease_owner"], host=row["lease_host"], pid=row["lease_pid"],
        expires=row["lease_expires"],
    )

