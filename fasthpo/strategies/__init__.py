"""Search strategies behind one ask/tell face, and the registry that names them."""

from fasthpo.strategies.base import Strategy
from fasthpo.strategies.registry import available_strategies, make_strategy

__all__ = ["Strategy", "available_strategies", "make_strategy"]
