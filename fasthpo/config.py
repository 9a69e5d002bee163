"""Job files: read a YAML or JSON tuning job, validate every field, and say what is wrong.

A job file is the contract with tools outside fasthpo, so its keys are fixed and
unknown keys are errors (with a suggestion), never silently ignored::

    name: svm-digits
    command: [python, train.py]
    workdir: .
    env: {OMP_NUM_THREADS: "1"}
    hyperparameters:
      C:      {type: continuous, min: 0.001, max: 1000, scaling: auto}
      kernel: {type: categorical, values: [rbf, poly]}
    static_hyperparameters: {folds: 3}
    objective: {metric: validation-error, direction: minimize, aggregate: last}
    metrics:
      - {name: validation-error, regex: 'validation-error=([0-9.eE+-]+)'}
    strategy: random
    seed: 0
    limits: {max_trials: 20, max_parallel: 2, max_runtime_per_trial: 600}
    instance_count: 1
    resources: {gpus_per_instance: 0, cpus_per_instance: 0, gpu_ids: [0, 1]}
    retry: {max_attempts: 3, exit_codes: [75]}   # signals are retried; see jobspec.RetryPolicy
    early_stopping: auto                         # median stopping rule; default off
    # strategy: hyperband needs (and refuses early_stopping: auto):
    # hyperband: {resource: epochs, min_resource: 1, max_resource: 27, reduction_factor: 3}
    completion: {target_objective: 0.02, max_trials_without_improvement: 10,
                 min_improvement: 0.001, convergence: auto}
    warm_start: {parents: [svm-digits-v1], type: identical_data_and_algorithm}
    backend: {type: local}                       # or {type: ray, address: auto}

Required: ``name``, ``command``, ``hyperparameters``, ``objective`` (with
``metric`` and ``direction``). The rest, with their defaults:

``workdir`` (``.``)
    Working directory of every trial; relative to the job file's folder.
``env`` (``{}``)
    Extra environment variables; ``FASTHPO_*`` names are the tuner's own.
``static_hyperparameters`` (``{}``)
    Fixed values passed to every trial along with the tuned ones.
``objective.aggregate`` (``last``)
    How a trial's reports become its objective: ``last`` (the last value
    reported by any instance), ``rank0``, or the ``mean``, ``min`` or ``max``
    of each instance's last value.
``metrics`` (``[]``)
    Regex metric definitions, one capture group each, over stdout and stderr.
``strategy`` (``bayesian``), ``seed`` (drawn once and stored)
``limits``
    ``max_trials`` (20), ``max_parallel`` (1), ``max_runtime_per_trial``
    (seconds, none by default), ``max_runtime`` (seconds for the whole job,
    per run of the tuner; none by default).
``instance_count`` (1)
    Processes started per trial (ranks of one distributed training run).
``resources`` (none)
    ``gpus_per_instance`` and ``cpus_per_instance`` (0: not managed) are
    handed out exclusively; ``gpu_ids`` lists the GPUs to use instead of
    asking ``nvidia-smi`` (see :mod:`fasthpo.runner.resources`). ``ray``:
    Ray custom resources each instance needs (``{"accelerator_type:H100": 1}``;
    Ray backend only).
``backend`` (``{type: local}``)
    Where trials run: ``local`` subprocesses, or ``ray`` tasks on the Ray
    cluster at ``address`` (as ``ray.init`` takes it, e.g. ``auto``), with
    ``ship_workdir`` (true) sending ``workdir`` to the nodes.

Every error is a :class:`~fasthpo.errors.ConfigError` whose field is the
dotted path of the key. A valid file becomes a :class:`~fasthpo.jobspec.JobSpec`;
this module only reads and checks, the records live in :mod:`fasthpo.jobspec`.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fasthpo.errors import ConfigError
from fasthpo.job_text import parse_json, parse_yaml
from fasthpo.jobspec import (
    BACKEND_TYPES,
    DEFAULT_MAX_TRIALS,
    EARLY_STOPPING_MODES,
    PLACEHOLDER,
    BackendSpec,
    CompletionCriteria,
    HyperbandSettings,
    JobSpec,
    Limits,
    MetricDefinition,
    Resources,
    RetryPolicy,
    WarmStart,
    check_job_name,
)
from fasthpo.metric_regex import RegexError, compile_metric_regex
from fasthpo.objective import Objective, check_aggregate, check_direction, check_metric_name
from fasthpo.space import SearchSpace, check_name
from fasthpo.strategies.registry import DEFAULT_STRATEGY, check_strategy_name
from fasthpo.trial_env import RESERVED_PREFIX

_TOP_KEYS = (
    "name", "command", "workdir", "env", "hyperparameters", "static_hyperparameters",
    "objective", "metrics", "strategy", "seed", "limits", "instance_count", "resources",
    "retry", "early_stopping", "hyperband", "completion", "warm_start", "backend",
)
_REQUIRED = ("name", "command", "hyperparameters", "objective")
_LIMIT_KEYS = ("max_trials", "max_parallel", "max_runtime_per_trial", "max_runtime")
_RESOURCE_KEYS = ("gpus_per_instance", "cpus_per_instance", "gpu_ids", "ray")
_HYPERBAND_KEYS = ("resource", "min_resource", "max_resource", "reduction_factor")
_COMPLETION_KEYS = ("target_objective", "max_trials_without_improvement", "min_improvement", "convergence")
_BACKEND_KEYS = ("type", "address", "ship_workdir")
#: A GPU as ``CUDA_VISIBLE_DEVICES`` names it: an index, or a ``GPU-``/``MIG-`` UUID.
_GPU_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:/.-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_job(
    path: str | os.PathLike[str],
    *,
    command: Sequence[str] | None = None,
    on_ignored: Callable[[tuple[str, ...]], None] | None = None,
) -> JobSpec:
    """Read and validate a job file (``.yaml``, ``.yml`` or ``.json``).

    A file holding the body of a tuning-job request of the managed service is
    translated into a job file first (:mod:`fasthpo.sagemaker.request`), with
    ``command`` as its local training command; ``on_ignored`` hears the
    request's cloud-only keys once.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"{path}: no such job file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"{path}: cannot read the job file ({exc})") from None
    if path.suffix.lower() == ".json":
        data = parse_json(text, str(path))
    else:
        data = parse_yaml(text, str(path))
    if _is_tuning_request(data):
        from fasthpo.sagemaker.request import translate_request

        translation = translate_request(data, command=command)
        if on_ignored is not None and translation.ignored:
            on_ignored(translation.ignored)
        data = translation.job
    elif command:
        raise ConfigError("--command", "is for tuning-job requests; a job file names its own command")
    return parse_job(data, base_dir=path.resolve().parent)


