"""Proposal latency: the time one optimizer takes to propose a point after n observations.

Each cell (optimizer, d, n) runs in its own single-threaded subprocess
(``OMP_NUM_THREADS`` and friends set to 1, ``torch.set_num_threads(1)``), so
cells do not share caches or thread pools and a runaway cell is stopped at
``cutoff_s``. In the child:

1. a d-dimensional continuous space in [0, 1]^d (linear) is built;
2. n points of a seeded uniform design are told with the Levy function's value
   (rescaled from [−10, 10]^d to the cube) — not timed;
3. ``fresh``: one ``ask(1)``, timed with ``time.perf_counter`` — the first
   proposal after n tells, i.e. a model fitted from scratch. With
   ``fresh_repeats`` R > 1 this is done on R new instances, each told its own
   seeded design (the same designs for every optimizer), and ``fresh`` is the
   median: one ask on a shared, noisy machine can be off by a third, and the
   cost of a fit depends on the data. Repeats stop early once the fresh asks
   have taken a quarter of the cutoff (a peer at seconds per fit); the loop
   then runs on the instance told the design of ``seed`` (timed last);
4. ``loop``: sequential steps of ask(1) → evaluate → tell; the MEAN ask time is
   reported (the median too, in the record) — what a sequential tuner waits per
   trial on average, the model's refits included. An optimizer that refits only
   every so often (fasthpo: every 10 % of growth) would look faster than it is
   by a median or a short loop, so the loop runs ``loop_steps`` steps, by default
   ⌈n/10⌉ + 1 (at least 5): long enough to hold one such refit. It stops early
   once it has run ``loop_budget_s`` (an optimizer that takes seconds per ask
   refits at every ask anyway).

Before step 2 the process is warmed by a throwaway instance of the same
optimizer (12 tells and one ask, past the peers' random start-up): lazy imports
and first-use set-up inside a library (Optuna's GP stack pays about half a
second of it once per process) are not a model fit, and would otherwise
swamp ``fresh``. The timed instance is new, so ``fresh`` still fits its model
from scratch. Only asks are timed: an adapter that defers work to its next ask
(scikit-optimize's, see :mod:`fasthpo.benchmark.optimizers`) is timed in full.

Run a table from the shell with ``python -m fasthpo.benchmark.latency
--optimizers fasthpo-random,optuna-tpe --dims 5,20 --ns 20,100``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fasthpo.errors import ConfigError

__all__ = ["LatencyCell", "format_latency", "main", "measure_latency"]

# More than the peers' 10 random start-up points, so the warm-up fits a model.
_WARM_UP_TELLS = 12
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class LatencyCell:
    """One measured cell.

    Attributes
    ----------
    optimizer, d, n
        What was measured: proposal after ``n`` observations in ``d`` dimensions.
    fresh_s
        Seconds of the first ``ask(1)`` after the n tells (``None`` if not reached);
        the median over ``fresh_asks`` new instances.
    loop_mean_s
        Mean seconds of the asks of the sequential loop, refits included
        (``None`` if not reached).
    loop_median_s
        Median seconds of the same asks.
    loop_steps
        How many asks the loop timed.
    fresh_asks
        How many fresh instances the median ``fresh_s`` is of.
    status
        ``"ok"``, ``"timeout"``, ``"unavailable"`` or ``"error: <one line>"``.
    detail
        Why a cell is not ``ok`` (the missing module, the skipped reason), else empty.
    """

    optimizer: str
    d: int
    n: int
    fresh_s: float | None
    loop_mean_s: float | None
    loop_median_s: float | None
    status: str
    detail: str = ""
    loop_steps: int = 0
    fresh_asks: int = 0


def measure_latency(
    optimizers: Sequence[str],
    dims: Sequence[int],
    ns: Sequence[int],
    *,
    cutoff_s: float = 60.0,
    loop_steps: int | None = None,
    loop_budget_s: float | None = None,
    fresh_repeats: int = 1,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[LatencyCell]:
    """Measure every (optimizer, d, n) cell, one subprocess at a time.

    Parameters
    ----------
    optimizers
        Names known to :func:`fasthpo.benchmark.optimizers.get_optimizer`. An
        unknown name or a missing library gives ``unavailable`` cells, not an error.
    dims, ns
        Dimensions and observation counts; every combination is measured.
    cutoff_s
        Wall-clock limit of one cell's subprocess, start-up and untimed tells
        included. Once a cell times out, the same optimizer's cells that are at
        least as large in both d and n are not run (reported ``timeout``).
    loop_steps
        Sequential ask → evaluate → tell steps after the fresh proposal; by default
        ⌈n/10⌉ + 1, at least 5 (one refit period of fasthpo's 10 % growth rule).
    loop_budget_s
        Seconds after which the loop stops early (at least one step is timed);
        by default half of ``cutoff_s``.
    fresh_repeats
        New instances whose first ask the ``fresh`` figure is the median of (each
        told a design of its own seed); no new one starts once the fresh asks have
        taken a quarter of ``cutoff_s``.
    seed
        Seed of the design and of the optimizers.
    progress
        Called with one line per finished cell.

    Returns
    -------
    list of LatencyCell
        Ordered by d, then n, then the order of ``optimizers``.
    """
    for field, values in (("dims", dims), ("ns", ns)):
        if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            raise ConfigError(field, f"must be positive integers, got {list(values)!r}")
    if not cutoff_s > 0:
        raise ConfigError("cutoff_s", f"must be positive, got {cutoff_s!r}")
    if loop_steps is not None and (
        isinstance(loop_steps, bool) or not isinstance(loop_steps, int) or loop_steps < 1
    ):
        raise ConfigError("loop_steps", f"must be a positive integer, got {loop_steps!r}")
    if isinstance(fresh_repeats, bool) or not isinstance(fresh_repeats, int) or fresh_repeats < 1:
        raise ConfigError("fresh_repeats", f"must be a positive integer, got {fresh_repeats!r}")
    budget = cutoff_s / 2 if loop_budget_s is None else loop_budget_s
    if not budget > 0:
        raise ConfigError("loop_budget_s", f"must be positive, got {loop_budget_s!r}")
    reasons = {name: _unavailable(name) for name in dict.fromkeys(optimizers)}
    timed_out: dict[str, list[tuple[int, int]]] = {}
    cells = []
    for d in sorted(set(dims)):
        for n in sorted(set(ns)):
            for name in reasons:
                earlier = [(d0, n0) for d0, n0 in timed_out.get(name, []) if d0 <= d and n0 <= n]
                if reasons[name]:
                    cell = LatencyCell(
                        name, d, n, None, None, None, "unavailable", reasons[name] or ""
                    )
                elif earlier:
                    d0, n0 = earlier[0]
                    cell = LatencyCell(
                        name, d, n, None, None, None, "timeout",
                        f"not run: timed out at d={d0}, n={n0}",
                    )
                else:
                    steps = loop_steps if loop_steps is not None else default_loop_steps(n)
                    cell = _run_cell(
                        name, d, n, cutoff_s=cutoff_s, loop_steps=steps, loop_budget_s=budget,
                        fresh_repeats=fresh_repeats, seed=seed,
                    )
                    if cell.status == "timeout":
                        timed_out.setdefault(name, []).append((d, n))
                cells.append(cell)
                if progress is not None:
                    progress(_describe(cell))
    return cells


def default_loop_steps(n: int) -> int:
    """Loop length after n observations: one refit period of a 10 % growth rule, at least 5."""
    return max(5, math.ceil(n / 10) + 1)


def _unavailable(name: str) -> str | None:
    from fasthpo.benchmark.optimizers import get_optimizer

    try:
        return get_optimizer(name).unavailable_reason()
    except ConfigError as exc:
        return str(exc)


def _describe(cell: LatencyCell) -> str:
    head = f"{cell.optimizer} d={cell.d} n={cell.n}: {cell.status}"
    if cell.status == "ok" and cell.fresh_s is not None and cell.loop_mean_s is not None:
        median = _ms(cell.loop_median_s) if cell.loop_median_s is not None else "?"
        of = f" (median of {cell.fresh_asks})" if cell.fresh_asks > 1 else ""
        return (
            f"{head}, fresh {_ms(cell.fresh_s)} ms{of}, loop mean {_ms(cell.loop_mean_s)} ms "
            f"(median {median} ms, {cell.loop_steps} asks)"
        )
    return f"{head} ({cell.detail})" if cell.detail else head


# --- the parent side of one cell --------------------------------------------------------------


def _child_env() -> dict[str, str]:
    """The environment of a cell: one thread everywhere, and this very fasthpo importable."""
    import fasthpo

    env = {**os.environ, **dict.fromkeys(_THREAD_VARS, "1")}
    root = os.path.dirname(os.path.dirname(os.path.abspath(fasthpo.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _run_cell(
    optimizer: str, d: int, n: int, *, cutoff_s: float, loop_steps: int, loop_budget_s: float,
    fresh_repeats: int, seed: int,
) -> LatencyCell:
    request = json.dumps({
        "optimizer": optimizer, "d": d, "n": n, "loop_steps": loop_steps,
        "loop_budget_s": loop_budget_s, "fresh_repeats": fresh_repeats,
        "fresh_budget_s": cutoff_s / 4, "seed": seed,
    })
    argv = [sys.executable, "-m", "fasthpo.benchmark.latency", "--cell", request]
    try:
        # A neutral working folder: `-m` puts it first on sys.path, and a source
        # checkout there must not shadow the fasthpo this process runs.
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=cutoff_s, env=_child_env(),
            cwd=tempfile.gettempdir(), stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        partial = _last_record(exc.stdout)
        return LatencyCell(
            optimizer, d, n, partial.get("fresh_s"), None, None, "timeout",
            f"cut off after {cutoff_s:g} s",
        )
    record = _last_record(proc.stdout)
    if "status" not in record:
        lines = (proc.stderr or "").strip().splitlines() or ["no output"]
        return LatencyCell(
            optimizer, d, n, record.get("fresh_s"), None, None,
            f"error: exit code {proc.returncode}: {lines[-1][:200]}",
        )
    return LatencyCell(
        optimizer, d, n, record.get("fresh_s"), record.get("loop_mean_s"),
        record.get("loop_median_s"), str(record["status"]), str(record.get("detail", "")),
        len(record.get("loop_s", [])), len(record.get("fresh_all_s", [])),
    )


def _last_record(stdout: str | bytes | None) -> dict[str, Any]:
    """The last JSON object a child printed (it prints the fresh time before the loop)."""
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    for line in reversed((stdout or "").splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return {}


# --- the child side of one cell ---------------------------------------------------------------


def levy_cube(x: Sequence[float]) -> float:
    """The Levy function on [0, 1]^d (its usual domain [−10, 10]^d rescaled); minimum 0.

    Smooth, multimodal and cheap: the values a GP is fitted to look like a real
    response surface, and evaluating it costs nothing next to a proposal.
    """
    w = [1.0 + (20.0 * xi - 10.0 - 1.0) / 4.0 for xi in x]
    total = math.sin(math.pi * w[0]) ** 2
    for wi in w[:-1]:
        total += (wi - 1.0) ** 2 * (1.0 + 10.0 * math.sin(math.pi * wi + 1.0) ** 2)
    return total + (w[-1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[-1]) ** 2)


def run_cell(
    optimizer: str, d: int, n: int, *, loop_steps: int, seed: int, loop_budget_s: float = math.inf,
    fresh_repeats: int = 1, fresh_budget_s: float = math.inf,
) -> dict[str, Any]:
    """Measure one cell in this process; prints the fresh time as soon as it is known
    (the median so far, after each fresh instance)."""
    import numpy as np

    from fasthpo.benchmark.optimizers import get_optimizer
    from fasthpo.space import Continuous, SearchSpace

    spec = get_optimizer(optimizer)
    reason = spec.unavailable_reason()
    if reason:
        return {"status": "unavailable", "detail": reason}
    space = SearchSpace(
        [Continuous(f"x{i}", 0.0, 1.0, scaling="linear") for i in range(d)], max_tunable=max(d, 20)
    )
    names = space.names
    if "torch" in spec.requires:
        import torch

        torch.set_num_threads(1)
    opt = spec.factory(space, seed)

    def evaluate(config: dict[str, Any]) -> float:
        return levy_cube([config[name] for name in names])

    def timed_ask(target: Any) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        proposals = target.ask(1)
        elapsed = time.perf_counter() - started
        if not proposals:
            raise RuntimeError(f"{optimizer} proposed nothing after {n} observations")
        return proposals[0], elapsed

    def tell_design(target: Any, count: int, design_seed: int) -> None:
        for row in np.random.default_rng(design_seed).random((count, d)).tolist():
            target.tell(dict(zip(names, row, strict=True)), levy_cube(row))

    # Warm the process on a throwaway instance past its random start-up phase,
    # so that lazy imports and first-use set-up inside the library are not
    # counted as the fresh proposal's model fit.
    warm = spec.factory(space, seed + 1)
    tell_design(warm, _WARM_UP_TELLS, seed + 1)
    warm.ask(1)
    del warm
    # The extra fresh instances first (designs of other seeds, the same for every
    # optimizer), then the one of ``seed``, whose sequential loop follows.
    fresh_all: list[float] = []
    for repeat in range(1, fresh_repeats):
        if sum(fresh_all) >= fresh_budget_s:
            break
        extra = spec.factory(space, seed + 1000 * repeat)
        tell_design(extra, n, seed + 1000 * repeat)
        fresh_all.append(timed_ask(extra)[1])
        del extra
        print(json.dumps({"fresh_s": statistics.median(fresh_all)}), flush=True)
    tell_design(opt, n, seed)
    config, elapsed = timed_ask(opt)
    fresh_all.append(elapsed)
    fresh = statistics.median(fresh_all)
    print(json.dumps({"fresh_s": fresh}), flush=True)
    opt.tell(config, evaluate(config))
    loop: list[float] = []
    started = time.perf_counter()
    while len(loop) < loop_steps and (not loop or time.perf_counter() - started < loop_budget_s):
        config, elapsed = timed_ask(opt)
        loop.append(elapsed)
        opt.tell(config, evaluate(config))
    return {
        "status": "ok", "fresh_s": fresh, "fresh_all_s": fresh_all, "loop_s": loop,
        "loop_mean_s": statistics.fmean(loop), "loop_median_s": statistics.median(loop),
    }


# --- the table --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def _ratio(r: float) -> str:
    if r >= 100:
        return f"{r:,.0f}×"
    return f"{r:.1f}×" if r >= 0.95 else f"{r:.2f}×"


def format_latency(cells: Sequence[LatencyCell]) -> str:
    """A markdown table of proposal times: rows (d, n), two columns per optimizer.

    ``fresh`` is the first ask(1) after n tells (a model fitted from scratch; the
    median over new instances when the cells measured several),
    ``loop`` the mean ask(1) of the sequential loop, refits included. Times are in
    milliseconds; every optimizer after the first also shows the ratio of its time
    to the first optimizer's in the same row and column, so ``3.0×`` means the
    first optimizer proposes three times faster.
    """
    if not cells:
        return "(no latency cells)"
    optimizers = list(dict.fromkeys(c.optimizer for c in cells))
    by_key = {(c.d, c.n, c.optimizer): c for c in cells}
    rows = sorted({(c.d, c.n) for c in cells})
    first = optimizers[0]
    metrics: tuple[Literal["fresh", "loop"], ...] = ("fresh", "loop")
    asks = max((c.fresh_asks for c in cells), default=0)
    fresh = "first ask(1) after n tells" + (
        f" (median of up to {asks} new instances, each with its own design)" if asks > 1 else "")
    lines = [
        f"Proposal latency, ms: fresh = {fresh}, loop = mean ask(1) of the "
        f"sequential loop (refits included); (r×) = time / {first}'s time, so r > 1 means "
        f"{first} is faster.",
        "",
        "| d | n | " + " | ".join(f"{name} {m}" for name in optimizers for m in metrics) + " |",
        "|---:|---:|" + "---:|" * (2 * len(optimizers)),
    ]
    for d, n in rows:
        texts = []
        for name in optimizers:
            for metric in metrics:
                base = _seconds(by_key.get((d, n, first)), metric)
                cell = by_key.get((d, n, name))
                seconds = _seconds(cell, metric)
                if cell is None:
                    texts.append("–")
                elif seconds is None:
                    texts.append(cell.status.split(":")[0])
                elif name == first or base is None or base <= 0:
                    texts.append(_ms(seconds))
                else:
                    texts.append(f"{_ms(seconds)} ({_ratio(seconds / base)})")
        lines.append(f"| {d} | {n} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def _seconds(cell: LatencyCell | None, metric: str) -> float | None:
    if cell is None or cell.status != "ok":
        return None
    return cell.loop_mean_s if metric == "loop" else cell.fresh_s


# --- command line -----------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """``--cell JSON``: measure one cell and print one JSON line (what the parent runs);
    otherwise measure a table and print it."""
    parser = argparse.ArgumentParser(
        prog="python -m fasthpo.benchmark.latency", description="Proposal latency per optimizer."
    )
    parser.add_argument("--cell", help="one cell as JSON: optimizer, d, n, loop_steps, seed")
    parser.add_argument("--optimizers", default="fasthpo-random,optuna-tpe,optuna-gp,skopt-gp")
    parser.add_argument("--dims", type=_ints, default=[5, 20])
    parser.add_argument("--ns", type=_ints, default=[20, 100])
    parser.add_argument("--cutoff", type=float, default=60.0, help="seconds per cell")
    parser.add_argument("--loop-steps", type=int, default=None)
    parser.add_argument("--fresh-repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.cell is None:
        cells = measure_latency(
            [name for name in args.optimizers.split(",") if name], args.dims, args.ns,
            cutoff_s=args.cutoff, loop_steps=args.loop_steps, fresh_repeats=args.fresh_repeats,
            seed=args.seed,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        print(format_latency(cells))
        return 0
    try:
        request = json.loads(args.cell)
        result = run_cell(
            str(request["optimizer"]), int(request["d"]), int(request["n"]),
            loop_steps=int(request.get("loop_steps", 5)), seed=int(request.get("seed", 0)),
            loop_budget_s=float(request.get("loop_budget_s", math.inf)),
            fresh_repeats=int(request.get("fresh_repeats", 1)),
            fresh_budget_s=float(request.get("fresh_budget_s", math.inf)),
        )
    except Exception as exc:  # one line for the parent's table, whatever went wrong
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        result = {"status": f"error: {message[:300]}"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
