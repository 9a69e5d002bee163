"""Job files with a key named twice are refused, naming the key and where it is."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from fasthpo.config import load_job
from fasthpo.errors import ConfigError
from tests.conftest import trainer_job

DUPLICATE_C_YAML = """\
name: dup
command: [python, train.py, --C, '{C}']
hyperparameters:
  C: {type: continuous, min: 0.001, max: 1.0, scaling: log}
  C: {type: continuous, min: 10.0, max: 100.0}
objective: {metric: loss, direction: minimize}
"""


def test_yaml_duplicate_key_names_the_key_and_its_line(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(DUPLICATE_C_YAML)
    with pytest.raises(ConfigError, match=r"line 5: duplicate key 'C' \(first at line 4\)"):
        load_job(path)


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    job = trainer_job()
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in job.items() if k != "limits"})
                    + "limits:\n  <<: {max_trials: 2, max_parallel: 1}\n  max_trials: 5\n")
    assert load_job(path).limits.max_trials == 5


def test_json_duplicate_key_names_the_key_and_its_path(tmp_path):
    text = json.dumps(trainer_job()).replace(
        '"y": {', '"x": {"type": "continuous", "min": 5.0, "max": 6.0}, "y": {'
    )
    path = tmp_path / "job.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    assert caught.value.field == "hyperparameters.x"
    assert "duplicate key 'x'" in str(caught.value)


def test_json_duplicate_inside_a_list_gives_the_index(tmp_path):
    job = trainer_job(metrics=[{"name": "loss", "regex": "loss=(\\S+)"}])
    text = json.dumps(job).replace('"name": "loss",', '"name": "loss", "name": "acc",')
    path = tmp_path / "job.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_job(path)
    assert caught.value.field == "metrics[0].name"


def test_cli_refuses_a_duplicate_key_in_one_line_and_writes_no_store(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(DUPLICATE_C_YAML)
    db = tmp_path / "store.db"
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(path), "--db", str(db)],
        capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=120,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "duplicate key 'C'" in lines[0] and "line 5" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not Path(db).exists()


def test_yaml_with_an_unprintable_character_is_a_config_error(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("name: toy\x07\n")
    with pytest.raises(ConfigError, match=r"job.yaml: invalid YAML: unacceptable character #x0007"):
        load_job(path)
