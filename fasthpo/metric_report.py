"""One value a trial reported: the record the backends produce, the objective reads and the store keeps.

It lives apart from the store so that the backends and the objective, which
never touch the store, do not import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricReport:
    """One value a trial reported: from a log line (``regex``) or ``fasthpo.report`` (``report``).

    ``instance`` is the rank of the process that reported it (0 unless the
    trial runs several instances).
    """

    name: str
    value: float | None
    step: int | None = None
    raw: str | None = None
    source: str = "report"
    reported_at: float = 0.0
    instance: int = 0
