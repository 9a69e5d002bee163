"""Fencing: a store that took a job's lease writes that job only while it still holds it.

A tuner frozen past its lease (``SIGSTOP``, a suspended VM) may wake up after
another tuner took its job over. Checking the lease before writing is not
enough: the check and the write would be two steps. Instead, taking a lease
installs ``TEMP`` triggers on the taker's connection (they exist for that
connection only; other processes never see them). Every row of the job that
connection inserts, updates or deletes is checked, in the same statement and
so in the same ``BEGIN IMMEDIATE`` transaction, against the ``lease_owner``
of the job's row; once another owner is recorded, the statement aborts, the
transaction rolls back, and :class:`LeaseLostError` is raised. Nothing the
old tuner writes after the takeover reaches the file. A write that matched
no row (and so met no trigger) is followed by a look at the lease, so it
fails the same way instead of passing for done.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from fasthpo.errors import StoreError

#: The message the triggers abort with; it identifies a fenced-off write.
FENCE_MESSAGE = "fasthpo: the lease of this job is held by another tuner"
_JOB_TABLES = ("trials", "attempts", "metrics", "scalings")

F = TypeVar("F", bound=Callable[..., Any])


class LeaseLostError(StoreError):
    """Another tuner took the job over (this one looked dead): stop without writing."""


def install(db: sqlite3.Connection, job: str, owner: str) -> None:
    """Refuse, on this connection, every write to ``job`` unless ``owner`` holds its lease."""
    remove(db, job)
    # A trigger's body cannot take parameters: the job and owner are quoted literals.
    name, token = _literal(job), _literal(owner)
    tag = _tag(job)
    foreign = f"(SELECT lease_owner FROM main.jobs WHERE name = {name}) IS NOT {token}"  # noqa: S608
    statements = [
        f"CREATE TEMP TRIGGER fence_{tag}_jobs_update BEFORE UPDATE ON main.jobs "
        f"WHEN OLD.name = {name} AND OLD.lease_owner IS NOT {token} "
        f"BEGIN SELECT RAISE(ABORT, {_literal(FENCE_MESSAGE)}); END",
        f"CREATE TEMP TRIGGER fence_{tag}_jobs_delete BEFORE DELETE ON main.jobs "
        f"WHEN OLD.name = {name} AND OLD.lease_owner IS NOT {token} "
        f"BEGIN SELECT RAISE(ABORT, {_literal(FENCE_MESSAGE)}); END",
    ]
    for table in _JOB_TABLES:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            statements.append(
                f"CREATE TEMP TRIGGER fence_{tag}_{table}_{event.lower()} "
                f"BEFORE {event} ON main.{table} WHEN {row}.job = {name} AND {foreign} "
                f"BEGIN SELECT RAISE(ABORT, {_literal(FENCE_MESSAGE)}); END"
            )
    for statement in statements:
        db.execute(statement)


def remove(db: sqlite3.Connection, job: str) -> None:
    """Lift the fence of ``job`` from this connection (after the lease is given back)."""
    tag = _tag(job)
    rows = db.execute("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'").fetchall()
    for (trigger,) in rows:
        if trigger.startswith(f"fence_{tag}_"):
            db.execute(f'DROP TRIGGER IF EXISTS temp."{trigger}"')


def holds(db: sqlite3.Connection, job: str, owner: str) -> bool:
    """Whether ``owner`` holds the lease of ``job`` now."""
    row = db.execute("SELECT lease_owner FROM jobs WHERE name = ?", (job,)).fetchone()
    return row is not None and row[0] == owner


def fenced(method: F) -> F:
    """Turn a fenced-off write of a :class:`~fasthpo.storage.Store` method into :class:`LeaseLostError`.

    The wrapped method's first argument after ``self`` is the job's name; the
    store keeps the lease it holds per job in ``self.fences``.
    """

    @functools.wraps(method)
    def write(self: Any, job: str, *args: Any, **kwargs: Any) -> Any:
        owner = self.fences.get(job)
        try:
            result = method(self, job, *args, **kwargs)
        except sqlite3.IntegrityError as exc:
            if FENCE_MESSAGE not in str(exc):
                raise
            raise _lost(job) from None
        if owner is not None and not holds(self._db, job, owner):
            raise _lost(job)  # nothing was written (a trigger would have fired), or it was ours then
        return result

    return write  # type: ignore[return-value]


def _lost(job: str) -> LeaseLostError:
    return LeaseLostError(
        f"another tuner took job {job!r} over while this one was unresponsive; "
        "stopped this tuner's trials without further writes"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tag(job: str) -> str:
    # Trigger names from the job's bytes: any job name, no quoting questions.
    return job.encode().hex()
