"""One instance of a multi-instance test trial: records what it saw, then behaves as told.

Arguments (static hyperparameters) choose the behaviour; every instance writes
``seen-<rank>.json`` in the trial folder with its environment, CPU affinity,
pids and start time, and reports ``loss = x + rank`` through fasthpo.report.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

import fasthpo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, default=0.0)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--fail_rank", type=int, default=-1)  # this rank exits 3 after --fail_after s
    parser.add_argument("--fail_after", type=float, default=0.0)
    parser.add_argument("--ignore_term", default="false")  # leader ignores SIGTERM (and logs it)
    parser.add_argument("--grandchild", default="false")  # start a grandchild that ignores SIGTERM
    parser.add_argument("--rendezvous", default="false")  # rank 0 listens on MASTER_PORT, others connect
    parser.add_argument("--record", default="")
    args, _ = parser.parse_known_args()

    rank = int(os.environ["FASTHPO_INSTANCE_RANK"])
    trial_dir = os.environ["FASTHPO_TRIAL_DIR"]
    started = time.time()
    seen = {
        "argv": sys.argv[1:],
        "env": {k: v for k, v in os.environ.items() if k.startswith("FASTHPO_") or k in (
            "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
            "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
        )},
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "start": started,
    }
    if args.ignore_term == "true":
        def on_term(signum, frame):
            with open(os.path.join(trial_dir, f"sigterm-{rank}"), "w") as fh:
                fh.write(str(time.time()))
        signal.signal(signal.SIGTERM, on_term)
    if args.grandchild == "true":
        child = subprocess.Popen([
            sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
        ])
        seen["grandchild"] = child.pid
    if args.rendezvous == "true":
        address = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
        world = int(os.environ["WORLD_SIZE"])
        if rank == 0:
            with socket.create_server(address) as server:
                for _ in range(world - 1):
                    conn, _ = server.accept()
                    seen.setdefault("peers", []).append(conn.recv(16).decode())
                    conn.close()
        else:
            for _ in range(200):
                try:
                    with socket.create_connection(address, timeout=5) as conn:
                        conn.sendall(str(rank).encode())
                    break
                except OSError:
                    time.sleep(0.05)
    # Written whole, then renamed: the tests poll for this file.
    seen_file = os.path.join(trial_dir, f"seen-{rank}.json")
    with open(seen_file + ".tmp", "w") as fh:
        json.dump(seen, fh)
    os.replace(seen_file + ".tmp", seen_file)
    print(f"rank {rank} started", flush=True)
    fasthpo.report(step=0, loss=args.x + rank + 10)
    if rank == args.fail_rank:
        time.sleep(args.fail_after)
        print(f"rank {rank} is failing", file=sys.stderr, flush=True)
        sys.exit(3)
    deadline = time.monotonic() + args.sleep
    while time.monotonic() < deadline:
        time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
    fasthpo.report(step=1, loss=args.x + rank)
    if args.record:
        with open(args.record, "a") as fh:
            fh.write(json.dumps({"trial": os.environ["FASTHPO_TRIAL_ID"], "rank": rank,
                                 "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                 "start": started, "end": time.time()}) + "\n")


if __name__ == "__main__":
    main()
