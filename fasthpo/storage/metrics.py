"""Metric reports in the store: every value a trial reported, tied to the attempt that reported it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from fasthpo.metric_report import MetricReport
from fasthpo.storage.connection import transaction


def add_metrics(
    db: sqlite3.Connection, job: str, trial_id: int, reports: Iterable[MetricReport]
) -> None:
    """Append metric reports of one trial in a single transaction."""
    rows = [
        (job, trial_id, r.name, r.step, r.value, r.raw, r.source, r.reported_at, r.instance,
         job, trial_id)
        for r in reports
    ]
    if not rows:
        return
    with transaction(db):
        # Reports belong to the trial's current attempt.
        db.executemany(
            "INSERT INTO metrics (job, trial_id, name, step, value, raw, source, reported_at,"
            " instance, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT attempt FROM trials WHERE job = ? AND trial_id = ?))",
            rows,
        )


def metrics(
    db: sqlite3.Connection, job: str, trial_id: int, name: str | None, *, attempt: int | None
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
    rows = db.execute(query + " ORDER BY rowid", args).fetchall()
    return [
        MetricReport(
            name=r["name"], value=r["value"], step=r["step"], raw=r["raw"],
            source=r["source"], reported_at=r["reported_at"], instance=r["instance"],
        )
        for r in rows
    ]
