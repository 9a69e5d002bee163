"""Recovering what a dead tuner left behind: trials recorded as running, and their processes.

Trial processes run in their own sessions, so they outlive a tuner killed with
``kill -9``. A trial's processes are found by the trial folder in their
environment (``FASTHPO_TRIAL_DIR``, inherited by children and grandchildren,
unique to one attempt of one trial of one store) by scanning ``/proc``; they
are stopped like any trial (SIGTERM to their process groups, a grace period,
SIGKILL), the attempt is recorded as ``lost`` and the trial goes back to
``pending`` to run again. They are not adopted: their exit status cannot be
collected by a process that is not their parent, and a half-observed result
is worth less than a clean rerun.

Without ``/proc`` (macOS), leftover processes cannot be identified safely and
are left alone, with a warning.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from fasthpo.processes import pid_alive
from fasthpo.storage import Store
from fasthpo.trial_env import TRIAL_DIR_ENV

log = logging.getLogger("fasthpo")

PROC = Path("/proc")
LOST_TRIAL_ERROR = "lost: the tuner exited while this trial was running"


def find_trial_processes(directory: str) -> set[int]:
    """Ids of this host's processes whose ``FASTHPO_TRIAL_DIR`` is ``directory``."""
    marker = os.fsencode(f"{TRIAL_DIR_ENV}=") + os.fsencode(directory)
    found: set[int] = set()
    for entry in PROC.glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours
            continue
        if marker in environ.split(b"\0") and not _zombie(entry):
            found.add(int(entry.name))
    found.discard(os.getpid())
    return found


def stop_processes(pids: set[int], *, grace: float) -> None:
    """SIGTERM the processes and their groups, wait up to ``grace`` seconds, then SIGKILL."""
    own_group = os.getpgrp()
    groups: set[int] = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups.discard(own_group)

    def send(sig: signal.Signals) -> None:
        for group in groups:
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_running(pid) for pid in pids):
        time.sleep(0.05)
    if any(process_running(pid) for pid in pids):
        send(signal.SIGKILL)


def recover_trials(
    store: Store, job: str, *, grace: float,
    stop_remote: Callable[[list[str]], object] | None = None,
) -> list[int]:
    """Stop the processes of ``job``'s running trials; record them lost and pending again.

    Only call this while holding the job's lease (no live tuner runs it).
    ``stop_remote`` stops what ran elsewhere (on a cluster's nodes), given the
    trials' folders. Returns the ids of the recovered trials.
    """
    recovered: list[int] = []
    running = store.trials(job, status=("running",))
    if stop_remote is not None:
        stop_remote([t.directory for t in running if t.directory is not None])
    for trial in running:
        if trial.directory is not None:
            if PROC.is_dir():
                pids = find_trial_processes(trial.directory)
                if pids:
                    log.warning(
                        "trial %d: stopping %d process(es) left by the previous tuner",
                        trial.trial_id, len(pids),
                    )
                    stop_processes(pids, grace=grace)
            else:
                log.warning(
                    "trial %d: processes left by the previous tuner may still run "
                    "(they cannot be identified on this system)", trial.trial_id,
                )
        store.retry_trial(job, trial.trial_id, status="lost", error=LOST_TRIAL_ERROR)
        recovered.append(trial.trial_id)
    return recovered


def _zombie(entry: Path) -> bool:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def process_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped (which is dead for us)."""
    return pid_alive(pid) and not (PROC.is_dir() and _zombie(PROC / str(pid)))
