"""``FastGPSampler``: fasthpo's Bayesian optimizer as an Optuna sampler.

::

    import optuna
    from fasthpo.integrations.optuna import FastGPSampler

    study = optuna.create_study(sampler=FastGPSampler(seed=0))
    study.optimize(objective, n_trials=100, n_jobs=4)

How it samples:

* **Relative sampling** over the parameters every completed trial shares
  (Optuna's intersection search space) goes through one
  :class:`~fasthpo.strategies.bayesian.BayesianOptimizer` per study and search
  space, **kept between trials**: each call tells it only the trials that
  completed since the last call, and passes the other running trials as
  pending (their configurations enter as fantasies, so parallel workers do not
  all propose the same point). The optimizer's refit policy applies, so a
  1,000-trial study extends its model by rank-one updates rather than
  refitting from scratch at every trial.
* Distributions: ``FloatDistribution`` (linear or log; with ``step``, as an
  integer count of steps), ``IntDistribution`` (linear or log, any step) and
  ``CategoricalDistribution`` of up to 30 choices of any type (one-hot in the
  model). Parameters outside that space — or a categorical with more choices —
  are sampled by the ``independent_sampler`` (random by default).
* Failed trials are never told (they have no value); pruned trials are told
  their last intermediate value only with ``consider_pruned_trials=True``.
  ``maximize`` and ``minimize`` studies are both handled; multi-objective
  studies are refused.

Needs the ``optuna`` extra: ``pip install 'fasthpo[optuna]'``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )
    from optuna.samplers import BaseSampler, RandomSampler
    from optuna.search_space import IntersectionSearchSpace
    from optuna.study import Study, StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fasthpo.integrations.optuna needs optuna: pip install 'fasthpo[optuna]' "
        "(from a checkout: pip install '.[optuna]')"
    ) from exc

import numpy as np

from fasthpo.objective import Direction
from fasthpo.space import MAX_CATEGORICAL_VALUES, Categorical, Continuous, Integer, Parameter, SearchSpace
from fasthpo.strategies.bayesian import BayesianOptimizer

__all__ = ["FastGPSampler"]


@dataclass(frozen=True)
class _Dimension:
    """One Optuna parameter as a fasthpo hyperparameter, and the way back."""

    name: str  # Optuna's name
    distribution: BaseDistribution
    parameter: Parameter  # named p0, p1, ...: Optuna's names need not be identifiers

    def to_fast(self, value: Any) -> Any:
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return int(dist.to_internal_repr(value))
        assert isinstance(dist, (FloatDistribution, IntDistribution))
        if dist.step is not None and not (isinstance(dist, IntDistribution) and dist.step == 1):
            return round((float(value) - dist.low) / dist.step)
        return value

    def from_fast(self, value: Any) -> Any:
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[int(value)]
        if isinstance(dist, IntDistribution):
            return int(dist.low + int(value) * dist.step) if dist.step != 1 else int(value)
        assert isinstance(dist, FloatDistribution)
        if dist.step is not None:
            return float(min(dist.high, dist.low + int(value) * dist.step))
        return float(min(max(value, dist.low), dist.high))


def _dimension(index: int, name: str, dist: BaseDistribution) -> _Dimension | None:
    """The fasthpo face of ``dist``, or ``None`` when it is left to the independent sampler."""
    key = f"p{index}"
    parameter: Parameter
    if isinstance(dist, CategoricalDistribution):
        if len(dist.choices) > MAX_CATEGORICAL_VALUES:
            return None
        parameter = Categorical(key, tuple(range(len(dist.choices))))
    elif isinstance(dist, IntDistribution):
        if dist.step != 1:
            parameter = Integer(key, 0, (dist.high - dist.low) // dist.step, scaling="linear")
        else:
            parameter = Integer(key, dist.low, dist.high, scaling="log" if dist.log else "linear")
    elif isinstance(dist, FloatDistribution):
        if dist.step is not None:
            steps = round((dist.high - dist.low) / dist.step)
            parameter = Integer(key, 0, steps, scaling="linear")
        else:
            parameter = Continuous(key, dist.low, dist.high, scaling="log" if dist.log else "linear")
    else:  # pragma: no cover - a distribution of a newer Optuna
        return None
    return _Dimension(name, dist, parameter)


@dataclass
class _Model:
    """The optimizer of one study over one search space, and which trials it has heard of."""

    dimensions: tuple[_Dimension, ...]
    optimizer: BayesianOptimizer
    told: set[int] = field(default_factory=set)
    #: Proposals handed to trials, by number: a trial whose parameters are not stored
    #: yet (another thread is just starting it) is still pending with its proposal.
    proposed: dict[int, dict[str, Any]] = field(default_factory=dict)


class FastGPSampler(BaseSampler):
    """Optuna sampler backed by fasthpo's GP optimizer (LogEI, input warping, kept between trials).

    Parameters
    ----------
    seed
        Seed of the optimizer and of the independent sampler.
    independent_sampler
        Samples the parameters outside the relative search space (default:
        ``RandomSampler(seed=seed)``).
    consider_pruned_trials
        Tell the optimizer a pruned trial's last intermediate value (default:
        no, a pruned trial is treated as failed).
    n_initial
        Size of the optimizer's quasi-random initial design (default: its own,
        5 to 10 by dimension).
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        independent_sampler: BaseSampler | None = None,
        consider_pruned_trials: bool = False,
        n_initial: int | None = None,
    ) -> None:
        self._rng = np.random.default_rng(seed)
        self._independent_sampler = independent_sampler or RandomSampler(seed=seed)
        self._consider_pruned = consider_pruned_trials
        self._n_initial = n_initial
        self._search_space = IntersectionSearchSpace(include_pruned=consider_pruned_trials)
        self._models: dict[tuple[int, int, tuple[str, ...]], _Model] = {}
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:
        """New seeds for later optimizers and the independent sampler (Optuna calls this per process)."""
        self._rng = np.random.default_rng()
        self._independent_sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """The parameters every completed trial shares, less those with a single value."""
        self._raise_error_if_multi_objective(study)
        space = self._search_space.calculate(study)
        return {name: dist for name, dist in space.items() if not dist.single()}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Propose the relative parameters with the study's optimizer, told only the new results."""
        if not search_space:
            return {}
        with self._lock:
            model = self._model(study, search_space)
            if model is None:
                return {}
            trials = study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
            )
            pending = []
            for other in trials:
                if other.number == trial.number:
                    continue
                config = self._config(model, other)
                if other.state != TrialState.RUNNING:
                    model.proposed.pop(other.number, None)
                elif config is None:
                    config = model.proposed.get(other.number)
                if config is None:
                    continue
                if other.state == TrialState.RUNNING:
                    pending.append(config)
                elif other.number not in model.told:
                    value = self._value(other)
                    model.told.add(other.number)
                    if value is not None:
                        model.optimizer.tell(config, value)
            (proposal,) = model.optimizer.ask(1, pending=pending)
            model.proposed[trial.number] = proposal
        return {d.name: d.from_fast(proposal[d.parameter.name]) for d in model.dimensions}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        """Parameters outside the relative space go to the independent sampler."""
        return self._independent_sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._independent_sampler.after_trial(study, trial, state, values)

    # -- the model of one study ----------------------------------------------------------

    def _model(self, study: Study, search_space: dict[str, BaseDistribution]) -> _Model | None:
        names = tuple(sorted(search_space))
        key = (id(study._storage), study._study_id, tuple(f"{n}={search_space[n]!r}" for n in names))
        model = self._models.get(key)
        if model is None:
            dims = [_dimension(i, n, search_space[n]) for i, n in enumerate(names)]
            dimensions = tuple(d for d in dims if d is not None)
            if not dimensions:
                return None
            space = SearchSpace([d.parameter for d in dimensions], max_tunable=len(dimensions))
            direction: Direction = (
                "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
            )
            optimizer = BayesianOptimizer(
                space, seed=int(self._rng.integers(2**31)), direction=direction, n_initial=self._n_initial
            )
            # A search space that changed leaves its old model behind: keep one per study.
            self._models = {k: m for k, m in self._models.items() if k[:2] != key[:2]}
            model = self._models[key] = _Model(dimensions, optimizer)
        return model

    def _config(self, model: _Model, trial: FrozenTrial) -> dict[str, Any] | None:
        """``trial``'s parameters in the optimizer's terms, or ``None`` if it lacks one or strays."""
        config = {}
        for d in model.dimensions:
            if d.name not in trial.params:
                return None
            value = trial.params[d.name]
            if not d.distribution._contains(d.distribution.to_internal_repr(value)):
                return None  # e.g. a trial enqueued or run under an older distribution
            config[d.parameter.name] = d.to_fast(value)
        return config

    def _value(self, trial: FrozenTrial) -> float | None:
        if trial.state == TrialState.COMPLETE:
            value = trial.value
        elif self._consider_pruned and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        else:
            return None
        return float(value) if value is not None and math.isfinite(value) else None


def _check_version() -> None:  # pragma: no cover - trivial
    major = int(optuna.__version__.split(".")[0])
    if major < 4:
        raise ImportError(f"fasthpo.integrations.optuna needs optuna >= 4, found {optuna.__version__}")


_check_version()
