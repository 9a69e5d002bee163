"""What a tuning job is made of, as plain records: the contract between job files and the runner.

:mod:`fasthpo.config` reads and validates job files into these records; the
runner reads them. Neither imports the other: both import this module, which
holds no parsing and no running, only the records, their JSON-ready forms, the
names that are allowed in them, and which fields bind a job's stored results.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fasthpo.errors import ConfigError
from fasthpo.objective import Objective
from fasthpo.space import SearchSpace
from fasthpo.strategies.registry import DEFAULT_STRATEGY

if TYPE_CHECKING:
    from fasthpo.metric_regex import MetricPattern

#: ``{{`` and ``}}`` are literal braces; ``{name}`` is a hyperparameter placeholder in an argv.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Values of ``early_stopping``: ``auto`` is the median stopping rule.
EARLY_STOPPING_MODES = ("off", "auto")
DEFAULT_MAX_TRIALS = 20
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_job_name(name: object) -> str:
    """Return ``name`` if it can name a job (and its folder), else raise ``ConfigError``."""
    if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
        raise ConfigError(
            "name",
            f"{name!r} is not a valid job name: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit, at most 100 characters (it names a folder)",
        )
    return name


@dataclass(frozen=True)
class MetricDefinition:
    """A metric read from a job's logs: ``regex`` has exactly one capture group."""

    name: str
    regex: str

    @property
    def pattern(self) -> MetricPattern:
        """The regex compiled by RE2 (linear-time matching; see :mod:`fasthpo.metric_regex`)."""
        from fasthpo.metric_regex import compile_metric_regex

        return compile_metric_regex(self.regex)


@dataclass(frozen=True)
class Limits:
    """How many trials, how many at once, and how long each may run (seconds)."""

    max_trials: int = DEFAULT_MAX_TRIALS
    max_parallel: int = 1
    max_runtime_per_trial: float | None = None
    #: Seconds the whole job may run (per run of the tuner); ``None``: no limit.
    max_runtime: float | None = None


@dataclass(frozen=True)
class Resources:
    """Devices each instance of a trial gets for itself (0: not managed by the tuner).

    ``gpu_ids`` names the GPUs to hand out (as ``CUDA_VISIBLE_DEVICES`` would);
    ``None`` asks ``nvidia-smi``.
    """

    gpus_per_instance: int = 0
    cpus_per_instance: int = 0
    gpu_ids: tuple[str, ...] | None = None
    ray: Mapping[str, float] = field(default_factory=dict)  # Ray custom resources per instance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {
            "gpus_per_instance": self.gpus_per_instance,
            "cpus_per_instance": self.cpus_per_instance,
            "gpu_ids": None if self.gpu_ids is None else list(self.gpu_ids),
            **({"ray": dict(self.ray)} if self.ray else {}),
        }


#: Values of ``backend.type``: where trials run.
BACKEND_TYPES = ("local", "ray")


