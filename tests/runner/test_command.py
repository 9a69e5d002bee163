"""build_argv: flags in order, placeholders, the interpreter, and hostile values."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fasthpo.runner.command import build_argv, has_placeholders


def test_flags_are_appended_in_order_static_first():
    hyperparameters = {
        "folds": 3, "C": 0.1, "kernel": "rbf", "degree": 2, "shrinking": True, "probability": False,
    }
    argv = build_argv(["train", "--verbose"], hyperparameters)
    assert argv == [
        "train",
        "--verbose",
        "--folds=3",
        "--C=0.1",
        "--kernel=rbf",
        "--degree=2",
        "--shrinking=true",
        "--probability=false",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (1e-5, "1e-05"),
        (1.0, "1.0"),
        (0.30000000000000004, "0.30000000000000004"),
        (np.float64(0.25), "0.25"),
        (123456789.0, "123456789.0"),
        (7, "7"),
        (True, "true"),
        (False, "false"),
    ],
)
def test_values_render_exactly(value, text):
    assert build_argv(["train"], {"x": value}) == ["train", f"--x={text}"]
    if not isinstance(value, bool):
        assert float(text) == value  # repr round-trips: the job parses back the exact value


def test_placeholders_substitute_only_named_values():
    argv = build_argv(
        ["train", "--lr={lr}", "{kernel}", "--both={lr}/{kernel}", "plain"],
        {"folds": 3, "lr": 0.001, "kernel": "rbf"},
    )
    assert argv == ["train", "--lr=0.001", "rbf", "--both=0.001/rbf", "plain"]  # no --folds appended


def test_double_braces_are_literal_braces():
    argv = build_argv(["train", "--cfg={{\"lr\": {lr}}}", "{{kernel}}"], {"lr": 0.5, "kernel": "rbf"})
    assert argv == ["train", '--cfg={"lr": 0.5}', "{kernel}"]


def test_double_braces_are_literal_without_placeholders_too():
    # The job file validates '{{x}}' as an escaped brace; it must reach the job as '{x}'
    # whether or not another argument holds a placeholder.
    assert build_argv(["train", "{{x}}"], {"lr": 0.5}) == ["train", "{x}", "--lr=0.5"]


def test_single_braces_that_are_not_names_stay():
    argv = build_argv(["train", "{1}", "{a-b}", "{ lr }"], {"lr": 1})
    assert argv == ["train", "{1}", "{a-b}", "{ lr }", "--lr=1"]


def test_has_placeholders():
    assert has_placeholders(["a", "--x={x}"])
    assert not has_placeholders(["a", "{{x}}", "{1}"])


@pytest.mark.parametrize("interpreter", ["python", "python3"])
def test_plain_python_becomes_the_running_interpreter(interpreter):
    argv = build_argv([interpreter, "train.py"], {"a": 1})
    assert argv == [sys.executable, "train.py", "--a=1"]


@pytest.mark.parametrize("argv0", ["/usr/bin/python3", "python3.11", "pythonw", "./python"])
def test_other_interpreters_are_left_alone(argv0):
    assert build_argv([argv0, "train.py"], {})[0] == argv0


def test_command_is_not_modified():
    command = ["python", "t.py"]
    build_argv(command, {"a": 1})
    assert command == ["python", "t.py"]


HOSTILE = [
    "two words",
    "it's \"quoted\"",
    "a; rm -rf /",
    "$(rm -rf /)",
    "`id`",
    "line1\nline2",
    "-rf",
    "--lr=5",
    "*",
    "{lr}",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_one_argument(value):
    assert build_argv(["train"], {"x": value}) == ["train", f"--x={value}"]
    assert build_argv(["train", "{x}"], {"x": value}) == ["train", value]


def test_hostile_values_reach_a_real_process_verbatim(tmp_path):
    hyperparameters = {f"v{i}": value for i, value in enumerate(HOSTILE)}
    command = ["python", "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]
    argv = build_argv(command, hyperparameters)
    result = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [f"--v{i}={value}" for i, value in enumerate(HOSTILE)]
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_a_leading_dash_value_in_a_placeholder_is_one_argument():
    argv = build_argv(["train", "--name", "{name}"], {"name": "-x"})
    assert argv == ["train", "--name", "-x"]
