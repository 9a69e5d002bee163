"""Grid search: every combination of categorical values, integers and continuous points.

Categoricals and integers are enumerated in full; each continuous range gets
``resolution`` points (both ends included) evenly spaced in its scaling —
log-spaced for ``log``; ``auto`` counts as ``linear`` since a grid cannot learn.
The grid is walked in a seeded random order, so a budget smaller than the grid
still covers every dimension; ``seed=None`` walks it in lexicographic order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from fasthpo.errors import ConfigError
from fasthpo.objective import Direction
from fasthpo.space import Categorical, Integer, Parameter, SearchSpace
from fasthpo.strategies.base import Observations, check_count, config_key

DEFAULT_RESOLUTION = 5
DEFAULT_MAX_SIZE = 100_000


class GridSearch:
    """Exhaustive search over a finite grid; ``ask`` returns fewer points once it is used up.

    Parameters
    ----------
    space
        The search space.
    resolution
        Points per continuous range (≥ 2), default 5.
    seed
        Seed of the walking order; ``None`` walks lexicographically.
    max_size
        Refuse grids larger than this (default 100 000), naming the largest dimension.
    direction
        ``"minimize"`` or ``"maximize"``.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        resolution: int = DEFAULT_RESOLUTION,
        seed: int | None = 0,
        max_size: int = DEFAULT_MAX_SIZE,
        direction: Direction = "minimize",
    ) -> None:
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
            raise ConfigError("resolution", f"must be an integer >= 2, got {resolution!r}")
        self.space = space
        self.resolution = resolution
        self._observations = Observations(space, direction)
        self.direction = self._observations.direction
        self._axes = [self._axis(p) for p in space]
        sizes = [len(axis) for axis in self._axes]
        self.size = math.prod(sizes)
        if self.size > max_size:
            widest = space.parameters[int(np.argmax(sizes))]
            raise ConfigError(
                widest.name,
                f"the grid would hold {self.size} points (more than max_size={max_size}); "
                f"{widest.name!r} alone contributes {max(sizes)} values — narrow its range, "
                "lower the resolution, or use random or bayesian search",
            )
        self._order = (
            np.arange(self.size)
            if seed is None
            else np.random.default_rng(seed).permutation(self.size)
        )
        self._cursor = 0

    def _axis(self, p: Parameter) -> list[Any]:
        if isinstance(p, Categorical):
            return list(p.values)
        if isinstance(p, Integer):
            return list(range(p.low, p.high + 1))
        return [p.from_unit(u) for u in np.linspace(0.0, 1.0, self.resolution)]

    def __len__(self) -> int:
        return self.size

    def point(self, index: int) -> dict[str, Any]:
        """The grid point at lexicographic position ``index``."""
        values = []
        for axis in reversed(self._axes):
            index, digit = divmod(index, len(axis))
            values.append(axis[digit])
        return dict(zip(self.space.names, reversed(values), strict=True))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.point(i) for i in range(self.size))

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Return the next ``n`` grid points not yet observed or pending."""
        n = check_count(n)
        taken = self._observations.keys(pending)
        proposals: list[dict[str, Any]] = []
        while len(proposals) < n and self._cursor < self.size:
            config = self.point(int(self._order[self._cursor]))
            self._cursor += 1
            key = config_key(self.space, config)
            if key not in taken:
                taken.add(key)
                proposals.append(config)
        return proposals

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
