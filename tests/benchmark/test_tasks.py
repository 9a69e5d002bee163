"""The real tasks: plausible values, determinism, the on-disk cache and lazy scikit-learn."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import subprocess
import sys
import tempfile
import textwrap

import pytest

from fasthpo.benchmark import tasks
from fasthpo.benchmark.problems import get_problem
from fasthpo.benchmark.tasks import CACHE_FILE, EvaluationCache
from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer

# Cheap, sensible configurations and the value range a correct task gives them.
GOOD = {
    "svm-digits": ({"C": 10.0, "gamma": 1e-3}, (0.0, 0.05)),
    "gbm-breast-cancer": ({"learning_rate": 0.3, "max_iter": 10, "max_leaf_nodes": 8,
                           "min_samples_leaf": 10, "l2_regularization": 1e-3}, (0.0, 0.08)),
    "mlp-wine": ({"hidden_units": 8, "alpha": 1e-4, "learning_rate_init": 0.05, "activation": "tanh"},
                 (0.0, 0.08)),
    "elasticnet-diabetes": ({"alpha": 1e-2, "l1_ratio": 0.5}, (0.3, 0.8)),
    "hgb-logloss-breast-cancer": ({"learning_rate": 0.1, "max_iter": 50, "max_leaf_nodes": 8,
                                   "min_samples_leaf": 10, "l2_regularization": 1.0,
                                   "max_features": 0.5}, (0.03, 0.2)),
    "extratrees-diabetes": ({"n_estimators": 20, "max_depth": 6, "min_samples_split": 8,
                             "min_samples_leaf": 4, "max_features": 0.5}, (0.6, 0.85)),
    "svr-diabetes": ({"features": 8, "C": 1.0, "gamma": 0.01, "epsilon": 0.3}, (0.6, 0.85)),
    "sgd-logloss-digits": ({"alpha": 1e-2, "l1_ratio": 0.0, "eta0": 0.01, "power_t": 0.1,
                            "epochs": 10}, (0.1, 0.8)),
    "rf-logloss-wine": ({"n_estimators": 50, "max_depth": 8, "min_samples_leaf": 1,
                         "max_features": 0.3, "max_samples": 0.8}, (0.05, 0.3)),
}
# A poor configuration of each, to see that the value responds to the hyperparameters.
POOR = {
    "svm-digits": ({"C": 1e-3, "gamma": 1e-3}, 0.5),
    "gbm-breast-cancer": ({"learning_rate": 1e-3, "max_iter": 10, "max_leaf_nodes": 4,
                           "min_samples_leaf": 50, "l2_regularization": 10.0}, 0.3),
    "mlp-wine": ({"hidden_units": 4, "alpha": 1e-6, "learning_rate_init": 1e-4, "activation": "relu"}, 0.4),
    "elasticnet-diabetes": ({"alpha": 10.0, "l1_ratio": 0.0}, 0.75),
    "hgb-logloss-breast-cancer": ({"learning_rate": 1e-3, "max_iter": 10, "max_leaf_nodes": 2,
                                   "min_samples_leaf": 100, "l2_regularization": 10.0,
                                   "max_features": 0.1}, 0.6),
    "extratrees-diabetes": ({"n_estimators": 5, "max_depth": 1, "min_samples_split": 64,
                             "min_samples_leaf": 64, "max_features": 0.05}, 0.9),
    "svr-diabetes": ({"features": 1, "C": 0.01, "gamma": 10.0, "epsilon": 2.0}, 1.0),
    "sgd-logloss-digits": ({"alpha": 1.0, "l1_ratio": 1.0, "eta0": 1e-4, "power_t": 1.0,
                            "epochs": 2}, 2.0),
    "rf-logloss-wine": ({"n_estimators": 5, "max_depth": 1, "min_samples_leaf": 40,
                         "max_features": 0.05, "max_samples": 0.1}, 0.8),
}
SPACES = {
    "svm-digits": {"C": (Continuous, 1e-3, 1e3, "auto"), "gamma": (Continuous, 1e-5, 10.0, "auto")},
    "gbm-breast-cancer": {
        "learning_rate": (Continuous, 1e-3, 1.0, "auto"), "max_iter": (Integer, 10, 200, "linear"),
        "max_leaf_nodes": (Integer, 4, 64, "linear"), "min_samples_leaf": (Integer, 2, 50, "linear"),
        "l2_regularization": (Continuous, 1e-6, 10.0, "auto"),
    },
    "mlp-wine": {
        "hidden_units": (Integer, 4, 128, "auto"), "alpha": (Continuous, 1e-6, 1.0, "auto"),
        "learning_rate_init": (Continuous, 1e-4, 1e-1, "auto"), "activation": (Categorical, None, None, None),
    },
    "elasticnet-diabetes": {"alpha": (Continuous, 1e-5, 10.0, "auto"),
                            "l1_ratio": (Continuous, 0.0, 1.0, "linear")},
    # The tasks scored by log-loss or RMSE declare their scalings, as a practitioner would.
    "hgb-logloss-breast-cancer": {
        "learning_rate": (Continuous, 1e-3, 1.0, "log"), "max_iter": (Integer, 10, 100, "linear"),
        "max_leaf_nodes": (Integer, 2, 64, "log"), "min_samples_leaf": (Integer, 1, 100, "log"),
        "l2_regularization": (Continuous, 1e-4, 10.0, "log"),
        "max_features": (Continuous, 0.1, 1.0, "linear"),
    },
    "extratrees-diabetes": {
        "n_estimators": (Integer, 5, 80, "log"), "max_depth": (Integer, 1, 20, "linear"),
        "min_samples_split": (Integer, 2, 64, "log"), "min_samples_leaf": (Integer, 1, 64, "log"),
        "max_features": (Continuous, 0.05, 1.0, "linear"),
    },
    "svr-diabetes": {
        "features": (Integer, 1, 10, "linear"), "C": (Continuous, 1e-2, 1e2, "log"),
        "gamma": (Continuous, 1e-4, 10.0, "log"), "epsilon": (Continuous, 1e-3, 2.0, "log"),
    },
    "sgd-logloss-digits": {
        "alpha": (Continuous, 1e-6, 1.0, "log"), "l1_ratio": (Continuous, 0.0, 1.0, "linear"),
        "eta0": (Continuous, 1e-4, 1.0, "log"), "power_t": (Continuous, 0.05, 1.0, "linear"),
        "epochs": (Integer, 2, 30, "log"),
    },
    "rf-logloss-wine": {
        "n_estimators": (Integer, 5, 100, "log"), "max_depth": (Integer, 1, 16, "linear"),
        "min_samples_leaf": (Integer, 1, 40, "log"), "max_features": (Continuous, 0.05, 1.0, "linear"),
        "max_samples": (Continuous, 0.1, 1.0, "linear"),
    },
}


@pytest.mark.parametrize("name", list(GOOD))
def test_space_is_as_documented(name, tmp_path):
    problem = get_problem(name, cache_dir=tmp_path)
    assert problem.space.names == tuple(SPACES[name])
    assert problem.optimum is None and problem.minimizer is None and problem.noise == 0.0
    for param, (kind, low, high, scaling) in zip(problem.space, SPACES[name].values(), strict=True):
        assert type(param) is kind
        if kind is Categorical:
            assert param.values == ("relu", "tanh")
        else:
            assert (param.low, param.high, param.scaling) == (low, high, scaling)


@pytest.mark.parametrize("name", list(GOOD))
def test_values_are_plausible_and_deterministic(name, tmp_path):
    config, (low, high) = GOOD[name]
    first = get_problem(name, cache_dir=tmp_path / "a").evaluate(config)
    assert low <= first <= high
    # A second cache, so the value is computed again rather than read back.
    assert get_problem(name, cache_dir=tmp_path / "b").evaluate(config) == first
    poor, at_least = POOR[name]
    assert get_problem(name, cache_dir=tmp_path / "a").evaluate(poor) >= at_least


def test_a_cache_hit_does_not_recompute(tmp_path, monkeypatch):
    name = "elasticnet-diabetes"
    calls = []
    compute = tasks.TASKS[name].compute

    def counting(config):
        calls.append(config)
        return compute(config)

    monkeypatch.setitem(tasks.TASKS, name, dataclasses.replace(tasks.TASKS[name], compute=counting))
    config = {"alpha": 0.1, "l1_ratio": 0.25}
    value = get_problem(name, cache_dir=tmp_path).evaluate(config)
    # Another problem object (as in another process), an int where a float is declared, other key order.
    again = get_problem(name, cache_dir=tmp_path)
    assert again.evaluate({"l1_ratio": 0.25, "alpha": 0.1}) == value
    assert again.true_value({"alpha": 0.1, "l1_ratio": 0.25}) == value
    assert len(calls) == 1
    assert EvaluationCache(tmp_path / CACHE_FILE).count(name) == 1
    again.evaluate({"alpha": 1, "l1_ratio": 0.25})
    again.evaluate({"alpha": 1.0, "l1_ratio": 0.25})
    assert len(calls) == 2
    assert EvaluationCache(tmp_path / CACHE_FILE).count() == 2


def test_cache_keys_include_the_task_version(tmp_path, monkeypatch):
    name = "elasticnet-diabetes"
    config = {"alpha": 0.1, "l1_ratio": 0.25}
    get_problem(name, cache_dir=tmp_path).evaluate(config)
    calls = []
    spec = tasks.TASKS[name]
    bumped = dataclasses.replace(spec, version="2", compute=lambda c: calls.append(c) or spec.compute(c))
    monkeypatch.setitem(tasks.TASKS, name, bumped)
    get_problem(name, cache_dir=tmp_path).evaluate(config)
    assert len(calls) == 1 and EvaluationCache(tmp_path / CACHE_FILE).count(name) == 2


def test_cache_dir_defaults_to_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTHPO_BENCH_CACHE", str(tmp_path / "env"))
    get_problem("elasticnet-diabetes").evaluate({"alpha": 0.5, "l1_ratio": 0.5})
    assert EvaluationCache(tmp_path / "env" / CACHE_FILE).count() == 1
    monkeypatch.delenv("FASTHPO_BENCH_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tasks.default_cache_dir() == tmp_path / "home" / ".cache" / "fasthpo" / "bench"


def test_the_first_value_stored_wins(tmp_path):
    cache = EvaluationCache(tmp_path / "deep" / "folder" / CACHE_FILE)
    assert cache.get("t", "v", "{}") is None
    cache.put("t", "v", "{}", 1.0, 0.1)
    cache.put("t", "v", "{}", 2.0, 0.1)  # a racing process computed it too
    assert cache.get("t", "v", "{}") == 1.0 and cache.count() == 1
    assert cache.get("t", "w", "{}") is None and cache.get("u", "v", "{}") is None


def test_concurrent_processes_share_the_cache(tmp_path):
    path = tmp_path / "shared" / CACHE_FILE
    worker = textwrap.dedent(f"""
        import sys
        from fasthpo.benchmark.tasks import EvaluationCache
        cache, me = EvaluationCache({str(path)!r}), int(sys.argv[1])
        for i in range(100):
            key = str(i % 40)  # half the keys are written by every process
            if cache.get("t", "v", key) is None:
                cache.put("t", "v", key, float(i % 40), 0.0)
            cache.put("t", "v", f"own-{{me}}-{{i}}", float(me), 0.0)
            assert cache.get("t", "v", key) == float(i % 40)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(k)], cwd=tempfile.gettempdir(),
                              stderr=subprocess.PIPE, text=True) for k in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    cache = EvaluationCache(path)
    assert cache.count() == 40 + 4 * 100
    assert cache.get("t", "v", "own-3-99") == 3.0


