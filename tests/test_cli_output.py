"""What the command line prints: summaries that say what happened, in the user's terms."""

from __future__ import annotations

import argparse
import math

import fasthpo
from fasthpo.cli import _bench_title, _describe_text, _summary, main
from fasthpo.storage import Store


def test_a_job_whose_trials_all_failed_says_so_in_one_line(write_job, tmp_path, capsys):
    job = write_job(name="broken", command=["python", str(tmp_path / "missing.py")])
    assert main(["run", str(job), "--db", str(tmp_path / "s.db"), "--quiet"]) == 4
    out = capsys.readouterr().out
    (line,) = [s for s in out.splitlines() if s.startswith("best")]
    assert line.startswith("best       none: every trial failed; trial 1: exited with code 2")
    assert "can't open file" in line


def test_scale_verdicts_before_ten_results_are_not_judged_yet(tmp_path, capsys):
    space = fasthpo.SearchSpace([fasthpo.Continuous("lr", 1e-5, 1.0), fasthpo.Continuous("x", 0.0, 1.0)])
    tuner = fasthpo.Tuner(space, max_trials=4, name="early", db=tmp_path / "t.db", seed=0)
    tuner.optimize(lambda p: (math.log10(p["lr"]) + 3.0) ** 2 + p["x"])
    with Store(tmp_path / "t.db") as store:
        text = _describe_text(_summary(store, store.get_job("early")))
    assert "lr: not judged yet (needs 10 results)" in text
    assert "undetermined" not in text and "since trial" not in text


def test_trials_table_marks_cut_errors_with_an_ellipsis(tmp_path, capsys):
    def long_failure(p):
        raise ValueError("x" * 100)

    space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])
    tuner = fasthpo.Tuner(space, max_trials=1, name="long", db=tmp_path / "t.db")
    tuner.optimize(long_failure, catch=(ValueError,))
    assert main(["trials", "long", "--db", str(tmp_path / "t.db")]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.endswith("…") and "ValueError: xxx" in row


def test_the_bench_report_title_is_the_command_that_made_it():
    def args(**kw):
        base = {"suite": "quick", "problems": None, "optimizers": None, "budget": None,
                "seeds": None, "parallel": []}
        return argparse.Namespace(**{**base, **kw})

    assert _bench_title(args()) == "fasthpo bench --suite quick"
    assert _bench_title(args(problems=["branin"], budget=10)) == (
        "fasthpo bench --suite quick --problems branin --budget 10"
    )
    full = args(problems=["branin"], optimizers=["fasthpo-random"], budget=5, seeds=2, parallel=[4])
    assert _bench_title(full) == (
        "fasthpo bench --problems branin --optimizers fasthpo-random --budget 5 --seeds 2 --parallel 4"
    )
