"""The ask/tell face every strategy shares, and the observation record behind it.

A strategy proposes configurations (``ask``) and learns from results
(``tell``). It knows nothing of trials, processes or the store: the runner
turns its proposals into training jobs and feeds the results back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from fasthpo.errors import ConfigError
from fasthpo.objective import Direction, check_direction
from fasthpo.space import SearchSpace

#: ``{name: (verdict, evidence)}``: a strategy's verdict on each ``auto`` scale, with JSON-ready evidence.
ScalingVerdicts = Mapping[str, tuple[str, Mapping[str, Any]]]


@runtime_checkable
class Strategy(Protocol):
    """What the runner needs from a strategy.

    ``ask(n, pending=...)`` returns up to ``n`` configurations (fewer, possibly
    none, when a finite strategy such as a grid has run out); ``pending`` lists
    configurations still being evaluated so they are not proposed again.
    ``tell(config, value)`` records one finished evaluation.
    ``detected_scaling()`` says what the strategy has learnt about the scale of
    each ``auto`` hyperparameter, as ``{name: (verdict, evidence)}``; a strategy
    that does not detect scales returns an empty mapping.
    """

    space: SearchSpace
    direction: Direction

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]: ...

    def tell(self, config: Mapping[str, Any], value: float) -> None: ...

    def detected_scaling(self) -> ScalingVerdicts: ...


def check_count(n: object) -> int:
    """Validate the ``n`` of ``ask(n)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"ask(n): n must be a positive integer, got {n!r}")
    return n


def config_key(space: SearchSpace, config: Mapping[str, Any]) -> tuple[Any, ...]:
    """A hashable identity of a (validated) configuration, for duplicate checks."""
    return tuple((type(config[name]).__name__, config[name]) for name in space.names)


class Observations:
    """Finished evaluations of one strategy: validated configurations and finite values.

    ``add`` checks everything before it changes anything, so a bad ``tell``
    leaves the strategy exactly as it was.
    """

    def __init__(self, space: SearchSpace, direction: str) -> None:
        self.space = space
        self.direction: Direction = check_direction(direction)
        self.configs: list[dict[str, Any]] = []
        self.values: list[float] = []
        self.failed: list[dict[str, Any]] = []  # evaluations that produced no value
        self._keys: set[tuple[Any, ...]] = set()  # kept as configs arrive: asks stay O(pending)

    def add(self, config: Mapping[str, Any], value: float) -> dict[str, Any]:
        """Validate and record one evaluation; return the normalised configuration."""
        if isinstance(value, (bool, str, bytes)):
            raise ConfigError("value", f"must be a number, got {value!r}")
        if not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy scalars
            except (TypeError, ValueError):
                raise ConfigError("value", f"must be a number, got {value!r}") from None
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(
                "value",
                f"must be finite, got {value!r}; tell a failed evaluation with tell_failed(config)",
            )
        normalised = self.space.validate(config)
        self.configs.append(normalised)
        self.values.append(value)
        self._keys.add(config_key(self.space, normalised))
        return normalised

    def add_failed(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Record an evaluation that failed (no value): it is never proposed again."""
        normalised = self.space.validate(config)
        self.failed.append(normalised)
        self._keys.add(config_key(self.space, normalised))
        return normalised

    def __len__(self) -> int:
        return len(self.values)

    def best(self) -> tuple[dict[str, Any], float] | None:
        """The best configuration and value so far (first one on ties), or ``None``."""
        if not self.values:
            return None
        pick = min if self.direction == "minimize" else max
        i = pick(range(len(self.values)), key=self.values.__getitem__)
        return dict(self.configs[i]), self.values[i]

    def keys(self, extra: Iterable[Mapping[str, Any]] = ()) -> set[tuple[Any, ...]]:
        """Identities of the observed configurations plus ``extra`` (e.g. pending ones)."""
        keys = set(self._keys)
        keys.update(config_key(self.space, self.space.validate(c)) for c in extra)
        return keys
