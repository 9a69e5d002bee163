"""Strategy names, as a job file's ``strategy:`` key spells them, mapped to their classes.

Classes are imported only when a strategy is made, so reading a job file does
not load NumPy. Names that are planned but not built yet are refused with a
clear error rather than silently replaced.
"""

from __future__ import annotations

import importlib
from typing import Any

from fasthpo.errors import ConfigError, did_you_mean
from fasthpo.objective import Direction
from fasthpo.space import SearchSpace
from fasthpo.strategies.base import Strategy

# name -> "module:Class"
_STRATEGIES: dict[str, str] = {
    "random": "fasthpo.strategies.random:RandomSearch",
    "grid": "fasthpo.strategies.grid:GridSearch",
    "bayesian": "fasthpo.strategies.bayesian:BayesianOptimizer",
    "hyperband": "fasthpo.strategies.hyperband:HyperbandProposals",
}
_PLANNED: tuple[str, ...] = ()

DEFAULT_STRATEGY = "bayesian"


def available_strategies() -> tuple[str, ...]:
    """Names accepted by :func:`make_strategy`."""
    return tuple(sorted(_STRATEGIES))


def check_strategy_name(name: object, field: str = "strategy") -> str:
    """Return ``name`` if it names an available strategy, else raise ``ConfigError``."""
    if isinstance(name, str) and name in _STRATEGIES:
        return name
    available = ", ".join(available_strategies())
    if isinstance(name, str) and name in _PLANNED:
        raise ConfigError(
            field, f"strategy {name!r} is not available in this version yet; use one of: {available}"
        )
    hint = did_you_mean(str(name), [*_STRATEGIES, *_PLANNED])
    raise ConfigError(field, f"unknown strategy {name!r}{hint}; available: {available}")


def make_strategy(
    name: str, space: SearchSpace, *, seed: int | None, direction: Direction
) -> Strategy:
    """Instantiate the strategy called ``name`` with its default settings."""
    module, cls = _STRATEGIES[check_strategy_name(name)].split(":")
    factory: Any = getattr(importlib.import_module(module), cls)
    return factory(space, seed=seed, direction=direction)
