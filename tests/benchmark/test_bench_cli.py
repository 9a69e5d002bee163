"""`fasthpo bench` and `fasthpo bench latency` from the command line, as real subprocesses."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile

from fasthpo.benchmark.suites import SUITES

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def fasthpo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args], capture_output=True, text=True,
        env=ENV, cwd=tempfile.gettempdir(), timeout=600,
    )


def test_quick_suite_runs_reports_and_resumes(tmp_path):
    out = tmp_path / "quick"
    args = ("bench", "--suite", "quick", "--optimizers", "fasthpo-random", "--out", str(out),
            "--cache", str(tmp_path / "cache"), "--no-plots")
    first = fasthpo(*args)
    assert first.returncode == 0, first.stderr
    report = (out / "report.md").read_text()
    assert report == first.stdout
    for problem in SUITES["quick"].problems:
        assert f"| {problem} |" in report
    runs = len(SUITES["quick"].problems) * SUITES["quick"].seeds
    assert f"{runs} runs: budget {SUITES['quick'].budget} evaluations" in report

    again = fasthpo(*args)
    assert again.returncode == 0
    assert f"{runs} run(s) already" in again.stderr and "0 to go" in again.stderr
    assert again.stdout == first.stdout  # nothing rerun, the same report


def test_parallel_runs_add_the_ratio_table(tmp_path):
    proc = fasthpo("bench", "--problems", "hartmann3", "--optimizers", "fasthpo-random",
                   "--budget", "6", "--seeds", "2", "--parallel", "3", "--out", str(tmp_path),
                   "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert "| hartmann3 (q=3) |" in proc.stdout


def test_bad_names_are_one_line_errors(tmp_path):
    for args, message in [
        (("--problems", "branni"), "did you mean"),
        (("--optimizers", "optuna-tp"), "did you mean"),
        (("--suite", "huge"), "unknown suite"),
    ]:
        proc = fasthpo("bench", *args, "--out", str(tmp_path))
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr


def test_latency_table(tmp_path):
    proc = fasthpo("bench", "latency", "--optimizers", "fasthpo-random", "--dims", "2",
                   "--n", "5", "--cutoff", "120", "--loop-steps", "2")
    assert proc.returncode == 0, proc.stderr
    assert "fasthpo-random" in proc.stdout
    assert "| 2 | 5 |" in proc.stdout.replace("  ", " ")


def test_from_combines_saved_results_without_running(tmp_path):
    common = ("--problems", "hartmann3", "branin", "--budget", "6", "--seeds", "2", "--no-plots")
    for optimizer in ("fasthpo-random", "fasthpo-grid"):
        proc = fasthpo("bench", *common, "--optimizers", optimizer, "--out", str(tmp_path / optimizer))
        assert proc.returncode == 0, proc.stderr
    files = [str(tmp_path / o / "results.jsonl") for o in ("fasthpo-random", "fasthpo-grid")]
    before = [open(f).read() for f in files]

    proc = fasthpo("bench", "--from", *files, "--out", str(tmp_path / "combined"), "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert "8 runs: budget 6 evaluations, 2 seed(s)" in proc.stdout
    assert "| problem | fasthpo-random | fasthpo-grid |" in proc.stdout
    assert (tmp_path / "combined" / "report.md").read_text() == proc.stdout
    assert [open(f).read() for f in files] == before  # nothing ran, nothing was appended

    # The same run in two files counts once; filters pick rows and columns.
    proc = fasthpo("bench", "--from", files[0], files[0], files[1],
                   "--problems", "branin", "--optimizers", "fasthpo-grid")
    assert proc.returncode == 0, proc.stderr
    assert "2 runs: budget 6" in proc.stdout and "| hartmann3 |" not in proc.stdout
    assert "| problem | fasthpo-grid |" in proc.stdout and "| fasthpo-random" not in proc.stdout

    proc = fasthpo("bench", "--from", *files, "--seeds", "1")
    assert proc.returncode == 0, proc.stderr
    assert "4 runs: budget 6 evaluations, 1 seed(s)" in proc.stdout

    # Results kept compressed read the same.
    packed = tmp_path / "random.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write(before[0])
    plain = fasthpo("bench", "--from", files[0], "--no-plots")
    proc = fasthpo("bench", "--from", str(packed), "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert "4 runs: budget 6 evaluations, 2 seed(s)" in proc.stdout
    assert proc.stdout.split("\n", 1)[1] == plain.stdout.split("\n", 1)[1]  # all but the title

    missing = fasthpo("bench", "--from", str(tmp_path / "nowhere.jsonl"))
    assert missing.returncode == 2 and "nowhere.jsonl" in missing.stderr
    assert "Traceback" not in missing.stderr
