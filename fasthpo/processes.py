"""Whether a process still exists on this host.

An operating-system check, not storage: the store's lease uses it to free the
job of a tuner that died on this host, and the runner's recovery to wait for
the processes it stops. It imports only the standard library, so both can use
it without the store importing the runner.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a zombie counts as existing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22).

    Together with the pid it names one process for good: a pid reused by a
    later process has another start time. ``None`` where ``/proc`` is missing
    (macOS) or the process is gone.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # Field 2 (the command name) may hold spaces and parentheses: count after the last ")".
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3
    except (IndexError, ValueError):
        return None
