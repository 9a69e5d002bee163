"""Opening a store's SQLite file and writing to it in transactions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fasthpo.errors import StoreError


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its folder when missing) the file, rows readable by column name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
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
    db.execute("PRAGMA busy_timeout = 30000")
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
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
