"""The BoTorch peer: its unit-cube encoding of mixed spaces (no torch needed), its model path on
Branin, pending points through qLogEI, and the one-line skip when BoTorch is missing."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

from fasthpo.benchmark.botorch_peer import INITIAL_POINTS, _Encoding
from fasthpo.benchmark.optimizers import get_optimizer
from fasthpo.benchmark.problems import get_problem
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
from fasthpo.strategies.base import config_key

SPACE = SearchSpace([
    Continuous("lr", 1e-4, 1.0, scaling="log"),
    Continuous("dropout", 0.0, 0.5, scaling="auto"),
    Integer("units", 1, 512, scaling="log"),
    Integer("layers", 1, 4, scaling="linear"),
    Categorical("act", ["relu", 1, True, 0.5]),
])


def test_encoding_is_the_unit_cube_log_where_declared_and_one_hot():
    enc = _Encoding(SPACE)
    assert enc.width == 4 + 4
    x = enc.encode({"lr": 1e-2, "dropout": 0.25, "units": 1, "layers": 4, "act": True})
    assert x[0] == pytest.approx(0.5)  # the geometric middle of [1e-4, 1]
    assert x[1] == pytest.approx(0.5)  # auto is linear, as for the other peers
    assert (x[2], x[3]) == (0.0, 1.0)
    assert x[4:].tolist() == [0.0, 0.0, 1.0, 0.0]  # True, not 1, although 1 == True


def test_decoding_rounds_clips_and_takes_the_largest_column():
    enc = _Encoding(SPACE)
    config = enc.decode(np.array([0.5, 1.2, 0.5, 0.4, 0.1, 0.7, 0.69, 0.2]))
    assert config == {"lr": pytest.approx(1e-2), "dropout": 0.5, "units": 23, "layers": 2, "act": 1}
    assert type(config["units"]) is int and type(config["act"]) is int
    assert SPACE.validate(config) == config
    for seed in range(20):  # any point of the cube decodes to a valid configuration and back
        point = np.random.default_rng(seed).uniform(-0.1, 1.1, enc.width)
        decoded = enc.decode(point)
        assert SPACE.validate(decoded) == decoded
        assert enc.decode(enc.encode(decoded)) == decoded


def _make(space: SearchSpace, seed: int = 0):
    spec = get_optimizer("botorch")
    reason = spec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return spec.factory(space, seed)


def test_model_proposals_improve_on_the_sobol_design_on_branin():
    problem = get_problem("branin")
    opt = _make(problem.space)
    values = []
    for _ in range(INITIAL_POINTS + 5):
        [config] = opt.ask(1)
        assert problem.space.validate(config) == config
        values.append(problem.evaluate(config))
        opt.tell(config, values[-1])
    # Five LogEI proposals on a smooth 2-d function beat the best of ten Sobol points.
    assert min(values[INITIAL_POINTS:]) < min(values[:INITIAL_POINTS])


def test_pending_and_batches_use_the_model_and_stay_apart():
    problem = get_problem("branin")
    opt = _make(problem.space, seed=1)
    for config in opt.ask(INITIAL_POINTS):
        opt.tell(config, problem.evaluate(config))
    [a] = opt.ask(1)
    [b] = opt.ask(1, pending=[a])  # qLogEI with X_pending: b is pushed away from a
    c, d = opt.ask(2, pending=[a, b])
    keys = {config_key(problem.space, x) for x in (a, b, c, d)}
    assert len(keys) == 4
    assert math.dist((a["x0"], a["x1"]), (b["x0"], b["x1"])) > 1e-3


def test_missing_botorch_is_one_line_naming_the_extra():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "botorch":
                    raise ImportError(f"blocked {name}", name=name)
        sys.meta_path.insert(0, Block())
        from fasthpo.benchmark.optimizers import get_optimizer
        print(get_optimizer("botorch").unavailable_reason())
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.strip().splitlines()
    assert line.startswith("botorch: unavailable (needs botorch")
    assert "bench-botorch" in line
