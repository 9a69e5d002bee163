"""Shared fixtures: job files for the small real training job in tests/runner/jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TRAINER = Path(__file__).parent / "runner" / "jobs" / "trainer.py"


def trainer_job(**overrides: Any) -> dict[str, Any]:
    """A job dict running the test trainer; keys in ``overrides`` replace the defaults."""
    job: dict[str, Any] = {
        "name": "toy",
        "command": ["python", str(TRAINER)],
        "workdir": str(TRAINER.parent),
        "hyperparameters": {
            "x": {"type": "continuous", "min": 0.0, "max": 1.0, "scaling": "linear"},
            "y": {"type": "continuous", "min": 0.0, "max": 1.0},
        },
        "static_hyperparameters": {"mode": "ok", "sleep": 0.0},
        "objective": {"metric": "loss", "direction": "minimize"},
        "metrics": [{"name": "loss", "regex": r"loss=([^\s]+)"}],
        "strategy": "random",
        "seed": 1,
        "limits": {"max_trials": 3, "max_parallel": 1},
    }
    job.update(overrides)
    return job


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> None:
    """Poll ``predicate`` every 50 ms until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.fixture
def write_job(tmp_path: Path) -> Callable[..., Path]:
    """Write a trainer job (with overrides) as JSON and return its path."""

    def write(**overrides: Any) -> Path:
        path = tmp_path / f"{overrides.get('name', 'toy')}.json"
        path.write_text(json.dumps(trainer_job(**overrides)))
        return path

    return write