def _is_tuning_request(data: Any) -> bool:
    from fasthpo.sagemaker.request import is_tuning_request

    return is_tuning_request(data)


def parse_job(data: Any, *, base_dir: str | os.PathLike[str] = ".") -> JobSpec:
    """Validate a job given as a mapping (already parsed from YAML or JSON)."""
    if not isinstance(data, Mapping):
        raise ConfigError("", f"a job file must hold a mapping of keys, got {type(data).__name__}")
    _check_keys(data, _TOP_KEYS, "")
    for key in _REQUIRED:
        if key not in data:
            raise ConfigError(key, "required key is missing")

    name = check_job_name(data["name"])
    try:
        space = SearchSpace.from_dict(data["hyperparameters"])
    except ConfigError as exc:
        raise exc.within("hyperparameters") from None
    static = _static_hyperparameters(data.get("static_hyperparameters") or {}, space)
    strategy = check_strategy_name(data.get("strategy", DEFAULT_STRATEGY))
    early_stopping = _early_stopping(data.get("early_stopping", "off"))
    hyperband = _hyperband(data.get("hyperband"), strategy, early_stopping, space)
    resource = [hyperband.resource] if hyperband is not None else []
    command = _command(data["command"], [*space.names, *static, *resource])
    objective = _objective(data["objective"])
    metrics = _metrics(data.get("metrics") or [])
    instance_count = _positive_int(data.get("instance_count", 1), "instance_count")
    resources = _resources(data.get("resources") or {}, instance_count)
    env = _env(data.get("env") or {})
    if resources.gpus_per_instance and "CUDA_VISIBLE_DEVICES" in env:
        raise ConfigError(
            "env.CUDA_VISIBLE_DEVICES", "is set by the tuner when resources.gpus_per_instance > 0"
        )
    return JobSpec(
        name=name,
        command=command,
        workdir=_workdir(data.get("workdir", "."), Path(base_dir)),
        env=env,
        space=space,
        static_hyperparameters=static,
        objective=objective,
        metrics=metrics,
        strategy=strategy,
        seed=_seed(data.get("seed")),
        limits=_limits(data.get("limits") or {}),
        instance_count=instance_count,
        resources=resources,
        retry=_retry(data.get("retry") or {}),
        early_stopping=early_stopping,
        hyperband=hyperband,
        completion=_completion(data.get("completion")),
        warm_start=_warm_start(data.get("warm_start"), Path(base_dir)),
        backend=_backend(data.get("backend") or {}),
    )


