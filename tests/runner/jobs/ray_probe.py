"""A trial for the Ray backend's tests: says where it runs, waits if asked, reports ``loss``.

It prints one ``probe {...}`` line with the variables the tuner and Ray set
(ranks, master address, GPUs, its pid), then waits for ``--wait_for FILE``
(a barrier, so tests can see trials run at the same time; first attempts
only, so a trial that runs again finishes at once), sleeps
``--sleep`` seconds, and reports ``loss = x`` both as a log line and
through ``fasthpo.report``. ``--fail_rank R`` makes instance R exit with code 3 at
once; ``--spawn 1`` first starts a grandchild in its process group that sleeps for two minutes.
"""

import argparse
import json
import os
import sys
import time

NAMES = (
    "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
    "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "FASTHPO_TRIAL_ID", "FASTHPO_ATTEMPT",
    "FASTHPO_TRIAL_DIR", "FASTHPO_INSTANCE_RANK", "FASTHPO_INSTANCE_COUNT", "FASTHPO_JOB_NAME",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, default=0.5)
    parser.add_argument("--wait_for", default="")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--fail_rank", type=int, default=-1)
    parser.add_argument("--spawn", type=int, default=0)
    args, _unknown = parser.parse_known_args()
    info = {name: os.environ.get(name) for name in NAMES}
    info.update(pid=os.getpid(), ppid=os.getppid(), pgid=os.getpgrp(), cwd=os.getcwd())
    if args.spawn:
        import subprocess

        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        info["grandchild"] = child.pid
    print("probe " + json.dumps(info), flush=True)
    if args.fail_rank == int(os.environ.get("FASTHPO_INSTANCE_RANK", "0")):
        print("this rank gives up", file=sys.stderr, flush=True)
        sys.exit(3)
    deadline = time.time() + 120
    first = os.environ.get("FASTHPO_ATTEMPT") == "1"
    while first and args.wait_for and not os.path.exists(args.wait_for) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(args.sleep)
    import fasthpo

    fasthpo.report(step=0, loss=args.x + 1.0)
    print(f"loss={args.x}", flush=True)


if __name__ == "__main__":
    main()
