"""One job of the store as plain data: what the report's figures and the dashboard show.

Everything is read in one read transaction (a consistent snapshot of a job a
tuner is still writing; in WAL mode it blocks no writer) and returned as
JSON-ready dicts and lists, so the figures and the page never touch SQLite.
Intermediate values are the objective metric's reports that carry a step,
from each trial's current attempt; per-instance final values are each
instance's last report of it.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from fasthpo.errors import ConfigError
from fasthpo.storage import jobs, scalings, trials

#: A parameter whose range spans this ratio or more is searched in log scale before any verdict.
LOG_RANGE_RATIO = 100.0


def job_names(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every job, oldest first, with its status and trial count (the dashboard's list)."""
    out = []
    for job in jobs.list_jobs(db):
        counters = trials.counters(db, job.name)
        out.append(
            {"name": job.name, "status": job.status, "trials": sum(counters.values()),
             "updated_at": job.updated_at}
        )
    return out


def job_data(db: sqlite3.Connection, name: str) -> dict[str, Any]:
    """Everything the report shows about job ``name``, read as one snapshot."""
    db.execute("BEGIN")
    try:
        return _job_data(db, name)
    finally:
        db.execute("COMMIT")


def _job_data(db: sqlite3.Connection, name: str) -> dict[str, Any]:
    job = jobs.get_job(db, name)
    if job is None:
        known = ", ".join(j.name for j in jobs.list_jobs(db)) or "none"
        raise ConfigError("", f"no job named {name!r} in the store (jobs: {known})")
    objective = job.spec["objective"]
    direction = objective["direction"]
    rows = trials.trials(db, name, status=None)
    best = trials.best_trial(db, name, direction)
    history = scalings.scalings(db, name)
    lease = jobs.lease(db, name)
    counters = trials.counters(db, name)
    limits = job.spec.get("limits") or {}
    retries = db.execute(
        "SELECT COUNT(*) FROM attempts WHERE job = ? AND attempt > 1", (name,)
    ).fetchone()[0]
    curves, finals = _reports(db, name, objective["metric"], {t.trial_id: t.attempt for t in rows})
    return {
        "summary": {
            "name": job.name,
            "status": job.status,
            "objective": objective,
            "strategy": job.spec.get("strategy"),
            "seed": job.seed,
            "max_trials": limits.get("max_trials"),
            "trials": sum(counters.values()),
            "counters": counters,
            "retries": retries,
            "tuner": None if lease is None or not lease.held()
            else {"pid": lease.pid, "host": lease.host},
            "created_at": job.created_at,
            "updated_at": job.updated_at,
        },
        "best": None if best is None else {
            "trial_id": best.trial_id, "objective": best.objective,
            "hyperparameters": best.hyperparameters,
        },
        "parameters": _parameters(job.spec.get("hyperparameters") or {}, history),
        "trials": [
            {
                "id": t.trial_id, "status": t.status, "objective": _finite(t.objective),
                "hyperparameters": t.hyperparameters, "started_at": t.started_at,
                "ended_at": t.ended_at, "attempt": t.attempt,
                "error": (t.error or "").strip().splitlines()[0][:200] if t.error else None,
            }
            for t in rows
        ],
        "curves": curves,
        "instance_finals": finals,
    }


def _parameters(space: dict[str, Any], history: list[scalings.ScalingVerdict]) -> list[dict[str, Any]]:
    """Each hyperparameter with the axis scale to plot it on, and why that scale."""
    latest = {v.parameter: v for v in history}
    out = []
    for name, declared in space.items():
        kind = declared.get("type")
        entry: dict[str, Any] = {"name": name, "type": kind, "declared": declared.get("scaling")}
        if kind == "categorical":
            entry.update(scale="category", values=list(declared.get("values", [])), reason="categorical")
        else:
            entry.update(low=declared.get("min"), high=declared.get("max"))
            entry.update(_scale(declared, latest.get(name)))
        out.append(entry)
    return out


def _scale(declared: dict[str, Any], verdict: scalings.ScalingVerdict | None) -> dict[str, Any]:
    """The axis scale of a numeric parameter: the declared one, or the tuner's verdict on ``auto``."""
    scaling = declared.get("scaling") or "linear"
    if scaling != "auto":
        axis = "log" if scaling == "log" else "linear"
        return {"scale": axis, "verdict": None, "reason": f"declared {scaling}"}
    if verdict is not None and verdict.verdict in ("log", "linear", "reverse_log"):
        axis = "log" if verdict.verdict == "log" else "linear"
        return {
            "scale": axis, "verdict": verdict.verdict, "since_trial": verdict.trial_id,
            "evidence": verdict.evidence,
            "reason": f"auto: the tuner's verdict is {verdict.verdict} (since trial {verdict.trial_id})",
        }
    low, high = declared.get("min"), declared.get("max")
    searched = verdict.evidence.get("searched_in") if verdict is not None else None
    if searched is None:
        wide = (
            isinstance(low, int | float) and isinstance(high, int | float)
            and low > 0 and high / low >= LOG_RANGE_RATIO
        )
        searched = "log" if wide else "linear"
    state = "undetermined" if verdict is not None else "no verdict yet"
    return {
        "scale": "log" if searched == "log" else "linear",
        "verdict": verdict.verdict if verdict is not None else None,
        "since_trial": verdict.trial_id if verdict is not None else None,
        "evidence": verdict.evidence if verdict is not None else None,
        "reason": f"auto: {state}; shown in the scale it is searched in ({searched})",
    }


def _reports(
    db: sqlite3.Connection, job: str, metric: str, current: dict[int, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per trial: the objective metric's stepped reports (instance 0), and each instance's last value."""
    rows = db.execute(
        "SELECT trial_id, attempt, instance, step, value FROM metrics "
        "WHERE job = ? AND name = ? ORDER BY rowid",
        (job, metric),
    )
    curves: dict[int, tuple[list[int], list[float]]] = {}
    finals: dict[tuple[int, int], float | None] = {}
    for trial_id, attempt, instance, step, value in rows:
        if current.get(trial_id) != attempt:
            continue  # an earlier attempt's reports: the trial ran again since
        finals[(trial_id, instance)] = _finite(value)
        if instance == 0 and step is not None and _finite(value) is not None:
            steps, values = curves.setdefault(trial_id, ([], []))
            steps.append(step)
            values.append(value)
    instances: dict[int, int] = {}
    for trial_id, instance in finals:
        instances[trial_id] = max(instances.get(trial_id, 0), instance)
    return (
        [{"trial": t, "steps": s, "values": v} for t, (s, v) in sorted(curves.items())],
        [
            {"trial": t, "instance": i, "value": value}
            for (t, i), value in sorted(finals.items())
            if instances[t] > 0 and value is not None
        ],
    )


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
