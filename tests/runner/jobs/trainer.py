"""A small real training job for the runner's tests.

It "trains" by evaluating (x - 0.3)^2 + (y - 0.6)^2 over a few steps, and its
static hyperparameters choose how it behaves: how long it sleeps, how it exits,
whether it reports through a regex line or ``fasthpo.report``, and where it
records its start and end times (to check the parallelism limit). With
``--quick_if FILE`` a training that starts once FILE exists does not sleep:
a test that must catch the first trainings mid-run can let the ones it
resumes afterwards finish at once.
"""

import argparse
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, default=0.0)
    parser.add_argument("--y", type=float, default=0.0)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=3)
    # ok | fail | silent | nan | report | spawn | crash-once
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--record", default="")
    parser.add_argument("--exit_code", type=int, default=3)
    parser.add_argument("--quick_if", default="")
    args, _unknown = parser.parse_known_args()

    started = time.time()
    if args.quick_if and os.path.exists(args.quick_if):
        args.sleep = 0.0
    trial_dir = os.environ.get("FASTHPO_TRIAL_DIR")
    if trial_dir:
        # Lets tests find the process after the tuner is gone.
        with open(os.path.join(trial_dir, "trainer.pid"), "w") as fh:
            fh.write(str(os.getpid()))
    if args.mode == "crash-once":
        # The first attempt of each trial dies by a signal, as under the OOM killer.
        marker = os.path.join(os.path.dirname(trial_dir), f"crashed-{os.environ['FASTHPO_TRIAL_ID']}")
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), 9)
    loss = (args.x - 0.3) ** 2 + (args.y - 0.6) ** 2
    if args.mode == "spawn":
        # A grandchild that ignores SIGTERM and would outlive the trial if its group were not killed.
        import subprocess

        child = subprocess.Popen([
            sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ])
        with open(os.path.join(os.environ["FASTHPO_TRIAL_DIR"], "grandchild.pid"), "w") as fh:
            fh.write(str(child.pid))
    for step in range(args.steps):
        time.sleep(args.sleep / max(args.steps, 1))
        value = loss + (args.steps - 1 - step) * 0.1
        if args.mode == "report":
            import fasthpo

            fasthpo.report(step=step, loss=value)
        elif args.mode in ("ok", "fail", "spawn", "crash-once"):
            print(f"step {step}: loss={value:.10g}", flush=True)
    if args.mode == "nan":
        print("step 0: loss=0.5")
        print("step 1: loss=nan")
    if args.record:
        with open(args.record, "a") as fh:
            fh.write(json.dumps({"trial": os.environ["FASTHPO_TRIAL_ID"],
                                 "start": started, "end": time.time()}) + "\n")
    if args.mode == "fail":
        print("something went wrong in training", file=sys.stderr)
        sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
