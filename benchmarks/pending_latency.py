"""``ask`` with many pending trials on a large model: the cost of the pending-point handling.

Tells n random observations of Levy-d, makes one proposal (the model fit, not
timed), tells one more result, then times ``ask(1, pending=...)`` with q
pending configurations (the model is then updated, not refitted: the path every
ask of a long asynchronous run takes). Prints the median over repeats per mode, in CPU time of this process
(BLAS single-threaded, as `ask` runs it), so a loaded machine does not inflate it.
For ``marginal`` and ``capped`` both kinds of proposal are timed: the fantasy slot
and the exploiting slot (none of the pending trials came from one, so with the
exploiting slots on every timed ask is one).

    python benchmarks/pending_latency.py [--n 1000] [--d 20] [--pending 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import fasthpo.strategies.bayesian as bayesian
from fasthpo.benchmark.problems import get_problem
from fasthpo.strategies.bayesian import BATCH_MODES, BayesianOptimizer
from fasthpo.strategies.random import RandomSearch


def measure(mode: str, n: int, d: int, q: int, repeats: int) -> float:
    """Median seconds of one ``ask`` with ``q`` pending after ``n`` observations."""
    problem = get_problem(f"levy-{d}")
    opt = BayesianOptimizer(problem.space, seed=0, batch=mode)
    draws = RandomSearch(problem.space, seed=1).ask(n + 1 + q + repeats)
    for config in draws[:n]:
        opt.tell(config, problem.evaluate(config))
    opt.ask(1)  # the fit
    opt.tell(draws[n], problem.evaluate(draws[n]))
    pending = draws[n + 1 : n + 1 + q]
    times = []
    for _ in range(repeats):
        started = time.process_time()
        opt.ask(1, pending=pending)
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--pending", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=list(BATCH_MODES), choices=BATCH_MODES)
    args = parser.parse_args()
    share = bayesian.EXPLOIT_SHARE
    for mode in args.modes:
        none = measure(mode, args.n, args.d, 0, args.repeats)
        slots = [("", 0.0)]
        if mode in ("marginal", "capped") and share > 0:
            slots = [(" (fantasy slot)", 0.0), (" (exploiting slot)", share)]
        for label, bayesian.EXPLOIT_SHARE in slots:
            some = measure(mode, args.n, args.d, args.pending, args.repeats)
            print(f"{mode:10s} n={args.n} d={args.d}: ask {1e3 * none:6.1f} ms with no pending, "
                  f"{1e3 * some:6.1f} ms with {args.pending} pending{label}")
        bayesian.EXPLOIT_SHARE = share


if __name__ == "__main__":
    main()