@dataclass(frozen=True)
class BackendSpec:
    """Where trials run: ``local`` subprocesses, or tasks on a Ray cluster at ``address``.

    ``ship_workdir`` (Ray): send the job's ``workdir`` to the nodes with Ray's
    runtime environment; ``False`` when it lives on a filesystem every node shares.
    """

    type: str = "local"
    address: str | None = None
    ship_workdir: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {"type": self.type, "address": self.address, "ship_workdir": self.ship_workdir}


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a trial gets, and which exit codes besides signals are retried.

    A trial is retried with the same hyperparameters, as a new attempt of the
    same trial (same id; attempts are stored). Retries never count against
    ``limits.max_trials``. What is retried:

    * an attempt **lost to a tuner crash** (the tuner died while it ran):
      always, and it does not count as one of the trial's attempts — it was
      not the trial's fault;
    * an attempt **killed by a signal** it did not get from the tuner (the
      OOM killer, a preempted node), while attempts remain;
    * an attempt that **exited with one of** ``exit_codes``, while attempts
      remain.

    A plain non-zero exit is a verdict on the hyperparameters (a diverged run,
    a bug) and is not retried unless its code is listed. Trials the tuner
    stopped (runtime limit, early stopping, ``fasthpo stop``) are never retried.
    """

    max_attempts: int = 1
    exit_codes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise ConfigError("max_attempts", f"must be a positive integer, got {self.max_attempts!r}")
        for i, code in enumerate(self.exit_codes):
            if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 255:
                raise ConfigError(f"exit_codes[{i}]", f"must be an exit code 1-255, got {code!r}")

    def retries(self, attempt: int, exit_code: int | None) -> bool:
        """Whether a failed attempt number ``attempt`` (with ``exit_code``) gets another attempt."""
        if attempt >= self.max_attempts or exit_code is None:
            return False
        return exit_code < 0 or exit_code in self.exit_codes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {"max_attempts": self.max_attempts, "exit_codes": list(self.exit_codes)}


def _whole(value: object, field_path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(field_path, f"must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class HyperbandSettings:
    """Hyperband: asynchronous successive halving (see :mod:`fasthpo.runner.successive_halving`).

    ``resource`` names the training step a trial reports with its values
    (``fasthpo.report(step=epoch, ...)``): rungs sit at ``min_resource * η^k``
    up to ``max_resource``, which each trial also receives as the
    hyperparameter ``--<resource>=R``.
    """

    resource: str
    min_resource: int
    max_resource: int
    reduction_factor: int = 3

    def __post_init__(self) -> None:
        name = self.resource
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(
                "hyperband.resource", f"must be a hyperparameter-like name such as epochs, got {name!r}"
            )
        _whole(self.min_resource, "hyperband.min_resource", minimum=1)
        _whole(self.max_resource, "hyperband.max_resource", minimum=1)
        if self.min_resource >= self.max_resource:
            raise ConfigError(
                "hyperband.min_resource",
                f"must be below max_resource ({self.max_resource}), got {self.min_resource}",
            )
        _whole(self.reduction_factor, "hyperband.reduction_factor", minimum=2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {
            "resource": self.resource, "min_resource": self.min_resource,
            "max_resource": self.max_resource, "reduction_factor": self.reduction_factor,
        }


#: Values of ``completion.convergence``.
CONVERGENCE_MODES = ("off", "auto")


@dataclass(frozen=True)
class CompletionCriteria:
    """When a job ends by itself before ``max_trials`` (see :mod:`fasthpo.runner.completion`).

    ``target_objective``: a completed trial at least this good. ``max_trials_without_improvement``:
    that many finished trials in a row none of which beat the best by more than
    ``min_improvement`` (objective units). ``convergence: auto``: the model's
    expected improvement has stayed negligible for several proposals.
    """

    target_objective: float | None = None
    max_trials_without_improvement: int | None = None
    min_improvement: float = 0.0
    convergence: str = "off"

    def __post_init__(self) -> None:
        target = self.target_objective
        if target is not None and (
            isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target)
        ):
            raise ConfigError("completion.target_objective", f"must be a finite number, got {target!r}")
        if self.max_trials_without_improvement is not None:
            _whole(
                self.max_trials_without_improvement, "completion.max_trials_without_improvement",
                minimum=1,
            )
        gain = self.min_improvement
        if isinstance(gain, bool) or not isinstance(gain, (int, float)) \
                or not math.isfinite(gain) or gain < 0:
            raise ConfigError("completion.min_improvement", f"must be a number >= 0, got {gain!r}")
        if self.convergence not in CONVERGENCE_MODES:
            raise ConfigError("completion.convergence", f"must be 'auto' or 'off', got {self.convergence!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {
            "target_objective": self.target_objective,
            "max_trials_without_improvement": self.max_trials_without_improvement,
            "min_improvement": self.min_improvement,
            "convergence": self.convergence,
        }


#: Values of ``warm_start.type``.
WARM_START_TYPES = ("identical_data_and_algorithm", "transfer_learning")
#: Most parent jobs one job may warm-start from.
MAX_PARENTS = 5


@dataclass(frozen=True)
class WarmStart:
    """Earlier jobs whose results start this one (see :mod:`fasthpo.runner.warm_start`).

    ``store`` is the path of the parents' store when it is not the job's own.
    """

    parents: tuple[str, ...]
    type: str = "identical_data_and_algorithm"
    store: str | None = None

    def __post_init__(self) -> None:
        if not self.parents:
            raise ConfigError("warm_start.parents", "must name at least one parent job")
        if len(self.parents) > MAX_PARENTS:
            raise ConfigError(
                "warm_start.parents", f"at most {MAX_PARENTS} parent jobs, got {len(self.parents)}"
            )
        for i, parent in enumerate(self.parents):
            try:
                check_job_name(parent)
            except ConfigError as exc:
                raise ConfigError(f"warm_start.parents[{i}]", exc.message) from None
        if len(set(self.parents)) != len(self.parents):
            raise ConfigError("warm_start.parents", f"names a job twice: {list(self.parents)}")
        if self.type not in WARM_START_TYPES:
            raise ConfigError(
                "warm_start.type", f"must be one of {', '.join(WARM_START_TYPES)}, got {self.type!r}"
            )
        if self.store is not None and (not isinstance(self.store, str) or not self.store):
            raise ConfigError("warm_start.store", f"must be the path of a store, got {self.store!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as a job stores it."""
        return {"parents": list(self.parents), "type": self.type, "store": self.store}


