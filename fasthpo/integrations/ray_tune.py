"""``FastGPSearch``: fasthpo's Bayesian optimizer as a Ray Tune search algorithm.

::

    from ray import tune
    from fasthpo.integrations.ray_tune import FastGPSearch

    tuner = tune.Tuner(
        train,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 5)},
        tune_config=tune.TuneConfig(
            search_alg=FastGPSearch(seed=0), metric="loss", mode="min", num_samples=50,
            scheduler=tune.schedulers.ASHAScheduler(),  # Tune's schedulers work as usual
        ),
    )

How it searches:

* One :class:`~fasthpo.strategies.bayesian.BayesianOptimizer` for the whole
  run. Trials still running are passed to it as pending, so concurrent trials
  get distinct proposals without Tune's ``ConcurrencyLimiter``.
* The search space is Tune's ``param_space`` (given to ``tune.Tuner``, or here
  as ``space=``), nested dicts included: ``tune.uniform`` / ``loguniform``
  (continuous, linear or log), ``randint`` / ``lograndint`` (integers; Tune's
  upper bound is exclusive), the quantized ``quniform`` / ``qloguniform`` /
  ``qrandint`` / ``qlograndint`` (an integer count of steps in the model) and
  ``choice`` (categorical). Plain values pass through unchanged; any other
  domain (``randn``, ``sample_from``, ``grid_search``) is refused by name.
* A completed trial is told its last reported ``metric``; a trial that
  errored, or ended without a finite ``metric``, is told as failed (never
  proposed again, nothing learnt from it).
* State is saved as JSON (no pickle): the space, every told result and the
  seed. A restored searcher replays the results and continues.

Needs Ray Tune: ``pip install 'fasthpo[tune]'``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from ray.tune.search import Searcher
    from ray.tune.search.sample import Categorical as TuneCategorical
    from ray.tune.search.sample import Domain, Float, Quantized
    from ray.tune.search.sample import Integer as TuneInteger
    from ray.tune.utils.util import flatten_dict, unflatten_dict
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fasthpo.integrations.ray_tune needs Ray Tune: pip install 'fasthpo[tune]' "
        "(from a checkout: pip install '.[tune]')"
    ) from exc

from fasthpo.errors import ConfigError
from fasthpo.objective import Direction
from fasthpo.space import Categorical, Continuous, Integer, Parameter, Scaling, SearchSpace
from fasthpo.strategies.bayesian import BayesianOptimizer

_SAFE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_STATE_VERSION = 1


@dataclass(frozen=True)
class _Steps:
    """A quantized domain as an integer count of steps: ``value = low + k * q``."""

    low: float
    q: float
    integer: bool

    def value(self, k: int) -> float | int:
        value = self.low + k * self.q
        return round(value) if self.integer else float(value)


class FastGPSearch(Searcher):
    """fasthpo's GP proposals for Ray Tune (see the module's docstring).

    Parameters
    ----------
    space
        Tune's ``param_space``; leave it out to take the one given to ``tune.Tuner``.
    metric, mode
        As Tune's (``mode``: ``"min"`` or ``"max"``); usually set in ``TuneConfig``.
    seed
        Seed of the optimizer's random choices.
    """

    def __init__(
        self,
        space: Mapping[str, Any] | None = None,
        *,
        metric: str | None = None,
        mode: str | None = None,
        seed: int | None = None,
    ) -> None:
        if mode not in (None, "min", "max"):
            raise ConfigError("mode", f"must be 'min' or 'max', got {mode!r}")
        super().__init__(metric=metric, mode=mode)
        self.seed = seed
        self._tune_space: dict[str, Any] | None = None
        self._optimizer: BayesianOptimizer | None = None
        self._live: dict[str, dict[str, Any]] = {}  # trial id → model configuration
        self._told: list[tuple[dict[str, Any], float | None]] = []  # None: failed
        if space is not None:
            self._set_space(space)

    # -- Tune's Searcher interface ---------------------------------------------------

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take the metric, mode and ``param_space`` Tune hands over (unless given already)."""
        if self._tune_space is not None and config:
            return False  # a space of our own: Tune's must not replace it silently
        if metric is not None:
            self._metric = metric
        if mode is not None:
            if mode not in ("min", "max"):
                raise ConfigError("mode", f"must be 'min' or 'max', got {mode!r}")
            self._mode = mode
        if self._tune_space is None:
            if not config:
                return False
            self._set_space(config)
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next configuration, with the running trials' configurations as pending."""
        optimizer = self._ensure_optimizer()
        if self._metric is None:
            raise ConfigError(
                "metric", "FastGPSearch needs the metric to optimise: give metric= and mode= to "
                "tune.TuneConfig or to FastGPSearch",
            )
        (config,) = optimizer.ask(1, pending=list(self._live.values()))
        self._live[trial_id] = config
        return self._to_tune(config)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the optimizer the trial's value, or that it failed."""
        config = self._live.pop(trial_id, None)
        if config is None:
            return
        value = None if error or result is None or self._metric is None else result.get(self._metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            value = None
        self._tell(config, None if value is None else float(value))

    def get_state(self) -> dict[str, Any]:
        """The searcher's state as JSON-ready data: space, results, seed."""
        return {
            "version": _STATE_VERSION,
            "metric": self._metric,
            "mode": self._mode,
            "seed": self.seed,
            "space": self._model_space().to_dict(),
            "told": [{"config": c, "value": v} for c, v in self._told],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`get_state`'s data: the results are told again."""
        if state.get("version") != _STATE_VERSION:
            raise ConfigError("state", f"unknown FastGPSearch state version {state.get('version')!r}")
        if self._tune_space is None:
            raise ConfigError("state", "give the searcher its space before restoring its state")
        if state.get("space") != self._space.to_dict():
            raise ConfigError("state", "the saved search space differs from this searcher's")
        self._metric, self._mode, self.seed = state["metric"], state["mode"], state["seed"]
        self._optimizer, self._told, self._live = None, [], {}
        for item in state["told"]:
            self._tell(item["config"], item["value"])

    def save(self, checkpoint_path: str) -> None:
        """Write the state to ``checkpoint_path`` as JSON."""
        Path(checkpoint_path).write_text(json.dumps(self.get_state()), encoding="utf-8")

    def restore(self, checkpoint_path: str) -> None:
        """Read a state :meth:`save` wrote."""
        self.set_state(json.loads(Path(checkpoint_path).read_text(encoding="utf-8")))

    # -- the model's space -------------------------------------------------------------

    def _set_space(self, space: Mapping[str, Any]) -> None:
        flat = flatten_dict(dict(space), prevent_delimiter=True)
        self._constants: dict[str, Any] = {}
        self._names: dict[str, str] = {}  # Tune's flattened key → model name
        self._steps: dict[str, _Steps] = {}  # model name → how a step count maps back
        parameters: list[Parameter] = []
        for key, domain in flat.items():
            if not isinstance(domain, Domain):
                self._constants[key] = domain
                continue
            name = key if _SAFE.fullmatch(key) else f"p{len(self._names)}"
            while name in self._names.values():
                name = f"_{name}"[:64]
            self._names[key] = name
            parameters.append(self._parameter(key, name, domain))
        if not parameters:
            raise ConfigError("param_space", "has no tune domain to search (tune.uniform, tune.choice, ...)")
        self._tune_space = dict(space)
        self._space = SearchSpace(parameters)

    def _parameter(self, key: str, name: str, domain: Domain) -> Parameter:
        sampler = domain.get_sampler()
        quantized = isinstance(sampler, Quantized)
        inner = sampler.get_sampler() if quantized else sampler
        kind = type(inner).__name__
        if isinstance(domain, TuneCategorical):
            return Categorical(name, tuple(domain.categories))
        if not isinstance(domain, (Float, TuneInteger)) or kind not in ("_Uniform", "_LogUniform"):
            raise ConfigError(
                key, f"{type(domain).__name__} with a {kind.strip('_')} sampler cannot be searched by "
                "FastGPSearch: use tune.uniform, loguniform, randint, lograndint, their q-forms or choice",
            )
        scaling: Scaling = "log" if kind == "_LogUniform" else "linear"
        integer = isinstance(domain, TuneInteger)
        low, high = domain.lower, domain.upper
        if integer and not quantized:
            high = high - 1  # Tune's integer upper bound is exclusive
        if quantized:  # the model sees the index of the step, on a linear scale
            q = float(sampler.q)
            first = math.ceil(low / q - 1e-9) * q
            count = math.floor((high - first) / q + 1e-9)
            if count < 1:
                raise ConfigError(key, f"holds fewer than two steps of {q:g} in [{low}, {high}]")
            self._steps[name] = _Steps(first, q, integer)
            return Integer(name, 0, count, scaling="linear")
        if integer:
            return Integer(name, int(low), int(high), scaling=scaling)
        return Continuous(name, float(low), float(high), scaling=scaling)

    # -- telling and converting --------------------------------------------------------

    def _model_space(self) -> SearchSpace:
        if self._tune_space is None:
            raise ConfigError(
                "param_space", "FastGPSearch has no search space: give param_space to tune.Tuner "
                "or space= to FastGPSearch",
            )
        return self._space

    def _ensure_optimizer(self) -> BayesianOptimizer:
        if self._optimizer is None:
            direction: Direction = "maximize" if self._mode == "max" else "minimize"
            self._optimizer = BayesianOptimizer(self._model_space(), seed=self.seed, direction=direction)
        return self._optimizer

    def _tell(self, config: Mapping[str, Any], value: float | None) -> None:
        optimizer = self._ensure_optimizer()
        if value is None:
            optimizer.tell_failed(config)
        else:
            optimizer.tell(config, value)
        self._told.append((dict(config), value))

    def _to_tune(self, config: Mapping[str, Any]) -> dict[str, Any]:
        flat = dict(self._constants)
        for key, name in self._names.items():
            value = config[name]
            steps = self._steps.get(name)
            flat[key] = steps.value(int(value)) if steps is not None else value
        return unflatten_dict(flat)
