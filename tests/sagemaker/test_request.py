"""A CreateHyperParameterTuningJob request body → a fasthpo job-file mapping, and the errors on bad ones."""

from __future__ import annotations

import sys

import pytest

from fasthpo.config import parse_job
from fasthpo.errors import ConfigError
from fasthpo.sagemaker.request import is_tuning_request, translate_request
from tests.sagemaker.examples import example_request, needs_new_keys

COMMAND = ["python", "train.py"]
RANGES = "HyperParameterTuningJobConfig.ParameterRanges"


def translate(body):
    return translate_request(body, command=COMMAND)


def test_the_documented_example_becomes_a_job_file_mapping(request_body):
    translation = translate(request_body)
    job = translation.job
    assert job["name"] == "xgb-local-1"
    assert job["command"] == [sys.executable, "-m", "fasthpo.sagemaker.script_mode", "--", *COMMAND]
    assert job["strategy"] == "bayesian" and job["seed"] == 7
    assert job["objective"] == {"metric": "validation:rmse", "direction": "minimize"}
    assert job["hyperparameters"] == {
        "eta": {"type": "continuous", "min": 0.001, "max": 0.5, "scaling": "log"},
        "subsample": {"type": "continuous", "min": 0.5, "max": 1.0, "scaling": "linear"},
        "momentum": {"type": "continuous", "min": 0.5, "max": 0.999, "scaling": "reverse_log"},
        "max_depth": {"type": "integer", "min": 2, "max": 10, "scaling": "auto"},
        "booster": {"type": "categorical", "values": ["gbtree", "dart"]},
    }
    assert job["static_hyperparameters"] == {"num_round": "20", "objective": "reg:squarederror"}
    assert job["metrics"] == [{"name": "validation:rmse", "regex": "validation-rmse=([0-9.eE+-]+)"}]
    assert job["limits"] == {"max_trials": 4, "max_parallel": 2, "max_runtime_per_trial": 600}
    assert job["retry"] == {"max_attempts": 3}
    assert job["instance_count"] == 1 and job["early_stopping"] == "off"
    assert translation.ignored == (
        "Tags",
        "TrainingJobDefinition.RoleArn",
        "TrainingJobDefinition.InputDataConfig",
        "TrainingJobDefinition.OutputDataConfig",
        "TrainingJobDefinition.StaticHyperParameters.sagemaker_program",
        "TrainingJobDefinition.AlgorithmSpecification.TrainingImage",
        "TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode",
        "TrainingJobDefinition.ResourceConfig.InstanceType",
        "TrainingJobDefinition.ResourceConfig.VolumeSizeInGB",
    )


def test_the_existing_job_file_parser_builds_the_job(request_body, tmp_path):
    spec = parse_job(translate(request_body).job, base_dir=tmp_path)
    assert spec.space["eta"].scaling == "log" and spec.space["momentum"].scaling == "reverse_log"
    assert spec.space["booster"].values == ("gbtree", "dart")
    assert spec.limits.max_trials == 4 and spec.retry.max_attempts == 3
    assert spec.workdir == str(tmp_path)


@pytest.mark.parametrize(
    ("scaling", "expected"),
    [("Auto", "auto"), ("Linear", "linear"), ("Logarithmic", "log"), ("ReverseLogarithmic", "reverse_log")],
)
def test_every_scaling_type(request_body, scaling, expected):
    request_body["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"] = [
        {"Name": "p", "MinValue": "0.01", "MaxValue": "0.9", "ScalingType": scaling}
    ]
    assert translate(request_body).job["hyperparameters"]["p"]["scaling"] == expected


def test_ranges_in_the_training_job_definition(request_body):
    ranges = request_body["HyperParameterTuningJobConfig"].pop("ParameterRanges")
    request_body["TrainingJobDefinition"]["HyperParameterRanges"] = ranges
    assert set(translate(request_body).job["hyperparameters"]) == {
        "eta", "subsample", "momentum", "max_depth", "booster"
    }
    request_body["HyperParameterTuningJobConfig"]["ParameterRanges"] = ranges
    twice = r"^TrainingJobDefinition\.HyperParameterRanges: ranges are given twice"
    with pytest.raises(ConfigError, match=twice):
        translate(request_body)


