"""Start a training script as the service's script mode would.

Usage: ``python -m fasthpo.sagemaker.script_mode -- CMD [ARGS...]``.

A job translated from a tuning-job request runs each trial through this
launcher, so a script written for the service runs unchanged. It reads the
trial's ``FASTHPO_*`` variables, then replaces itself (``exec``, same process:
stopping and recovery see the script itself) with ``CMD --name value ...``
for every hyperparameter, in an environment holding what script mode sets,
pointed at folders of the instance's own folder (the trial folder, or its
``rank-N`` subfolder when a trial has several instances)::

    SM_HPS                 JSON object of the hyperparameters (numbers as numbers)
    SM_HP_<NAME>           each hyperparameter on its own
    SM_USER_ARGS           JSON list of the arguments appended to CMD
    SM_MODEL_DIR           <instance>/model
    SM_OUTPUT_DIR          <instance>/output
    SM_OUTPUT_DATA_DIR     <instance>/output/data
    SM_INPUT_DIR           <instance>/input
    SM_INPUT_CONFIG_DIR    <instance>/input/config  (hyperparameters.json, resourceconfig.json)
    SM_CHANNELS            [] (data channels are S3 locations; read local data yourself)
    SM_HOSTS               ["algo-1", ..., "algo-N"], one host per instance
    SM_CURRENT_HOST        algo-<rank + 1>
    SM_NUM_GPUS            GPUs this instance sees (CUDA_VISIBLE_DEVICES, else /dev/nvidia*)
    SM_NUM_CPUS            cores this instance may run on
    SM_TRAINING_ENV        JSON object of the above, as the service's training toolkit writes it

Standard library only: it runs before every trial.
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fasthpo.trial_env import HYPERPARAMETERS_ENV, INSTANCE_COUNT_ENV, INSTANCE_RANK_ENV, TRIAL_DIR_ENV


def render(value: Any) -> str:
    """A hyperparameter as its command-line text (booleans as ``true``/``false``, as fasthpo passes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def typed(value: Any) -> Any:
    """A hyperparameter as ``SM_HPS`` holds it: text that reads as a JSON number or boolean becomes one."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, float) and not math.isfinite(parsed):
            return value  # "NaN" stays text: SM_HPS must stay strict JSON
        return parsed if isinstance(parsed, (int, float, bool)) else value
    return value


def instance_folder(environ: Mapping[str, str]) -> Path:
    """The folder of this instance: the trial folder, or its ``rank-N`` subfolder."""
    trial = Path(environ[TRIAL_DIR_ENV])
    count = int(environ.get(INSTANCE_COUNT_ENV, "1"))
    return trial if count <= 1 else trial / f"rank-{environ.get(INSTANCE_RANK_ENV, '0')}"


def gpu_count(environ: Mapping[str, str]) -> int:
    """GPUs this instance sees."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    return len(glob.glob("/dev/nvidia[0-9]*"))


def script_mode_environment(
    environ: Mapping[str, str], hyperparameters: Mapping[str, Any], args: Sequence[str]
) -> dict[str, str]:
    """The ``SM_*`` variables of one instance (its folders are made here)."""
    folder = instance_folder(environ)
    count = int(environ.get(INSTANCE_COUNT_ENV, "1"))
    rank = int(environ.get(INSTANCE_RANK_ENV, "0"))
    hosts = [f"algo-{i + 1}" for i in range(count)]
    dirs = {
        "model_dir": folder / "model",
        "output_dir": folder / "output",
        "output_data_dir": folder / "output" / "data",
        "input_dir": folder / "input",
        "input_config_dir": folder / "input" / "config",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    config = dirs["input_config_dir"]
    # The service writes every hyperparameter as a string there.
    (config / "hyperparameters.json").write_text(
        json.dumps({k: render(v) for k, v in hyperparameters.items()}, indent=2) + "\n", encoding="utf-8"
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": hosts[rank], "hosts": hosts}) + "\n", encoding="utf-8"
    )
    hps = {k: typed(v) for k, v in hyperparameters.items()}
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    training_env = {
        "hyperparameters": hps, "hosts": hosts, "current_host": hosts[rank],
        "num_gpus": gpu_count(environ), "num_cpus": cpus, "channel_input_dirs": {},
        "user_entry_point": args[0] if args else "", **{k: str(v) for k, v in dirs.items()},
    }
    env = {
        "SM_HPS": json.dumps(hps),
        "SM_USER_ARGS": json.dumps(list(args)),
        "SM_MODEL_DIR": str(dirs["model_dir"]),
        "SM_OUTPUT_DIR": str(dirs["output_dir"]),
        "SM_OUTPUT_DATA_DIR": str(dirs["output_data_dir"]),
        "SM_INPUT_DIR": str(dirs["input_dir"]),
        "SM_INPUT_CONFIG_DIR": str(config),
        "SM_CHANNELS": "[]",
        "SM_HOSTS": json.dumps(hosts),
        "SM_CURRENT_HOST": hosts[rank],
        "SM_NUM_GPUS": str(training_env["num_gpus"]),
        "SM_NUM_CPUS": str(cpus),
        "SM_TRAINING_ENV": json.dumps(training_env),
    }
    for key, value in hyperparameters.items():
        env[f"SM_HP_{key.upper()}"] = render(value)
    return env


def main(argv: Sequence[str]) -> int:
    """Exec ``argv`` (after an optional ``--``) with the hyperparameters appended, in script mode."""
    command = list(argv[1:] if argv and argv[0] == "--" else argv)
    if not command:
        print("usage: python -m fasthpo.sagemaker.script_mode -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if TRIAL_DIR_ENV not in os.environ or HYPERPARAMETERS_ENV not in os.environ:
        print(f"fasthpo script mode: {TRIAL_DIR_ENV} is not set; run me as a fasthpo trial", file=sys.stderr)
        return 2
    hyperparameters = json.loads(os.environ[HYPERPARAMETERS_ENV])
    args = [part for key, value in hyperparameters.items() for part in (f"--{key}", render(value))]
    env = {**os.environ, **script_mode_environment(os.environ, hyperparameters, args)}
    try:
        os.execvpe(command[0], [*command, *args], env)  # noqa: S606 (an argv, no shell)
    except OSError as exc:
        print(f"fasthpo script mode: cannot run {command[0]!r}: {exc}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
