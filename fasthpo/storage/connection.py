"""Opening a store's SQLite file and writing to it in transactions.

Another process may hold the store's write lock for a while (a tuner of
another job, a reader running a long ``BEGIN IMMEDIATE``). SQLite waits
:func:`busy_timeout` for it; past that, :func:`transaction` keeps trying, with
a back-off that grows to :data:`MAX_BACKOFF_SECONDS`, for up to
:data:`LOCK_PATIENCE_SECONDS` in all, and only then gives up with a one-line
error. A write that a tuner makes once it has the lock is checked against the
job's lease, so waiting never lets a tuner write after it lost the job.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fasthpo.errors import StoreError

log = logging.getLogger("fasthpo")

#: For tests only: how long SQLite itself waits for a lock, in seconds (default 30), so
#: a test of a lock held past it need not hold one for half a minute.
BUSY_TIMEOUT_ENV = "FASTHPO_TEST_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 30.0
#: Longest pause between two tries for the write lock, once SQLite's own wait ran out.
MAX_BACKOFF_SECONDS = 2.0
#: How long a write waits for another process's lock in all before it fails.
LOCK_PATIENCE_SECONDS = 600.0


def busy_timeout() -> float:
    """Seconds SQLite waits for another connection's lock before reporting it busy."""
    try:
        value = float(os.environ.get(BUSY_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT
    return value if 0 < value <= DEFAULT_BUSY_TIMEOUT else DEFAULT_BUSY_TIMEOUT


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its folder when missing) the file, rows readable by column name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=busy_timeout(), isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the store {str(path)!r}: {exc}") from None
    db.row_factory = sqlite3.Row
    return db


def json_column(value: object, what: str) -> Any:
    """A JSON column's value; :class:`StoreError` (not a traceback) when damage left it unreadable."""
    try:
        return json.loads(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RecursionError):
        raise StoreError(f"the store is damaged: {what} is not readable JSON") from None


def configure(db: sqlite3.Connection) -> None:
    """Set the connection up for concurrent readers and crash safety (fails on a non-SQLite file)."""
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout() * 1000)}")
    db.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode survives any process crash; only power loss can drop
    # the last transactions, and never corrupts the file.
    db.execute("PRAGMA synchronous = NORMAL")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction: committed when the block ends, rolled back if it raises."""
    # IMMEDIATE takes the write lock up front, so two tuners never interleave
    # a read-modify-write (such as choosing the next trial id).
    if db.in_transaction:
        # A signal (Ctrl-C) landed between an earlier BEGIN and its try block:
        # that transaction never finished, so drop it rather than nest.
        db.execute("ROLLBACK")
    _begin(db)
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _begin(db: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting out a lock held past the busy timeout (bounded back-off)."""
    pause, waited = 0.05, 0.0
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or waited >= LOCK_PATIENCE_SECONDS:
                if _busy(exc):
                    raise StoreError(
                        f"the store stayed locked by another process for {waited:.0f} s; "
                        "what was recorded is kept"
                    ) from None
                raise
            if waited == 0.0:
                log.warning("the store is locked by another process; waiting for it")
            time.sleep(pause)
            waited += busy_timeout() + pause
            pause = min(pause * 2, MAX_BACKOFF_SECONDS)


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc)
