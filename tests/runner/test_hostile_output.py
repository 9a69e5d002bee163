"""Trials that print too much, binary bytes, endless lines and nonsense metrics.

The tuner must keep its memory bounded, never crash on what a job writes, and
never let NaN, infinity or garbage become an objective or the best trial.
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc

from fasthpo.config import parse_job
from fasthpo.runner.logs import LineFollower
from fasthpo.runner.tuner import run_job
from fasthpo.storage import Store

MiB = 1024 * 1024

# Writes `size` MiB each of: one endless line, random binary bytes and ordinary lines to stdout,
# hostile lines to the metrics file, then its metric lines.
NOISY = r"""
import json, os, random, sys
size, mode = int(sys.argv[1].split("=")[1]), sys.argv[2].split("=")[1]
out = sys.stdout.buffer
rng = random.Random(0)
for _ in range(size):
    out.write(b"z" * (1024 * 1024))  # one line, never ended until below
out.write(b"\n")
for _ in range(size):
    out.write(rng.randbytes(1024 * 1024))
out.write(b"\n")
line = b"epoch 3 batch 17: lr 0.001 throughput 1234.5 samples/s " + b"." * 44 + b"\n"
for _ in range(size):
    out.write(line * (1024 * 1024 // len(line)))
with open(os.environ["FASTHPO_METRICS_FILE"], "a") as fh:
    fh.write("[" * 60000 + "\n")  # a nesting bomb
    fh.write('{"time": 1, "step": 99999999999999999999999, "metrics": {"loss": 1' + "0" * 400 + '}}\n')
    fh.write('{"time": 1e999, "metrics": {"loss": NaN, "acc": Infinity, "x": "text", "y": [1]}}\n')
    fh.write("not json at all \x00\xff\n")
out.write(b"loss=nan\nloss=inf\nloss=-Infinity\nloss=garbage\nloss=1e999\n")
out.write(b"loss=0.25\n" if mode == "good" else b"loss=0.1\nloss=nan\n")
out.flush()
"""


def _job(tmp_path, size: int):
    script = tmp_path / "noisy.py"
    script.write_text(NOISY)
    return parse_job(
        {
            "name": f"noisy-{size}",
            "command": ["python", str(script), "--size={size}", "--mode={mode}"],
            "workdir": str(tmp_path),
            "hyperparameters": {"mode": {"type": "categorical", "values": ["good", "bad"]}},
            "static_hyperparameters": {"size": size},
            "objective": {"metric": "loss", "direction": "minimize"},
            "metrics": [{"name": "loss", "regex": r"loss=(\S+)"}],
            "strategy": "grid",
            "limits": {"max_trials": 2, "max_parallel": 2},
        },
        base_dir=tmp_path,
    )


def _peak_bytes(spec, db) -> int:
    tracemalloc.start()
    try:
        run_job(spec, db=db)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tens_of_megabytes_of_hostile_output_cost_bounded_memory_and_no_bad_objective(tmp_path):
    db = tmp_path / "s.db"
    _peak_bytes(_job(tmp_path, 0), db)  # a quiet run first, so imports and caches are warm
    size = 12  # MiB of each kind: 36 MiB of stdout per trial, 72 MiB in all
    noisy = _peak_bytes(_job(tmp_path, size), db)
    # Reading is one 1 MiB chunk per file and poll: memory must not follow the output's size.
    assert noisy < 16 * MiB, f"the tuner's Python heap peaked at {noisy / MiB:.1f} MiB"

    with Store(db) as store:
        trials = {t.hyperparameters["mode"]: t for t in store.trials(f"noisy-{size}")}
        good, bad = trials["good"], trials["bad"]
        assert good.status == bad.status == "completed"
        assert good.objective == 0.25
        assert bad.objective is None and "not a finite number ('nan')" in bad.error
        assert store.best_trial(f"noisy-{size}", "minimize").trial_id == good.trial_id
        reports = store.metrics(f"noisy-{size}", good.trial_id, "loss")
        rejected = [(r.value, r.raw) for r in reports if r.value is None]
        # Non-finite and garbage values are stored without a value, their text kept.
        assert ("nan" in {raw for _, raw in rejected}) and {"inf", "-Infinity", "garbage", "1e999"} <= {
            raw for _, raw in rejected
        }
        assert [r.value for r in reports if r.value is not None] == [0.25]
        from_file = {r.name: r for r in store.metrics(f"noisy-{size}", good.trial_id) if r.source == "report"}
        assert from_file["loss"].value is None and from_file["acc"].value is None
        assert from_file["x"].raw == "text" and from_file["y"].raw == "[1]"
    stdout = os.path.getsize(os.path.join(good.directory, "stdout.log"))
    assert stdout > 0.99 * 3 * size * MiB  # the trial really wrote it all


def test_the_follower_buffers_stay_bounded_whatever_the_input(tmp_path):
    path = tmp_path / "stdout.log"
    follower = LineFollower(path, max_line=4096, chunk=64 * 1024)
    rng = __import__("random").Random(1)
    longest = 0
    with open(path, "wb") as fh:
        for i in range(300):
            fh.write(b"y" * 100_000 if i % 3 == 0 else rng.randbytes(50_000))
            fh.flush()
            for line in follower.lines():
                longest = max(longest, len(line.encode("utf-8", "surrogatepass")))
            assert len(follower._partial) <= 4096
    while not follower.caught_up:
        for line in follower.lines(final=True):
            longest = max(longest, len(line))
    # A decoded line holds at most max_line bytes, each replaced by at most one character.
    assert longest <= 4096 * 3


def test_lines_are_yielded_lazily_from_one_chunk(tmp_path):
    path = tmp_path / "stdout.log"
    path.write_bytes(b"a\n" * 10 + b"b" * 100)
    follower = LineFollower(path, chunk=8)
    first = follower.lines()
    assert not follower.caught_up  # a full chunk was read: more is waiting
    assert list(first) == ["a"] * 4
    everything = follower.read(final=True)
    assert everything == ["a"] * 6 + ["b" * 100] and follower.caught_up


def test_report_file_hostile_lines_do_not_raise():
    from fasthpo.runner.logs import parse_report_lines

    lines = [
        "[" * 100_000,
        '{"metrics": {"loss": ' + "9" * 4000 + "}}",
        json.dumps({"time": 10**400, "step": 2**70, "metrics": {"loss": 0.5}}),
        "\x00\udcff garbage",
    ]
    (report,) = parse_report_lines(lines[2:])
    assert report.value == 0.5 and report.step is None and report.reported_at > 1e9
    reports = parse_report_lines(lines[:2])
    assert [(r.value, r.raw) for r in reports] == [(None, "<integer too large>")]
    assert sys.getrecursionlimit() > 0  # the bomb did not break the interpreter's state


def test_a_catastrophic_metric_regex_cannot_stall_the_tuner(tmp_path):
    """``(a+)+$`` backtracks for ages on ``'a' * 40 + 'b'`` in Python's ``re``; RE2 is linear."""
    import subprocess
    import tempfile

    script = tmp_path / "hostile.py"
    script.write_text(
        "import sys\nprint('a' * 40 + 'b', flush=True)\n"
        "print('a' * 60000 + 'b', flush=True)\nprint('loss=' + sys.argv[1])\n"
    )
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "name": "redos",
        "command": ["python", str(script), "{x}"],
        "workdir": str(tmp_path),
        "hyperparameters": {"x": {"type": "categorical", "values": ["0.5", "0.25"]}},
        "objective": {"metric": "loss", "direction": "minimize"},
        "metrics": [{"name": "hang", "regex": "(a+)+$"}, {"name": "loss", "regex": r"loss=(\S+)"}],
        "strategy": "grid",
        "limits": {"max_trials": 2},
    }))
    db = tmp_path / "store.db"
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(job), "--db", str(db)],
        capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    with Store(db) as store:
        trials = store.trials("redos")
    assert sorted(t.objective for t in trials) == [0.25, 0.5]


def test_metric_regexes_re2_refuses_are_named_at_load_time(tmp_path):
    from fasthpo.config import load_job
    from fasthpo.errors import ConfigError

    for i, regex in enumerate([r"loss=(\d+) \1", r"(?<=loss=)(\d+)"]):
        path = tmp_path / f"job{i}.json"
        metrics = [{"name": "ok", "regex": r"ok=(\d+)"}, {"name": "loss", "regex": regex}]
        path.write_text(json.dumps({
            "name": "j", "command": ["python", "t.py"],
            "hyperparameters": {"x": {"type": "continuous", "min": 0, "max": 1}},
            "objective": {"metric": "loss", "direction": "minimize"}, "metrics": metrics,
        }))
        try:
            load_job(path)
        except ConfigError as exc:
            assert exc.field == "metrics[1].regex" and "RE2" in str(exc)
        else:
            raise AssertionError(f"{regex!r} was accepted")
