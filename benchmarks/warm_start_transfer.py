"""Does a transfer-learning warm start help on a related task and do no harm on an unrelated one?

Tasks are 4-dimensional bowls with ripples, ``f_c(x) = |x - c|^2 + 0.05 * sum(1 - cos(6π(x - c)))``
on [0, 1]^4. A parent job tunes ``c = 0.3`` (40 random trials). A child job
(Bayesian, 15 trials) then tunes either a related task (``c = 0.35``) or an
unrelated one (``c = 0.8``), cold or warm-started with ``type: transfer_learning``
from the parent, through the real ``Tuner`` and store. Prints the median and
spread over seeds of the child's best value.

    PYTHONPATH=. python benchmarks/warm_start_transfer.py --seeds 5
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import tempfile
from pathlib import Path

import fasthpo
from fasthpo.space import Continuous, SearchSpace

SPACE = SearchSpace([Continuous(f"x{i}", 0.0, 1.0) for i in range(4)])


def task(center: float):
    def f(p):
        return sum(
            (p[f"x{i}"] - center) ** 2 + 0.05 * (1 - math.cos(6 * math.pi * (p[f"x{i}"] - center)))
            for i in range(4)
        )
    return f


def child_best(db: Path, seed: int, center: float, warm: bool) -> float:
    name = f"child-{center}-{seed}-{warm}"
    tuner = fasthpo.Tuner(
        SPACE, strategy="bayesian", max_trials=15, seed=seed, name=name, db=db,
        warm_start={"parents": [f"parent-{seed}"], "type": "transfer_learning"} if warm else None,
    )
    return tuner.optimize(task(center)).objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results: dict[tuple[float, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "transfer.db"
        for seed in range(args.seeds):
            fasthpo.Tuner(SPACE, strategy="random", max_trials=40, seed=100 + seed,
                          name=f"parent-{seed}", db=db).optimize(task(0.3))
            for center in (0.35, 0.8):
                for warm in (False, True):
                    results.setdefault((center, warm), []).append(child_best(db, seed, center, warm))
    print("| child task | cold: median (min–max) | transfer_learning: median (min–max) |")
    print("|---|---|---|")
    for center, label in ((0.35, "related (c = 0.35)"), (0.8, "unrelated (c = 0.8)")):
        cells = []
        for warm in (False, True):
            values = results[(center, warm)]
            cells.append(f"{statistics.median(values):.4f} ({min(values):.4f}–{max(values):.4f})")
        print(f"| {label} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
