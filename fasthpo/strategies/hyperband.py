"""Proposals for Hyperband: a model per rung, and the highest rung with enough results proposes.

Successive halving itself (which trial stops where) is the runner's business
(:mod:`fasthpo.runner.successive_halving`); this strategy only chooses the
configurations of new trials. It learns from values *at a rung* — what a
trial reported once it had used that much resource — through
:meth:`HyperbandProposals.tell_rung`, so a trial stopped after one epoch is
never compared with one trained for 27.

Each rung (a resource level) has its own Bayesian optimizer told the values
measured there. A proposal comes from the highest rung holding at least
``min_points`` results; until one does, from the lowest rung (whose optimizer
starts with its Sobol design, then fits its GP to the cheap results). Higher
rungs hold fewer, truer results: the choice of "highest with enough" uses
the most faithful model that can be fitted at all. With ``proposals="random"``
every proposal is a uniform draw (the plain Hyperband of Li et al.).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fasthpo.objective import Direction
from fasthpo.space import SearchSpace
from fasthpo.strategies.base import check_count
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.random import RandomSearch

#: Fewest results at a rung before its model may propose.
MIN_POINTS = 6


class HyperbandProposals:
    """The strategy of ``strategy: hyperband`` (ask/tell, plus ``tell_rung``).

    Parameters
    ----------
    space, seed, direction
        As for every strategy.
    max_resource
        The top rung: :meth:`tell` (a result at full resource, e.g. a warm
        start's) records there.
    proposals
        ``"gp"`` (default) or ``"random"``.
    min_points
        Results a rung needs before its model proposes (default
        ``max(6, dimensions + 2)``).
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int | None = None,
        direction: Direction = "minimize",
        max_resource: int | None = None,
        proposals: Literal["gp", "random"] = "gp",
        min_points: int | None = None,
    ) -> None:
        if proposals not in ("gp", "random"):
            raise ValueError(f"proposals must be 'gp' or 'random', got {proposals!r}")
        self.space = space
        self.direction: Direction = direction
        self.max_resource = max_resource
        self.proposals = proposals
        self.min_points = min_points or max(MIN_POINTS, len(space) + 2)
        self._seed = seed
        self._rungs: dict[int, BayesianOptimizer] = {}
        self._random = RandomSearch(space, seed=seed)
        self._used: BayesianOptimizer | None = None

    def tell_rung(self, config: Mapping[str, Any], resource: int, value: float) -> None:
        """Record ``value``, measured once the trial had used ``resource``."""
        self._rung(resource).tell(config, value)

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Record a result at full resource (the top rung; the lowest rung if it is unknown)."""
        resource = self.max_resource if self.max_resource is not None else 0
        self.tell_rung(config, resource, value)

    def results(self) -> dict[int, int]:
        """How many results each rung holds, by resource."""
        return {r: len(model._observations) for r, model in sorted(self._rungs.items())}

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Up to ``n`` new configurations from the model of the highest rung with enough results."""
        n = check_count(n)
        if self.proposals == "random":
            return self._random.ask(n, pending=pending)
        model = self._proposer()
        self._used = model
        return model.ask(n, pending=pending)

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The scale verdicts of the model that made the last proposal."""
        return {} if self._used is None else self._used.detected_scaling()

    @property
    def last_log_ei(self) -> float | None:
        """LogEI of the last model proposal (see :attr:`BayesianOptimizer.last_log_ei`)."""
        return None if self._used is None else self._used.last_log_ei

    def _proposer(self) -> BayesianOptimizer:
        ready = [r for r, m in self._rungs.items() if len(m._observations) >= self.min_points]
        if ready:
            return self._rungs[max(ready)]
        if self._rungs:
            return self._rungs[min(self._rungs)]
        return self._rung(0)  # nothing reported yet: the lowest rung's initial design

    def _rung(self, resource: int) -> BayesianOptimizer:
        model = self._rungs.get(resource)
        if model is None:
            # The placeholder rung 0 (before any report) becomes the first real rung,
            # keeping its Sobol design position so early proposals do not repeat.
            placeholder = self._rungs.pop(0, None) if resource != 0 else None
            if placeholder is not None and len(placeholder._observations) == 0:
                model = placeholder
            else:
                if placeholder is not None:
                    self._rungs[0] = placeholder
                seed = None if self._seed is None else self._seed + 7919 * len(self._rungs)
                model = BayesianOptimizer(self.space, seed=seed, direction=self.direction)
            self._rungs[resource] = model
        return model