def _check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
            field_path = f"{where}.{key}" if where else str(key)
            raise ConfigError(field_path, f"unknown key{hint}")


def _mapping(value: Any, field_path: str, example: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(field_path, f"must be a mapping such as {example}, got {value!r}")
    return value


def _scalar_text(value: Any, field_path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise ConfigError(field_path, f"must be a string or a number, got {value!r}")


def _command(value: Any, known: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ConfigError(
            "command",
            f"must be an argv list such as [python, train.py], got the string {value!r}; "
            "fasthpo never runs commands through a shell",
        )
    if not isinstance(value, list) or not value:
        raise ConfigError("command", f"must be a non-empty list of arguments, got {value!r}")
    argv = tuple(_scalar_text(arg, f"command[{i}]") for i, arg in enumerate(value))
    for i, arg in enumerate(argv):
        for match in PLACEHOLDER.finditer(arg):
            placeholder = match.group(1)
            if placeholder is not None and placeholder not in known:
                close = difflib.get_close_matches(placeholder, known, n=1)
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                raise ConfigError(
                    f"command[{i}]",
                    f"placeholder {{{placeholder}}} names no hyperparameter{hint}; "
                    "write {{ and }} for literal braces",
                )
    return argv


def _workdir(value: Any, base_dir: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError("workdir", f"must be a folder path, got {value!r}")
    path = (base_dir / os.path.expanduser(value)).resolve()
    if not path.is_dir():
        raise ConfigError("workdir", f"folder {str(path)!r} does not exist")
    return str(path)


def _env(value: Any) -> dict[str, str]:
    env = _mapping(value, "env", "{OMP_NUM_THREADS: '1'}")
    out: dict[str, str] = {}
    for key, raw in env.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ConfigError(f"env.{key}", "is not a valid environment variable name")
        if key.startswith(RESERVED_PREFIX):
            raise ConfigError(f"env.{key}", f"{RESERVED_PREFIX}* variables are set by the tuner itself")
        out[key] = _scalar_text(raw, f"env.{key}")
    return out


def _static_hyperparameters(value: Any, space: SearchSpace) -> dict[str, Any]:
    static = _mapping(value, "static_hyperparameters", "{folds: 3}")
    out: dict[str, Any] = {}
    for key, raw in static.items():
        try:
            check_name(key)
        except ConfigError as exc:
            raise ConfigError(f"static_hyperparameters.{key}", exc.message) from None
        if key in space:
            raise ConfigError(
                f"static_hyperparameters.{key}", "is also a tuned hyperparameter; keep one of the two"
            )
        if isinstance(raw, float) and not math.isfinite(raw):
            raise ConfigError(f"static_hyperparameters.{key}", f"must be finite, got {raw!r}")
        if not isinstance(raw, (str, int, float, bool)):
            raise ConfigError(
                f"static_hyperparameters.{key}", f"must be a string, number or boolean, got {raw!r}"
            )
        out[key] = raw
    return out


def _objective(value: Any) -> Objective:
    body = _mapping(value, "objective", "{metric: validation-error, direction: minimize}")
    _check_keys(body, ("metric", "direction", "aggregate"), "objective")
    for key in ("metric", "direction"):
        if key not in body:
            raise ConfigError(f"objective.{key}", "required key is missing")
    metric = body["metric"]
    if not isinstance(metric, str) or not metric:
        raise ConfigError("objective.metric", f"must be a metric name, got {metric!r}")
    direction = check_direction(body["direction"], "objective.direction")
    aggregate = check_aggregate(body.get("aggregate", "last"), "objective.aggregate")
    try:
        return Objective(metric, direction, aggregate)
    except ConfigError as exc:
        raise exc.within("objective") from None


def _metrics(value: Any) -> tuple[MetricDefinition, ...]:
    if not isinstance(value, list):
        raise ConfigError("metrics", f"must be a list of {{name, regex}} mappings, got {value!r}")
    definitions: list[MetricDefinition] = []
    for i, item in enumerate(value):
        where = f"metrics[{i}]"
        body = _mapping(item, where, "{name: loss, regex: 'loss=([0-9.]+)'}")
        _check_keys(body, ("name", "regex"), where)
        name, regex = body.get("name"), body.get("regex")
        try:
            name = check_metric_name(name)
        except ConfigError as exc:
            raise ConfigError(f"{where}.name", exc.message) from None
        if not isinstance(regex, str):
            raise ConfigError(f"{where}.regex", f"must be a string, got {regex!r}")
        try:
            compile_metric_regex(regex)
        except RegexError as exc:
            raise ConfigError(f"{where}.regex", str(exc)) from None
        if any(d.name == name for d in definitions):
            raise ConfigError(f"{where}.name", f"metric {name!r} is defined twice")
        definitions.append(MetricDefinition(name, regex))
    return tuple(definitions)


def _positive_int(value: Any, field_path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field_path, f"must be a positive integer, got {value!r}")
    return value


def _limits(value: Any) -> Limits:
    body = _mapping(value, "limits", "{max_trials: 20, max_parallel: 1}")
    _check_keys(body, _LIMIT_KEYS, "limits")
    runtime = body.get("max_runtime_per_trial")
    if runtime is not None:
        if (
            isinstance(runtime, bool)
            or not isinstance(runtime, (int, float))
            or not math.isfinite(runtime)
            or runtime <= 0
        ):
            raise ConfigError(
                "limits.max_runtime_per_trial", f"must be a positive number of seconds, got {runtime!r}"
            )
        runtime = float(runtime)
    whole = body.get("max_runtime")
    if whole is not None:
        if (
            isinstance(whole, bool) or not isinstance(whole, (int, float))
            or not math.isfinite(whole) or whole <= 0
        ):
            raise ConfigError("limits.max_runtime", f"must be a positive number of seconds, got {whole!r}")
        whole = float(whole)
    return Limits(
        max_runtime=whole,
        max_trials=_positive_int(body.get("max_trials", DEFAULT_MAX_TRIALS), "limits.max_trials"),
        max_parallel=_positive_int(body.get("max_parallel", 1), "limits.max_parallel"),
        max_runtime_per_trial=runtime,
    )


def _resources(value: Any, instance_count: int) -> Resources:
    body = _mapping(value, "resources", "{gpus_per_instance: 1, cpus_per_instance: 4}")
    _check_keys(body, _RESOURCE_KEYS, "resources")
    counts = {}
    for key in ("gpus_per_instance", "cpus_per_instance"):
        count = body.get(key, 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(f"resources.{key}", f"must be a non-negative integer, got {count!r}")
        counts[key] = count
    gpu_ids = None
    if body.get("gpu_ids") is not None:
        raw = body["gpu_ids"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError("resources.gpu_ids", f"must be a non-empty list such as [0, 1], got {raw!r}")
        ids = []
        for i, item in enumerate(raw):
            text = str(item) if isinstance(item, int) and not isinstance(item, bool) and item >= 0 else item
            if not isinstance(text, str) or not _GPU_ID.fullmatch(text):
                raise ConfigError(
                    f"resources.gpu_ids[{i}]", f"must be a GPU index or UUID, got {item!r}"
                )
            if text in ids:
                raise ConfigError(f"resources.gpu_ids[{i}]", f"GPU {text!r} is listed twice")
            ids.append(text)
        gpu_ids = tuple(ids)
        if counts["gpus_per_instance"] == 0:
            raise ConfigError(
                "resources.gpu_ids", "lists GPUs but resources.gpus_per_instance is 0; set how many "
                "each instance gets"
            )
        needed = counts["gpus_per_instance"] * instance_count
        if needed > len(gpu_ids):
            raise ConfigError(
                "resources.gpus_per_instance",
                f"a trial needs {counts['gpus_per_instance']} x {instance_count} instance(s) = "
                f"{needed} GPUs, but resources.gpu_ids lists {len(gpu_ids)}",
            )
    return Resources(
        gpus_per_instance=counts["gpus_per_instance"],
        cpus_per_instance=counts["cpus_per_instance"],
        gpu_ids=gpu_ids,
        ray=_ray_resources(body.get("ray") or {}),
    )


def _ray_resources(value: Any) -> dict[str, float]:
    body = _mapping(value, "resources.ray", "{accelerator_type:H100: 1}")
    custom = {}
    for name, amount in body.items():
        if not isinstance(name, str) or not name or name in ("CPU", "GPU", "memory"):
            raise ConfigError(
                f"resources.ray.{name}", "must name a custom resource (CPU and GPU come from "
                "cpus_per_instance and gpus_per_instance)",
            )
        if (
            isinstance(amount, bool) or not isinstance(amount, (int, float))
            or not math.isfinite(amount) or amount <= 0
        ):
            raise ConfigError(f"resources.ray.{name}", f"must be a positive number, got {amount!r}")
        custom[name] = float(amount)
    return custom


def _backend(value: Any) -> BackendSpec:
    body = _mapping(value, "backend", "{type: ray, address: auto}")
    _check_keys(body, _BACKEND_KEYS, "backend")
    kind = body.get("type", "local")
    if kind not in BACKEND_TYPES:
        raise ConfigError("backend.type", f"must be one of {', '.join(BACKEND_TYPES)}, got {kind!r}")
    address = body.get("address")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ConfigError("backend.address", f"must be a Ray address such as auto, got {address!r}")
    ship = body.get("ship_workdir", True)
    if not isinstance(ship, bool):
        raise ConfigError("backend.ship_workdir", f"must be true or false, got {ship!r}")
    return BackendSpec(type=kind, address=address, ship_workdir=ship)


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ConfigError("seed", f"must be a non-negative integer, got {value!r}")
    return value


def _retry(value: Any) -> RetryPolicy:
    body = _mapping(value, "retry", "{max_attempts: 3}")
    _check_keys(body, ("max_attempts", "exit_codes"), "retry")
    codes = body.get("exit_codes", [])
    if not isinstance(codes, list):
        raise ConfigError("retry.exit_codes", f"must be a list of exit codes, got {codes!r}")
    try:
        return RetryPolicy(max_attempts=body.get("max_attempts", 1), exit_codes=tuple(codes))
    except ConfigError as exc:
        raise exc.within("retry") from None


def _early_stopping(value: Any) -> str:
    # YAML reads a bare `off` as false.
    if value is False or value is None:
        return "off"
    if value not in EARLY_STOPPING_MODES:
        raise ConfigError("early_stopping", f"must be 'auto' or 'off', got {value!r}")
    return str(value)


def _hyperband(
    value: Any, strategy: str, early_stopping: str, space: SearchSpace
) -> HyperbandSettings | None:
    if value is None:
        if strategy == "hyperband":
            raise ConfigError(
                "hyperband", "required with strategy: hyperband, e.g. "
                "{resource: epochs, min_resource: 1, max_resource: 27, reduction_factor: 3}"
            )
        return None
    if strategy != "hyperband":
        raise ConfigError("hyperband", f"is only used with strategy: hyperband (strategy is {strategy!r})")
    if early_stopping == "auto":
        raise ConfigError(
            "early_stopping", "'auto' cannot be combined with strategy: hyperband, which stops "
            "trials itself; remove early_stopping or set it to off"
        )
    body = _mapping(value, "hyperband", "{resource: epochs, min_resource: 1, max_resource: 27}")
    _check_keys(body, _HYPERBAND_KEYS, "hyperband")
    for key in ("resource", "min_resource", "max_resource"):
        if key not in body:
            raise ConfigError(f"hyperband.{key}", "required key is missing")
    settings = HyperbandSettings(
        resource=body["resource"], min_resource=body["min_resource"],
        max_resource=body["max_resource"], reduction_factor=body.get("reduction_factor", 3),
    )
    if settings.resource in space:
        raise ConfigError(
            "hyperband.resource", f"{settings.resource!r} is a tuned hyperparameter; the resource "
            "is set by the tuner (each trial gets max_resource)"
        )
    return settings


def _completion(value: Any) -> CompletionCriteria | None:
    if value is None:
        return None
    body = _mapping(value, "completion", "{target_objective: 0.05, max_trials_without_improvement: 10}")
    _check_keys(body, _COMPLETION_KEYS, "completion")
    convergence = body.get("convergence", "off")
    return CompletionCriteria(
        target_objective=body.get("target_objective"),
        max_trials_without_improvement=body.get("max_trials_without_improvement"),
        min_improvement=body.get("min_improvement", 0.0),
        convergence="off" if convergence is False else convergence,  # YAML reads a bare off as false
    )


def _warm_start(value: Any, base_dir: Path) -> WarmStart | None:
    if value is None:
        return None
    body = _mapping(value, "warm_start", "{parents: [job-a], type: identical_data_and_algorithm}")
    _check_keys(body, ("parents", "type", "store"), "warm_start")
    parents = body.get("parents")
    if not isinstance(parents, list):
        raise ConfigError("warm_start.parents", f"must be a list of job names, got {parents!r}")
    store = body.get("store")
    if isinstance(store, str) and store:
        store = str((base_dir / os.path.expanduser(store)).resolve())
    return WarmStart(
        parents=tuple(parents), type=body.get("type", "identical_data_and_algorithm"), store=store
    )
