"""A CreateHyperParameterTuningJob request body → the mapping a fasthpo job file would hold.

There is no second parser: this module only renames and reshapes, checking
what the service itself checks (string bounds, scaling types, its limits) so
that an error names the request's own JSON path, such as
``HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue``.
:func:`fasthpo.config.parse_job` then validates the result as any job file.

What runs locally is what the service would run in script mode: the local
command (``--command python train.py``) is started through
:mod:`fasthpo.sagemaker.script_mode`, which appends every hyperparameter as
``--name value`` and sets the ``SM_*`` variables. Keys that matter only in the
cloud (images, instance types, roles, networks, S3 channels, tags) are listed
in :attr:`Translation.ignored`; keys that would change what a job means and
cannot be honoured here are refused by name.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fasthpo.errors import ConfigError, did_you_mean
from fasthpo.sagemaker import limits

#: The request's top-level keys that mark a mapping as a tuning-job request.
REQUEST_MARKERS = ("HyperParameterTuningJobConfig", "HyperParameterTuningJobName")
#: Static hyperparameters the service's framework containers add for themselves.
SERVICE_HYPERPARAMETER_PREFIX = "sagemaker_"
#: Static hyperparameters the service reads as Hyperband's resource when MaxResource is absent.
EPOCH_NAMES = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")

SCALINGS = {
    "Auto": "auto", "Linear": "linear", "Logarithmic": "log", "ReverseLogarithmic": "reverse_log",
}
STRATEGIES = {"Bayesian": "bayesian", "Random": "random", "Grid": "grid", "Hyperband": "hyperband"}
DIRECTIONS = {"Minimize": "minimize", "Maximize": "maximize"}
WARM_START_TYPES = {
    "IdenticalDataAndAlgorithm": "identical_data_and_algorithm",
    "TransferLearning": "transfer_learning",
}

# Keys of each object: honoured, ignored (cloud only) or refused (semantics fasthpo cannot keep).
_TOP = {
    "honoured": ("HyperParameterTuningJobName", "HyperParameterTuningJobConfig",
                 "TrainingJobDefinition", "WarmStartConfig"),
    "ignored": ("Tags",),
    "refused": {
        "TrainingJobDefinitions": "several training-job definitions (one tuning job over several "
                                  "algorithms); give one TrainingJobDefinition",
        "Autotune": "the service chooses the ranges and strategy itself; give them explicitly",
    },
}
_CONFIG = {
    "honoured": ("Strategy", "StrategyConfig", "HyperParameterTuningJobObjective", "ResourceLimits",
                 "ParameterRanges", "TrainingJobEarlyStoppingType", "TuningJobCompletionCriteria",
                 "RandomSeed"),
    "ignored": (),
    "refused": {},
}
_DEFINITION = {
    "honoured": ("AlgorithmSpecification", "StaticHyperParameters", "ResourceConfig",
                 "StoppingCondition", "RetryStrategy", "HyperParameterRanges", "Environment",
                 "TuningObjective", "DefinitionName"),
    "ignored": ("RoleArn", "InputDataConfig", "OutputDataConfig", "VpcConfig", "CheckpointConfig",
                "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
                "EnableManagedSpotTraining", "HyperParameterTuningResourceConfig"),
    "refused": {},
}
_ALGORITHM = {
    "honoured": ("MetricDefinitions",),
    "ignored": ("TrainingImage", "AlgorithmName", "TrainingInputMode"),
    "refused": {},
}
_RESOURCE_CONFIG = {
    "honoured": ("InstanceCount",),
    "ignored": ("InstanceType", "VolumeSizeInGB", "VolumeKmsKeyId", "KeepAlivePeriodInSeconds",
                "InstanceGroups", "TrainingPlanArn"),
    "refused": {},
}
_STOPPING = {
    "honoured": ("MaxRuntimeInSeconds",),
    "ignored": ("MaxWaitTimeInSeconds", "MaxPendingTimeInSeconds"),
    "refused": {},
}
_RANGES = {
    "honoured": ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges"),
    "ignored": (),
    "refused": {"AutoParameters": "the service guesses these ranges from an example value; "
                                  "give them as explicit ranges"},
}


@dataclass(frozen=True)
class Translation:
    """A job-file mapping and the request keys that were ignored (cloud only), by JSON path."""

    job: dict[str, Any]
    ignored: tuple[str, ...]


def is_tuning_request(data: object) -> bool:
    """Whether ``data`` is a tuning-job request body rather than a fasthpo job file."""
    return isinstance(data, Mapping) and any(key in data for key in REQUEST_MARKERS)


def script_mode_command(command: Sequence[str]) -> list[str]:
    """The argv that starts ``command`` in the service's script mode (see :mod:`.script_mode`)."""
    return [sys.executable, "-m", "fasthpo.sagemaker.script_mode", "--", *command]


