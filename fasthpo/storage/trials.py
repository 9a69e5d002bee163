"""Trials in the store, and their attempts: a retry is a new attempt of the same trial."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fasthpo.storage.connection import json_column, transaction

TRIAL_STATES = ("pending", "running", "completed", "failed", "stopped")
ATTEMPT_STATES = ("running", "completed", "failed", "stopped", "lost")

_BEST_QUERY = {
    "minimize": "SELECT * FROM trials WHERE job = ? AND status = 'completed' "
    "AND objective IS NOT NULL ORDER BY objective ASC, trial_id ASC LIMIT 1",
    "maximize": "SELECT * FROM trials WHERE job = ? AND status = 'completed' "
    "AND objective IS NOT NULL ORDER BY objective DESC, trial_id ASC LIMIT 1",
}


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


def create_trial(db: sqlite3.Connection, job: str, hyperparameters: Mapping[str, Any]) -> Trial:
    """Insert a ``pending`` trial with the next id of ``job`` (ids are never reused)."""
    with transaction(db):
        (last,) = db.execute(
            "SELECT COALESCE(MAX(trial_id), 0) FROM trials WHERE job = ?", (job,)
        ).fetchone()
        db.execute(
            "INSERT INTO trials (job, trial_id, status, hyperparameters, created_at) "
            "VALUES (?, ?, 'pending', ?, ?)",
            (job, last + 1, json.dumps(dict(hyperparameters)), time.time()),
        )
    trial = get_trial(db, job, last + 1)
    assert trial is not None
    return trial


def start_trial(db: sqlite3.Connection, job: str, trial_id: int, *, directory: str | None) -> None:
    """Mark a trial ``running`` and open its current attempt."""
    now = time.time()
    with transaction(db):
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


def record_process_groups(
    db: sqlite3.Connection, job: str, trial_id: int, groups: Iterable[int]
) -> None:
    """Remember the process groups of a trial's running attempt."""
    with transaction(db):
        db.execute(
            "UPDATE attempts SET process_groups = ? WHERE job = ? AND trial_id = ? "
            "AND attempt = (SELECT attempt FROM trials WHERE job = ? AND trial_id = ?)",
            (json.dumps(sorted(set(groups))), job, trial_id, job, trial_id),
        )


def finish_trial(
    db: sqlite3.Connection,
    job: str,
    trial_id: int,
    *,
    status: str,
    objective: float | None,
    exit_code: int | None,
    error: str | None,
) -> None:
    """Record how a trial (and its current attempt) ended: ``completed``, ``failed`` or ``stopped``."""
    if status not in ("completed", "failed", "stopped"):
        raise ValueError(f"a trial cannot finish as {status!r}")
    now = time.time()
    with transaction(db):
        db.execute(
            "UPDATE trials SET status = ?, objective = ?, exit_code = ?, error = ?, "
            "ended_at = ? WHERE job = ? AND trial_id = ?",
            (status, objective, exit_code, error, now, job, trial_id),
        )
        _end_attempt(db, job, trial_id, status, exit_code, error, now)


def retry_trial(
    db: sqlite3.Connection,
    job: str,
    trial_id: int,
    *,
    status: str,
    exit_code: int | None,
    error: str | None,
) -> int:
    """End the current attempt as ``status`` and make the trial ``pending``; the new attempt's number."""
    if status not in ("failed", "stopped", "lost"):
        raise ValueError(f"an attempt is not retried after {status!r}")
    now = time.time()
    with transaction(db):
        _end_attempt(db, job, trial_id, status, exit_code, error, now)
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


def attempts(db: sqlite3.Connection, job: str, trial_id: int | None) -> list[Attempt]:
    """The attempts of one trial (or of every trial of ``job``), in order."""
    query = "SELECT * FROM attempts WHERE job = ?"
    args: list[Any] = [job]
    if trial_id is not None:
        query += " AND trial_id = ?"
        args.append(trial_id)
    rows = db.execute(query + " ORDER BY trial_id, attempt", args).fetchall()
    return [_attempt(r) for r in rows]


def get_trial(db: sqlite3.Connection, job: str, trial_id: int) -> Trial | None:
    """One trial, or ``None``."""
    row = db.execute(
        "SELECT * FROM trials WHERE job = ? AND trial_id = ?", (job, trial_id)
    ).fetchone()
    return None if row is None else _trial(row)


def trials(db: sqlite3.Connection, job: str, *, status: Iterable[str] | None) -> list[Trial]:
    """The trials of ``job`` by id, optionally only those in the given states."""
    rows = db.execute("SELECT * FROM trials WHERE job = ? ORDER BY trial_id", (job,)).fetchall()
    wanted = None if status is None else set(status)
    return [_trial(r) for r in rows if wanted is None or r["status"] in wanted]


def counters(db: sqlite3.Connection, job: str) -> dict[str, int]:
    """How many trials of ``job`` are in each state (every state present, zero or not)."""
    counts = dict.fromkeys(TRIAL_STATES, 0)
    for status, count in db.execute(
        "SELECT status, COUNT(*) FROM trials WHERE job = ? GROUP BY status", (job,)
    ):
        counts[status] = count
    return counts


def best_trial(db: sqlite3.Connection, job: str, direction: str) -> Trial | None:
    """The completed trial with the best finite objective (lowest id on ties)."""
    row = db.execute(_BEST_QUERY[direction], (job,)).fetchone()
    return None if row is None else _trial(row)


def _trial(row: sqlite3.Row) -> Trial:
    return Trial(
        job=row["job"],
        trial_id=row["trial_id"],
        status=row["status"],
        hyperparameters=json_column(row["hyperparameters"], f"trial {row['trial_id']}"),
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
        process_groups=tuple(json_column(row["process_groups"], "an attempt")),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )
