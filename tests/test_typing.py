"""Users' type checkers see fasthpo's real types, not the lazy loader's ``object``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fasthpo

pytest.importorskip("mypy")

USER_CODE = '''
import fasthpo

space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])
tuner = fasthpo.Tuner(space, max_trials=3)


def objective(params: dict[str, object]) -> float:
    fasthpo.report(step=0, loss=1.0)
    return 0.0 if fasthpo.should_stop() else 1.0


best = tuner.optimize(objective, max_parallel=2)
value: float | None = best.objective if best is not None else None
reveal_type(tuner)
'''


def _mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user.py").write_text(code)
    package_root = Path(fasthpo.__file__).resolve().parent.parent
    env = dict(os.environ)
    if package_root.name not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = str(package_root)  # an editable install: mypy cannot follow its import hook
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent",
         "--python-executable", sys.executable, "user.py"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )


def test_a_user_file_type_checks_strictly_with_the_real_types(tmp_path):
    proc = _mypy(tmp_path, USER_CODE)
    assert 'Revealed type is "fasthpo.runner.tuner.Tuner"' in proc.stdout, proc.stdout
    assert "error" not in proc.stdout, proc.stdout


def test_a_wrong_argument_is_caught_by_the_type_checker(tmp_path):
    proc = _mypy(tmp_path, USER_CODE.replace("max_trials=3", 'max_trials="3"'))
    assert proc.returncode == 1 and 'Argument "max_trials" to "Tuner" has incompatible type' in proc.stdout
