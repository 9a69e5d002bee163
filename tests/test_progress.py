"""The progress display: a live bar on a terminal, plain lines elsewhere, nothing with --quiet."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import fasthpo

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_optimize_shows_trials_done_failed_and_best(tmp_path, capsys):
    space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])

    def objective(p):
        if p["x"] > 0.8:
            raise ValueError("too big")
        return p["x"]

    tuner = fasthpo.Tuner(space, max_trials=5, db=tmp_path / "t.db", name="bar", seed=0,
                          strategy="random")
    best = tuner.optimize(objective, show_progress=True, catch=(ValueError,))
    err = capsys.readouterr().err
    failed = sum(t.status == "failed" for t in tuner.trials())
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("bar: 5/5 trials")
    assert f"failed={failed}" in final and f"best={best.objective:.6g} (trial {best.trial_id})" in final


def _run(job, db, *flags, tty):
    cmd = [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(job), "--db", str(db), *flags]
    if not tty:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300,
                              cwd=tempfile.gettempdir())
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=ENV,
                            cwd=tempfile.gettempdir())
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=300), out, b"".join(chunks).decode(errors="replace")


def test_run_draws_a_bar_on_a_terminal_and_plain_lines_otherwise(write_job, tmp_path):
    job = write_job(limits={"max_trials": 3})
    code, out, err = _run(job, tmp_path / "tty.db", tty=True)
    assert code == 0, err
    assert "\r" in err and "toy: 3/3 trials" in err and "best=" in err
    assert "trial 3 completed" in err  # the log lines are still there, above the bar

    code, out, err = _run(job, tmp_path / "pipe.db", tty=False)
    assert code == 0, err
    assert "\r" not in err and "trials |" not in err and "trial 3 completed" in err
    assert "trials     3 of 3" in out

    code, out, err = _run(job, tmp_path / "quiet.db", "--quiet", tty=True)
    assert code == 0 and err.strip() == "" and "trials     3 of 3" in out


def test_a_continued_job_starts_the_bar_where_it_stood(tmp_path, capsys):
    space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])
    fasthpo.Tuner(space, max_trials=2, db=tmp_path / "t.db", name="again").optimize(lambda p: p["x"])
    capsys.readouterr()
    more = fasthpo.Tuner(space, max_trials=3, db=tmp_path / "t.db", name="again")
    more.optimize(lambda p: p["x"], show_progress=True)
    first = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[0]
    assert first.startswith("again: 2/3 trials")
