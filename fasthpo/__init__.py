"""fasthpo: fast Bayesian hyperparameter tuning for real training jobs.

``import fasthpo`` is cheap on purpose: a training script that only calls
:func:`fasthpo.report` must not pay for NumPy or SciPy. The public classes are
loaded on first use (PEP 562), but the native extension is checked for here, so
a broken install fails at import time rather than at the first proposal.
Type checkers read the ``TYPE_CHECKING`` imports below, so they see the real
classes rather than the lazy ``__getattr__``'s ``object``.
"""

from __future__ import annotations

import os as _os
from importlib.machinery import EXTENSION_SUFFIXES as _EXTENSION_SUFFIXES
from typing import TYPE_CHECKING

from fasthpo._version import __version__
from fasthpo.reporting import hyperparameters, report, should_stop

if TYPE_CHECKING:
    from fasthpo.errors import ConfigError
    from fasthpo.jobspec import RetryPolicy
    from fasthpo.objective import Objective
    from fasthpo.results import load
    from fasthpo.runner.tuner import Tuner
    from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
    from fasthpo.strategies.bayesian import BayesianOptimizer
    from fasthpo.strategies.grid import GridSearch
    from fasthpo.strategies.random import RandomSearch

_NATIVE_DIR = _os.path.join(_os.path.dirname(__file__), "gp")
if not any(_os.path.exists(_os.path.join(_NATIVE_DIR, "_native" + s)) for s in _EXTENSION_SUFFIXES):
    raise ImportError(
        "fasthpo's native extension (fasthpo/gp/_native) is not built. Install the package "
        "with `pip install .` (or `pip install -e .` for development), which compiles it "
        "with the C compiler; fasthpo has no pure-Python fallback."
    )

# Public name -> module that defines it; resolved lazily by __getattr__.
_LAZY = {
    "Continuous": "fasthpo.space",
    "Integer": "fasthpo.space",
    "Categorical": "fasthpo.space",
    "SearchSpace": "fasthpo.space",
    "RandomSearch": "fasthpo.strategies.random",
    "GridSearch": "fasthpo.strategies.grid",
    "BayesianOptimizer": "fasthpo.strategies.bayesian",
    "Tuner": "fasthpo.runner.tuner",
    "RetryPolicy": "fasthpo.jobspec",
    "Objective": "fasthpo.objective",
    "ConfigError": "fasthpo.errors",
    "load": "fasthpo.results",
}

__all__ = [
    "BayesianOptimizer",
    "Categorical",
    "ConfigError",
    "Continuous",
    "GridSearch",
    "Integer",
    "Objective",
    "RandomSearch",
    "RetryPolicy",
    "SearchSpace",
    "Tuner",
    "__version__",
    "hyperparameters",
    "load",
    "report",
    "should_stop",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fasthpo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
