"""Scheduler overhead: what the tuner adds to each trial beyond starting and waiting for its process.

Runs ``--trials`` trivial trials (a Python one-liner that prints its loss and
the time it is about to exit) at ``--parallel`` trials at once through
``run_job`` with the random strategy, then runs the same commands bare with
``subprocess`` (the same number at once, waiting for whichever ends first) in
this process. Prints, per trial:

* the wall-clock time the tuner adds: (tuner wall - bare wall) / trials;
* the tuner process's own CPU time (store writes, log reading, proposals);
* the latency from a trial's last act to its result being stored
  (``ended_at`` in the store), median and p95, next to the bare latency from
  the same act to ``wait`` returning: what interpreter teardown costs anyway.

    PYTHONPATH=. python benchmarks/scheduler_overhead.py [--trials 200] [--parallel 2] [--repeats 3]

On a busy machine the wall-clock difference is noisy (it can come out below
zero); the tuner's CPU time per trial is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The trial: report a loss, then the time just before exiting.
ONE_LINER = "import sys, time; print('loss=' + sys.argv[1].split('=')[1]); print('exit_at=%r' % time.time())"


@dataclass(frozen=True)
class Figures:
    """What one measurement found (seconds)."""

    trials: int
    parallel: int
    bare_wall: float
    tuner_wall: float
    tuner_cpu: float
    latency: list[float]  # trial's last act -> result stored
    bare_latency: list[float]  # trial's last act -> wait() returned
    strategy: str = "random"

    @property
    def overhead_per_trial(self) -> float:
        return (self.tuner_wall - self.bare_wall) / self.trials


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def run_bare(argvs: list[list[str]], parallel: int, folder: Path) -> tuple[float, list[float]]:
    """Start and wait for each argv, ``parallel`` at once; the wall time and exit latencies."""
    latencies = []
    running: dict[int, tuple[subprocess.Popen[bytes], Path]] = {}
    pending = list(enumerate(argvs))
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < parallel:
            i, argv = pending.pop(0)
            out = folder / f"bare-{i}.log"
            with open(out, "wb") as fh:
                process = subprocess.Popen(argv, stdout=fh, stdin=subprocess.DEVNULL, start_new_session=True)
            running[process.pid] = (process, out)
        pid, status = os.wait()  # whichever ends first, at once
        now = time.time()
        process, out = running.pop(pid)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        exit_at = float(out.read_text().split("exit_at=")[1])
        latencies.append(now - exit_at)
    return time.perf_counter() - started, latencies


def measure(
    trials: int = 200, parallel: int = 2, folder: str | None = None, strategy: str = "random"
) -> Figures:
    """Run the tuner and the bare loop on the same trivial trials; return the figures."""
    from fasthpo.config import parse_job
    from fasthpo.runner.command import build_argv
    from fasthpo.runner.tuner import run_job
    from fasthpo.storage import Store

    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        root = Path(tmp)
        spec = parse_job(
            {
                "name": "overhead",
                "command": ["python", "-c", ONE_LINER],
                "hyperparameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
                "objective": {"metric": "loss", "direction": "minimize"},
                "metrics": [
                    {"name": "loss", "regex": r"loss=(\S+)"},
                    {"name": "exit_at", "regex": r"exit_at=(\S+)"},
                ],
                "strategy": strategy,
                "seed": 0,
                "limits": {"max_trials": trials, "max_parallel": parallel},
            },
            base_dir=root,
        )
        db = root / "overhead.db"
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        run_job(spec, db=db)
        tuner_wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        tuner_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        latency = []
        with Store(db) as store:
            done = store.trials("overhead")
            assert len(done) == trials and all(t.status == "completed" for t in done)
            for trial in done:
                (exit_at,) = store.metrics("overhead", trial.trial_id, "exit_at")
                latency.append(trial.ended_at - exit_at.value)
            argvs = [build_argv(spec.command, t.hyperparameters) for t in done]
        bare_wall, bare_latency = run_bare(argvs, parallel, root)
    return Figures(trials, parallel, bare_wall, tuner_wall, tuner_cpu, latency, bare_latency, strategy)


def describe(f: Figures) -> str:
    """The figures as a short report."""
    ms = 1000.0
    return "\n".join(
        [
            f"{f.trials} trivial trials, {f.parallel} at once, {f.strategy} strategy "
            f"(Python {sys.version.split()[0]}, {os.cpu_count()} cores)",
            f"bare subprocess loop      {f.bare_wall:7.2f} s   {f.bare_wall / f.trials * ms:6.1f} ms/trial",
            f"tuner (run_job)           {f.tuner_wall:7.2f} s   {f.tuner_wall / f.trials * ms:6.1f} ms/trial",
            f"overhead beyond the process   {f.overhead_per_trial * ms:6.1f} ms/trial (target <= 20 ms)",
            f"tuner CPU time                {f.tuner_cpu / f.trials * ms:6.1f} ms/trial",
            f"exit -> result stored     median {statistics.median(f.latency) * ms:5.1f} ms, "
            f"p95 {_percentile(f.latency, 0.95) * ms:5.1f} ms",
            f"exit -> wait() (bare)     median {statistics.median(f.bare_latency) * ms:5.1f} ms, "
            f"p95 {_percentile(f.bare_latency, 0.95) * ms:5.1f} ms",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="runs of both loops; medians are printed")
    parser.add_argument("--strategy", default="random",
                        help="random isolates the scheduler; bayesian shows results waiting on proposals")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        runs.append(measure(args.trials, args.parallel, strategy=args.strategy))
        print(describe(runs[-1]), end="\n\n")
    ms = 1000.0
    overhead = statistics.median(f.overhead_per_trial for f in runs) * ms
    cpu = statistics.median(f.tuner_cpu / f.trials for f in runs) * ms
    print(f"median of {args.repeats}: overhead {overhead:.1f} ms/trial, tuner CPU {cpu:.1f} ms/trial")


if __name__ == "__main__":
    main()
