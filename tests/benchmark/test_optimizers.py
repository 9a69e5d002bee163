"""Benchmark optimizers: every adapter proposes valid, exactly typed configurations on a
mixed space, learns over sequential steps, is reproducible, honours pending trials
where its library can, and an optimizer whose library is missing is skipped with one line."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile

import pytest

from fasthpo.benchmark.optimizers import (
    AskTell,
    OptimizerSpec,
    get_optimizer,
    optimizer_names,
)
from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
from fasthpo.strategies.base import config_key

NAMES = optimizer_names()
OPTUNA = [name for name in NAMES if name.startswith("optuna-")]

# Grid size 5 x 5 x 512 x 4 = 51 200, under GridSearch's limit. The categorical mixes
# types whose values compare equal in Python (1 == True), which a naive mapping breaks.
SPACE = SearchSpace(
    [
        Continuous("lr", 1e-4, 1.0, scaling="log"),
        Continuous("dropout", 0.0, 0.5, scaling="linear"),
        Integer("units", 1, 512, scaling="log"),
        Categorical("act", ["relu", 1, True, 0.5]),
    ]
)


def quadratic(config: dict) -> float:
    return (
        (math.log10(config["lr"]) + 2) ** 2
        + (config["dropout"] - 0.2) ** 2
        + (math.log2(config["units"]) - 5) ** 2 / 10
        + (0.0 if config["act"] == "relu" else 0.5)
    )


def make(name: str, seed: int = 0, space: SearchSpace = SPACE) -> AskTell:
    spec = get_optimizer(name)
    reason = spec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return spec.factory(space, seed)


def assert_exact(config: dict, space: SearchSpace = SPACE) -> None:
    assert space.validate(config) == config
    for p in space:
        value = config[p.name]
        if p.kind == "continuous":
            assert type(value) is float, (p.name, value)
        elif p.kind == "integer":
            assert type(value) is int, (p.name, value)
        else:
            assert any(type(v) is type(value) and v == value for v in p.values), (p.name, value)


@pytest.mark.parametrize("name", NAMES)
def test_is_ask_tell_and_asks_valid_exactly_typed_configs(name):
    opt = make(name)
    assert isinstance(opt, AskTell)
    configs = opt.ask(3)
    assert len(configs) == 3
    for config in configs:
        assert_exact(config)


@pytest.mark.parametrize("name", NAMES)
def test_fifteen_sequential_steps_on_a_quadratic(name):
    opt = make(name)
    values = []
    for _ in range(15):
        [config] = opt.ask(1)
        assert_exact(config)
        values.append(quadratic(config))
        opt.tell(config, values[-1])
    assert all(math.isfinite(v) for v in values)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_first_proposals(name):
    def first(seed: int) -> list[dict]:
        opt = make(name, seed)
        proposals = []
        for _ in range(3):
            [config] = opt.ask(1)
            proposals.append(config)
            opt.tell(config, quadratic(config))
        return proposals

    assert first(3) == first(3)
    assert first(3) != first(4)


@pytest.mark.parametrize("name", NAMES)
def test_ask_two_gives_two_distinct_configs(name):
    opt = make(name)
    for config in opt.ask(4):  # some history first, so model-based ones use their model path too
        opt.tell(config, quadratic(config))
    a, b = opt.ask(2)
    assert config_key(SPACE, a) != config_key(SPACE, b)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "fasthpo-grid"])
def test_log_dimensions_are_sampled_log_uniformly_at_the_start(name):
    # Before any result, every optimizer samples at random: a log range's median
    # must sit near its geometric middle (1e-2 for lr, ~23-32 for units), far from
    # the arithmetic one (0.5, 256).
    opt = make(name)
    asked: list[dict] = []
    for _ in range(100):
        asked += opt.ask(1, pending=asked)
    lr = statistics.median(math.log10(c["lr"]) for c in asked)
    units = statistics.median(c["units"] for c in asked)
    assert -2.6 < lr < -1.4
    assert 8 <= units <= 128


def test_grid_spaces_a_log_range_by_decades():
    opt = make("fasthpo-grid")
    seen = {round(math.log10(c["lr"]), 9) for c in opt.ask(200)}
    assert seen == {-4.0, -3.0, -2.0, -1.0, 0.0}


@pytest.mark.parametrize("name", ["fasthpo-random", "fasthpo-grid"])
def test_fasthpo_strategies_never_propose_a_pending_config(name):
    space = SearchSpace([Categorical("opt", ["sgd", "adam", "rmsprop"])])
    opt = make(name, space=space)
    assert opt.ask(1, pending=[{"opt": "sgd"}, {"opt": "adam"}]) == [{"opt": "rmsprop"}]


@pytest.mark.parametrize("name", OPTUNA)
def test_optuna_keeps_asked_untold_configs_running_and_follows_pending(name):
    opt = make(name)
    state = pytest.importorskip("optuna").trial.TrialState

    def states() -> list:
        return [t.state for t in opt.study.get_trials(deepcopy=False)]

    [a] = opt.ask(1)
    [b] = opt.ask(1, pending=[a])
    assert states() == [state.RUNNING, state.RUNNING]
    opt.tell(a, quadratic(a))
    assert states() == [state.COMPLETE, state.RUNNING]
    assert opt.study.trials[0].params["act"] in ("relu", "1", "true", "0.5")
    # b is no longer pending (its job died): it is failed, not left running forever.
    [c] = opt.ask(1)
    assert states() == [state.COMPLETE, state.FAIL, state.RUNNING]
    # A pending config the study never proposed (e.g. from before a restart) runs too.
    outsider = {"lr": 0.01, "dropout": 0.1, "units": 16, "act": True}
    opt.ask(1, pending=[c, outsider])
    assert states().count(state.RUNNING) == 3
    opt.tell(outsider, 1.0)
    opt.tell(c, quadratic(c))
    assert states().count(state.COMPLETE) == 3
    assert b not in (a, c)


@pytest.mark.parametrize("name", OPTUNA)
def test_optuna_duplicated_running_configs_are_told_one_by_one(name):
    space = SearchSpace([Categorical("opt", ["sgd", "adam"])])
    opt = make(name, space=space)
    config = {"opt": "adam"}
    opt.ask(1, pending=[config, config])  # two runs of the same config, plus one new ask
    opt.tell(config, 1.0)
    opt.tell(config, 2.0)
    values = sorted(t.value for t in opt.study.trials if t.value is not None)
    assert values == [1.0, 2.0]


@pytest.mark.parametrize("name", NAMES)
def test_tell_refuses_bad_values_and_configs(name):
    opt = make(name)
    [config] = opt.ask(1)
    with pytest.raises(ConfigError):
        opt.tell(config, float("nan"))
    with pytest.raises(ConfigError):
        opt.tell({**config, "lr": 5.0}, 1.0)


def test_aliases_and_names():
    assert get_optimizer("random") is get_optimizer("fasthpo-random")
    assert get_optimizer("grid").name == "fasthpo-grid"
    assert get_optimizer("bayesian").name == "fasthpo-bayesian"
    assert NAMES[:3] == ["fasthpo-random", "fasthpo-bayesian", "fasthpo-grid"]
    assert {"optuna-tpe", "optuna-gp", "skopt-gp"} <= set(NAMES)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        get_optimizer("optuna-tp")
    assert info.value.field == "optimizers"
    assert "did you mean 'optuna-tpe'" in str(info.value)


def test_unavailable_reason_is_one_line_naming_the_module_and_the_install_hint():
    spec = OptimizerSpec(
        name="fake-peer",
        description="a peer whose library is not installed",
        requires=("fasthpo_no_such_module_xyz",),
        factory=lambda space, seed: None,  # type: ignore[arg-type,return-value]
        install_hint="pip install fasthpo-no-such-module",
    )
    reason = spec.unavailable_reason()
    assert reason is not None and "\n" not in reason
    assert "fake-peer" in reason
    assert "fasthpo_no_such_module_xyz" in reason
    assert "pip install fasthpo-no-such-module" in reason
    assert get_optimizer("fasthpo-random").unavailable_reason() is None


def test_listing_and_checking_optimizers_imports_no_peer_library():
    code = (
        "import sys\n"
        "from fasthpo.benchmark.optimizers import get_optimizer, optimizer_names\n"
        "for name in optimizer_names():\n"
        "    get_optimizer(name).unavailable_reason()\n"
        "print(sorted(m for m in ('optuna', 'skopt', 'torch', 'sklearn') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
