"""What a benchmark problem is, and the registry of problem families that name them.

This is the leaf of ``fasthpo.benchmark``'s problem modules: the records
(:class:`Problem`, :class:`Box`), the canonical text of a configuration, and
the family registry that :func:`fasthpo.benchmark.problems.get_problem` reads.
It imports no other benchmark module, so the synthetic functions, the real
tasks and the catalogue can all build on it.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fasthpo.space import SearchSpace

MAX_DIMS = 20


def canonical_json(config: Mapping[str, Any]) -> str:
    """The canonical text of a (validated) configuration: sorted keys, exact floats."""
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Problem:
    """A search space and a function of a configuration to minimise.

    ``evaluate`` is what an optimizer sees (``function`` plus seeded noise);
    ``true_value`` is what a benchmark scores it by (``function`` alone).
    ``true_scaling`` (synthetic problems) names, per continuous or integer
    parameter, the scaling under which the function is its own, whatever was
    declared: what scale detection should find.
    """

    name: str
    space: SearchSpace
    function: Callable[[Mapping[str, Any]], float]
    optimum: float | None = None
    noise: float = 0.0
    minimizer: Mapping[str, Any] | None = None
    true_scaling: Mapping[str, str] | None = None

    def evaluate(self, config: Mapping[str, Any], *, seed: int = 0) -> float:
        """``function(config)`` plus ``noise``·N(0, 1), the draw fixed by (seed, config)."""
        value = float(self.function(config))
        if self.noise == 0.0:
            return value
        text = f"{operator.index(seed)}\0{canonical_json(self.space.validate(config))}"
        digest = hashlib.sha256(text.encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:16], "little"))
        return value + self.noise * float(rng.standard_normal())

    def true_value(self, config: Mapping[str, Any]) -> float:
        """The noiseless value ``function(config)``."""
        return float(self.function(config))


@dataclass(frozen=True)
class Box:
    """A d-dimensional function ``f`` on the box ``bounds``, with its minimum when known."""

    f: Callable[[np.ndarray], float]
    bounds: tuple[tuple[float, float], ...]
    optimum: float | None = None
    minimizer: tuple[float, ...] | None = None

    @classmethod
    def cube(
        cls, f: Callable[[np.ndarray], float], d: int, low: float, high: float, *,
        optimum: float | None = None, minimizer: float | Sequence[float] | None = None,
    ) -> Box:
        """The box [low, high]^d; a scalar ``minimizer`` is repeated d times."""
        if isinstance(minimizer, (int, float)):
            minimizer = (float(minimizer),) * d
        return cls(f, ((low, high),) * d, optimum, None if minimizer is None else tuple(minimizer))


@dataclass(frozen=True)
class Family:
    """A registered problem family: its description, its builder, and its dimensions.

    With ``dims`` (the range of d), ``builder(d)`` returns a :class:`Box`;
    with ``dims=None``, ``builder(cache_dir)`` returns a :class:`Problem`.
    """

    description: str
    builder: Callable[..., Any]
    dims: tuple[int, int] | None


_FAMILIES: dict[str, Family] = {}
_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")


def register_family(
    name: str, description: str, builder: Callable[..., Any], *,
    dims: int | tuple[int, int] | None = None,
) -> None:
    """Make ``name`` known to :func:`fasthpo.benchmark.problems.get_problem`.

    With ``dims`` (a fixed d, or a range ``(low, high)``), ``builder(d)`` returns a
    :class:`Box` and every modifier applies; without, ``builder(cache_dir)`` returns a
    :class:`Problem` and only ``+noise`` applies. Names are lowercase words joined by
    ``-``, each starting with a letter (so ``-d`` stays unambiguous).
    """
    if not _FAMILY_NAME.match(name):
        raise ValueError(f"family name {name!r} must be lowercase words joined by '-'")
    if name in _FAMILIES:
        raise ValueError(f"problem family {name!r} is already registered")
    span = (dims, dims) if isinstance(dims, int) else dims
    if span is not None and not 1 <= span[0] <= span[1] <= MAX_DIMS:
        raise ValueError(f"dims must lie in 1..{MAX_DIMS}, got {dims!r}")
    _FAMILIES[name] = Family(description, builder, span)


def registered_families() -> Mapping[str, Family]:
    """Every registered family by name, in the order they were registered."""
    return _FAMILIES
