"""Running benchmark plans: every (problem, optimizer, seed, parallelism) pair, resumably.

Results go to ``results.jsonl`` in the output folder, one JSON object a line:

* ``{"kind": "start", run..., "attempt": A}`` when a run begins;
* ``{"kind": "eval", run..., "attempt": A, "step": i, "config": {...}, "value": y,
  "true_value": f, "propose_s": t, "eval_s": e}`` for each evaluation, in the
  order results were told to the optimizer, with ``"scaling": {name: verdict}``
  added when the optimizer says something of the scale of ``auto`` hyperparameters;
* ``{"kind": "done", run..., "attempt": A, "status": "ok" | "error", ...}``.

``run...`` stands for the run's key: ``problem``, ``optimizer``, ``seed``,
``parallel``, ``budget`` and ``arrival``. A run counts only once its ``done`` line is
written, so a killed benchmark continues where it left: finished runs are
skipped, an unfinished one is run again from its start (runs are deterministic
given their seed, so the result is the same).

Parallelism ``q > 1`` simulates q asynchronous workers: q configurations are
pending at any time; one finishes, is told, and one new configuration is asked
for with the other q − 1 passed as ``pending``. Which one finishes is the
run's ``arrival``: ``fifo`` (the oldest), or ``random`` (each trial lasts an
exponentially distributed time drawn from the run's seed, and the first to end
on a simulated clock is told first: results arrive out of order, as on a real
cluster, identically for every optimizer).
"""

from __future__ import annotations

import gzip
import heapq
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True, order=True)
class RunKey:
    """One benchmark run: an optimizer on a problem with a seed, budget and parallelism."""

    problem: str
    optimizer: str
    seed: int
    parallel: int = 1
    budget: int = 50
    arrival: str = "fifo"


#: How simulated workers return their results (see the module docstring).
ARRIVALS = ("fifo", "random")


@dataclass(frozen=True)
class BenchmarkPlan:
    """Which runs a benchmark makes: the product of its lists."""

    problems: tuple[str, ...]
    optimizers: tuple[str, ...]
    budget: int = 50
    seeds: int = 5
    parallel: tuple[int, ...] = (1,)
    arrival: str = "fifo"

    def runs(self) -> list[RunKey]:
        """Every run of the plan, problem-major (one worker has one order: q = 1 is ``fifo``)."""
        return [
            RunKey(problem, optimizer, seed, q, self.budget, self.arrival if q > 1 else "fifo")
            for problem in self.problems
            for optimizer in self.optimizers
            for q in self.parallel
            for seed in range(self.seeds)
        ]


