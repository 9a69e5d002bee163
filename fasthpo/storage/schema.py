"""The store's tables, their version, and how an older store is brought up to date.

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`)::

    jobs(name PK, spec JSON, status, seed, created_at, updated_at,
         stop_requested_at, lease_owner, lease_host, lease_pid, lease_expires,
         lease_pid_start, lease_beats, reason, warm_start JSON)
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
say which tuner process runs a job (see :class:`~fasthpo.storage.jobs.Lease`):
``lease_pid_start`` names its process beyond pid reuse, ``lease_beats``
counts its heartbeats (a waiting tuner watches it advance), and
``lease_expires`` is informational (the holder's wall clock, never compared
across hosts). ``reason`` says why a job ended by itself (a completion
criterion, ``limits.max_runtime``); ``warm_start`` records which parents'
results a warm-started job took, and how many.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import urllib.request
from pathlib import Path

from fasthpo.errors import StoreError
from fasthpo.storage.connection import configure, transaction

SCHEMA_VERSION = 4
#: ``PRAGMA application_id`` of a fasthpo store ("fhpo"); stores made before it was set carry 0.
APPLICATION_ID = 0x6668706F

SCHEMA = """
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
    lease_expires REAL,
    lease_pid_start INTEGER,
    lease_beats   INTEGER NOT NULL DEFAULT 0,
    reason        TEXT,
    warm_start    TEXT
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
#: data moves in :data:`BACKFILLS`.
MIGRATIONS: dict[int, tuple[str, ...]] = {
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
    2: (
        "ALTER TABLE jobs ADD COLUMN lease_pid_start INTEGER",
        "ALTER TABLE jobs ADD COLUMN lease_beats INTEGER NOT NULL DEFAULT 0",
    ),
    3: (
        "ALTER TABLE jobs ADD COLUMN reason TEXT",
        "ALTER TABLE jobs ADD COLUMN warm_start TEXT",
    ),
}
BACKFILLS: dict[int, tuple[str, ...]] = {
    1: (
        # Every trial a version-1 store started ran once.
        "INSERT INTO attempts (job, trial_id, attempt, status, exit_code, error, directory, "
        "started_at, ended_at) SELECT job, trial_id, 1, "
        "CASE status WHEN 'pending' THEN 'lost' WHEN 'running' THEN 'lost' ELSE status END, "
        "exit_code, error, directory, started_at, ended_at FROM trials "
        "WHERE started_at IS NOT NULL",
    ),
}


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new file, or bring an older store up to :data:`SCHEMA_VERSION`.

    ``StoreError`` for a store of a newer fasthpo, or an SQLite file fasthpo did not create.
    """
    # Readers of a current store take no write lock (a busy tuner is not slowed).
    if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    with transaction(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{str(path)!r} was written by a newer fasthpo (schema {version}, "
                f"this version reads up to {SCHEMA_VERSION}); upgrade fasthpo"
            )
        if version == 0:
            tables = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            if tables:
                raise StoreError(f"{str(path)!r} is an SQLite file that fasthpo did not create")
        # A new file gets the schema as is; an older store is altered step by step.
        steps = range(version, SCHEMA_VERSION) if version else range(0)
        for step in steps:
            for statement in MIGRATIONS[step]:
                db.execute(statement)
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        for step in steps:
            for statement in BACKFILLS.get(step, ()):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def create_store(path: Path) -> None:
    """Make a new store at ``path`` at once or not at all (another process may win the race).

    The schema is written to a private file beside ``path``, which is then
    linked into place; a link never replaces an existing file, so a reader or
    a second tuner never sees a half-made store, and a file that appeared
    meanwhile is left alone (and judged like any existing file).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create the store {str(path)!r}: {exc}") from None
    try:
        db = sqlite3.connect(scratch, isolation_level=None)
        try:
            configure(db)
            migrate(db, path)
        finally:
            db.close()  # the last connection: the WAL is checkpointed into the file
        os.link(scratch, path)
    except FileExistsError:
        pass
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot create the store {str(path)!r}: {exc}") from None
    finally:
        for leftover in (scratch, scratch + "-wal", scratch + "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def check_existing(path: Path, *, verify: bool) -> None:
    """Refuse, before anything is written to it, a file that is not a readable fasthpo store.

    Opened read-only (SQLite reads through a ``-wal`` file, so a store whose
    last transactions are not checkpointed yet is judged by them): an empty
    file, a file that is not SQLite, an SQLite file another program made
    (its markers or tables are not ours) and a store of a newer fasthpo are
    refused with :class:`StoreError`. ``verify`` also runs ``PRAGMA
    quick_check``, which reads every page: a tuner about to write checks that
    the file is not damaged first.
    """
    where = str(path)
    if path.is_dir():
        raise StoreError(f"{where!r} is a folder, not a fasthpo store")
    uri = f"file:{urllib.request.pathname2url(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store {where!r}: {exc}") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        application = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables and version == 0:
            raise StoreError(
                f"{where!r} exists but is empty, not a fasthpo store; remove it or choose another --db"
            )
        if application not in (0, APPLICATION_ID) or version == 0 or "jobs" not in tables:
            raise StoreError(f"{where!r} is an SQLite file that fasthpo did not create")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{where!r} was written by a newer fasthpo (schema {version}, "
                f"this version reads up to {SCHEMA_VERSION}); upgrade fasthpo"
            )
        if verify:
            problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise StoreError(
                    f"{where!r} is damaged ({problems[0]}); nothing was written to it. "
                    "Restore a copy, or run a new job with another --db"
                )
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{where!r} is not a fasthpo store, or is damaged: {exc}") from None
    finally:
        db.close()
