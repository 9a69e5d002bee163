"""How long a large job's report takes to write, and to draw in headless Chromium.

Builds a store with N trials of a 4-parameter space, each reporting S steps,
writes the report, opens it in Chromium (Debian's package, over the DevTools
pipe as the tests do) and reads the page's own mark of when every plot had
drawn (``performance.now()`` since navigation, plotly.js parsing included).
With ``--no-thinning`` the curves keep every report, for the ratio.

    python benchmarks/report_render.py [--trials 10000] [--steps 20] [--runs 3] [--no-thinning]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fasthpo.storage import Store
from fasthpo.visualization import thinning, write_report
from tests.browser import Browser
from tests.visualization.stores import SPACE, loss_of, sample, spec


def build(db: Path, trials: int, steps: int) -> None:
    """A finished job of ``trials`` trials, in one transaction (the tables as a tuner fills them)."""
    with Store(db) as store:
        store.create_job("big", spec("big"), seed=0)
    rng = random.Random(0)
    now = time.time()
    connection = sqlite3.connect(db)
    with connection:
        for i in range(1, trials + 1):
            params = sample(SPACE, rng)
            loss = loss_of(params) + rng.random() * 0.1
            start = now + i * 0.5
            connection.execute(
                "INSERT INTO trials (job, trial_id, status, hyperparameters, objective, created_at, "
                "started_at, ended_at, attempt) VALUES ('big', ?, 'completed', ?, ?, ?, ?, ?, 1)",
                (i, json.dumps(params), loss, start, start, start + 1.0),
            )
            connection.execute(
                "INSERT INTO attempts (job, trial_id, attempt, status, started_at, ended_at) "
                "VALUES ('big', ?, 1, 'completed', ?, ?)", (i, start, start + 1.0),
            )
            connection.executemany(
                "INSERT INTO metrics (job, trial_id, attempt, instance, name, step, value, source, "
                "reported_at) VALUES ('big', ?, 1, 0, 'loss', ?, ?, 'report', ?)",
                [(i, s, loss + math.exp(-s / 5.0), start + s) for s in range(steps)],
            )
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-thinning", action="store_true")
    args = parser.parse_args()
    if args.no_thinning:
        thinning.CURVE_POINT_BUDGET = 10**9
    with tempfile.TemporaryDirectory() as folder:
        db, page = Path(folder) / "big.db", Path(folder) / "big.html"
        build(db, args.trials, args.steps)
        started = time.perf_counter()
        write_report(db, "big", page)
        written = time.perf_counter() - started
        drawn = []
        with Browser() as browser:
            for _ in range(args.runs):
                browser.open("about:blank")
                browser.open(page.as_uri())
                browser.wait_drawn(timeout=600)
                drawn.append(float(browser.evaluate("document.body.dataset.renderMs")) / 1000)
        print(
            f"{args.trials} trials x {args.steps} steps (thinning {'off' if args.no_thinning else 'on'}): "
            f"report written in {written:.2f} s, {page.stat().st_size / 1e6:.1f} MB; "
            f"drawn in the browser in {statistics.median(drawn):.2f} s (median of {args.runs}: "
            + ", ".join(f"{d:.2f}" for d in drawn) + ")"
        )


if __name__ == "__main__":
    main()
