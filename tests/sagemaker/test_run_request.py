"""`fasthpo run tuning-job.json --command python train.py`: a real script-mode script, run end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fasthpo.storage import Store
from tests.sagemaker.examples import DATA, example_request, needs_new_keys

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def fasthpo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=ENV, timeout=600,
    )


def _project(tmp_path: Path, body: dict) -> Path:
    shutil.copy(DATA / "train.py", tmp_path / "train.py")
    path = tmp_path / "tuning-job.json"
    path.write_text(json.dumps(body))
    return path


def test_the_request_runs_locally_in_script_mode(tmp_path):
    request = _project(tmp_path, example_request())
    db = str(tmp_path / "store.db")
    run = fasthpo("run", str(request), "--db", db, "--command", sys.executable, "train.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    # Cloud-only keys are named once, on one line.
    ignored = [line for line in run.stderr.splitlines() if "ignored (cloud only)" in line]
    assert len(ignored) == 1 and "TrainingJobDefinition.RoleArn" in ignored[0]
    assert "Tags" in ignored[0] and "StaticHyperParameters.sagemaker_program" in ignored[0]
    with Store(db, create=False) as store:
        trials = store.trials("xgb-local-1")
        assert len(trials) == 4 and all(t.status == "completed" for t in trials), [t.error for t in trials]
        assert all(t.objective is not None for t in trials)
        for trial in trials:
            folder = Path(trial.directory)
            assert (folder / "model" / "model.txt").read_text() == "trained\n"
            stored = json.loads((folder / "input" / "config" / "hyperparameters.json").read_text())
            assert stored["num_round"] == "20" and stored["booster"] == trial.hyperparameters["booster"]
            assert 0.001 <= trial.hyperparameters["eta"] <= 0.5


def test_multi_instance_trials_see_their_hosts(tmp_path):
    body = example_request()
    body["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 2
    body["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1
    }
    request = _project(tmp_path, body)
    (tmp_path / "hosts.py").write_text(
        "import json, os, sys\n"
        "hosts = json.loads(os.environ['SM_HOSTS'])\n"
        "me = os.environ['SM_CURRENT_HOST']\n"
        "assert hosts == ['algo-1', 'algo-2'] and me == f\"algo-{int(os.environ['RANK']) + 1}\", me\n"
        "assert os.environ['SM_MODEL_DIR'].endswith(f\"rank-{os.environ['RANK']}/model\")\n"
        "assert '--eta' in sys.argv\n"
        "print('validation-rmse=0.5')\n"
    )
    db = str(tmp_path / "store.db")
    run = fasthpo("run", str(request), "--db", db, "--command", sys.executable, "hosts.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    with Store(db, create=False) as store:
        (trial,) = store.trials("xgb-local-1")
    assert trial.status == "completed" and trial.objective == 0.5


def test_errors_are_one_line_with_the_json_path(tmp_path):
    body = example_request()
    body["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]["MinValue"] = "1"
    request = _project(tmp_path, body)
    run = fasthpo("run", str(request), "--db", str(tmp_path / "s.db"), "--command", "python", "train.py",
                  cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "fasthpo: error: HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0]"
        ".MinValue: '1' is greater than MaxValue '0.5'"
    )
    assert not (tmp_path / "s.db").exists()  # nothing was stored
    missing = fasthpo("run", str(request), "--db", str(tmp_path / "s.db"), cwd=tmp_path)
    assert missing.returncode == 2 and "--command python train.py" in missing.stderr


def test_the_launcher_refuses_to_run_outside_a_trial():
    env = {k: v for k, v in ENV.items() if not k.startswith("FASTHPO_")}
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.sagemaker.script_mode", "--", "true"],
        capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(),
    )
    assert proc.returncode == 2 and "run me as a fasthpo trial" in proc.stderr


@needs_new_keys
def test_completion_criteria_and_the_job_runtime_end_the_job(tmp_path):
    body = example_request()
    config = body["HyperParameterTuningJobConfig"]
    config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 1,
                                "MaxRuntimeInSeconds": 600}
    config["TuningJobCompletionCriteria"] = {"TargetObjectiveMetricValue": 100.0}  # any trial reaches it
    request = _project(tmp_path, body)
    db = str(tmp_path / "store.db")
    run = fasthpo("run", str(request), "--db", db, "--command", sys.executable, "train.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    with Store(db, create=False) as store:
        trials = store.trials("xgb-local-1")
    assert 1 <= len(trials) < 20


def test_sm_hps_holds_numbers_as_numbers_and_stays_strict_json(tmp_path):
    from fasthpo.sagemaker.script_mode import script_mode_environment, typed

    texts = ("20", "0.5", "true", "NaN", "gbtree", 3)
    assert [typed(v) for v in texts] == [20, 0.5, True, "NaN", "gbtree", 3]
    env = script_mode_environment(
        {"FASTHPO_TRIAL_DIR": str(tmp_path), "FASTHPO_INSTANCE_COUNT": "1", "CUDA_VISIBLE_DEVICES": "0,1"},
        {"lr": 0.1, "depth": "4", "x": "NaN"}, ["--lr", "0.1"],
    )
    assert json.loads(env["SM_HPS"]) == {"lr": 0.1, "depth": 4, "x": "NaN"}
    assert env["SM_NUM_GPUS"] == "2" and env["SM_HP_DEPTH"] == "4"
    assert json.loads((tmp_path / "input" / "config" / "hyperparameters.json").read_text())["lr"] == "0.1"