def run_one(key: RunKey, *, cache_dir: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield the evaluation records of one run (without the start/done bookkeeping)."""
    from fasthpo.benchmark.optimizers import get_optimizer
    from fasthpo.benchmark.problems import get_problem

    problem = get_problem(key.problem, cache_dir=cache_dir)
    optimizer = get_optimizer(key.optimizer).factory(problem.space, key.seed)
    # Simulated workers: (finish time, ask order, config, proposal time); the smallest ends next.
    pending: list[tuple[float, int, dict[str, Any], float]] = []
    durations = np.random.default_rng([key.seed, 0x5EED])  # the same for every optimizer
    clock = 0.0
    asked = 0

    def ask(n: int) -> None:
        nonlocal asked
        started = time.perf_counter()
        configs = optimizer.ask(n, pending=[c for _, _, c, _ in pending])
        each = (time.perf_counter() - started) / max(len(configs), 1)
        if not configs:
            raise RuntimeError(f"{key.optimizer} proposed nothing after {asked} configurations")
        for config in configs:
            lasts = float(durations.exponential()) if key.arrival == "random" else 1.0
            heapq.heappush(pending, (clock + lasts, asked, config, each))
            asked += 1

    ask(min(key.parallel, key.budget))
    for step in range(1, key.budget + 1):
        clock, _, config, propose_s = heapq.heappop(pending)
        started = time.perf_counter()
        value = problem.evaluate(config, seed=key.seed)
        eval_s = time.perf_counter() - started
        true_value = problem.true_value(config) if problem.noise else value
        optimizer.tell(config, value)
        record = {
            "step": step, "config": config, "value": value, "true_value": true_value,
            "propose_s": propose_s, "eval_s": eval_s,
        }
        detected = optimizer.detected_scaling()
        if detected:  # what the optimizer's last model says of each auto scale
            record["scaling"] = {name: verdict for name, (verdict, _) in detected.items()}
        yield record
        if asked < key.budget:
            ask(1)


def _run_records(key: RunKey, cache_dir: str | None) -> list[dict[str, Any]]:
    """A whole run as records, for worker processes; errors become a record too."""
    records: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        records.extend(run_one(key, cache_dir=cache_dir))
    except Exception as exc:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return [*records, {"kind": "done", "status": "error", "error": error}]
    return [*records, {"kind": "done", "status": "ok", "wall_s": time.perf_counter() - started}]


def completed_runs(path: Path) -> set[RunKey]:
    """Keys of the runs that have a ``done`` line in a results file."""
    done: set[RunKey] = set()
    for record in read_records(path):
        if record["kind"] == "done":
            done.add(key_of(record))
    return done


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a results file; a torn last line (a killed writer) is skipped.

    A name ending in ``.gz`` is read through gzip: saved results kept in a repository
    compress about tenfold.
    """
    if not path.exists():
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "kind" in record:
                yield record


def key_of(record: dict[str, Any]) -> RunKey:
    """The run key a record belongs to."""
    return RunKey(
        record["problem"], record["optimizer"], int(record["seed"]),
        int(record["parallel"]), int(record["budget"]), record.get("arrival", "fifo"),
    )


class Progress:
    """A one-line progress bar on stderr (a line per run when stderr is not a terminal)."""

    def __init__(self, total: int, *, stream: Any = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def update(self, text: str) -> None:
        self.done += 1
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.monotonic() - self.started
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:5.0f}s {text}"
        if self.tty:
            self.stream.write("\r" + bar[:160].ljust(160))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(bar + "\n")
        self.stream.flush()


def run_benchmark(
    plan: BenchmarkPlan,
    out_dir: str | os.PathLike[str],
    *,
    workers: int = 1,
    cache_dir: str | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    progress: bool = True,
) -> Path:
    """Run every run of ``plan`` not yet done in ``out_dir``; return the results file.

    Optimizers whose library is missing are skipped with one line each.
    ``workers > 1`` runs whole runs in parallel processes (results are the same;
    proposal times then share the CPU, so measure latency separately).
    """
    from fasthpo.benchmark.optimizers import get_optimizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    usable = []
    for name in plan.optimizers:
        reason = get_optimizer(name).unavailable_reason()
        if reason:
            log(reason)
        else:
            usable.append(name)
    done = completed_runs(path)
    todo = [k for k in plan.runs() if k.optimizer in usable and k not in done]
    if len(done):
        log(f"{len(done)} run(s) already in {path}; {len(todo)} to go")
    bar = Progress(len(todo)) if progress and todo else None
    with open(path, "a", encoding="utf-8") as fh:

        def write(record: dict[str, Any]) -> None:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")

        def finish(key: RunKey, records: list[dict[str, Any]]) -> None:
            attempt = uuid.uuid4().hex[:12]
            base = {**asdict(key), "attempt": attempt}
            write({"kind": "start", **base})
            for record in records:
                write({"kind": record.get("kind", "eval"), **base, **record})
            fh.flush()
            os.fsync(fh.fileno())
            if bar is not None:
                last = records[-1]
                status = last.get("status", "ok")
                tail = "" if status == "ok" else f" ERROR {last.get('error', '')}"[:80]
                bar.update(f"{key.problem} x {key.optimizer} q={key.parallel} seed {key.seed}{tail}")

        if workers <= 1:
            for key in todo:
                finish(key, _run_records(key, cache_dir))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [(key, pool.submit(_run_records, key, cache_dir)) for key in todo]
                for key, future in futures:
                    finish(key, future.result())
    return path


def parse_plan(
    *,
    problems: Sequence[str],
    optimizers: Sequence[str],
    budget: int,
    seeds: int,
    parallel: Sequence[int] = (),
    arrival: str = "fifo",
) -> BenchmarkPlan:
    """Validate a plan's pieces (names, counts) before anything runs."""
    from fasthpo.benchmark.optimizers import get_optimizer
    from fasthpo.benchmark.problems import get_problem
    from fasthpo.errors import ConfigError

    for name in problems:
        get_problem(name)
    for name in optimizers:
        get_optimizer(name)
    if budget < 1:
        raise ConfigError("budget", f"must be a positive integer, got {budget}")
    if seeds < 1:
        raise ConfigError("seeds", f"must be a positive integer, got {seeds}")
    if any(q < 1 for q in parallel):
        raise ConfigError("parallel", f"must be positive integers, got {list(parallel)}")
    if arrival not in ARRIVALS:
        raise ConfigError("arrival", f"must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    return BenchmarkPlan(
        problems=tuple(dict.fromkeys(problems)),
        optimizers=tuple(dict.fromkeys(optimizers)),
        budget=budget,
        seeds=seeds,
        parallel=tuple(sorted({1, *parallel})),
        arrival=arrival,
    )
