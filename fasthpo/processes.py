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
