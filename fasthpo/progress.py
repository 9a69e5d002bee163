"""A live progress bar for a running job: trials done of the budget, running, failed, best, ETA.

It reads the store, not the loop: a thread opens its own connection and
refreshes the bar twice a second from the job's counters and best trial, so
the tuner loop knows nothing of it and a slow terminal never slows tuning.
Drawn with tqdm (``tqdm.auto``: a widget in notebooks, text on a terminal),
which also computes the elapsed time and the ETA; while the bar is up, log
lines are written above it rather than through it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from fasthpo.storage import Store

#: Seconds between two refreshes of the bar.
REFRESH_SECONDS = 0.5


def _size(stream: IO[str]) -> tuple[int, int]:
    """The terminal's columns and lines, or 100 × 24 where it reports none (a pipe, a fresh pty,
    whose 0 × 0 tqdm would read as "no room": it would draw nothing)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 100, 24
    return size.columns if size.columns > 0 else 100, size.lines if size.lines > 0 else 24


class ProgressBar:
    """Shows a job's progress while the ``with`` block runs.

    Parameters
    ----------
    db
        The job's store (it must exist).
    job
        The job's name.
    total
        The trial budget (``max_trials``), counting earlier runs' trials.
    direction
        ``"minimize"`` or ``"maximize"``, to find the best trial.
    stream
        Where to draw (default: standard error).
    """

    def __init__(
        self, db: str | Path, job: str, *, total: int, direction: str, stream: IO[str] | None = None
    ) -> None:
        self.db = Path(db)
        self.job = job
        self.total = total
        self.direction = direction
        self.stream = stream if stream is not None else sys.stderr
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._logging: contextlib.ExitStack | None = None

    def __enter__(self) -> ProgressBar:
        from tqdm.auto import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        columns, lines = _size(self.stream)
        with Store(self.db, create=False) as store:  # a continued job starts where it stood
            counters = store.counters(self.job)
        finished = counters["completed"] + counters["failed"] + counters["stopped"]
        self._bar = tqdm(
            initial=finished,
            total=self.total, desc=self.job, unit="trial", file=self.stream, ncols=columns, nrows=lines,
            bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| [{elapsed}<{remaining}{postfix}]",
        )
        self._logging = contextlib.ExitStack()
        # Log lines go above the bar, through whichever logger has the console handler.
        loggers = [
            logger for logger in (logging.getLogger(), logging.getLogger("fasthpo"))
            if any(isinstance(h, logging.StreamHandler) for h in logger.handlers)
        ]
        self._logging.enter_context(logging_redirect_tqdm(loggers))
        self._thread = threading.Thread(target=self._watch, name="fasthpo-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self._logging is not None:
            self._logging.close()
        if self._bar is not None:
            self._bar.close()

    def _watch(self) -> None:
        try:
            store = Store(self.db, create=False)
        except Exception:  # the tuner will meet the same problem and say so
            return
        with store:
            while True:
                done = self._done.wait(REFRESH_SECONDS)
                with contextlib.suppress(Exception):  # a busy store: try again next time
                    self._refresh(store)
                if done:
                    return

    def _refresh(self, store: Store) -> None:
        counters = store.counters(self.job)
        best = store.best_trial(self.job, self.direction)
        finished = counters["completed"] + counters["failed"] + counters["stopped"]
        if finished > self._bar.n:
            self._bar.update(finished - self._bar.n)  # through update(), so the ETA sees the rate
        postfix = f"running={counters['running']}, failed={counters['failed']}"
        if best is not None and best.objective is not None:
            postfix += f", best={best.objective:.6g} (trial {best.trial_id})"
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.refresh()
