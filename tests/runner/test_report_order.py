"""A trial's reports keep the order it made them in, across stdout lines and ``fasthpo.report``."""

from __future__ import annotations

import json

import pytest

from fasthpo.config import parse_job
from fasthpo.jobspec import MetricDefinition
from fasthpo.runner.logs import InstanceOutput, RegexMetrics
from fasthpo.runner.tuner import run_job
from fasthpo.storage import Store

TRIAL = """
import sys
import fasthpo
order = sys.argv[1]
if order == "print-then-report":
    print("loss=5.0")
    fasthpo.report(loss=3.0)
else:
    fasthpo.report(loss=3.0)
    print("loss=5.0")
"""


@pytest.mark.parametrize(("order", "expected"), [("print-then-report", 3.0), ("report-then-print", 5.0)])
def test_the_last_value_is_the_last_one_the_trial_wrote(tmp_path, order, expected):
    script = tmp_path / "trial.py"
    script.write_text(TRIAL)
    spec = parse_job({
        "name": "order",
        "command": ["python", str(script), "{order}"],
        "workdir": str(tmp_path),
        "hyperparameters": {"order": {"type": "categorical", "values": [order]}},
        "objective": {"metric": "loss", "direction": "minimize"},
        "metrics": [{"name": "loss", "regex": r"loss=(\S+)"}],
        "strategy": "grid",
        "limits": {"max_trials": 1},
    }, base_dir=tmp_path)
    run_job(spec, db=tmp_path / "s.db")
    with Store(tmp_path / "s.db") as store:
        (trial,) = store.trials("order")
        values = [(r.source, r.value) for r in store.metrics("order", trial.trial_id, "loss")]
    assert trial.objective == expected
    # The store keeps them in the order they were written, too.
    assert values == ([("regex", 5.0), ("report", 3.0)] if order == "print-then-report"
                      else [("report", 3.0), ("regex", 5.0)])


def test_a_report_waits_for_the_lines_printed_before_it(tmp_path):
    """The record is read before the line it follows has reached the reader: it waits for it."""
    out, err, metrics = (tmp_path / n for n in ("stdout.log", "stderr.log", "metrics.jsonl"))
    err.write_bytes(b"")
    out.write_bytes(b"loss=1\n")
    reader = InstanceOutput(out, err, metrics)
    regex = RegexMetrics([MetricDefinition("loss", r"loss=(\S+)")])
    assert [r.value for r in reader.read(regex, instance=0, final=False)] == [1.0]
    # The trial printed loss=2 (not yet flushed to the file when we read) and then reported.
    size_after_print = len(b"loss=1\nloss=2\n")
    metrics.write_text(json.dumps(
        {"time": 1.0, "step": None, "metrics": {"loss": 3.0}, "stdout": size_after_print, "stderr": 0}
    ) + "\n")
    assert reader.read(regex, instance=0, final=False) == []  # waits for loss=2
    with open(out, "ab") as fh:
        fh.write(b"loss=2\nloss=4\n")
    got = reader.read(regex, instance=0, final=True)
    assert [(r.source, r.value) for r in got] == [("regex", 2.0), ("report", 3.0), ("regex", 4.0)]
    assert got[0].reported_at <= got[1].reported_at <= got[2].reported_at
    assert reader.drained
