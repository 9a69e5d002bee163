"""`fasthpo export NAME --format sagemaker`: a stored job back as the service's request, round trip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from fasthpo.config import parse_job
from fasthpo.sagemaker.export import PLACEHOLDERS, export_request, request_job_name
from fasthpo.sagemaker.request import translate_request
from tests.sagemaker.examples import DATA, example_request

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
COMMAND = ["python", "train.py"]


def _job(body, base_dir):
    return parse_job(translate_request(body, command=COMMAND).job, base_dir=base_dir).to_dict()


def test_request_to_job_to_request_to_job_is_the_same_job(tmp_path):
    first = _job(example_request(), tmp_path)
    exported = export_request(first)
    assert _job(exported, tmp_path) == first


def test_the_exported_request_keeps_the_documented_fields(tmp_path):
    body = example_request()
    exported = export_request(_job(body, tmp_path))
    config, original = exported["HyperParameterTuningJobConfig"], body["HyperParameterTuningJobConfig"]
    assert exported["HyperParameterTuningJobName"] == body["HyperParameterTuningJobName"]
    for key in ("Strategy", "HyperParameterTuningJobObjective", "ResourceLimits", "RandomSeed",
                "TrainingJobEarlyStoppingType"):
        assert config[key] == original[key], key
    for kind, ranges in original["ParameterRanges"].items():
        assert [r["Name"] for r in config["ParameterRanges"][kind]] == [r["Name"] for r in ranges]
    assert config["ParameterRanges"]["ContinuousParameterRanges"][0] == {
        "Name": "eta", "MinValue": "0.001", "MaxValue": "0.5", "ScalingType": "Logarithmic"
    }
    definition = exported["TrainingJobDefinition"]
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert definition["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert definition["RoleArn"] == PLACEHOLDERS["RoleArn"]
    assert definition["StaticHyperParameters"] == {"num_round": "20", "objective": "reg:squarederror"}


def test_a_plain_job_file_exports_with_typed_values_as_strings(tmp_path):
    spec = parse_job({
        "name": "svm_digits.v2", "command": ["python", "train.py", "--C", "{C}"],
        "hyperparameters": {
            "C": {"type": "continuous", "min": 0.001, "max": 1000, "scaling": "auto"},
            "layers": {"type": "integer", "min": 1, "max": 4, "scaling": "linear"},
            "shrinking": {"type": "categorical", "values": [True, False]},
        },
        "objective": {"metric": "accuracy", "direction": "maximize"},
        "strategy": "random", "limits": {"max_trials": 30, "max_parallel": 3},
    }, base_dir=tmp_path).to_dict()
    exported = export_request(spec)
    assert exported["HyperParameterTuningJobName"] == "svm-digits-v2" == request_job_name("svm_digits.v2")
    ranges = exported["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == [{"Name": "shrinking", "Values": ["true", "false"]}]
    assert ranges["IntegerParameterRanges"][0]["ScalingType"] == "Linear"
    again = _job(exported, tmp_path)
    assert again["hyperparameters"]["C"] == spec["hyperparameters"]["C"]
    assert again["limits"]["max_parallel"] == 3 and again["strategy"] == "random"


def test_the_newer_keys_export_as_the_service_names_them(tmp_path):
    spec = _job(example_request(), tmp_path)
    spec.update(
        strategy="hyperband",
        hyperband={"resource": "epochs", "min_resource": 1, "max_resource": 27, "reduction_factor": 3},
        completion={"target_objective": 0.1, "max_trials_without_improvement": 5,
                    "min_improvement": 0.0, "convergence": "auto"},
        warm_start={"parents": ["parent_job"], "type": "transfer_learning", "store": None},
    )
    spec["limits"]["max_runtime"] = 7200.0
    exported = export_request(spec)
    config = exported["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}}
    assert config["ResourceLimits"]["MaxRuntimeInSeconds"] == 7200
    assert config["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.1,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    assert exported["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent-job"}],
        "WarmStartType": "TransferLearning",
    }
    translated = translate_request(exported, command=COMMAND).job
    assert translated["hyperband"] == {"resource": "epochs", "min_resource": 1, "max_resource": 27}
    assert translated["completion"]["convergence"] == "auto"


@pytest.mark.parametrize("to_file", [False, True])
def test_the_cli_exports_a_stored_job(tmp_path, to_file):
    shutil.copy(DATA / "train.py", tmp_path / "train.py")
    body = example_request()
    body["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 1
    (tmp_path / "job.json").write_text(json.dumps(body))
    db = str(tmp_path / "s.db")

    def cli(*args):
        return subprocess.run([sys.executable, "-P", "-m", "fasthpo.cli", *args], capture_output=True,
                              text=True, cwd=tmp_path, env=ENV, timeout=600)

    run = cli("run", "job.json", "--db", db, "-q", "--command", sys.executable, "train.py")
    assert run.returncode == 0, run.stderr
    out = tmp_path / "exported.json"
    export = cli("export", "xgb-local-1", "--format", "sagemaker", "--db", db,
                 *(["-o", str(out)] if to_file else []))
    assert export.returncode == 0, export.stderr
    exported = json.loads(out.read_text() if to_file else export.stdout)
    # The same ranges ("1" comes back as "1.0": the same number).
    assert translate_request(exported, command=COMMAND).job["hyperparameters"] == \
        translate_request(body, command=COMMAND).job["hyperparameters"]
    missing = cli("export", "nope", "--db", db)
    assert missing.returncode == 2 and "no job named 'nope'" in missing.stderr