def _set(body, path, value):
    *head, last = path
    for key in head:
        body = body[key]
    if value is KeyError:
        del body[last]
    else:
        body[last] = value


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (["HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges", 0, "MinValue"],
         "0.9", f"{RANGES}.ContinuousParameterRanges[0].MinValue", "'0.9' is greater than MaxValue '0.5'"),
        (["HyperParameterTuningJobConfig", "ParameterRanges", "IntegerParameterRanges", 0, "MaxValue"],
         "1", f"{RANGES}.IntegerParameterRanges[0].MinValue", "'2' is greater than MaxValue '1'"),
        (["HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges", 0, "ScalingType"],
         "Logarithmc", f"{RANGES}.ContinuousParameterRanges[0].ScalingType", "did you mean 'Logarithmic'"),
        (["HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges", 0, "MinValue"],
         0.001, f"{RANGES}.ContinuousParameterRanges[0].MinValue", "written as a string"),
        (["HyperParameterTuningJobConfig", "ParameterRanges", "IntegerParameterRanges", 0, "MinValue"],
         "2.5", f"{RANGES}.IntegerParameterRanges[0].MinValue", "'2.5' is not an integer"),
        (["HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges", 1, "ScalingType"],
         "ReverseLogarithmic", f"{RANGES}.ContinuousParameterRanges[1].ScalingType", "MaxValue < 1"),
        (["HyperParameterTuningJobConfig", "StrategyConfig"],
         {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
         "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig",
         "only to Strategy Hyperband"),
        (["HyperParameterTuningJobConfig", "Strategy"], "Bayes",
         "HyperParameterTuningJobConfig.Strategy", "did you mean 'Bayesian'"),
        (["HyperParameterTuningJobConfig", "HyperParameterTuningJobObjective", "Type"], "Min",
         "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type",
         "not one of Minimize, Maximize"),
        (["HyperParameterTuningJobConfig", "ResourceLimits", "MaxNumberOfTrainingJobs"], 751,
         "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs", "the 750 training jobs"),
        (["HyperParameterTuningJobConfig", "ResourceLimits", "MaxParallelTrainingJobs"], 101,
         "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", "the 100 the service"),
        (["HyperParameterTuningJobConfig", "ResourceLimits", "MaxRuntimeInSeconds"], 60,
         "HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds", "between 120 and 15768000"),
        (["HyperParameterTuningJobConfig", "ParameterRanges", "AutoParameters"], [],
         "HyperParameterTuningJobConfig.ParameterRanges.AutoParameters", "not supported locally"),
        (["Autotune"], {"Mode": "Enabled"}, "Autotune", "not supported locally"),
        (["TrainingJobDefinitions"], [], "TrainingJobDefinitions", "not supported locally"),
        (["HyperParameterTuningJobName"], "bad_name", "HyperParameterTuningJobName",
         "not a valid tuning-job"),
        (["HyperParameterTuningJobConfig", "RandomSeed"], -1,
         "HyperParameterTuningJobConfig.RandomSeed", "integer >= 0"),
        (["TrainingJobDefinition", "RetryStrategy", "MaximumRetryAttempts"], 31,
         "TrainingJobDefinition.RetryStrategy.MaximumRetryAttempts", "at most 30"),
        (["TrainingJobDefinition", "AlgorithmSpecification", "MetricDefinitions", 0, "Regex"], "rmse=[0-9.]+",
         "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex", "capture group"),
        (["TrainingJobDefinition", "ResourceConfig", "InstanceCont"], 2,
         "TrainingJobDefinition.ResourceConfig.InstanceCont", "did you mean 'InstanceCount'"),
        (["HyperParameterTuningJobConfig", "ResourceLimits"], KeyError,
         "HyperParameterTuningJobConfig.ResourceLimits", "required key is missing"),
    ],
)
def test_bad_requests_name_the_json_path(request_body, path, value, field, message):
    _set(request_body, path, value)
    with pytest.raises(ConfigError) as info:
        translate(request_body)
    assert info.value.field == field
    assert message in info.value.message


