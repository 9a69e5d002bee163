"""What a training script calls: ``fasthpo.report(...)`` and ``fasthpo.hyperparameters()``.

This module imports only the standard library (and :mod:`fasthpo.trial_env`,
which imports nothing), so a training job pays nothing
for talking to the tuner. The tuner tells a trial where to write through the
``FASTHPO_METRICS_FILE`` environment variable; each call appends one JSON line,
written with a single ``write`` on a file opened in append mode so concurrent
writers (several instances, several threads) never interleave within a line.

Each record also holds the sizes of the process's stdout and stderr files at
the time of the call (after flushing Python's own buffers), so the tuner can
put a report exactly after the log lines printed before it: a trial that
prints ``loss=5.0`` and then reports ``loss=3.0`` ends with 3.0, whichever
the tuner reads first.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import sys
import time
from collections.abc import Mapping
from typing import Any

from fasthpo.trial_channel import current as _current_channel
from fasthpo.trial_env import HYPERPARAMETERS_ENV, METRICS_FILE_ENV


def _metric_value(name: str, value: Any) -> float | str:
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"fasthpo.report: metric {name!r} must be a number, got {value!r}")
    if not isinstance(value, (int, float)):
        # numpy scalars and 0-d arrays convert through __float__.
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"fasthpo.report: metric {name!r} must be a number, got {value!r}"
            ) from None
    value = float(value)
    # JSON has no NaN or infinity; keep them as text so the tuner sees the job diverged.
    return value if math.isfinite(value) else repr(value)


def report(step: int | None = None, **metrics: Any) -> None:
    """Report metric values of the running trial to the tuner.

    Parameters
    ----------
    step
        Optional training step (epoch, iteration) the values belong to; early
        stopping and Hyperband read intermediate values by step.
    **metrics
        Metric name to number, e.g. ``report(step=3, loss=0.25, accuracy=0.91)``.

    Inside ``Tuner.optimize``'s objective the values go straight to the tuner
    (as the same records a subprocess trial's reports become). Outside a
    tuner-launched trial (no ``FASTHPO_METRICS_FILE``) this does nothing, so
    the same script runs by hand unchanged.
    """
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise TypeError(f"fasthpo.report: step must be an int or None, got {step!r}")
    if not metrics:
        raise TypeError("fasthpo.report: give at least one metric, e.g. report(loss=0.25)")
    record: dict[str, Any] = {
        "time": time.time(),
        "step": step,
        "metrics": {name: _metric_value(name, value) for name, value in metrics.items()},
    }
    channel = _current_channel()
    if channel is not None:
        channel.report(step, record["metrics"], record["time"])
        return
    path = os.environ.get(METRICS_FILE_ENV)
    if not path:
        return
    record.update(_log_sizes(os.path.dirname(path)))
    line = json.dumps(record, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def should_stop() -> bool:
    """Whether the tuner asked the running trial to stop (early stopping, ``fasthpo stop``, Ctrl-C).

    For objectives run by ``Tuner.optimize``: check it between steps and return
    (the value reported last counts as the trial's, as for a stopped subprocess
    trial). A subprocess trial is stopped with SIGTERM instead, so there, and
    outside any trial, this is always ``False``.
    """
    channel = _current_channel()
    return channel is not None and channel.should_stop()


def _log_sizes(folder: str) -> dict[str, int]:
    """How many bytes stdout and stderr hold now, for those still the tuner's log files.

    The tuner keeps ``stdout.log`` and ``stderr.log`` beside the metrics file; a
    process that sent its output elsewhere gives no size for it.
    """
    sizes = {}
    for name, stream, fd in (("stdout", sys.stdout, 1), ("stderr", sys.stderr, 2)):
        if stream is not None:
            # What print() buffered was written before this report; a replaced
            # stream that cannot flush must not break report().
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            info = os.fstat(fd)
            log = os.stat(os.path.join(folder, f"{name}.log"))
        except (OSError, ValueError):  # closed or replaced streams: no position to give
            continue
        if stat.S_ISREG(info.st_mode) and os.path.samestat(info, log):
            sizes[name] = info.st_size
    return sizes


def hyperparameters() -> dict[str, Any]:
    """Return the running trial's hyperparameters (tuned and static) as a dict.

    Read from ``FASTHPO_HYPERPARAMETERS``; raises ``RuntimeError`` when the
    script was not started by fasthpo.
    """
    raw = os.environ.get(HYPERPARAMETERS_ENV)
    if raw is None:
        raise RuntimeError(
            f"fasthpo.hyperparameters(): {HYPERPARAMETERS_ENV} is not set; "
            "this process was not started by the fasthpo tuner"
        )
    value = json.loads(raw)
    if not isinstance(value, Mapping):
        raise RuntimeError(f"{HYPERPARAMETERS_ENV} does not hold a JSON object")
    return dict(value)
