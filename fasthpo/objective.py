"""The objective of a tuning job: which metric, and which way is better."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from fasthpo.errors import ConfigError

_METRIC_NAME = re.compile(r"^[^\s\x00-\x1f]{1,200}$")


def check_metric_name(name: object) -> str:
    """Metric names may carry '-', ':' or '/' (SageMaker style) but no spaces or controls."""
    if not isinstance(name, str) or not _METRIC_NAME.match(name):
        raise ConfigError(
            "metric", f"{name!r} is not a valid metric name (1-200 characters, no spaces)"
        )
    return name

Direction = Literal["minimize", "maximize"]
DIRECTIONS: tuple[str, ...] = ("minimize", "maximize")


def check_direction(direction: object, field: str = "direction") -> Direction:
    """Return ``direction`` normalised to lower case, or raise ``ConfigError``.

    SageMaker writes ``Minimize``/``Maximize``; both spellings are accepted.
    """
    text = direction.lower() if isinstance(direction, str) else direction
    if text not in DIRECTIONS:
        raise ConfigError(field, f"must be 'minimize' or 'maximize', got {direction!r}")
    return text  # type: ignore[return-value]


@dataclass(frozen=True)
class Objective:
    """The metric a tuning job optimises and its direction.

    Parameters
    ----------
    metric
        Name of the reported metric (a regex metric definition or a
        ``fasthpo.report`` keyword), default ``"objective"``.
    direction
        ``"minimize"`` or ``"maximize"``.
    """

    metric: str = "objective"
    direction: Direction = "minimize"

    def __post_init__(self) -> None:
        check_metric_name(self.metric)
        object.__setattr__(self, "direction", check_direction(self.direction))

    def is_better(self, a: float, b: float | None) -> bool:
        """True when objective value ``a`` beats ``b`` (``None`` is beaten by anything finite)."""
        if not math.isfinite(a):
            return False
        if b is None:
            return True
        return a < b if self.direction == "minimize" else a > b