def test_the_service_limits_on_ranges_and_values(request_body):
    ranges = request_body["HyperParameterTuningJobConfig"]["ParameterRanges"]
    ranges["ContinuousParameterRanges"] = [
        {"Name": f"p{i}", "MinValue": "0", "MaxValue": "1"} for i in range(31)
    ]
    with pytest.raises(ConfigError, match=r"ContinuousParameterRanges\[29\]: more than 30 hyperparameter"):
        translate(request_body)
    ranges["ContinuousParameterRanges"] = []
    ranges["CategoricalParameterRanges"] = [{"Name": "c", "Values": [str(i) for i in range(31)]}]
    with pytest.raises(ConfigError, match=r"CategoricalParameterRanges\[0\]\.Values: 31 values"):
        translate(request_body)


def test_more_tunable_ranges_than_fasthpo_allows_fail_in_the_job_parser(request_body):
    """The service allows 30 ranges; fasthpo's own cap (20 tunable) is the job parser's to say."""
    request_body["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "ContinuousParameterRanges": [{"Name": f"p{i}", "MinValue": "0", "MaxValue": "1"} for i in range(25)]
    }
    job = translate(request_body).job
    with pytest.raises(ConfigError, match="25 tunable hyperparameters is more than the limit of 20"):
        parse_job(job)


def test_grid_takes_categoricals_only_and_infers_its_size(request_body):
    config = request_body["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Grid"
    with pytest.raises(ConfigError, match="Grid strategy takes only CategoricalParameterRanges"):
        translate(request_body)
    config["ParameterRanges"] = {"CategoricalParameterRanges": [
        {"Name": "a", "Values": ["1", "2", "3"]}, {"Name": "b", "Values": ["x", "y"]}
    ]}
    del config["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    job = translate(request_body).job
    assert job["strategy"] == "grid" and job["limits"]["max_trials"] == 6
    parse_job(job)


def test_a_request_needs_a_local_command(request_body):
    with pytest.raises(ConfigError, match="pass the training command"):
        translate_request(request_body, command=None)


def test_a_job_file_is_not_a_request():
    assert is_tuning_request(example_request())
    assert not is_tuning_request({"name": "x", "command": ["python"]})
    assert not is_tuning_request(["HyperParameterTuningJobConfig"])


def _newer_request():
    body = example_request()
    config = body["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}}
    config["ResourceLimits"]["MaxRuntimeInSeconds"] = 3600
    config["TuningJobCompletionCriteria"] = {
        "TargetObjectiveMetricValue": 0.05,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 10},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    body["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "xgb-local-0"}],
        "WarmStartType": "TransferLearning",
    }
    return body


def test_hyperband_completion_runtime_and_warm_start_map_onto_their_job_file_keys():
    job = translate(_newer_request()).job
    assert job["strategy"] == "hyperband"
    assert job["hyperband"] == {"resource": "epochs", "min_resource": 1, "max_resource": 27}
    assert job["limits"]["max_runtime"] == 3600
    assert job["completion"] == {
        "target_objective": 0.05, "max_trials_without_improvement": 10, "convergence": "auto"
    }
    assert job["warm_start"] == {"parents": ["xgb-local-0"], "type": "transfer_learning"}


def test_hyperband_reads_its_resource_from_a_static_epoch_count():
    body = _newer_request()
    body["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 2}}
    body["TrainingJobDefinition"]["StaticHyperParameters"]["num_epochs"] = "30"
    job = translate(body).job
    assert job["hyperband"] == {"resource": "num_epochs", "min_resource": 2, "max_resource": 30}
    assert "num_epochs" not in job["static_hyperparameters"]  # each trial gets its own budget
    del body["TrainingJobDefinition"]["StaticHyperParameters"]["num_epochs"]
    with pytest.raises(ConfigError, match=r"HyperbandStrategyConfig\.MaxResource: required when no static"):
        translate(body)


@needs_new_keys
def test_the_newer_keys_pass_the_job_parser(tmp_path):
    spec = parse_job(translate(_newer_request()).job, base_dir=tmp_path)
    assert spec.strategy == "hyperband"
