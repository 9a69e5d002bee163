"""The objective of a tuning job: which metric, which way is better, and how a trial's value is made.

A trial reports its objective metric any number of times, from one or several
instances (ranks); :class:`ObjectiveTracker` turns those reports into the one
value the strategy is told, following :attr:`Objective.aggregate`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fasthpo.errors import ConfigError

if TYPE_CHECKING:
    from fasthpo.metric_report import MetricReport

_METRIC_NAME = re.compile(r"^[^\s\x00-\x1f]{1,200}$")


def check_metric_name(name: object) -> str:
    """Metric names may carry '-', ':' or '/' (SageMaker style) but no spaces or controls."""
    if not isinstance(name, str) or not _METRIC_NAME.fullmatch(name):
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


Aggregate = Literal["last", "rank0", "mean", "min", "max"]
#: How a trial's objective is made from its reports; ``last`` first, as the default.
AGGREGATES: tuple[str, ...] = ("last", "rank0", "mean", "min", "max")


def check_aggregate(aggregate: object, field: str = "aggregate") -> Aggregate:
    """Return ``aggregate`` if it names an aggregation, else raise ``ConfigError``."""
    if aggregate not in AGGREGATES:
        raise ConfigError(
            field, f"must be one of {', '.join(repr(a) for a in AGGREGATES)}, got {aggregate!r}"
        )
    return aggregate  # type: ignore[return-value]


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
    aggregate
        How the reports of a trial become its value: ``"last"`` (default) the
        last value reported by any instance, by report time; ``"rank0"`` the
        last value of instance 0; ``"mean"``, ``"min"``, ``"max"`` of each
        reporting instance's last value.
    """

    metric: str = "objective"
    direction: Direction = "minimize"
    aggregate: Aggregate = "last"

    def __post_init__(self) -> None:
        check_metric_name(self.metric)
        object.__setattr__(self, "direction", check_direction(self.direction))
        check_aggregate(self.aggregate)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {"metric": self.metric, "direction": self.direction, "aggregate": self.aggregate}

    def is_better(self, a: float, b: float | None) -> bool:
        """True when objective value ``a`` beats ``b`` (``None`` is beaten by anything finite)."""
        if not math.isfinite(a):
            return False
        if b is None:
            return True
        return a < b if self.direction == "minimize" else a > b


class ObjectiveTracker:
    """Follows one trial's reports of the objective metric and gives the trial's value.

    Feed it every report of the trial (other metrics are ignored); :attr:`value`
    is ``None`` until the aggregate is a finite number, so NaN, infinities and
    garbage never become an objective. :attr:`problem` says why there is none.
    """

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        self._last: MetricReport | None = None  # latest report of any instance
        self._by_instance: dict[int, MetricReport] = {}  # latest report of each instance

    def add(self, report: MetricReport) -> None:
        """Take one report into account (in the order the trial wrote them)."""
        if report.name != self.objective.metric:
            return
        # Within an instance, arrival order is write order (the reader merges its
        # log lines and fasthpo.report calls in the order they were written);
        # across instances the report time decides, and a tie goes to the later arrival.
        last = self._last
        if last is None or last.instance == report.instance or report.reported_at >= last.reported_at:
            self._last = report
        self._by_instance[report.instance] = report

    @property
    def value(self) -> float | None:
        """The trial's objective value, or ``None`` when there is no finite one."""
        value, _ = self._evaluate()
        return value

    @property
    def problem(self) -> str | None:
        """Why :attr:`value` is ``None`` (``None`` when there is a value)."""
        _, problem = self._evaluate()
        return problem

    def _evaluate(self) -> tuple[float | None, str | None]:
        metric = self.objective.metric
        aggregate = self.objective.aggregate
        if aggregate == "last":
            return _finite(self._last, f"the last value of {metric!r}", metric)
        if aggregate == "rank0":
            return _finite(self._by_instance.get(0), f"the last value of {metric!r} from instance 0",
                           metric, missing=f"instance 0 reported no value of metric {metric!r}")
        if not self._by_instance:
            return None, f"no value of metric {metric!r} was reported"
        values = []
        for rank in sorted(self._by_instance):
            value, problem = _finite(
                self._by_instance[rank], f"the last value of {metric!r} from instance {rank}", metric
            )
            if value is None:
                return None, problem
            values.append(value)
        if aggregate == "mean":
            result = math.fsum(v / len(values) for v in values)  # cannot overflow, unlike sum / n
        else:
            result = min(values) if aggregate == "min" else max(values)
        return result, None


def _finite(
    report: MetricReport | None, what: str, metric: str, *, missing: str | None = None
) -> tuple[float | None, str | None]:
    if report is None:
        return None, missing or f"no value of metric {metric!r} was reported"
    if report.value is None or not math.isfinite(report.value):
        shown = report.raw if report.value is None else repr(report.value)
        return None, f"{what} was not a finite number ({shown!r})"
    return report.value, None
