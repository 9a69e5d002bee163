"""Cold start: a new process that imports an optimizer and makes its first model-based proposal.

Each run is a fresh interpreter (imports, extension loading and any JIT or lazy
initialisation included) that tells 20 observations of a 20-dimensional problem
and times until the first ``ask`` returns. Prints the median over runs per
optimizer and the ratio to the first one named.

    python benchmarks/cold_start.py [--runs 5] [--optimizers fasthpo-bayesian optuna-gp]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CHILD = """
import sys, time
started = float(sys.argv[2])
from fasthpo.benchmark.optimizers import get_optimizer
from fasthpo.benchmark.problems import get_problem
problem = get_problem("ackley-20")
optimizer = get_optimizer(sys.argv[1]).factory(problem.space, 0)
from fasthpo.strategies.random import RandomSearch
for config in RandomSearch(problem.space, seed=1).ask(20):
    optimizer.tell(config, problem.evaluate(config))
optimizer.ask(1)
print(time.time() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--optimizers", nargs="+", default=["fasthpo-bayesian", "optuna-gp"])
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    medians = {}
    for name in args.optimizers:
        times = []
        for _ in range(args.runs):
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, name, repr(time.time())],
                capture_output=True, text=True, env=env, check=False,
            )
            if proc.returncode != 0:
                print(f"{name}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                break
            times.append(float(proc.stdout.strip().splitlines()[-1]))
        if times:
            medians[name] = statistics.median(times)
    first = next(iter(medians.values()), None)
    for name, median in medians.items():
        print(f"{name:20s} {median * 1e3:8.0f} ms   {median / first:5.2f}x the first")


if __name__ == "__main__":
    main()
