"""Request bodies of CreateHyperParameterTuningJob, written after the service's documented examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def example_request() -> dict[str, Any]:
    """A fresh copy of the documented example (tests change it freely)."""
    return copy.deepcopy(json.loads((DATA / "tuning-job.json").read_text()))


def config_accepts(key: str, value: Any) -> bool:
    """Whether this checkout's job files accept ``key`` (the Hyperband/completion/warm-start keys)."""
    from fasthpo.config import parse_job
    from fasthpo.errors import ConfigError

    job = {
        "name": "probe", "command": ["python", "x.py"],
        "hyperparameters": {"x": {"type": "continuous", "min": 0, "max": 1}},
        "objective": {"metric": "loss", "direction": "minimize"},
    }
    if key == "limits":
        job["limits"] = value
    else:
        job[key] = value
    try:
        parse_job(job)
    except ConfigError as exc:
        return "unknown key" not in str(exc)
    return True


needs_new_keys = pytest.mark.skipif(
    not (
        config_accepts("completion", {"target_objective": 0.1})
        and config_accepts("warm_start", {"parents": ["a"], "type": "transfer_learning"})
        and config_accepts("limits", {"max_runtime": 300})
    ),
    reason="needs the hyperband/completion/warm-start keys",
)