def translate_request(
    data: Mapping[str, Any], *, command: Sequence[str] | None, workdir: str = "."
) -> Translation:
    """Map a CreateHyperParameterTuningJob request body onto a fasthpo job-file mapping.

    ``command`` is the local training command (the request names a container
    image instead); ``ConfigError`` names the request's JSON path of any field
    that is wrong, over a limit of the service, or not honoured here.
    """
    ignored: list[str] = []
    _check(data, "", _TOP, ignored)
    if not command:
        raise ConfigError(
            "", "a tuning-job request names a container image, not a local command: "
            "pass the training command, e.g. --command python train.py"
        )
    if "HyperParameterTuningJobConfig" not in data:
        raise ConfigError("HyperParameterTuningJobConfig", "required key is missing")
    name = _job_name(data.get("HyperParameterTuningJobName"))
    config = _object(data["HyperParameterTuningJobConfig"], "HyperParameterTuningJobConfig")
    _check(config, "HyperParameterTuningJobConfig", _CONFIG, ignored)
    definition = _object(data.get("TrainingJobDefinition", {}), "TrainingJobDefinition")
    _check(definition, "TrainingJobDefinition", _DEFINITION, ignored)

    strategy_name = config.get("Strategy", "Bayesian")
    strategy = _choice(strategy_name, STRATEGIES, "HyperParameterTuningJobConfig.Strategy")
    job: dict[str, Any] = {
        "name": name,
        "command": script_mode_command(command),
        "workdir": workdir,
        "strategy": strategy,
    }
    job["objective"] = _objective(config, definition)
    job["hyperparameters"] = _ranges(config, definition, strategy_name, ignored)
    static = _static(definition, ignored)
    job["metrics"] = _metrics(definition, ignored)
    job["limits"] = _limits(config, definition, strategy_name, job["hyperparameters"])
    job["early_stopping"] = _early_stopping(config)
    if "RandomSeed" in config:
        job["seed"] = _integer(config["RandomSeed"], "HyperParameterTuningJobConfig.RandomSeed", 0)
    if "Environment" in definition:
        env = _object(definition["Environment"], "TrainingJobDefinition.Environment")
        job["env"] = {str(k): _string(v, f"TrainingJobDefinition.Environment.{k}") for k, v in env.items()}
    if "ResourceConfig" in definition:
        resource = _object(definition["ResourceConfig"], "TrainingJobDefinition.ResourceConfig")
        _check(resource, "TrainingJobDefinition.ResourceConfig", _RESOURCE_CONFIG, ignored)
        if "InstanceCount" in resource:
            job["instance_count"] = _integer(
                resource["InstanceCount"], "TrainingJobDefinition.ResourceConfig.InstanceCount", 1
            )
    if "RetryStrategy" in definition:
        path = "TrainingJobDefinition.RetryStrategy"
        retry = _object(definition["RetryStrategy"], path)
        _known(retry, path, ("MaximumRetryAttempts",))
        retries = _integer(retry.get("MaximumRetryAttempts"), f"{path}.MaximumRetryAttempts", 1)
        if retries > limits.MAX_RETRY_ATTEMPTS:
            raise ConfigError(
                f"{path}.MaximumRetryAttempts",
                f"must be at most {limits.MAX_RETRY_ATTEMPTS} (the service's limit), got {retries}",
            )
        job["retry"] = {"max_attempts": retries + 1}  # the first attempt and the retries
    hyperband = _hyperband(config, strategy_name, static)
    if hyperband is not None:
        job["hyperband"] = hyperband
    job["static_hyperparameters"] = static
    completion = _completion(config)
    if completion:
        job["completion"] = completion
    if "WarmStartConfig" in data:
        job["warm_start"] = _warm_start(data["WarmStartConfig"])
    return Translation(job, tuple(ignored))