def test_noise_modifier_applies_to_real_tasks(tmp_path):
    problem = get_problem("elasticnet-diabetes+noise0.01", cache_dir=tmp_path)
    config = {"alpha": 0.1, "l1_ratio": 0.5}
    assert problem.noise == 0.01
    assert problem.evaluate(config, seed=1) != problem.evaluate(config, seed=2)
    assert abs(problem.evaluate(config, seed=1) - problem.true_value(config)) < 0.1


def test_missing_scikit_learn_is_one_line(monkeypatch, tmp_path):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(ConfigError) as info:
        get_problem("svm-digits", cache_dir=tmp_path)
    assert "fasthpo[bench]" in str(info.value) and "\n" not in str(info.value)


def test_scikit_learn_is_imported_only_to_compute(tmp_path):
    # A cache hit needs no scikit-learn; a miss without it is a ConfigError.
    get_problem("svm-digits", cache_dir=tmp_path).evaluate({"C": 1.0, "gamma": 1e-4})
    code = textwrap.dedent(f"""
        import sys, json
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("sklearn", "threadpoolctl"):
                    raise ImportError(f"blocked {{name}}", name=name)
        sys.meta_path.insert(0, Block())
        from fasthpo.benchmark.problems import get_problem
        from fasthpo.errors import ConfigError
        problem = get_problem("svm-digits", cache_dir={str(tmp_path)!r})
        hit = problem.evaluate({{"C": 1.0, "gamma": 1e-4}})
        try:
            problem.evaluate({{"C": 2.0, "gamma": 1e-4}})
            miss = None
        except ConfigError as exc:
            miss = str(exc)
        print(json.dumps([hit, miss, "sklearn" in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), check=True).stdout
    hit, miss, imported = json.loads(out)
    assert 0.0 <= hit <= 1.0 and not imported
    assert miss is not None and "fasthpo[bench]" in miss


def test_out_of_range_configs_are_refused(tmp_path):
    problem = get_problem("svm-digits", cache_dir=tmp_path)
    with pytest.raises(ConfigError):
        problem.evaluate({"C": 1e4, "gamma": 1e-3})
    with pytest.raises(ConfigError):
        problem.evaluate({"C": 1.0})
    assert EvaluationCache(tmp_path / CACHE_FILE).count() == 0
