"""A training job with epochs for the Hyperband tests: loss = (x - 0.3)^2 + 0.5 / epoch.

Arguments: ``--x``, ``--epochs`` (the resource, given by the tuner), and
optionally ``--delay`` (seconds per epoch) and ``--log`` (a file to which each
epoch appends ``trial epoch``). Reports ``loss`` with ``fasthpo.report(step=epoch)``.
"""

import argparse
import os
import time

import fasthpo

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--delay", type=float, default=0.0)
parser.add_argument("--log", default="")
args, _ = parser.parse_known_args()

for epoch in range(1, args.epochs + 1):
    time.sleep(args.delay)
    fasthpo.report(step=epoch, loss=(args.x - 0.3) ** 2 + 0.5 / epoch)
    if args.log:
        with open(args.log, "a") as f:
            f.write(f"{os.environ.get('FASTHPO_TRIAL_ID', '?')} {epoch}\n")
