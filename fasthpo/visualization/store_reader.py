"""Reading a store without ever writing to it: the report's and the dashboard's only way in.

The connection is opened with SQLite's ``mode=ro`` URI, so it can take no
write lock, and every read is one short transaction of its own (autocommit):
in WAL mode readers neither block a running tuner nor wait for it.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fasthpo.errors import StoreError
from fasthpo.storage.connection import busy_timeout
from fasthpo.storage.schema import SCHEMA_VERSION, check_existing


@contextmanager
def read_only(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing fasthpo store (``StoreError`` when it is not one)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no fasthpo store at {str(path)!r}")
    check_existing(path, verify=False)
    uri = f"file:{urllib.request.pathname2url(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=busy_timeout(), isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store {str(path)!r}: {exc}") from None
    try:
        db.row_factory = sqlite3.Row
        # query_only: a second guard, should anything ever try to write through it.
        db.execute("PRAGMA query_only = ON")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{str(path)!r} has an older schema ({version}); any tuner run on it "
                f"(`fasthpo resume`) brings it to version {SCHEMA_VERSION} first"
            )
        yield db
    finally:
        db.close()
