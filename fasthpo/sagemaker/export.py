"""A stored fasthpo job → the body of a CreateHyperParameterTuningJob request (the way back to the service).

The inverse of :mod:`fasthpo.sagemaker.request` for every field the two
share: translating the exported request again (with the same local command)
gives back the same job. What only the cloud knows (the training image, the
role, the S3 output path, the instance type) is written as a placeholder
value in angle brackets, to be filled in before the request is sent. The local
command has no counterpart: the service runs the image's entry point, which
receives the hyperparameters as ``--name value`` arguments (script mode).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Placeholders for what only the cloud knows.
PLACEHOLDERS = {
    "TrainingImage": "<training image URI>",
    "RoleArn": "<IAM role ARN>",
    "S3OutputPath": "<s3://bucket/prefix>",
    "InstanceType": "ml.m5.xlarge",
}
#: The service requires a stopping condition; this is its own default for MaxRuntimeInSeconds.
DEFAULT_TRIAL_RUNTIME = 86_400

_STRATEGIES = {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}
_SCALINGS = {"auto": "Auto", "linear": "Linear", "log": "Logarithmic", "reverse_log": "ReverseLogarithmic"}
_DIRECTIONS = {"minimize": "Minimize", "maximize": "Maximize"}
_WARM_START_TYPES = {
    "identical_data_and_algorithm": "IdenticalDataAndAlgorithm", "transfer_learning": "TransferLearning",
}


def request_job_name(name: str) -> str:
    """``name`` as the service allows it: letters, digits and hyphens, at most 32 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:32].rstrip("-")
    return cleaned or "fasthpo-job"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def export_request(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The request body for a job stored as ``spec`` (:meth:`fasthpo.jobspec.JobSpec.to_dict` form)."""
    ranges: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [], "ContinuousParameterRanges": [], "CategoricalParameterRanges": [],
    }
    for name, body in spec["hyperparameters"].items():
        if body["type"] == "categorical":
            ranges["CategoricalParameterRanges"].append(
                {"Name": name, "Values": [_text(v) for v in body["values"]]}
            )
            continue
        integer = body["type"] == "integer"
        cast = int if integer else float
        low, high = cast(body["min"]), cast(body["max"])
        ranges["IntegerParameterRanges" if integer else "ContinuousParameterRanges"].append(
            {"Name": name, "MinValue": _text(low), "MaxValue": _text(high),
             "ScalingType": _SCALINGS[body.get("scaling", "auto")]}
        )
    limits = spec.get("limits") or {}
    resource_limits: dict[str, Any] = {
        "MaxNumberOfTrainingJobs": limits.get("max_trials", 20),
        "MaxParallelTrainingJobs": limits.get("max_parallel", 1),
    }
    if limits.get("max_runtime") is not None:
        resource_limits["MaxRuntimeInSeconds"] = int(limits["max_runtime"])
    objective = spec["objective"]
    config: dict[str, Any] = {
        "Strategy": _STRATEGIES[spec.get("strategy", "bayesian")],
        "HyperParameterTuningJobObjective": {
            "Type": _DIRECTIONS[objective["direction"]], "MetricName": objective["metric"],
        },
        "ResourceLimits": resource_limits,
        "ParameterRanges": {k: v for k, v in ranges.items() if v},
        "TrainingJobEarlyStoppingType": "Auto" if spec.get("early_stopping") == "auto" else "Off",
    }
    if spec.get("seed") is not None:
        config["RandomSeed"] = spec["seed"]
    static = {k: _text(v) for k, v in (spec.get("static_hyperparameters") or {}).items()}
    hyperband = spec.get("hyperband")
    if spec.get("strategy") == "hyperband" and hyperband:
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {
            "MinResource": hyperband["min_resource"], "MaxResource": hyperband["max_resource"],
        }}
        if hyperband["resource"] != "epochs":  # the service reads the resource's name from here
            static[hyperband["resource"]] = str(hyperband["max_resource"])
    completion = _completion(spec.get("completion") or {})
    if completion:
        config["TuningJobCompletionCriteria"] = completion
    definition: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": PLACEHOLDERS["TrainingImage"], "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": m["name"], "Regex": m["regex"]} for m in spec.get("metrics") or []
            ],
        },
        "RoleArn": PLACEHOLDERS["RoleArn"],
        "OutputDataConfig": {"S3OutputPath": PLACEHOLDERS["S3OutputPath"]},
        "ResourceConfig": {
            "InstanceCount": spec.get("instance_count", 1),
            "InstanceType": PLACEHOLDERS["InstanceType"], "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": int(
            limits.get("max_runtime_per_trial") or DEFAULT_TRIAL_RUNTIME
        )},
        "StaticHyperParameters": static,
    }
    retry = spec.get("retry") or {}
    if retry.get("max_attempts", 1) > 1:
        definition["RetryStrategy"] = {"MaximumRetryAttempts": retry["max_attempts"] - 1}
    if spec.get("env"):
        definition["Environment"] = dict(spec["env"])
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": request_job_name(spec["name"]),
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    warm = spec.get("warm_start")
    if warm:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": request_job_name(p)} for p in warm["parents"]
            ],
            "WarmStartType": _WARM_START_TYPES[warm.get("type", "identical_data_and_algorithm")],
        }
    return request


def _completion(completion: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if completion.get("target_objective") is not None:
        out["TargetObjectiveMetricValue"] = completion["target_objective"]
    if completion.get("max_trials_without_improvement") is not None:
        out["BestObjectiveNotImproving"] = {
            "MaxNumberOfTrainingJobsNotImproving": completion["max_trials_without_improvement"]
        }
    if completion.get("convergence") == "auto":
        out["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    return out
