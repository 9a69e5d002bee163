"""Scale verdicts in the store: what the strategy concluded about each ``auto`` parameter, as a history."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fasthpo.storage.connection import json_column, transaction


@dataclass(frozen=True)
class ScalingVerdict:
    """What the strategy concluded about an ``auto`` parameter's scale, from a trial on."""

    parameter: str
    trial_id: int
    verdict: str
    evidence: dict[str, Any]
    recorded_at: float


def add_scalings(
    db: sqlite3.Connection,
    job: str,
    trial_id: int,
    verdicts: Mapping[str, tuple[str, Mapping[str, Any]]],
) -> None:
    """Record new verdicts on ``auto`` parameters, reached once ``trial_id``'s result was known."""
    if not verdicts:
        return
    now = time.time()
    with transaction(db):
        db.executemany(
            "INSERT INTO scalings (job, parameter, trial_id, verdict, evidence, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (job, name, trial_id, verdict, json.dumps(dict(evidence)), now)
                for name, (verdict, evidence) in verdicts.items()
            ],
        )


def scalings(db: sqlite3.Connection, job: str) -> list[ScalingVerdict]:
    """Every verdict change of ``job``, oldest first."""
    rows = db.execute("SELECT * FROM scalings WHERE job = ? ORDER BY rowid", (job,)).fetchall()
    return [
        ScalingVerdict(
            parameter=r["parameter"], trial_id=r["trial_id"], verdict=r["verdict"],
            evidence=json_column(r["evidence"], "a scaling verdict"), recorded_at=r["recorded_at"],
        )
        for r in rows
    ]
