"""The Ray backend's cost: added latency per trial against the local backend, and throughput.

Starts a local Ray cluster of ``--nodes`` worker nodes (Ray's own test
utilities: one raylet per node on this machine, ``--cpus`` CPUs each, a head
with none), then runs the same trivial job (a Python one-liner printing its
loss) through ``run_job``:

* **latency**: ``--trials`` trials one at a time on the local backend and on
  Ray; the difference in wall time per trial is what Ray adds to each trial
  (task submission, placement, streaming the output back);
* **throughput**: ``--many`` trials at ``--parallel`` at once on Ray; the
  tuner's view of how busy it kept the cluster is the mean number of trials in
  flight (the sum of each attempt's start-to-result time over the wall time).

    PYTHONPATH=. python benchmarks/ray_overhead.py [--nodes 4] [--cpus 4] [--trials 50] [--many 1000]

Both backends run in this process, one after the other, on the same machine;
on a shared machine the figures move with its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ONE_LINER = "import sys; print('loss=' + sys.argv[1].split('=')[1])"


@dataclass(frozen=True)
class Run:
    """One ``run_job`` of the trivial job (seconds)."""

    backend: str
    trials: int
    parallel: int
    wall: float
    in_flight: float  # mean trials between start and stored result
    launch_to_result: float  # median per trial


def run(backend: str, trials: int, parallel: int, folder: Path, address: str | None = None) -> Run:
    """Run the trivial job with ``backend``; its figures."""
    from fasthpo.config import parse_job
    from fasthpo.runner.tuner import run_job
    from fasthpo.storage import Store

    name = f"{backend}-{trials}-{parallel}"
    job: dict[str, Any] = {
        "name": name,
        "command": ["python", "-c", ONE_LINER],
        "hyperparameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        "objective": {"metric": "loss", "direction": "minimize"},
        "metrics": [{"name": "loss", "regex": r"loss=(\S+)"}],
        "strategy": "random",
        "seed": 0,
        "limits": {"max_trials": trials, "max_parallel": parallel},
    }
    if backend == "ray":
        job["backend"] = {"type": "ray", "address": address, "ship_workdir": False}
    spec = parse_job(job, base_dir=folder)
    db = folder / f"{name}.db"
    started = time.perf_counter()
    run_job(spec, db=db)
    wall = time.perf_counter() - started
    with Store(db) as store:
        done = store.trials(name)
        assert len(done) == trials and all(t.status == "completed" for t in done), name
        spans = [a.ended_at - a.started_at for a in store.attempts(name) if a.ended_at is not None]
    return Run(backend, trials, parallel, wall, sum(spans) / wall, statistics.median(spans))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=4, help="CPUs each node offers Ray")
    parser.add_argument("--trials", type=int, default=50, help="trials of the one-at-a-time runs")
    parser.add_argument("--many", type=int, default=1000, help="trials of the throughput run")
    parser.add_argument("--parallel", type=int, default=16)
    args = parser.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False, "object_store_memory": 100 << 20},
    )
    for _ in range(args.nodes):
        cluster.add_node(num_cpus=args.cpus, object_store_memory=100 << 20)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            run("ray", 4, 4, folder, cluster.address)  # warm the nodes' worker pools
            local = run("local", args.trials, 1, folder)
            remote = run("ray", args.trials, 1, folder, cluster.address)
            many = run("ray", args.many, args.parallel, folder, cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()
    ms = 1000.0
    print(f"Python {sys.version.split()[0]}, ray {ray.__version__}, {args.nodes} nodes x {args.cpus} CPUs")
    print(f"one at a time, {args.trials} trials: local {local.wall / local.trials * ms:.1f} ms/trial, "
          f"ray {remote.wall / remote.trials * ms:.1f} ms/trial, "
          f"added by ray {(remote.wall - local.wall) / args.trials * ms:.1f} ms/trial (target <= 100 ms)")
    print(f"launch -> result stored, median: local {local.launch_to_result * ms:.1f} ms, "
          f"ray {remote.launch_to_result * ms:.1f} ms")
    print(f"{many.trials} trials, max_parallel {many.parallel} on ray: {many.wall:.1f} s, "
          f"{many.trials / many.wall:.1f} trials/s, {many.in_flight:.1f} trials in flight on average "
          f"(target {many.parallel})")


if __name__ == "__main__":
    main()
