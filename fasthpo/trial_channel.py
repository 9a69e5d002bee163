"""Where ``fasthpo.report`` and ``fasthpo.should_stop`` go inside ``Tuner.optimize``'s objective.

A subprocess trial talks to the tuner through its metrics file; an objective
function run by ``Tuner.optimize`` (in a thread of the tuner, or in a worker
process) talks through a :class:`TrialChannel` that its runner attaches to the
calling context for the length of the call. Standard library only:
:mod:`fasthpo.reporting` imports it, and training scripts import that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class TrialChannel(Protocol):
    """The running trial's line to its tuner."""

    def report(self, step: int | None, metrics: Mapping[str, float | str], at: float) -> None:
        """Pass on one ``fasthpo.report`` call (non-finite values arrive as their ``repr``)."""
        ...

    def should_stop(self) -> bool:
        """Whether the tuner asked this trial to stop."""
        ...


_current: ContextVar[TrialChannel | None] = ContextVar("fasthpo_trial_channel", default=None)


def current() -> TrialChannel | None:
    """The channel of the trial running in this context, or ``None`` outside one."""
    return _current.get()


@contextmanager
def attached(channel: TrialChannel) -> Iterator[None]:
    """Route this context's ``fasthpo.report`` calls to ``channel`` for the ``with`` block."""
    token = _current.set(channel)
    try:
        yield
    finally:
        _current.reset(token)
