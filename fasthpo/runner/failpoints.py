"""Named crash points in the tuner, for tests only: kill the tuner between two persistence steps.

``FASTHPO_FAILPOINT=name[:count]`` — meant for tests, never for users — makes
the tuner ``os._exit`` the ``count``-th time (default the first) it reaches
the point ``name``, as ``kill -9`` would at that instant: no cleanup, no
``finally``, trial processes left running. Tests use it to check that a
resume after a crash at any step launches no attempt twice and loses none.
Unarmed (the variable unset), :func:`failpoint` is one comparison.
"""

from __future__ import annotations

import os

from fasthpo.errors import ConfigError

FAILPOINT_ENV = "FASTHPO_FAILPOINT"
#: The exit status of a tuner killed by a failpoint.
FAILPOINT_EXIT = 86

#: Every point, in the order a trial meets them.
POINTS = (
    "trial-proposed",  # the strategy proposed a configuration; no trial row yet
    "trial-created",  # the trial row exists (pending); not started
    "trial-started",  # the trial and its attempt are recorded running; no process yet
    "trial-launched",  # its processes run; their process groups are not stored
    "trial-exited",  # its processes exited; the outcome is not stored
    "job-ending",  # every trial is settled; the job's final status is not stored
)


def _arm(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, count = value.partition(":")
    if name not in POINTS or not (count == "" or (count.isdigit() and int(count) > 0)):
        raise ConfigError(
            FAILPOINT_ENV, f"must be NAME[:COUNT] with NAME one of {', '.join(POINTS)}, got {value!r}"
        )
    return name, int(count or 1)


_ARMED = _arm(os.environ.get(FAILPOINT_ENV))
_hits = 0


def failpoint(name: str) -> None:
    """Exit the process at once if the failpoint ``name`` is armed and due."""
    if _ARMED is None:
        return
    global _hits
    if name != _ARMED[0]:
        return
    _hits += 1
    if _hits == _ARMED[1]:
        os.write(2, f"fasthpo: failpoint {name} reached: exiting\n".encode())
        os._exit(FAILPOINT_EXIT)
