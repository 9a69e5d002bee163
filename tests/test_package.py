"""The installed package: its native extension is required, and importing it stays light."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import fasthpo


def _run(
    code: str, pythonpath: str, *, site: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    flags = [] if site else ["-S"]  # -S: no site-packages, so only PYTHONPATH can supply fasthpo
    return subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, env=env,
        cwd=cwd or tempfile.gettempdir(),  # never the checkout: its source tree would shadow
    )


def test_import_fails_loudly_without_the_native_extension(tmp_path):
    package = Path(fasthpo.__file__).parent
    copy = tmp_path / "fasthpo"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("_native*.so", "_native*.pyd"))
    assert not list((copy / "gp").glob("_native*.so"))

    proc = _run("import fasthpo", str(tmp_path), site=False, cwd=tmp_path)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "native extension" in proc.stderr
    assert "pip install" in proc.stderr


def test_import_loads_no_numerical_stack_until_asked():
    path = os.pathsep.join(sys.path)
    proc = _run(
        "import sys, fasthpo\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'yaml') if m in sys.modules))\n"
        "fasthpo.SearchSpace\n"
        "print('numpy' in sys.modules)\n",
        path,
    )
    assert proc.returncode == 0, proc.stderr
    # The space is pure Python too: still no NumPy after touching it.
    assert proc.stdout.split() == ["[]", "False"]


def test_the_bayesian_strategy_proposes_without_importing_scipy_stats():
    # scipy.stats took most of a new process's time to its first proposal.
    proc = _run(
        "import sys\n"
        "from fasthpo.space import Continuous, SearchSpace\n"
        "from fasthpo.strategies.bayesian import BayesianOptimizer\n"
        "opt = BayesianOptimizer(SearchSpace([Continuous('x', 0.0, 1.0)]), seed=0)\n"
        "for _ in range(6):\n"
        "    (c,) = opt.ask(1)\n"
        "    opt.tell(c, (c['x'] - 0.3) ** 2)\n"
        "opt.ask(1)\n"
        "print(sorted(m for m in sys.modules if m.startswith('scipy.stats')))\n",
        os.pathsep.join(sys.path),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]"]


def test_public_names_resolve():
    for name in fasthpo.__all__:
        assert getattr(fasthpo, name) is not None
    assert "Tuner" in dir(fasthpo)


def test_metadata_names_the_license_and_the_one_version():
    from importlib.metadata import metadata, version

    assert version("fasthpo") == fasthpo.__version__
    meta = metadata("fasthpo")
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    license_file = Path(__file__).resolve().parents[1] / "LICENSE"
    assert "Apache License" in license_file.read_text() and "Version 2.0" in license_file.read_text()


def test_python_dash_m_fasthpo_is_the_command_line():
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo", "--version"], capture_output=True, text=True,
        cwd=tempfile.gettempdir(), env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"fasthpo {fasthpo.__version__}"