# -- the parts of a request ---------------------------------------------------------------


def _job_name(value: Any) -> str:
    path = "HyperParameterTuningJobName"
    if value is None:
        raise ConfigError(path, "required key is missing")
    if not isinstance(value, str) or not re.fullmatch(limits.JOB_NAME_PATTERN, value):
        raise ConfigError(
            path, f"{value!r} is not a valid tuning-job name: 1 to 32 letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return value


def _objective(config: Mapping[str, Any], definition: Mapping[str, Any]) -> dict[str, Any]:
    path = "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective"
    raw = config.get("HyperParameterTuningJobObjective")
    if raw is None and "TuningObjective" in definition:
        path, raw = "TrainingJobDefinition.TuningObjective", definition["TuningObjective"]
    if raw is None:
        raise ConfigError(path, "required: the objective {Type: Minimize|Maximize, MetricName}")
    body = _object(raw, path)
    _known(body, path, ("Type", "MetricName"))
    for key in ("Type", "MetricName"):
        if key not in body:
            raise ConfigError(f"{path}.{key}", "required key is missing")
    metric = body["MetricName"]
    if not isinstance(metric, str) or not re.fullmatch(r"[^\s\x00-\x1f]{1,200}", metric):
        raise ConfigError(
            f"{path}.MetricName", f"{metric!r} is not a metric name (1-200 characters, no spaces)"
        )
    return {"metric": metric, "direction": _choice(body["Type"], DIRECTIONS, f"{path}.Type")}


def _ranges(
    config: Mapping[str, Any], definition: Mapping[str, Any], strategy: str, ignored: list[str]
) -> dict[str, dict[str, Any]]:
    path = "HyperParameterTuningJobConfig.ParameterRanges"
    raw = config.get("ParameterRanges")
    if "HyperParameterRanges" in definition:
        if raw is not None:
            raise ConfigError(
                "TrainingJobDefinition.HyperParameterRanges",
                "ranges are given twice; keep HyperParameterTuningJobConfig.ParameterRanges or this",
            )
        path, raw = "TrainingJobDefinition.HyperParameterRanges", definition["HyperParameterRanges"]
    if raw is None:
        raise ConfigError(path, "required: at least one parameter range")
    body = _object(raw, path)
    _check(body, path, _RANGES, ignored)
    out: dict[str, dict[str, Any]] = {}
    count = 0
    for kind in _RANGES["honoured"]:
        items = body.get(kind, [])
        if not isinstance(items, list):
            raise ConfigError(f"{path}.{kind}", f"must be a list of ranges, got {items!r}")
        for i, item in enumerate(items):
            where = f"{path}.{kind}[{i}]"
            count += 1
            if count > limits.MAX_RANGES:
                raise ConfigError(
                    where, f"more than {limits.MAX_RANGES} hyperparameter ranges (the service's limit)"
                )
            name, spec = _range(_object(item, where), kind, where)
            if name in out:
                raise ConfigError(f"{where}.Name", f"hyperparameter {name!r} has two ranges")
            if strategy == "Grid" and kind != "CategoricalParameterRanges":
                raise ConfigError(
                    where, "the Grid strategy takes only CategoricalParameterRanges (as the service)"
                )
            out[name] = spec
    if not out:
        raise ConfigError(path, "holds no range: give at least one parameter range")
    return out


def _range(body: Mapping[str, Any], kind: str, where: str) -> tuple[str, dict[str, Any]]:
    name = body.get("Name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        raise ConfigError(
            f"{where}.Name", f"{name!r} is not a hyperparameter name fasthpo can pass on a command "
            "line: letters, digits and underscores, starting with a letter or underscore"
        )
    if kind == "CategoricalParameterRanges":
        _known(body, where, ("Name", "Values"))
        values = body.get("Values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.Values", f"must be a non-empty list of strings, got {values!r}")
        if len(values) > limits.MAX_CATEGORICAL_VALUES:
            raise ConfigError(
                f"{where}.Values",
                f"{len(values)} values is more than the {limits.MAX_CATEGORICAL_VALUES} the service allows",
            )
        texts = [_string(v, f"{where}.Values[{j}]") for j, v in enumerate(values)]
        return name, {"type": "categorical", "values": texts}
    _known(body, where, ("Name", "MinValue", "MaxValue", "ScalingType"))
    integer = kind == "IntegerParameterRanges"
    low = _bound(body.get("MinValue"), f"{where}.MinValue", integer)
    high = _bound(body.get("MaxValue"), f"{where}.MaxValue", integer)
    if low > high:
        raise ConfigError(
            f"{where}.MinValue", f"{body['MinValue']!r} is greater than MaxValue {body['MaxValue']!r}"
        )
    if low == high:
        raise ConfigError(f"{where}.MaxValue", f"equals MinValue {body['MinValue']!r}: nothing to search")
    scaling = _choice(body.get("ScalingType", "Auto"), SCALINGS, f"{where}.ScalingType")
    if scaling == "log" and low <= 0:
        raise ConfigError(
            f"{where}.ScalingType", f"Logarithmic needs MinValue > 0, got {body['MinValue']!r}"
        )
    if scaling == "reverse_log":
        if integer:
            raise ConfigError(
                f"{where}.ScalingType", "ReverseLogarithmic is for continuous ranges (as the service)"
            )
        if not (0 <= low and high < 1):
            raise ConfigError(
                f"{where}.ScalingType",
                f"ReverseLogarithmic needs 0 <= MinValue < MaxValue < 1, got [{body['MinValue']}, "
                f"{body['MaxValue']}]",
            )
    kind_name = "integer" if integer else "continuous"
    return name, {"type": kind_name, "min": low, "max": high, "scaling": scaling}


def _bound(value: Any, where: str, integer: bool) -> Any:
    if value is None:
        raise ConfigError(where, "required key is missing")
    if not isinstance(value, str):
        raise ConfigError(where, f"must be a number written as a string (as the service), got {value!r}")
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigError(where, f"{value!r} is not {kind}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(where, f"must be finite, got {value!r}")
    return number


def _static(definition: Mapping[str, Any], ignored: list[str]) -> dict[str, Any]:
    path = "TrainingJobDefinition.StaticHyperParameters"
    body = _object(definition.get("StaticHyperParameters", {}), path)
    out: dict[str, Any] = {}
    for key, value in body.items():
        if str(key).startswith(SERVICE_HYPERPARAMETER_PREFIX):
            ignored.append(f"{path}.{key}")  # the framework container's own settings
            continue
        out[str(key)] = _string(value, f"{path}.{key}")
    return out


def _metrics(definition: Mapping[str, Any], ignored: list[str]) -> list[dict[str, str]]:
    where = "TrainingJobDefinition.AlgorithmSpecification"
    algorithm = _object(definition.get("AlgorithmSpecification", {}), where)
    _check(algorithm, where, _ALGORITHM, ignored)
    path = "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions"
    items = algorithm.get("MetricDefinitions", [])
    if not isinstance(items, list):
        raise ConfigError(path, f"must be a list of {{Name, Regex}} objects, got {items!r}")
    if len(items) > limits.MAX_METRIC_DEFINITIONS:
        raise ConfigError(
            path, f"{len(items)} metric definitions is more than the {limits.MAX_METRIC_DEFINITIONS} "
            "the service allows"
        )
    from fasthpo.metric_regex import RegexError, compile_metric_regex

    out = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        body = _object(item, where)
        _known(body, where, ("Name", "Regex"))
        name, regex = body.get("Name"), body.get("Regex")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.Name", f"must be a metric name, got {name!r}")
        if not isinstance(regex, str):
            raise ConfigError(f"{where}.Regex", f"must be a regular expression, got {regex!r}")
        try:
            compile_metric_regex(regex)
        except RegexError as exc:
            raise ConfigError(f"{where}.Regex", str(exc)) from None
        out.append({"name": name, "regex": regex})
    return out


def _limits(
    config: Mapping[str, Any], definition: Mapping[str, Any], strategy: str,
    space: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    path = "HyperParameterTuningJobConfig.ResourceLimits"
    body = _object(config.get("ResourceLimits"), path) if "ResourceLimits" in config else {}
    if "ResourceLimits" not in config:
        raise ConfigError(path, "required key is missing")
    _known(body, path, ("MaxNumberOfTrainingJobs", "MaxParallelTrainingJobs", "MaxRuntimeInSeconds"))
    out: dict[str, Any] = {}
    if "MaxNumberOfTrainingJobs" in body:
        trials = _integer(body["MaxNumberOfTrainingJobs"], f"{path}.MaxNumberOfTrainingJobs", 1)
    elif strategy == "Grid":  # the service infers it from the grid
        trials = math.prod(len(spec["values"]) for spec in space.values())
    else:
        raise ConfigError(
            f"{path}.MaxNumberOfTrainingJobs", "required locally: fasthpo needs a trial budget"
        )
    cap = limits.MAX_TRAINING_JOBS[strategy]
    if trials > cap:
        raise ConfigError(
            f"{path}.MaxNumberOfTrainingJobs",
            f"{trials} is more than the {cap} training jobs the service allows a {strategy} tuning job",
        )
    out["max_trials"] = trials
    if "MaxParallelTrainingJobs" not in body:
        raise ConfigError(f"{path}.MaxParallelTrainingJobs", "required key is missing")
    parallel = _integer(body["MaxParallelTrainingJobs"], f"{path}.MaxParallelTrainingJobs", 1)
    if parallel > limits.MAX_PARALLEL_TRAINING_JOBS:
        raise ConfigError(
            f"{path}.MaxParallelTrainingJobs",
            f"{parallel} is more than the {limits.MAX_PARALLEL_TRAINING_JOBS} the service allows",
        )
    out["max_parallel"] = parallel
    if "MaxRuntimeInSeconds" in body:
        runtime = _integer(body["MaxRuntimeInSeconds"], f"{path}.MaxRuntimeInSeconds", 1)
        if not limits.MIN_TUNING_RUNTIME <= runtime <= limits.MAX_TUNING_RUNTIME:
            raise ConfigError(
                f"{path}.MaxRuntimeInSeconds",
                f"must be between {limits.MIN_TUNING_RUNTIME} and {limits.MAX_TUNING_RUNTIME} "
                f"seconds (the service's range), got {runtime}",
            )
        out["max_runtime"] = runtime
    if "StoppingCondition" in definition:
        stop_path = "TrainingJobDefinition.StoppingCondition"
        stopping = _object(definition["StoppingCondition"], stop_path)
        _check(stopping, stop_path, _STOPPING, [])
        if "MaxRuntimeInSeconds" in stopping:
            out["max_runtime_per_trial"] = _integer(
                stopping["MaxRuntimeInSeconds"], f"{stop_path}.MaxRuntimeInSeconds", 1
            )
    return out


def _early_stopping(config: Mapping[str, Any]) -> str:
    value = config.get("TrainingJobEarlyStoppingType", "Off")
    path = "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType"
    return _choice(value, {"Off": "off", "Auto": "auto"}, path)


def _hyperband(
    config: Mapping[str, Any], strategy: str, static: dict[str, Any]
) -> dict[str, Any] | None:
    path = "HyperParameterTuningJobConfig.StrategyConfig"
    where = f"{path}.HyperbandStrategyConfig"
    body = _object(config.get("StrategyConfig", {}), path)
    _known(body, path, ("HyperbandStrategyConfig",))
    if "HyperbandStrategyConfig" in body and strategy != "Hyperband":
        raise ConfigError(
            where, f"is given but Strategy is {strategy!r}; it applies only to Strategy Hyperband"
        )
    if strategy != "Hyperband":
        return None
    settings = _object(body.get("HyperbandStrategyConfig", {}), where)
    _known(settings, where, ("MinResource", "MaxResource"))
    low = _integer(settings.get("MinResource", 1), f"{where}.MinResource", 1)
    high = (
        _integer(settings["MaxResource"], f"{where}.MaxResource", 1)
        if "MaxResource" in settings else _epochs(static)
    )
    if low >= high:
        raise ConfigError(f"{where}.MinResource", f"must be below MaxResource ({high}), got {low}")
    resource = next((n for n in EPOCH_NAMES if n in static and n.isidentifier()), "epochs")
    static.pop(resource, None)  # each trial receives its own budget under this name
    return {"resource": resource, "min_resource": low, "max_resource": high}


def _epochs(static: Mapping[str, Any]) -> int:
    """MaxResource as the service infers it: the static epoch count."""
    for name in EPOCH_NAMES:
        if name in static:
            return _integer(_as_int(static[name]), f"TrainingJobDefinition.StaticHyperParameters.{name}", 2)
    raise ConfigError(
        "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource",
        "required when no static hyperparameter gives the epochs (" + ", ".join(EPOCH_NAMES) + ")",
    )


def _as_int(text: Any) -> Any:
    try:
        return int(text)
    except (TypeError, ValueError):
        return text


def _completion(config: Mapping[str, Any]) -> dict[str, Any]:
    path = "HyperParameterTuningJobConfig.TuningJobCompletionCriteria"
    if "TuningJobCompletionCriteria" not in config:
        return {}
    body = _object(config["TuningJobCompletionCriteria"], path)
    _known(body, path, ("TargetObjectiveMetricValue", "BestObjectiveNotImproving", "ConvergenceDetected"))
    out: dict[str, Any] = {}
    if "TargetObjectiveMetricValue" in body:
        target = body["TargetObjectiveMetricValue"]
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
            raise ConfigError(f"{path}.TargetObjectiveMetricValue", f"must be a number, got {target!r}")
        out["target_objective"] = float(target)
    if "BestObjectiveNotImproving" in body:
        where = f"{path}.BestObjectiveNotImproving"
        inner = _object(body["BestObjectiveNotImproving"], where)
        _known(inner, where, ("MaxNumberOfTrainingJobsNotImproving",))
        key = "MaxNumberOfTrainingJobsNotImproving"
        out["max_trials_without_improvement"] = _integer(inner.get(key), f"{where}.{key}", 3)
    if "ConvergenceDetected" in body:
        where = f"{path}.ConvergenceDetected"
        inner = _object(body["ConvergenceDetected"], where)
        _known(inner, where, ("CompleteOnConvergence",))
        out["convergence"] = _choice(
            inner.get("CompleteOnConvergence", "Disabled"), {"Disabled": "off", "Enabled": "auto"},
            f"{where}.CompleteOnConvergence",
        )
    return out


def _warm_start(value: Any) -> dict[str, Any]:
    path = "WarmStartConfig"
    body = _object(value, path)
    _known(body, path, ("ParentHyperParameterTuningJobs", "WarmStartType"))
    parents = body.get("ParentHyperParameterTuningJobs")
    if not isinstance(parents, list) or not parents:
        raise ConfigError(f"{path}.ParentHyperParameterTuningJobs", f"must list 1 to 5 jobs, got {parents!r}")
    if len(parents) > limits.MAX_WARM_START_PARENTS:
        raise ConfigError(
            f"{path}.ParentHyperParameterTuningJobs",
            f"{len(parents)} parent jobs is more than the {limits.MAX_WARM_START_PARENTS} the service allows",
        )
    names = []
    for i, parent in enumerate(parents):
        where = f"{path}.ParentHyperParameterTuningJobs[{i}]"
        item = _object(parent, where)
        _known(item, where, ("HyperParameterTuningJobName",))
        try:
            names.append(_job_name(item.get("HyperParameterTuningJobName")))
        except ConfigError as exc:
            raise exc.within(where) from None
    if "WarmStartType" not in body:
        raise ConfigError(f"{path}.WarmStartType", "required key is missing")
    kind = _choice(body["WarmStartType"], WARM_START_TYPES, f"{path}.WarmStartType")
    return {"parents": names, "type": kind}


# -- small checks --------------------------------------------------------------------------


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be a JSON object, got {value!r}")
    return value


def _known(body: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise ConfigError(
                f"{path}.{key}", f"unknown key{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}"
            )


def _check(body: Mapping[str, Any], path: str, keys: Mapping[str, Any], ignored: list[str]) -> None:
    """Sort ``body``'s keys: honoured pass, cloud-only ones are noted, refused ones raise."""
    for key in body:
        where = f"{path}.{key}" if path else str(key)
        if key in keys["honoured"]:
            continue
        if key in keys["ignored"]:
            ignored.append(where)
        elif key in keys["refused"]:
            raise ConfigError(where, f"not supported locally: {keys['refused'][key]}")
        else:
            known = [*keys["honoured"], *keys["ignored"], *keys["refused"]]
            raise ConfigError(where, f"unknown key{did_you_mean(key, known)}")


def _choice(value: Any, choices: Mapping[str, str], path: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            path, f"{value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}"
        )
    return choices[value]


def _integer(value: Any, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(path, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(path, f"must be a string (as the service takes it), got {value!r}")
    return value
