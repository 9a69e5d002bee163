"""Fuzzing the two readers of untrusted text: job files, and what trials write.

A job file with any nesting of any values either loads or gives a
``ConfigError`` (one line, naming its field when one is to blame); bytes of any
kind in a trial's logs and metrics file never raise. Examples are few so the
suite stays fast; the strategies aim at the shapes that break parsers.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fasthpo.config import load_job
from fasthpo.errors import ConfigError
from fasthpo.jobspec import MetricDefinition
from fasthpo.runner.logs import InstanceOutput, RegexMetrics

VALID: dict[str, Any] = {
    "name": "fuzz",
    "command": ["python", "train.py", "--lr", "{lr}", "--depth={depth}"],
    "hyperparameters": {
        "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "log"},
        "depth": {"type": "integer", "min": 1, "max": 8},
        "act": {"type": "categorical", "values": ["relu", "tanh"]},
    },
    "static_hyperparameters": {"epochs": 3},
    "objective": {"metric": "loss", "direction": "minimize", "aggregate": "last"},
    "metrics": [{"name": "loss", "regex": "loss=([0-9.]+)"}],
    "strategy": "bayesian",
    "seed": 1,
    "limits": {"max_trials": 5, "max_parallel": 2, "max_runtime_per_trial": 60},
    "instance_count": 1,
    "resources": {"gpus_per_instance": 0, "cpus_per_instance": 0},
    "retry": {"max_attempts": 2},
    "early_stopping": "off",
    "env": {"A": "1"},
}

scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["", "{lr}", "{", "}}", "(", "(a+)+$", "loss=(\\d+)", "log", "auto",
                       "minimize", "continuous", "integer", "categorical", "bayesian", "grid"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.sampled_from(list(VALID)), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


ALL_PATHS = _paths(VALID)[1:]


@st.composite
def mutated_jobs(draw: st.DrawFn) -> Any:
    """The valid job with one to three of its values (anywhere in it) replaced or removed."""
    job = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = job
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    return job


def _load(data: Any, suffix: str) -> None:
    if suffix == ".json":
        try:
            text = json.dumps(data)
        except (ValueError, TypeError):
            return  # not representable in JSON
    else:
        text = yaml.safe_dump(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"job{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            load_job(path)
        except ConfigError as exc:
            assert str(exc) and "Traceback" not in str(exc)


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_jobs(), st.sampled_from([".yaml", ".json"]))
def test_a_damaged_job_file_loads_or_is_a_config_error(data, suffix):
    _load(data, suffix)


@FUZZ
@given(values, st.sampled_from([".yaml", ".json"]))
def test_any_value_as_a_job_file_loads_or_is_a_config_error(data, suffix):
    _load(data, suffix)


@FUZZ
@given(st.binary(max_size=3000), st.binary(max_size=3000), st.binary(max_size=3000))
def test_any_bytes_in_a_trials_logs_and_metrics_file_never_raise(stdout, stderr, metrics):
    regex = RegexMetrics([MetricDefinition("loss", r"loss=(\S+)"),
                          MetricDefinition("acc", r"(a+)+$")])
    with tempfile.TemporaryDirectory() as folder:
        files = [Path(folder) / name for name in ("stdout.log", "stderr.log", "metrics.jsonl")]
        for path, data in zip(files, (stdout, stderr, metrics), strict=True):
            path.write_bytes(data)
        reader = InstanceOutput(*files)
        reader.read(regex, instance=0, final=False)
        reports = reader.read(regex, instance=0, final=True)
        assert reader.drained
        for report in reports:
            assert report.value is None or report.value == report.value  # never NaN
