"""Every optimizer a benchmark can run, behind fasthpo's ask/tell face, always minimising.

An optimizer is named by an :class:`OptimizerSpec`: what it is, which modules it
needs, how to install them, and a factory ``(space, seed) -> AskTell``. Peer
libraries (Optuna, scikit-optimize, torch) are imported only inside the
factories, so listing optimizers or asking whether one is usable
(:meth:`OptimizerSpec.unavailable_reason`, a ``find_spec`` look-up) costs no
heavy import and works where the peers are not installed.

Adding an optimizer is one small class and one entry in ``_OPTIMIZERS``::

    class HyperoptTPE:
        def __init__(self, space: SearchSpace, seed: int) -> None:
            import hyperopt                      # lazy: only when the optimizer is made
            ...
        def ask(self, n=1, *, pending=()) -> list[dict[str, Any]]: ...
        def tell(self, config, value) -> None: ...
        def detected_scaling(self) -> dict[str, Any]: return {}

    _OPTIMIZERS["hyperopt-tpe"] = OptimizerSpec(
        name="hyperopt-tpe",
        description="hyperopt's TPE",
        requires=("hyperopt",),
        factory=HyperoptTPE,
        install_hint="pip install hyperopt",
    )

How fasthpo's space maps onto the peers
---------------------------------------
* ``log`` (continuous or integer) becomes the peer's log distribution or prior.
* ``linear`` and ``auto`` become linear: no peer learns an input scaling, so
  ``auto`` is what a user of that library would declare without knowing better.
* ``reverse_log`` becomes linear in the peer: neither library has that scaling,
  and a linear range is what one of its users would write.
* A categorical becomes the peer's categorical over the values' command-line
  renderings (``"relu"``, ``"1"``, ``"true"``), which fasthpo guarantees are
  distinct. Passing the raw values would break on spaces such as
  ``[1, True]``, which Optuna's ``choices.index`` cannot tell apart (``1 == True``),
  and scikit-optimize turns into NumPy scalars. Proposals are mapped back to the
  declared values, and every number comes back as a Python ``int`` or ``float``.

Each peer runs with its own defaults except where fairness needs a choice:

* ``optuna-tpe``: ``TPESampler(multivariate=True, constant_liar=True)``.
  Multivariate TPE models the dimensions jointly (Optuna's recommendation for
  single-objective studies and its default from 5.0 on); the constant liar
  makes running trials repel new proposals, which an asynchronous tuner needs.
* ``optuna-gp``: ``GPSampler`` (Matérn-5/2 ARD GP, LogEI, qLogEI over running
  trials); needs torch, and greenlet for its batched acquisition optimiser
  (Optuna logs a warning and runs slower without it).
* ``skopt-gp``: ``Optimizer(base_estimator="GP")`` with the library defaults
  that ``gp_minimize`` uses: 10 random initial points, the ``gp_hedge``
  portfolio of EI/PI/LCB, ``acq_optimizer="auto"``.
* ``botorch``: a standard BoTorch loop (``SingleTaskGP``, LogEI / qLogEI,
  ``optimize_acqf`` with Ax's 20 restarts over 1,024 raw samples), described in
  :mod:`fasthpo.benchmark.botorch_peer`; it starts with 10 scrambled Sobol points
  and treats pending configurations as BoTorch does (``X_pending``).

The first three start with 10 random points, as ``RandomSearch`` would choose them.

Pending configurations
----------------------
fasthpo's strategies are told what is still running through ``ask(pending=...)``.
The Optuna adapter keeps every asked-but-untold configuration as a ``RUNNING``
trial (which the constant liar and GPSampler's qLogEI use) and treats
``pending`` as the truth: a running trial the caller no longer lists is marked
``FAIL`` (it was abandoned, e.g. its training job crashed), and a pending
configuration the study does not know (proposed before a restart) is added as
running. scikit-optimize has no notion of asynchronous pending points: its
adapter ignores ``pending`` and may propose points at or near them; within one
``ask(n)`` it uses its own constant liar (``strategy="cl_min"``).
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from fasthpo.errors import ConfigError, did_you_mean
from fasthpo.space import Categorical, Integer, Parameter, SearchSpace, render_value
from fasthpo.strategies.base import Observations, check_count, config_key

#: How to install the peers: the published extra, or the same from a source checkout.
BENCH_EXTRA = "pip install 'fasthpo[bench]' (from a checkout: pip install '.[bench]')"

#: BoTorch needs PyTorch, whose CPU build is installed first (docs/benchmarks.md).
BOTORCH_EXTRA = (
    "pip install torch --index-url https://download.pytorch.org/whl/cpu, then "
    "pip install 'fasthpo[bench-botorch]' (from a checkout: pip install '.[bench-botorch]')"
)

__all__ = ["AskTell", "OptimizerSpec", "get_optimizer", "optimizer_names"]


@runtime_checkable
class AskTell(Protocol):
    """The face a benchmark drives: propose configurations, learn from their values (minimised)."""

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]: ...

    def tell(self, config: Mapping[str, Any], value: float) -> None: ...

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """What the optimizer found out about each ``auto`` scale (empty for peers that don't say)."""
        ...


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer a benchmark can run.

    Attributes
    ----------
    name
        The name used on the command line and in result files.
    description
        One line saying what it is and how it is configured.
    requires
        Top-level module names it imports (checked with ``find_spec``, never imported).
    factory
        ``(space, seed) -> AskTell``; imports the peer library itself.
    install_hint
        The command that installs what ``requires`` lists.
    """

    name: str
    description: str
    requires: tuple[str, ...]
    factory: Callable[[SearchSpace, int], AskTell]
    install_hint: str

    def unavailable_reason(self) -> str | None:
        """``None`` when every required module is importable, else one line naming what is missing."""
        missing = [module for module in self.requires if not _importable(module)]
        if not missing:
            return None
        return f"{self.name}: unavailable (needs {', '.join(missing)}; install: {self.install_hint})"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, or a broken __spec__
        return False


# --- value mapping shared by the peers --------------------------------------------------------


def _labels(p: Parameter) -> dict[str, Any]:
    """Command-line rendering of each categorical value -> the declared value."""
    return {render_value(v): v for v in p.values}  # type: ignore[union-attr]


def _to_peer(p: Parameter, value: Any) -> Any:
    """A validated fasthpo value as the peer sees it (categoricals by their label)."""
    return render_value(value) if isinstance(p, Categorical) else value


def _from_peer(p: Parameter, raw: Any, labels: Mapping[str, Any]) -> Any:
    """A peer's value (possibly a NumPy scalar, possibly a hair outside the range) as fasthpo's."""
    if isinstance(p, Categorical):
        return labels[str(raw)]
    if isinstance(p, Integer):
        return min(max(round(float(raw)), p.low), p.high)
    return min(max(float(raw), p.low), p.high)


# --- fasthpo's own strategies -----------------------------------------------------------------


def _fasthpo_random(space: SearchSpace, seed: int) -> AskTell:
    from fasthpo.strategies.random import RandomSearch

    return RandomSearch(space, seed=seed, direction="minimize")


def _fasthpo_bayesian(space: SearchSpace, seed: int) -> AskTell:
    from fasthpo.strategies.bayesian import BayesianOptimizer

    return BayesianOptimizer(space, seed=seed, direction="minimize")


def _fasthpo_grid(space: SearchSpace, seed: int) -> AskTell:
    from fasthpo.strategies.grid import GridSearch

    return GridSearch(space, seed=seed, direction="minimize")


# --- Optuna -----------------------------------------------------------------------------------


class OptunaStudy:
    """An in-memory Optuna study driven through ask/tell with fixed distributions.

    Parameters
    ----------
    space
        The search space; mapped to Optuna distributions as the module explains.
    sampler
        A constructed Optuna sampler (seeded by the factory).
    """

    def __init__(self, space: SearchSpace, sampler: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.space = space
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self._distributions = {p.name: _optuna_distribution(optuna, p) for p in space}
        self._labels = {p.name: _labels(p) for p in space if isinstance(p, Categorical)}
        self._observations = Observations(space, "minimize")
        # config key -> numbers of RUNNING trials with that configuration, oldest first.
        self._running: dict[tuple[Any, ...], list[int]] = {}

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Propose ``n`` configurations; each stays a RUNNING trial until told."""
        n = check_count(n)
        self._sync_pending(pending)
        proposals = []
        for _ in range(n):
            trial = self.study.ask(self._distributions)
            config = {
                p.name: _from_peer(p, trial.params[p.name], self._labels.get(p.name, {}))
                for p in self.space
            }
            self._running.setdefault(config_key(self.space, config), []).append(trial.number)
            proposals.append(config)
        return proposals

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Complete the running trial of ``config``, or add it as a finished trial if none runs."""
        config = self._observations.add(config, value)  # validates before anything changes
        numbers = self._running.get(key := config_key(self.space, config))
        if numbers:
            self.study.tell(numbers.pop(0), float(value))
            if not numbers:
                del self._running[key]
        else:
            self.study.add_trial(self._trial(config, value=float(value)))

    def _trial(self, config: Mapping[str, Any], **fields: Any) -> Any:
        params = {p.name: _to_peer(p, config[p.name]) for p in self.space}
        return self._optuna.trial.create_trial(
            params=params, distributions=self._distributions, **fields
        )

    def _sync_pending(self, pending: Sequence[Mapping[str, Any]]) -> None:
        """Make the study's RUNNING trials match ``pending``, counting duplicates."""
        state = self._optuna.trial.TrialState
        configs = [self.space.validate(c) for c in pending]
        wanted = Counter(config_key(self.space, c) for c in configs)
        for key in list(self._running):
            numbers = self._running[key]
            while len(numbers) > wanted[key]:  # abandoned by the caller: not pending, never told
                self.study.tell(numbers.pop(0), state=state.FAIL)
            if not numbers:
                del self._running[key]
        for config in configs:
            key = config_key(self.space, config)
            if len(self._running.get(key, ())) < wanted[key]:  # running since before this object
                self.study.add_trial(self._trial(config, state=state.RUNNING))
                self._running.setdefault(key, []).append(
                    self.study.get_trials(deepcopy=False)[-1].number
                )

    def best(self) -> tuple[dict[str, Any], float] | None:
        """Best configuration and value told so far."""
        return self._observations.best()

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The peer says nothing about scales."""
        return {}


def _optuna_distribution(optuna: Any, p: Parameter) -> Any:
    dist = optuna.distributions
    if isinstance(p, Categorical):
        return dist.CategoricalDistribution(list(_labels(p)))
    log = p.scaling == "log"  # linear, auto and reverse_log are all linear to Optuna
    if isinstance(p, Integer):
        return dist.IntDistribution(p.low, p.high, log=log)
    return dist.FloatDistribution(p.low, p.high, log=log)


@contextmanager
def _no_experimental_warnings() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning (older versions flag these samplers) here only."""
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        yield


def _optuna_tpe(space: SearchSpace, seed: int) -> AskTell:
    import optuna

    with _no_experimental_warnings():
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    return OptunaStudy(space, sampler)


def _optuna_gp(space: SearchSpace, seed: int) -> AskTell:
    import optuna

    options: dict[str, Any] = {"seed": seed}
    # Older Optuna lacks the switch; its warning only concerns spaces that change per trial.
    if "warn_independent_sampling" in inspect.signature(optuna.samplers.GPSampler).parameters:
        options["warn_independent_sampling"] = False
    with _no_experimental_warnings():
        sampler = optuna.samplers.GPSampler(**options)
    return OptunaStudy(space, sampler)


# --- BoTorch ---------------------------------------------------------------------------------


def _botorch(space: SearchSpace, seed: int) -> AskTell:
    from fasthpo.benchmark.botorch_peer import BoTorchGP

    return BoTorchGP(space, seed)


# --- scikit-optimize --------------------------------------------------------------------------


class SkoptGP:
    """scikit-optimize's ``Optimizer`` with a GP surrogate, driven through ask/tell.

    scikit-optimize fits its model and optimises the acquisition inside ``tell``
    and merely returns the cached point from ``ask``. Here ``tell`` only records
    the result and the next ``ask`` hands everything recorded since to the
    optimizer in one ``tell`` call: the proposal's cost lands where fasthpo's
    face puts it (in ``ask``, which a latency benchmark times), and telling many
    results at once costs one model fit rather than one per result.

    ``pending`` is ignored: the library cannot hold asynchronous pending points,
    so it may propose a point at or near one that is still running. After its
    random start-up it even returns the same point to two ``ask(1)`` calls with
    no ``tell`` between them (it caches its next point); ``ask(n)`` with n > 1
    gives distinct points through its constant liar.
    """

    def __init__(self, space: SearchSpace, seed: int) -> None:
        from skopt import Optimizer

        self.space = space
        self._labels = {p.name: _labels(p) for p in space if isinstance(p, Categorical)}
        self._optimizer = Optimizer(
            [_skopt_dimension(p) for p in space],
            base_estimator="GP",
            n_initial_points=10,
            acq_func="gp_hedge",
            acq_optimizer="auto",
            random_state=seed,
        )
        self._observations = Observations(space, "minimize")
        self._unsent: tuple[list[list[Any]], list[float]] = ([], [])

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Fit on everything told so far and propose ``n`` points (``cl_min`` liar for n > 1)."""
        n = check_count(n)
        for config in pending:  # checked for the caller's sake, otherwise unused (see class doc)
            self.space.validate(config)
        with _quiet_skopt():
            xs, ys = self._unsent
            if xs:
                self._optimizer.tell(xs, ys)
                self._unsent = ([], [])
            points = (
                [self._optimizer.ask()] if n == 1
                else self._optimizer.ask(n_points=n, strategy="cl_min")
            )
        return [
            {
                p.name: _from_peer(p, raw, self._labels.get(p.name, {}))
                for p, raw in zip(self.space, point, strict=True)
            }
            for point in points
        ]

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Record one result; the optimizer receives it at the next ``ask``."""
        config = self._observations.add(config, value)
        self._unsent[0].append([_to_peer(p, config[p.name]) for p in self.space])
        self._unsent[1].append(float(value))

    def best(self) -> tuple[dict[str, Any], float] | None:
        """Best configuration and value told so far."""
        return self._observations.best()

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The peer says nothing about scales."""
        return {}


def _skopt_dimension(p: Parameter) -> Any:
    from skopt import space as skopt_space

    if isinstance(p, Categorical):
        return skopt_space.Categorical(list(_labels(p)), name=p.name)
    prior = "log-uniform" if p.scaling == "log" else "uniform"  # reverse_log, auto: linear
    if isinstance(p, Integer):
        return skopt_space.Integer(p.low, p.high, prior=prior, name=p.name)
    return skopt_space.Real(p.low, p.high, prior=prior, name=p.name)


@contextmanager
def _quiet_skopt() -> Iterator[None]:
    """Silence what scikit-optimize emits in normal operation: GP fit convergence notes and
    "evaluated at this point before" when it re-proposes a told point."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*evaluated at this point before.*")
        yield


