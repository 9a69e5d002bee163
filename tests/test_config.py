"""Job files: the example job parses to the expected JobSpec (YAML and JSON), to_dict
round trips, and every bad input is refused with its field path and the problem."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from fasthpo.config import load_job, parse_job
from fasthpo.errors import ConfigError
from fasthpo.jobspec import (
    BINDING_FIELDS,
    JobSpec,
    Limits,
    MetricDefinition,
    Resources,
    binding_differences,
)
from fasthpo.objective import Objective
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "svm_digits" / "job.yaml"


def _expected_example(workdir: Path) -> JobSpec:
    return JobSpec(
        name="svm-digits",
        command=("python", "train.py"),
        workdir=str(workdir.resolve()),
        env={"OMP_NUM_THREADS": "1"},
        space=SearchSpace(
            [
                Continuous("C", 0.001, 1000.0, "auto"),
                Continuous("gamma", 1e-5, 10.0, "log"),
                Categorical("kernel", ["rbf", "poly"]),
                Integer("degree", 2, 5),
            ]
        ),
        static_hyperparameters={"folds": 3},
        objective=Objective("validation-error", "minimize"),
        metrics=(MetricDefinition("validation-error", r"validation-error=([0-9.eE+-]+)"),),
        strategy="bayesian",
        seed=0,
        limits=Limits(max_trials=20, max_parallel=2, max_runtime_per_trial=600.0),
    )


def _minimal(**overrides: object) -> dict:
    job = {
        "name": "job",
        "command": ["python", "train.py"],
        "hyperparameters": {
            "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "log"},
            "depth": {"type": "integer", "min": 1, "max": 8},
        },
        "objective": {"metric": "loss", "direction": "minimize"},
    }
    job.update(overrides)
    return job


def _refused(data: object, pattern: str, tmp_path: Path) -> ConfigError:
    with pytest.raises(ConfigError, match=pattern) as info:
        parse_job(data, base_dir=tmp_path)
    return info.value


# ---------------------------------------------------------------------------
# valid jobs
# ---------------------------------------------------------------------------


def test_example_yaml_parses_to_the_expected_job():
    job = load_job(EXAMPLE)
    assert job == _expected_example(EXAMPLE.parent)
    assert job.workdir == str(EXAMPLE.parent.resolve())
    assert job.space.names == ("C", "gamma", "kernel", "degree")
    assert job.metrics[0].pattern.search("validation-error=0.0312").group(1) == "0.0312"


def test_example_as_json_parses_the_same(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    path = tmp_path / "job.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    job = load_job(path)
    assert job == _expected_example(tmp_path)  # workdir "." is the JSON file's folder


def test_relative_workdir_is_resolved_against_the_job_file_folder(tmp_path):
    (tmp_path / "sub" / "code").mkdir(parents=True)
    path = tmp_path / "sub" / "job.yaml"
    path.write_text(yaml.safe_dump(_minimal(workdir="code")), encoding="utf-8")
    assert load_job(path).workdir == str((tmp_path / "sub" / "code").resolve())
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert parse_job(_minimal(workdir=str(other)), base_dir=tmp_path / "sub").workdir == str(other)


def test_defaults(tmp_path):
    job = parse_job(_minimal(), base_dir=tmp_path)
    assert job.workdir == str(tmp_path.resolve())
    assert job.limits == Limits(max_trials=20, max_parallel=1, max_runtime_per_trial=None)
    assert job.strategy == "bayesian"
    assert job.seed is None
    assert job.env == {} and job.static_hyperparameters == {} and job.metrics == ()
    partial = parse_job(_minimal(limits={"max_parallel": 4}), base_dir=tmp_path)
    assert partial.limits == Limits(max_trials=20, max_parallel=4)


def test_to_dict_round_trips(tmp_path):
    job = load_job(EXAMPLE)
    data = job.to_dict()
    assert json.loads(json.dumps(data)) == data  # JSON-ready
    assert parse_job(data, base_dir=tmp_path) == job
    minimal = parse_job(_minimal(), base_dir=tmp_path)
    assert parse_job(minimal.to_dict(), base_dir="/") == minimal


def test_scalar_command_and_env_values_become_text(tmp_path):
    job = parse_job(
        _minimal(command=["python", "train.py", 3, 0.5, True], env={"N": 4, "F": False}),
        base_dir=tmp_path,
    )
    assert job.command == ("python", "train.py", "3", "0.5", "true")
    assert job.env == {"N": "4", "F": "false"}


def test_literal_braces_and_known_placeholders_are_allowed(tmp_path):
    command = ["python", "train.py", "--lr={lr}", "--cfg={{literal}}", "{folds}"]
    job = parse_job(_minimal(command=command, static_hyperparameters={"folds": 3}), base_dir=tmp_path)
    assert job.command == tuple(command)


def test_sagemaker_direction_spelling_is_accepted(tmp_path):
    job = parse_job(_minimal(objective={"metric": "acc", "direction": "Maximize"}), base_dir=tmp_path)
    assert job.objective == Objective("acc", "maximize")
    job = parse_job(_minimal(objective={"metric": "loss", "direction": "Minimize"}), base_dir=tmp_path)
    assert job.objective.direction == "minimize"


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------


def test_unknown_top_level_key_gets_a_suggestion(tmp_path):
    data = _minimal()
    data["hyperparameter"] = data.pop("hyperparameters")
    error = _refused(data, r"^hyperparameter: unknown key; did you mean 'hyperparameters'\?", tmp_path)
    assert error.field == "hyperparameter"
    _refused(_minimal(limit={}), r"^limit: unknown key; did you mean 'limits'\?", tmp_path)
    _refused(_minimal(zzz=1), r"^zzz: unknown key; allowed: name, command", tmp_path)


@pytest.mark.parametrize("key", ["name", "command", "hyperparameters", "objective"])
def test_missing_required_keys(tmp_path, key):
    data = _minimal()
    del data[key]
    error = _refused(data, rf"^{key}: required key is missing", tmp_path)
    assert error.field == key


@pytest.mark.parametrize(
    "name",
    ["a/b", "a\\b", "..", "../evil", ".hidden", "", "x" * 101, "a b", 5, None, "/etc/evil", "/tmp",
     "ok\n", "ok\x00", "a/../../b", "~", "-rf"],
)
def test_bad_job_names(tmp_path, name):
    _refused(_minimal(name=name), rf"^name: {re.escape(repr(name))} is not a valid job name", tmp_path)


def test_command_as_a_string_mentions_the_shell(tmp_path):
    _refused(
        _minimal(command="python train.py"),
        r"^command: must be an argv list .*got the string 'python train.py'; "
        r"fasthpo never runs commands through a shell",
        tmp_path,
    )


@pytest.mark.parametrize("command", [[], None, {"a": 1}])
def test_empty_or_non_list_command(tmp_path, command):
    _refused(_minimal(command=command), r"^command: must be a non-empty list of arguments", tmp_path)


def test_command_argument_that_is_not_a_scalar(tmp_path):
    _refused(_minimal(command=["python", ["x"]]), r"^command\[1\]: must be a string or a number", tmp_path)
    _refused(
        _minimal(command=["python", float("nan")]), r"^command\[1\]: must be a string or a number", tmp_path
    )


def test_placeholder_naming_no_hyperparameter(tmp_path):
    _refused(
        _minimal(command=["python", "train.py", "--x={nope}"]),
        r"^command\[2\]: placeholder \{nope\} names no hyperparameter; write \{\{ and \}\} for literal",
        tmp_path,
    )
    _refused(
        _minimal(command=["python", "train.py", "--x={lrr}"]),
        r"^command\[2\]: placeholder \{lrr\} names no hyperparameter \(did you mean \{lr\}\?\)",
        tmp_path,
    )


def test_workdir_that_does_not_exist(tmp_path):
    missing = tmp_path / "missing"
    _refused(
        _minimal(workdir="missing"),
        rf"^workdir: folder {re.escape(repr(str(missing)))} does not exist",
        tmp_path,
    )
    (tmp_path / "file").write_text("x")
    _refused(_minimal(workdir="file"), r"^workdir: folder .* does not exist", tmp_path)
    _refused(_minimal(workdir=""), r"^workdir: must be a folder path", tmp_path)


@pytest.mark.parametrize("key", ["1X", "A-B", "A B", ""])
def test_env_with_a_bad_name(tmp_path, key):
    _refused(
        _minimal(env={key: "1"}),
        rf"^env\.{re.escape(key)}: is not a valid environment variable name",
        tmp_path,
    )


def test_env_with_the_reserved_prefix_or_a_bad_value(tmp_path):
    _refused(
        _minimal(env={"FASTHPO_METRICS_FILE": "/tmp/x"}),
        r"^env\.FASTHPO_METRICS_FILE: FASTHPO_\* variables are set by the tuner itself",
        tmp_path,
    )
    _refused(_minimal(env={"X": [1]}), r"^env\.X: must be a string or a number", tmp_path)
    _refused(_minimal(env=["X=1"]), r"^env: must be a mapping", tmp_path)


def test_static_hyperparameter_clashing_with_a_tuned_one(tmp_path):
    _refused(
        _minimal(static_hyperparameters={"lr": 0.1}),
        r"^static_hyperparameters\.lr: is also a tuned hyperparameter; keep one of the two",
        tmp_path,
    )


def test_bad_static_hyperparameters(tmp_path):
    _refused(
        _minimal(static_hyperparameters={"a b": 1}), r"^static_hyperparameters\.a b: .*not a safe", tmp_path
    )
    _refused(
        _minimal(static_hyperparameters={"x": [1]}), r"^static_hyperparameters\.x: must be a string", tmp_path
    )
    _refused(
        _minimal(static_hyperparameters={"x": float("inf")}),
        r"^static_hyperparameters\.x: must be finite",
        tmp_path,
    )


def test_bad_hyperparameters_are_prefixed_with_their_path(tmp_path):
    error = _refused(
        _minimal(hyperparameters={"lr": {"type": "continuous", "min": 1, "max": 0}}),
        r"^hyperparameters\.lr: low must be less than high",
        tmp_path,
    )
    assert error.field == "hyperparameters.lr"
    _refused(
        _minimal(hyperparameters={"lr": {"type": "continuous", "min": 0, "max": 1, "mx": 2}}),
        r"^hyperparameters\.lr\.mx: unknown key",
        tmp_path,
    )
    many = {f"x{i}": {"type": "continuous", "min": 0, "max": 1} for i in range(21)}
    _refused(_minimal(hyperparameters=many), r"^hyperparameters: 21 tunable hyperparameters", tmp_path)


def test_objective_refusals(tmp_path):
    _refused(
        _minimal(objective={"direction": "minimize"}),
        r"^objective\.metric: required key is missing",
        tmp_path,
    )
    _refused(
        _minimal(objective={"metric": "loss"}), r"^objective\.direction: required key is missing", tmp_path
    )
    _refused(
        _minimal(objective={"metric": "loss", "direction": "up"}),
        r"^objective\.direction: must be 'minimize' or 'maximize', got 'up'",
        tmp_path,
    )
    _refused(
        _minimal(objective={"metric": "loss", "direction": "min", "goal": 1}),
        r"^objective\.goal: unknown key",
        tmp_path,
    )
    _refused(
        _minimal(objective={"metric": "my loss", "direction": "minimize"}),
        r"^objective\.metric: 'my loss' is not a valid metric name",
        tmp_path,
    )
    _refused(_minimal(objective="loss"), r"^objective: must be a mapping", tmp_path)


@pytest.mark.parametrize(
    ("regex", "pattern"),
    [
        (r"loss=[0-9.]+", r"^metrics\[0\]\.regex: must have exactly one capture group .* has 0"),
        (r"(loss)=([0-9.]+)", r"^metrics\[0\]\.regex: must have exactly one capture group .* has 2"),
        (r"loss=([0-9.]+", r"^metrics\[0\]\.regex: invalid regular expression 'loss=\(\[0-9\.\]\+'"),
        (None, r"^metrics\[0\]\.regex: must be a string, got None"),
    ],
)
def test_metric_regex_refusals(tmp_path, regex, pattern):
    _refused(_minimal(metrics=[{"name": "loss", "regex": regex}]), pattern, tmp_path)


def test_non_capturing_groups_are_fine(tmp_path):
    job = parse_job(
        _minimal(metrics=[{"name": "loss", "regex": r"(?:val_)?loss=([0-9.]+)"}]), base_dir=tmp_path
    )
    assert job.metrics == (MetricDefinition("loss", r"(?:val_)?loss=([0-9.]+)"),)


def test_metric_definition_refusals(tmp_path):
    _refused(
        _minimal(metrics=[{"name": "loss", "regex": "a=(.)"}, {"name": "loss", "regex": "b=(.)"}]),
        r"^metrics\[1\]\.name: metric 'loss' is defined twice",
        tmp_path,
    )
    error = _refused(
        _minimal(metrics=[{"name": "bad name", "regex": "a=(.)"}]),
        r"^metrics\[0\]\.name: 'bad name' is not a valid metric name",
        tmp_path,
    )
    assert error.field == "metrics[0].name"
    _refused(_minimal(metrics=[{"regex": "a=(.)"}]), r"^metrics\[0\]\.name: None is not a valid", tmp_path)
    _refused(
        _minimal(metrics=[{"name": "a", "regexp": "a=(.)"}]), r"^metrics\[0\]\.regexp: unknown key", tmp_path
    )
    _refused(_minimal(metrics={"name": "a"}), r"^metrics: must be a list", tmp_path)


@pytest.mark.parametrize("key", ["max_trials", "max_parallel"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5, "3", None])
def test_limit_counts_must_be_positive_integers(tmp_path, key, value):
    _refused(
        _minimal(limits={key: value}),
        rf"^limits\.{key}: must be a positive integer, got {re.escape(repr(value))}",
        tmp_path,
    )


def test_unknown_limit_key(tmp_path):
    _refused(
        _minimal(limits={"max_trial": 3}),
        r"^limits\.max_trial: unknown key; did you mean 'max_trials'\?",
        tmp_path,
    )
    _refused(_minimal(limits=[3]), r"^limits: must be a mapping", tmp_path)


@pytest.mark.parametrize("value", [0, -5, 0.0, float("inf"), float("nan"), True, "600"])
def test_max_runtime_per_trial_must_be_positive(tmp_path, value):
    _refused(
        _minimal(limits={"max_runtime_per_trial": value}),
        r"^limits\.max_runtime_per_trial: must be a positive number of seconds",
        tmp_path,
    )


def test_max_runtime_per_trial_accepts_ints_and_floats(tmp_path):
    assert parse_job(_minimal(limits={"max_runtime_per_trial": 60}), base_dir=tmp_path).limits == Limits(
        max_runtime_per_trial=60.0
    )
    assert (
        parse_job(
            _minimal(limits={"max_runtime_per_trial": 0.5}), base_dir=tmp_path
        ).limits.max_runtime_per_trial
        == 0.5
    )


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", 2**63])
def test_bad_seed(tmp_path, seed):
    _refused(
        _minimal(seed=seed), rf"^seed: must be a non-negative integer, got {re.escape(repr(seed))}", tmp_path
    )


def test_seed_zero_and_large_are_fine(tmp_path):
    assert parse_job(_minimal(seed=0), base_dir=tmp_path).seed == 0
    assert parse_job(_minimal(seed=2**63 - 1), base_dir=tmp_path).seed == 2**63 - 1


def test_strategy_refusals(tmp_path):
    _refused(
        _minimal(strategy="randm"),
        r"^strategy: unknown strategy 'randm' \(did you mean 'random'\?\)",
        tmp_path,
    )
    _refused(_minimal(strategy="hyperband"), r"^hyperband: required with strategy: hyperband", tmp_path)
    assert parse_job(_minimal(strategy="bayesian"), base_dir=tmp_path).strategy == "bayesian"
    assert parse_job(_minimal(strategy="grid"), base_dir=tmp_path).strategy == "grid"


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("name: svm\ncommand: [python, train.py\nobjective: {metric: m}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: invalid YAML at line 3: "):
        load_job(path)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "job.json"
    path.write_text('{"name": "x",\n "command": [1,]\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid JSON at line 2"):
        load_job(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: no such job file"):
        load_job(path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read the job file"):
        load_job(path)


@pytest.mark.parametrize(
    ("text", "kind"), [("- name: x\n- command: y\n", "list"), ("", "NoneType"), ("42\n", "int")]
)
def test_top_level_must_be_a_mapping(tmp_path, text, kind):
    path = tmp_path / "job.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^a job file must hold a mapping of keys, got {kind}"):
        load_job(path)


# ---------------------------------------------------------------------------
# binding differences
# ---------------------------------------------------------------------------


def test_binding_differences(tmp_path):
    base = parse_job(_minimal(metrics=[{"name": "loss", "regex": "loss=(.+)"}]), base_dir=tmp_path).to_dict()
    assert binding_differences(base, base) == []

    limits = {**base, "limits": {"max_trials": 99, "max_parallel": 8, "max_runtime_per_trial": 5.0}}
    assert binding_differences(base, {**limits, "seed": 3, "strategy": "grid", "name": "other"}) == []

    changed = {
        **base,
        "command": ["python", "train2.py"],
        "hyperparameters": {**base["hyperparameters"], "width": {"type": "integer", "min": 1, "max": 9}},
        "objective": {"metric": "loss", "direction": "maximize"},
    }
    diffs = binding_differences(base, changed)
    assert [d.split(":")[0] for d in diffs] == ["command", "hyperparameters.width", "objective.direction"]
    assert diffs[0] == 'command: ["python", "train.py"] -> ["python", "train2.py"]'
    assert diffs[1] == 'hyperparameters.width: (absent) -> {"max": 9, "min": 1, "type": "integer"}'
    assert diffs[2] == 'objective.direction: "minimize" -> "maximize"'

    other = {**base, "static_hyperparameters": {"folds": 5}, "metrics": []}
    assert [d.split(":")[0] for d in binding_differences(base, other)] == [
        "static_hyperparameters.folds",
        "metrics",
    ]


def test_a_changed_bound_is_one_line_naming_the_field(tmp_path):
    base = parse_job(_minimal(), base_dir=tmp_path).to_dict()
    depth = {**base["hyperparameters"]["depth"], "max": 300}
    changed = {**base, "hyperparameters": {**base["hyperparameters"], "depth": depth}}
    assert binding_differences(base, changed) == ["hyperparameters.depth.max: 8 -> 300"]


def test_binding_differences_ignore_key_order(tmp_path):
    base = parse_job(_minimal(), base_dir=tmp_path).to_dict()
    reordered = {**base, "objective": {"direction": "minimize", "metric": "loss"}}
    assert binding_differences(base, reordered) == []


def test_to_dict_has_every_top_level_key_and_an_absolute_workdir(tmp_path):
    data = parse_job(_minimal(), base_dir=tmp_path).to_dict()
    assert os.path.isabs(data["workdir"])
    assert set(data) == {
        "name",
        "command",
        "workdir",
        "env",
        "hyperparameters",
        "static_hyperparameters",
        "objective",
        "metrics",
        "strategy",
        "seed",
        "limits",
        "instance_count",
        "resources",
        "retry",
        "early_stopping",
    }


def test_retry_and_early_stopping(tmp_path):
    from fasthpo.jobspec import RetryPolicy

    job = parse_job(_minimal(), base_dir=tmp_path)
    assert job.retry == RetryPolicy(max_attempts=1) and job.early_stopping == "off"
    job = parse_job(
        _minimal(retry={"max_attempts": 3, "exit_codes": [75]}, early_stopping="auto"),
        base_dir=tmp_path,
    )
    assert job.retry == RetryPolicy(3, (75,)) and job.early_stopping == "auto"
    assert parse_job(job.to_dict(), base_dir=tmp_path) == job
    # YAML reads a bare `off` as false.
    assert parse_job(yaml.safe_load("early_stopping: off") | _minimal(), base_dir=tmp_path) \
        .early_stopping == "off"


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts", "positive integer"),
        ({"retry": {"max_attempts": True}}, "retry.max_attempts", "positive integer"),
        ({"retry": {"exit_codes": [0]}}, r"retry.exit_codes\[0\]", "exit code 1-255"),
        ({"retry": {"exit_codes": 75}}, "retry.exit_codes", "list of exit codes"),
        ({"retry": {"attempts": 2}}, "retry.attempts", "did you mean 'max_attempts'"),
        ({"retry": 3}, "retry", "mapping"),
        ({"early_stopping": "median"}, "early_stopping", "'auto' or 'off'"),
        ({"early_stopping": True}, "early_stopping", "'auto' or 'off'"),
    ],
)
def test_bad_retry_and_early_stopping(tmp_path, section, field, message):
    error = _refused(_minimal(**section), message, tmp_path)
    assert re.fullmatch(field, error.field)


def test_retry_policy_says_what_is_retried():
    from fasthpo.jobspec import RetryPolicy

    policy = RetryPolicy(max_attempts=3, exit_codes=(75,))
    assert policy.retries(1, -9) and policy.retries(2, 75)
    assert not policy.retries(3, -9)  # out of attempts
    assert not policy.retries(1, 1)  # a plain failure is a verdict on the hyperparameters
    assert not policy.retries(1, None)
    assert not RetryPolicy().retries(1, -9)  # one attempt by default


# ---------------------------------------------------------------------------
# objective.aggregate, instance_count, resources
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("aggregate", ["last", "rank0", "mean", "min", "max"])
def test_objective_aggregate_is_parsed_and_round_trips(tmp_path, aggregate):
    objective = {"metric": "loss", "direction": "minimize", "aggregate": aggregate}
    spec = parse_job(_minimal(objective=objective), base_dir=tmp_path)
    assert spec.objective == Objective("loss", "minimize", aggregate)
    assert spec.to_dict()["objective"] == objective
    assert parse_job(spec.to_dict(), base_dir=tmp_path) == spec


def test_objective_aggregate_defaults_to_last_and_bad_ones_are_named(tmp_path):
    assert parse_job(_minimal(), base_dir=tmp_path).objective.aggregate == "last"
    _refused(
        _minimal(objective={"metric": "loss", "direction": "minimize", "aggregate": "median"}),
        r"^objective\.aggregate: must be one of 'last', 'rank0', 'mean', 'min', 'max', got 'median'",
        tmp_path,
    )
    with pytest.raises(ConfigError, match=r"^aggregate: must be one of"):
        Objective("loss", "minimize", "sum")


def test_changing_the_aggregate_binds_but_an_old_spec_means_last(tmp_path):
    assert "objective" in BINDING_FIELDS
    base = parse_job(_minimal(), base_dir=tmp_path).to_dict()
    mean = {**base, "objective": {**base["objective"], "aggregate": "mean"}}
    (diff,) = binding_differences(base, mean)
    assert diff == 'objective.aggregate: "last" -> "mean"'
    # A job stored before the key existed aggregated with 'last': same definition.
    old = {**base, "objective": {"metric": "loss", "direction": "minimize"}}
    assert binding_differences(old, base) == []
    assert binding_differences(old, mean) != []


def test_instance_count(tmp_path):
    assert parse_job(_minimal(), base_dir=tmp_path).instance_count == 1
    spec = parse_job(_minimal(instance_count=4), base_dir=tmp_path)
    assert spec.instance_count == 4 and spec.to_dict()["instance_count"] == 4
    for bad in (0, -1, 1.5, True, "2"):
        _refused(_minimal(instance_count=bad), r"^instance_count: must be a positive integer", tmp_path)


def test_resources_are_parsed_and_round_trip(tmp_path):
    spec = parse_job(
        _minimal(instance_count=2, resources={"gpus_per_instance": 2, "cpus_per_instance": 3,
                                              "gpu_ids": [0, 1, "GPU-8f2a", 3]}),
        base_dir=tmp_path,
    )
    assert spec.resources == Resources(2, 3, ("0", "1", "GPU-8f2a", "3"))
    assert spec.to_dict()["resources"] == {
        "gpus_per_instance": 2, "cpus_per_instance": 3, "gpu_ids": ["0", "1", "GPU-8f2a", "3"],
    }
    assert parse_job(spec.to_dict(), base_dir=tmp_path) == spec
    assert parse_job(_minimal(), base_dir=tmp_path).resources == Resources(0, 0, None)


@pytest.mark.parametrize(
    ("resources", "pattern"),
    [
        ({"gpus": 1}, r"^resources\.gpus: unknown key; did you mean 'gpu_ids'"),
        ({"gpus_per_instance": -1}, r"^resources\.gpus_per_instance: must be a non-negative integer"),
        ({"cpus_per_instance": 1.5}, r"^resources\.cpus_per_instance: must be a non-negative integer"),
        ({"gpus_per_instance": 1, "gpu_ids": []}, r"^resources\.gpu_ids: must be a non-empty list"),
        ({"gpus_per_instance": 1, "gpu_ids": "0,1"}, r"^resources\.gpu_ids: must be a non-empty list"),
        ({"gpus_per_instance": 1, "gpu_ids": [0, "a,b"]}, r"^resources\.gpu_ids\[1\]: must be a GPU"),
        ({"gpus_per_instance": 1, "gpu_ids": [-1]}, r"^resources\.gpu_ids\[0\]: must be a GPU"),
        ({"gpus_per_instance": 1, "gpu_ids": [0, "0"]}, r"^resources\.gpu_ids\[1\]: GPU '0' is listed twice"),
        ({"gpu_ids": [0]}, r"^resources\.gpu_ids: lists GPUs but resources\.gpus_per_instance is 0"),
        # 2 GPUs x 2 instances cannot fit on 3 GPUs: refused, not silently reduced.
        ({"gpus_per_instance": 2, "gpu_ids": [0, 1, 2]},
         r"^resources\.gpus_per_instance: a trial needs 2 x 2 instance\(s\) = 4 GPUs, but "
         r"resources\.gpu_ids lists 3"),
        ([1], r"^resources: must be a mapping"),
    ],
)
def test_resource_refusals(tmp_path, resources, pattern):
    _refused(_minimal(instance_count=2, resources=resources), pattern, tmp_path)


def test_cuda_visible_devices_in_env_conflicts_with_managed_gpus(tmp_path):
    _refused(
        _minimal(env={"CUDA_VISIBLE_DEVICES": "0"}, resources={"gpus_per_instance": 1}),
        r"^env\.CUDA_VISIBLE_DEVICES: is set by the tuner",
        tmp_path,
    )
    # Without managed GPUs the job may pick its own.
    parse_job(_minimal(env={"CUDA_VISIBLE_DEVICES": "0"}), base_dir=tmp_path)


def test_changing_the_instance_count_binds_but_an_old_spec_means_one(tmp_path):
    base = parse_job(_minimal(), base_dir=tmp_path).to_dict()
    (diff,) = binding_differences(base, {**base, "instance_count": 4})
    assert diff == "instance_count: 1 -> 4"
    old = {k: v for k, v in base.items() if k != "instance_count"}
    assert binding_differences(old, base) == []


def test_backend_defaults_to_local_and_names_ray_with_its_address_and_resources():
    assert parse_job(_minimal()).backend.type == "local"
    assert "backend" not in parse_job(_minimal()).to_dict()  # jobs stored before it read the same
    spec = parse_job(_minimal(
        backend={"type": "ray", "address": "auto", "ship_workdir": False},
        resources={"gpus_per_instance": 1, "ray": {"accelerator_type:H100": 1}},
    ))
    assert (spec.backend.type, spec.backend.address, spec.backend.ship_workdir) == ("ray", "auto", False)
    assert spec.resources.ray == {"accelerator_type:H100": 1.0}
    assert parse_job(spec.to_dict()) == spec  # stored and read back by resume


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"backend": {"type": "slurm"}}, "backend.type"),
        ({"backend": {"type": "ray", "adress": "auto"}}, "backend.adress"),
        ({"backend": {"type": "ray", "address": ""}}, "backend.address"),
        ({"backend": {"type": "ray", "ship_workdir": "yes"}}, "backend.ship_workdir"),
        ({"backend": "ray"}, "backend"),
        ({"resources": {"ray": {"special": 0}}}, "resources.ray.special"),
        ({"resources": {"ray": {"GPU": 1}}}, "resources.ray.GPU"),
        ({"resources": {"ray": ["special"]}}, "resources.ray"),
    ],
)
def test_bad_backend_fields_are_named(overrides, field):
    with pytest.raises(ConfigError) as caught:
        parse_job(_minimal(**overrides))
    assert caught.value.field == field
