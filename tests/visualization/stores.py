"""Stores for the report's tests, written through the store's own API (real SQLite files)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from fasthpo.metric_report import MetricReport
from fasthpo.storage import Store

SPACE = {
    "lr": {"type": "continuous", "min": 1e-5, "max": 1.0, "scaling": "log"},
    "C": {"type": "continuous", "min": 1e-3, "max": 1e3, "scaling": "auto"},
    "layers": {"type": "integer", "min": 1, "max": 8, "scaling": "linear"},
    "kernel": {"type": "categorical", "values": ["rbf", "poly", "linear"]},
}


def spec(name: str, space: dict[str, Any] | None = None, direction: str = "minimize") -> dict[str, Any]:
    """A stored job definition as the tuner keeps it (only what the report reads matters)."""
    return {
        "name": name, "kind": "function", "hyperparameters": space or SPACE,
        "objective": {"metric": "loss", "direction": direction},
        "strategy": "random", "seed": 0, "limits": {"max_trials": 100, "max_parallel": 2},
    }


def sample(space: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One configuration of ``space``."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if p["type"] == "categorical":
            out[name] = rng.choice(p["values"])
        elif p["type"] == "integer":
            out[name] = rng.randint(p["min"], p["max"])
        elif p.get("scaling") in ("log", "auto"):
            out[name] = math.exp(rng.uniform(math.log(p["min"]), math.log(p["max"])))
        else:
            out[name] = rng.uniform(p["min"], p["max"])
    return out


def loss_of(params: dict[str, Any]) -> float:
    """A loss that depends mostly on ``lr`` (in log scale), a little on ``kernel``."""
    lr = params.get("lr", 1e-2)
    return (math.log10(lr) + 2.0) ** 2 + (0.3 if params.get("kernel") == "poly" else 0.0)


def add_trial(
    store: Store, job: str, params: dict[str, Any], *, status: str = "completed",
    objective: float | None = None, steps: int = 0, instances: int = 1, start: float = 0.0,
    error: str | None = None,
) -> int:
    """One finished trial, with ``steps`` stepped reports of ``loss`` per instance."""
    trial = store.create_trial(job, params)
    store.start_trial(job, trial.trial_id, directory=None)
    reports = [
        MetricReport(name="loss", value=(objective or 1.0) + (steps - 1 - s) * 0.1 + 0.01 * i, step=s,
                     raw=None, source="report", reported_at=start + s + i * 0.001, instance=i)
        for i in range(instances) for s in range(steps)
    ]
    store.add_metrics(job, trial.trial_id, reports)
    store.finish_trial(job, trial.trial_id, status=status, objective=objective, error=error,
                       exit_code=0 if status == "completed" else 1)
    return trial.trial_id


def make_job(
    db: Path, name: str, n: int, *, space: dict[str, Any] | None = None, steps: int = 5,
    failed: int = 0, stopped: int = 0, seed: int = 0, verdict: str | None = "log",
) -> None:
    """A job of ``n`` completed trials (stepped reports), ``failed`` failed and ``stopped`` stopped ones."""
    space = space or SPACE
    rng = random.Random(seed)
    with Store(db) as store:
        store.create_job(name, spec(name, space), seed=seed)
        for _ in range(n):
            params = sample(space, rng)
            add_trial(store, name, params, objective=loss_of(params), steps=steps)
        for _ in range(stopped):
            params = sample(space, rng)
            add_trial(store, name, params, status="stopped", objective=None, steps=max(steps // 2, 1))
        for _ in range(failed):
            add_trial(store, name, sample(space, rng), status="failed", error="Traceback: boom")
        if verdict and "C" in space and n:
            store.add_scalings(name, 1, {"C": (verdict, {"searched_in": "log", "margin": 4.2})})
        store.update_job(name, status="completed")