@dataclass(frozen=True)
class JobSpec:
    """A validated tuning job, ready for the runner."""

    name: str
    command: tuple[str, ...]
    workdir: str
    space: SearchSpace
    objective: Objective
    env: Mapping[str, str] = field(default_factory=dict)
    static_hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[MetricDefinition, ...] = ()
    strategy: str = DEFAULT_STRATEGY
    seed: int | None = None
    limits: Limits = Limits()
    instance_count: int = 1
    resources: Resources = Resources()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    early_stopping: str = "off"
    hyperband: HyperbandSettings | None = None
    completion: CompletionCriteria | None = None
    warm_start: WarmStart | None = None
    backend: BackendSpec = BackendSpec()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored with the job (and readable by :func:`fasthpo.config.parse_job`)."""
        return {
            "name": self.name,
            "command": list(self.command),
            "workdir": self.workdir,
            "env": dict(self.env),
            "hyperparameters": self.space.to_dict(),
            "static_hyperparameters": dict(self.static_hyperparameters),
            "objective": self.objective.to_dict(),
            "metrics": [{"name": m.name, "regex": m.regex} for m in self.metrics],
            "strategy": self.strategy,
            "seed": self.seed,
            "limits": {
                "max_trials": self.limits.max_trials,
                "max_parallel": self.limits.max_parallel,
                "max_runtime_per_trial": self.limits.max_runtime_per_trial,
                **({"max_runtime": self.limits.max_runtime} if self.limits.max_runtime else {}),
            },
            "instance_count": self.instance_count,
            "resources": self.resources.to_dict(),
            "retry": self.retry.to_dict(),
            "early_stopping": self.early_stopping,
            **({"hyperband": self.hyperband.to_dict()} if self.hyperband else {}),
            **({"completion": self.completion.to_dict()} if self.completion else {}),
            **({"warm_start": self.warm_start.to_dict()} if self.warm_start else {}),
            **({"backend": self.backend.to_dict()} if self.backend != BackendSpec() else {}),
        }


#: Fields whose change makes earlier results incomparable with new ones.
BINDING_FIELDS = (
    "command", "hyperparameters", "static_hyperparameters", "objective", "metrics",
    "instance_count",  # N ranks train differently from one (batch size, schedule)
)


def binding_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe each binding field that differs between two stored job dicts, one leaf per line.

    Nested dicts are compared key by key, so a changed bound reads
    ``hyperparameters.n_estimators.max: 200 -> 300`` rather than two whole dicts.
    """
    old, new = _with_defaults(old), _with_defaults(new)
    changed: list[str] = []
    for key in BINDING_FIELDS:
        _differences(key, old.get(key), new.get(key), changed)
    return changed


_ABSENT = object()


def _differences(path: str, old: Any, new: Any, out: list[str]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            _differences(f"{path}.{key}", old.get(key, _ABSENT), new.get(key, _ABSENT), out)
        return
    if _json(old) != _json(new):
        out.append(f"{path}: {_json(old)} -> {_json(new)}")


def _json(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, sort_keys=True)


def _with_defaults(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    # Jobs stored before ``objective.aggregate`` and ``instance_count`` existed
    # aggregated with ``last`` and ran one instance.
    spec = {"instance_count": 1, **spec}
    objective = spec.get("objective")
    if isinstance(objective, Mapping) and "aggregate" not in objective:
        spec["objective"] = {**objective, "aggregate": "last"}
    return spec
