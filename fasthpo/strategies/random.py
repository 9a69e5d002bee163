"""Random search: independent uniform draws in each hyperparameter's scaling.

A ``log`` range is sampled log-uniformly, ``reverse_log`` uniformly in
−log(1 − x), ``linear`` uniformly. Random search cannot learn, so ``auto`` is
sampled as ``linear`` — the same starting assumption the Bayesian strategy
makes before its input warp has seen data. Declare ``log`` when you know a
range spans decades.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fasthpo.objective import Direction
from fasthpo.space import Categorical, Continuous, SearchSpace
from fasthpo.strategies.base import Observations, check_count, config_key

# Redraws allowed per proposal before accepting that the space is nearly full.
_MAX_REDRAWS = 64


def finite_size(space: SearchSpace) -> int | None:
    """Number of distinct configurations, or ``None`` if a dimension is continuous."""
    size = 1
    for p in space:
        if isinstance(p, Continuous):
            return None
        size *= len(p.values) if isinstance(p, Categorical) else p.high - p.low + 1
    return size


class RandomSearch:
    """Uniform random proposals, never repeating an observed or pending configuration.

    Parameters
    ----------
    space
        The search space.
    seed
        Seed of the random stream; ``None`` draws one from the OS.
    direction
        ``"minimize"`` or ``"maximize"`` (used for :meth:`best`).
    """

    def __init__(
        self, space: SearchSpace, *, seed: int | None = None, direction: Direction = "minimize"
    ) -> None:
        self.space = space
        self._observations = Observations(space, direction)
        self.direction = self._observations.direction
        self._rng = np.random.default_rng(seed)
        self._size = finite_size(space)

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Return up to ``n`` new configurations (fewer only when a finite space is used up)."""
        n = check_count(n)
        taken = self._observations.keys(pending)
        proposals: list[dict[str, Any]] = []
        for _ in range(n):
            if self._size is not None and len(taken) >= self._size:
                break
            for _attempt in range(_MAX_REDRAWS):
                config = self.space.from_unit(self._rng.random(len(self.space)).tolist())
                key = config_key(self.space, config)
                if key not in taken:
                    break
            else:
                if self._size is not None:
                    # A nearly full finite space: pick a free configuration, never a repeat.
                    config = self._free_config(taken)
                    key = config_key(self.space, config)
            taken.add(key)
            proposals.append(config)
        return proposals

    def _free_config(self, taken: set[tuple[Any, ...]]) -> dict[str, Any]:
        """A uniformly chosen configuration of a finite space that is not in ``taken``."""
        axes = [
            p.values if isinstance(p, Categorical) else range(int(p.low), int(p.high) + 1)
            for p in self.space
        ]
        free = [
            config
            for values in itertools.product(*axes)
            if config_key(self.space, config := dict(zip(self.space.names, values, strict=True)))
            not in taken
        ]
        return free[int(self._rng.integers(len(free)))]

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Record a finished evaluation (validated; a bad call changes nothing)."""
        self._observations.add(config, value)

    def tell_failed(self, config: Mapping[str, Any]) -> None:
        """Record that evaluating ``config`` failed (it produced no value): it counts as
        evaluated and is never proposed again, and nothing is learnt from it."""
        self._observations.add_failed(config)

    def best(self) -> tuple[dict[str, Any], float] | None:
        """Best configuration and value told so far."""
        return self._observations.best()

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Always empty: this strategy does not learn, so it detects no scales."""
        return {}
