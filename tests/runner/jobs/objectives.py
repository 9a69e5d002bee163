"""Module-level objectives for worker-process tests (a worker imports them by name)."""

from __future__ import annotations

import os
import time

import fasthpo


def quadratic(params):
    """A smooth bowl, with the worker's pid reported so a test can count the processes."""
    fasthpo.report(step=0, pid=os.getpid())
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def waits_for_stop(params):
    """Reports a bad value, then waits (bounded) for the tuner to ask it to stop."""
    fasthpo.report(step=0, loss=100.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if fasthpo.should_stop():
            return None
        time.sleep(0.01)
    return 100.0


def fails(params):
    raise ValueError(f"bad x {params['x']:.3f}")


def dies_if_big(params):
    """Kills its worker process outright when x > 0.5 (as a segfault or the OOM killer would)."""
    if params["x"] > 0.5:
        os._exit(3)
    return params["x"]
