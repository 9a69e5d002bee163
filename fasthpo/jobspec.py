"""What a tuning job is made of, as plain records: the contract between job files and the runner.

:mod:`fasthpo.config` reads and validates job files into these records; the
runner reads them. Neither imports the other: both import this module, which
holds no parsing and no running, only the records, their JSON-ready forms, the
names that are allowed in them, and which fields bind a job's stored results.
"""

from __future__ import annotations

import json
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
            },
            "instance_count": self.instance_count,
            "resources": self.resources.to_dict(),
            "retry": self.retry.to_dict(),
            "early_stopping": self.early_stopping,
            **({"backend": self.backend.to_dict()} if self.backend != BackendSpec() else {}),
        }


#: Fields whose change makes earlier results incomparable with new ones.
BINDING_FIELDS = (
    "command", "hyperparameters", "static_hyperparameters", "objective", "metrics",
    "instance_count",  # N ranks train differently from one (batch size, schedule)
)


def binding_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Describe each binding field that differs between two stored job dicts."""
    old, new = _with_defaults(old), _with_defaults(new)
    return [
        f"{key}: {json.dumps(old.get(key), sort_keys=True)} -> "
        f"{json.dumps(new.get(key), sort_keys=True)}"
        for key in BINDING_FIELDS
        if json.dumps(old.get(key), sort_keys=True) != json.dumps(new.get(key), sort_keys=True)
    ]


def _with_defaults(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    # Jobs stored before ``objective.aggregate`` and ``instance_count`` existed
    # aggregated with ``last`` and ran one instance.
    spec = {"instance_count": 1, **spec}
    objective = spec.get("objective")
    if isinstance(objective, Mapping) and "aggregate" not in objective:
        spec["objective"] = {**objective, "aggregate": "last"}
    return spec