# --- the registry -----------------------------------------------------------------------------

_OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec(
            name="fasthpo-random",
            description="fasthpo RandomSearch: independent draws in each declared scaling",
            requires=(),
            factory=_fasthpo_random,
            install_hint="",
        ),
        OptimizerSpec(
            name="fasthpo-bayesian",
            description="fasthpo BayesianOptimizer: native Matérn-5/2 GP, MAP fit, LogEI",
            requires=(),
            factory=_fasthpo_bayesian,
            install_hint="",
        ),
        OptimizerSpec(
            name="fasthpo-grid",
            description="fasthpo GridSearch: 5 points per continuous range, seeded walking order",
            requires=(),
            factory=_fasthpo_grid,
            install_hint="",
        ),
        OptimizerSpec(
            name="optuna-tpe",
            description="Optuna TPESampler (multivariate, constant liar), 10 random startup trials",
            requires=("optuna",),
            factory=_optuna_tpe,
            install_hint=BENCH_EXTRA,
        ),
        OptimizerSpec(
            name="optuna-gp",
            description="Optuna GPSampler (Matérn-5/2 ARD GP, LogEI), 10 random startup trials",
            requires=("optuna", "torch"),
            factory=_optuna_gp,
            # greenlet is optional to Optuna, but without it GPSampler runs its
            # L-BFGS-B restarts one after another and proposes more slowly.
            install_hint=BENCH_EXTRA + " and PyTorch's CPU build (docs/benchmarks.md)",
        ),
        OptimizerSpec(
            name="botorch",
            description="BoTorch SingleTaskGP (default priors, Normalize/Standardize), "
            "LogEI / qLogEI, optimize_acqf 20 restarts over 1024 raw samples, 10 Sobol points",
            requires=("botorch", "torch"),
            factory=_botorch,
            install_hint=BOTORCH_EXTRA,
        ),
        OptimizerSpec(
            name="skopt-gp",
            description="scikit-optimize Optimizer, GP estimator, gp_hedge, 10 random initial points",
            requires=("skopt", "sklearn"),
            factory=SkoptGP,
            install_hint=BENCH_EXTRA,
        ),
    )
}

_ALIASES = {"random": "fasthpo-random", "grid": "fasthpo-grid", "bayesian": "fasthpo-bayesian"}


def optimizer_names() -> list[str]:
    """Canonical names of every registered optimizer, fasthpo's first."""
    return list(_OPTIMIZERS)


def get_optimizer(name: str) -> OptimizerSpec:
    """The optimizer called ``name`` (or an alias such as ``random``).

    Raises
    ------
    ConfigError
        For an unknown name, with the closest known name as a suggestion.
    """
    spec = _OPTIMIZERS.get(_ALIASES.get(name, name))
    if spec is not None:
        return spec
    hint = did_you_mean(str(name), [*_OPTIMIZERS, *_ALIASES])
    raise ConfigError(
        "optimizers", f"unknown optimizer {name!r}{hint}; available: {', '.join(_OPTIMIZERS)}"
    )
