"""Smoke run of the scale-detection benchmark: one seed, a short budget, two small groups."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SCRIPT = Path(__file__).with_name("scaling_detection.py")


def _script():
    spec = importlib.util.spec_from_file_location("scaling_detection", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scaling_detection_prints_its_tables(tmp_path, capsys):
    script = _script()
    code = script.main([
        "--seeds", "1", "--out", str(tmp_path), "--regret-at", "8",
        "--checkpoints", "6", "8", "--groups", "styblinski-tang-1+log-{}", "styblinski-tang-1+lin-{}",
    ])
    out = capsys.readouterr().out
    assert code == 0
    assert "| `styblinski-tang-1+log-*` (true: log) |" in out
    assert "| `styblinski-tang-1+lin-auto` |" in out
    assert "False `log` verdicts" in out
    assert (tmp_path / "results.jsonl").stat().st_size > 0
