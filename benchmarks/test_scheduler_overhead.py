"""Smoke run of the scheduler-overhead benchmark: a few trials, figures computed, no timing asserted.

Measure with ``PYTHONPATH=. python benchmarks/scheduler_overhead.py`` (200 trials).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path


def _module():
    path = Path(__file__).with_name("scheduler_overhead.py")
    spec = importlib.util.spec_from_file_location("scheduler_overhead", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_scheduler_overhead_smoke(tmp_path):
    bench = _module()
    figures = bench.measure(trials=6, parallel=2, folder=str(tmp_path))
    assert len(figures.latency) == len(figures.bare_latency) == 6
    assert all(math.isfinite(v) and v > -1.0 for v in figures.latency + figures.bare_latency)
    assert figures.tuner_wall > 0 and figures.bare_wall > 0
    text = bench.describe(figures)
    assert "ms/trial" in text and "p95" in text
