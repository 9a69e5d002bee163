"""A strategy whose first proposals are given configurations (a transfer-learning warm start).

:class:`WithInitialDesign` wraps any strategy: ``ask`` returns the given
configurations first (those not already observed or pending), then hands over
to the wrapped strategy, which is told every result as usual. The given
configurations inform the search without binding it: they are evaluated
anew on this job's task, and the model only learns from those evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fasthpo.strategies.base import ScalingVerdicts, Strategy, check_count, config_key


class WithInitialDesign:
    """``strategy`` whose first proposals are ``design`` (validated in its space)."""

    def __init__(self, strategy: Strategy, design: Sequence[Mapping[str, Any]]) -> None:
        self.strategy = strategy
        self.space = strategy.space
        self.direction = strategy.direction
        self._design = [self.space.validate(c) for c in design]
        self._seen: set[tuple[Any, ...]] = set()

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """The remaining design configurations first, then the wrapped strategy's proposals."""
        n = check_count(n)
        taken = self._seen | {config_key(self.space, self.space.validate(c)) for c in pending}
        out: list[dict[str, Any]] = []
        while self._design and len(out) < n:
            config = self._design.pop(0)
            key = config_key(self.space, config)
            if key not in taken:
                taken.add(key)
                out.append(config)
        if len(out) < n:
            out += self.strategy.ask(n - len(out), pending=[*pending, *out])
        return out

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Record a result in the wrapped strategy (and never propose it again)."""
        self._seen.add(config_key(self.space, self.space.validate(config)))
        self.strategy.tell(config, value)

    def tell_rung(self, config: Mapping[str, Any], resource: int, value: float) -> None:
        """Record a value at a Hyperband rung in the wrapped strategy (never propose it again)."""
        self._seen.add(config_key(self.space, self.space.validate(config)))
        self.strategy.tell_rung(config, resource, value)  # type: ignore[attr-defined]

    def detected_scaling(self) -> ScalingVerdicts:
        """The wrapped strategy's verdicts."""
        return self.strategy.detected_scaling()

    def __getattr__(self, name: str) -> Any:
        # tell_rung, last_log_ei and the like belong to the wrapped strategy.
        if name == "strategy":
            raise AttributeError(name)
        return getattr(self.strategy, name)
