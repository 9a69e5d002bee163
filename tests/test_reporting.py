"""fasthpo.report / fasthpo.hyperparameters: what a training script calls."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import fasthpo
from fasthpo.reporting import HYPERPARAMETERS_ENV, METRICS_FILE_ENV


@pytest.fixture
def metrics_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv(METRICS_FILE_ENV, str(path))
    return path


def _records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_report_appends_one_json_line_per_call(metrics_file):
    fasthpo.report(loss=0.5)
    fasthpo.report(step=3, loss=0.25, accuracy=0.91)
    records = _records(metrics_file)
    assert len(records) == 2
    assert set(records[0]) == {"time", "step", "metrics"}
    assert records[0]["step"] is None and records[0]["metrics"] == {"loss": 0.5}
    assert records[1]["step"] == 3 and records[1]["metrics"] == {"loss": 0.25, "accuracy": 0.91}
    assert all(isinstance(r["time"], float) and r["time"] > 1e9 for r in records)


def test_report_appends_to_an_existing_file(metrics_file):
    metrics_file.write_text('{"existing": 1}\n', encoding="utf-8")
    fasthpo.report(step=0, loss=1)
    lines = metrics_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"existing": 1}'
    assert json.loads(lines[1])["metrics"] == {"loss": 1.0}


def test_numpy_scalars_are_accepted(metrics_file):
    fasthpo.report(step=1, a=np.float32(0.5), b=np.int64(3), c=np.float64(0.125), d=np.array(2.5))
    (record,) = _records(metrics_file)
    assert record["metrics"] == {"a": 0.5, "b": 3.0, "c": 0.125, "d": 2.5}


def test_non_finite_values_are_written_as_text(metrics_file):
    fasthpo.report(a=math.nan, b=math.inf, c=-math.inf, d=np.float64("nan"))
    (record,) = _records(metrics_file)
    assert record["metrics"] == {"a": "nan", "b": "inf", "c": "-inf", "d": "nan"}
    # Strict JSON: no bare NaN/Infinity tokens.
    assert "NaN" not in metrics_file.read_text() and "Infinity" not in metrics_file.read_text()


@pytest.mark.parametrize(
    "value", [True, False, "0.5", "abc", None, [1.0], {"x": 1}, b"1", np.array([1.0, 2.0])]
)
def test_non_number_values_raise_type_error_naming_the_metric(metrics_file, value):
    with pytest.raises(TypeError, match=r"fasthpo\.report: metric 'val_loss' must be a number"):
        fasthpo.report(loss=0.1, val_loss=value)
    assert not metrics_file.exists()  # nothing half-written


@pytest.mark.parametrize("step", [1.5, True, "3", np.float64(2.0)])
def test_non_int_step_raises_type_error(metrics_file, step):
    with pytest.raises(TypeError, match="step must be an int or None"):
        fasthpo.report(step=step, loss=0.1)
    assert not metrics_file.exists()


def test_report_needs_a_metric(metrics_file):
    with pytest.raises(TypeError, match="give at least one metric"):
        fasthpo.report(step=1)


def test_without_the_env_var_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(METRICS_FILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    fasthpo.report(step=1, loss=0.1)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(METRICS_FILE_ENV, "")
    fasthpo.report(loss=0.1)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError):  # a wrong call is still reported outside a tuner
        fasthpo.report(loss="x")


def test_concurrent_writers_never_interleave_within_a_line(metrics_file):
    def write(worker: int) -> None:
        for i in range(200):
            fasthpo.report(step=i, **{f"m{worker}_{k}": float(k) for k in range(20)})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = _records(metrics_file)
    assert len(records) == 800
    assert all(len(r["metrics"]) == 20 for r in records)


def test_reporting_loads_no_numpy(tmp_path):
    package_root = str(Path(fasthpo.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([package_root, *(p for p in sys.path if p)]),
        METRICS_FILE_ENV: str(tmp_path / "m.jsonl"),
    }
    code = (
        "import fasthpo, sys; fasthpo.report(loss=1.0); "
        "print('numpy' in sys.modules, 'scipy' in sys.modules, 'yaml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "False"]
    assert json.loads((tmp_path / "m.jsonl").read_text())["metrics"] == {"loss": 1.0}


def test_hyperparameters_reads_the_env_var(monkeypatch):
    monkeypatch.setenv(HYPERPARAMETERS_ENV, json.dumps({"lr": 0.01, "kernel": "rbf", "folds": 3}))
    assert fasthpo.hyperparameters() == {"lr": 0.01, "kernel": "rbf", "folds": 3}


def test_hyperparameters_outside_a_tuner(monkeypatch):
    monkeypatch.delenv(HYPERPARAMETERS_ENV, raising=False)
    with pytest.raises(RuntimeError, match="FASTHPO_HYPERPARAMETERS is not set"):
        fasthpo.hyperparameters()


def test_hyperparameters_must_be_a_json_object(monkeypatch):
    monkeypatch.setenv(HYPERPARAMETERS_ENV, "[1, 2]")
    with pytest.raises(RuntimeError, match="does not hold a JSON object"):
        fasthpo.hyperparameters()
