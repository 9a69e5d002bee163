"""The benchmark problems: formulas, minima, variants, noise and the naming grammar.

Reference values come from the literature and from slow loop-based formulas
written here independently of the module's NumPy code.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from fasthpo.benchmark import registry
from fasthpo.benchmark.problems import get_problem, problem_families
from fasthpo.benchmark.registry import Box, Problem, register_family
from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer

# --- independent references -------------------------------------------------------------------

ALPHA = [1.0, 1.2, 3.0, 3.2]
H3_A = [[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]]
H3_P = [[0.3689, 0.1170, 0.2673], [0.4699, 0.4387, 0.7470], [0.1091, 0.8732, 0.5547],
        [0.0381, 0.5743, 0.8828]]
H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14]]
H6_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def naive(family: str, x: list[float]) -> float:
    d = len(x)
    if family == "branin":
        x1, x2 = x
        return ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
                + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)
    if family in ("hartmann3", "hartmann6"):
        A, P = (H3_A, H3_P) if family == "hartmann3" else (H6_A, H6_P)
        total = 0.0
        for i in range(4):
            inner = sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(d))
            total += ALPHA[i] * math.exp(-inner)
        return -total
    if family == "levy":
        w = [1 + (xi - 1) / 4 for xi in x]
        total = math.sin(math.pi * w[0]) ** 2
        for i in range(d - 1):
            total += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
        return total + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    if family == "ackley":
        s1 = sum(xi * xi for xi in x) / d
        s2 = sum(math.cos(2 * math.pi * xi) for xi in x) / d
        return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e
    if family == "rosenbrock":
        return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (x[i] - 1) ** 2 for i in range(d - 1))
    if family == "styblinski-tang":
        return sum(xi**4 - 16 * xi**2 + 5 * xi for xi in x) / 2
    raise AssertionError(family)


# name -> (family, domain per dim, literature optimum)
CASES = {
    "branin": ("branin", [(-5, 10), (0, 15)], 0.397887),
    "hartmann3": ("hartmann3", [(0, 1)] * 3, -3.86278),
    "hartmann6": ("hartmann6", [(0, 1)] * 6, -3.32237),
    "levy-2": ("levy", [(-10, 10)] * 2, 0.0),
    "levy-7": ("levy", [(-10, 10)] * 7, 0.0),
    "ackley-2": ("ackley", [(-32.768, 32.768)] * 2, 0.0),
    "ackley-10": ("ackley", [(-32.768, 32.768)] * 10, 0.0),
    "rosenbrock-2": ("rosenbrock", [(-5, 10)] * 2, 0.0),
    "rosenbrock-6": ("rosenbrock", [(-5, 10)] * 6, 0.0),
    "styblinski-tang-2": ("styblinski-tang", [(-5, 5)] * 2, -39.16617 * 2),
    "styblinski-tang-8": ("styblinski-tang", [(-5, 5)] * 8, -39.16617 * 8),
}


def at(problem: Problem, x) -> float:
    return problem.function(dict(zip(problem.space.names, (float(v) for v in x), strict=True)))


def uniform(rng: np.random.Generator, domain, n: int) -> np.ndarray:
    lo, hi = np.array(domain, dtype=float).T
    return lo + (hi - lo) * rng.random((n, len(domain)))


# --- the synthetic families -------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_space_is_the_natural_domain_declared_linear(name):
    _, domain, _ = CASES[name]
    problem = get_problem(name)
    assert problem.space.names == tuple(f"x{i}" for i in range(len(domain)))
    for param, (lo, hi) in zip(problem.space, domain, strict=True):
        assert isinstance(param, Continuous) and param.scaling == "linear"
        assert (param.low, param.high) == (lo, hi)
    assert problem.noise == 0.0 and problem.name == name


@pytest.mark.parametrize("name", list(CASES))
def test_formula_matches_an_independent_implementation(name):
    family, domain, _ = CASES[name]
    problem = get_problem(name)
    for x in uniform(np.random.default_rng(1), domain, 25):
        assert at(problem, x) == pytest.approx(naive(family, list(x)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_the_minimizer_attains_the_literature_optimum(name):
    _, domain, literature = CASES[name]
    problem = get_problem(name)
    assert problem.optimum == pytest.approx(literature, abs=1e-4)
    assert problem.function(problem.minimizer) == pytest.approx(problem.optimum, abs=1e-9)
    assert problem.function(problem.minimizer) == pytest.approx(literature, abs=1e-4)
    assert all(lo <= problem.minimizer[f"x{i}"] <= hi for i, (lo, hi) in enumerate(domain))


@pytest.mark.parametrize("name", list(CASES))
def test_nothing_goes_below_the_optimum(name):
    _, domain, _ = CASES[name]
    problem = get_problem(name)
    rng = np.random.default_rng(7)
    best = problem.function(problem.minimizer)
    values = np.array([at(problem, x) for x in uniform(rng, domain, 2000)])
    assert values.min() > best
    assert values.min() >= problem.optimum - 1e-6
    lo, hi = np.array(domain, dtype=float).T
    for start in uniform(rng, domain, 4):
        result = minimize(lambda x: at(problem, np.clip(x, lo, hi)), start, method="L-BFGS-B",
                          bounds=list(zip(lo, hi, strict=True)))
        assert result.fun >= problem.optimum - 1e-6
    # A local minimum too: small steps away from the minimizer never go lower.
    x_star = np.array([problem.minimizer[n] for n in problem.space.names])
    for step in 1e-3 * (hi - lo) * rng.standard_normal((200, len(domain))):
        assert at(problem, np.clip(x_star + step, lo, hi)) >= best - 1e-12


def test_hand_computed_values():
    branin = get_problem("branin")
    for point in [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]:
        assert at(branin, point) == pytest.approx(0.397887, abs=1e-5)
    # At (0, 0): 36 + 10 + 10(1 − 1/8π) = 56 − 5/(4π).
    assert at(branin, (0, 0)) == pytest.approx(56 - 0.3978873577, abs=1e-8)
    assert at(get_problem("rosenbrock-5"), [0] * 5) == pytest.approx(4.0)
    assert at(get_problem("rosenbrock-2"), [1, 2]) == pytest.approx(100.0)
    assert at(get_problem("styblinski-tang-4"), [1] * 4) == pytest.approx(-20.0)  # ½(1 − 16 + 5)·4
    assert at(get_problem("ackley-3"), [1] * 3) == pytest.approx(20 - 20 * math.exp(-0.2))
    # Levy at x = −3: w = 0, so sin²(0) + (d − 1)(1 + 10 sin²1) + 1.
    assert at(get_problem("levy-3"), [-3] * 3) == pytest.approx(2 * (1 + 10 * math.sin(1) ** 2) + 1)
    # Literature minimizers, rounded as published.
    assert at(get_problem("hartmann3"), (0.114614, 0.555649, 0.852547)) == pytest.approx(-3.86278, abs=1e-4)
    h6 = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    assert at(get_problem("hartmann6"), h6) == pytest.approx(-3.32237, abs=1e-4)


@pytest.mark.parametrize("family", ["levy", "ackley", "rosenbrock", "styblinski-tang"])
def test_every_dimension_from_2_to_20(family):
    for d in (2, 13, 20):
        problem = get_problem(f"{family}-{d}")
        assert len(problem.space) == d
        assert problem.function(problem.minimizer) == pytest.approx(problem.optimum, abs=1e-9)


# --- variants ---------------------------------------------------------------------------------

def test_dead_dims_change_nothing():
    base, dead = get_problem("levy-4"), get_problem("levy-4+dead3")
    assert dead.space.names[4:] == ("dead0", "dead1", "dead2")
    for name in ("dead0", "dead1", "dead2"):
        param = dead.space[name]
        assert isinstance(param, Continuous) and (param.low, param.high) == (0.0, 1.0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        config = base.space.from_unit(list(rng.random(4)))
        noise = {f"dead{j}": float(v) for j, v in enumerate(rng.random(3))}
        assert dead.function({**config, **noise}) == base.function(config)
    assert dead.optimum == base.optimum
    assert dead.function(dead.minimizer) == pytest.approx(base.optimum, abs=1e-12)


LOG_CASES = [
    ("branin+log-auto", "auto", 2),
    ("levy-6+log3-linear", "linear", 3),
    ("hartmann6+log-log", "log", 6),
    ("ackley-3+log2-auto", "auto", 2),
]
REVLOG_CASES = [
    ("hartmann3+revlog-auto", "auto", 3),
    ("levy-4+revlog2-reverse_log", "reverse_log", 2),
    ("branin+revlog1-linear", "linear", 1),
]


def _base_name(name: str) -> str:
    return name.split("+")[0]


@pytest.mark.parametrize(("name", "declared", "count"), LOG_CASES + REVLOG_CASES)
def test_log_variants_declare_what_the_name_says_and_keep_the_optimum(name, declared, count):
    problem, base = get_problem(name), get_problem(_base_name(name))
    value_range = (1e-4, 1e2) if "+log" in name else (0.9, 0.9999)
    for i, param in enumerate(problem.space):
        if i < count:
            assert param.scaling == declared and (param.low, param.high) == value_range
        else:
            assert param == base.space.parameters[i]
    assert problem.optimum == base.optimum
    assert problem.function(problem.minimizer) == pytest.approx(base.optimum, abs=1e-9)


@pytest.mark.parametrize(("name", "declared", "count"), LOG_CASES + REVLOG_CASES)
def test_log_variants_map_values_as_specified(name, declared, count):
    problem, base = get_problem(name), get_problem(_base_name(name))
    rng = np.random.default_rng(5)
    for _ in range(20):
        config = problem.space.from_unit(list(rng.random(len(problem.space))))
        natural = dict(config)
        for i in range(count):
            a, b = base.space.parameters[i].low, base.space.parameters[i].high
            v = config[f"x{i}"]
            share = (math.log10(v) + 4) / 6 if "+log" in name else (-math.log10(1 - v) - 1) / 3
            natural[f"x{i}"] = min(max(a + (b - a) * share, a), b)
        assert problem.function(config) == pytest.approx(base.function(natural), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", ["levy-5+log-log", "hartmann3+revlog-reverse_log"])
def test_declaring_the_true_scale_sees_the_original_function(name):
    problem, base = get_problem(name), get_problem(_base_name(name))
    for u in np.random.default_rng(2).random((30, len(base.space))):
        assert problem.function(problem.space.from_unit(list(u))) == pytest.approx(
            base.function(base.space.from_unit(list(u))), rel=1e-8, abs=1e-8
        )


def test_mixed_types_ranges_and_levels():
    problem, base = get_problem("styblinski-tang-7+mixed"), get_problem("styblinski-tang-7")
    kinds = [type(p) for p in problem.space]
    assert kinds == [Integer, Continuous, Continuous, Integer, Continuous, Continuous, Categorical]
    for i in (0, 3):
        assert (problem.space[f"x{i}"].low, problem.space[f"x{i}"].high) == (0, 10)
    assert problem.space["x6"].values == ("c0", "c1", "c2", "c3", "c4")
    assert problem.space["x1"] == base.space["x1"]
    assert problem.optimum == base.optimum and problem.minimizer is None

    a, b = -5.0, 5.0  # not symmetric, so each of the five points has its own value
    config = {"x0": 4, "x1": 0.3, "x2": -1.0, "x3": 10, "x4": 2.0, "x5": 0.7, "x6": "c0"}
    seen = []
    for label in problem.space["x6"].values:
        value = problem.function({**config, "x6": label})
        points = [j for j in range(5)
                  if value == pytest.approx(base.function({**config, "x0": a + (b - a) * 0.4,
                                                           "x3": b, "x6": a + (b - a) * j / 4}))]
        assert len(points) == 1
        seen.append(points[0])
    assert sorted(seen) == [0, 1, 2, 3, 4] and seen != [0, 1, 2, 3, 4]  # all used, shuffled


def test_mixed_optimum_is_a_floor():
    problem = get_problem("branin+mixed")
    assert [type(p) for p in problem.space] == [Integer, Categorical]
    values = [problem.function({"x0": k, "x1": c}) for k in range(11) for c in problem.space["x1"].values]
    assert len(values) == 55 and min(values) >= problem.optimum


# --- noise ------------------------------------------------------------------------------------

def test_noise_is_deterministic_per_seed_and_config():
    problem = get_problem("hartmann6+noise0.05")
    config = {f"x{i}": 0.1 * (i + 1) for i in range(6)}
    assert problem.noise == 0.05
    assert problem.evaluate(config, seed=3) == problem.evaluate(dict(reversed(config.items())), seed=3)
    assert problem.evaluate(config, seed=3) != problem.evaluate(config, seed=4)
    assert problem.true_value(config) == problem.function(config) == get_problem("hartmann6").function(config)
    noiseless = get_problem("hartmann6")
    assert noiseless.evaluate(config, seed=3) == noiseless.true_value(config)


def test_noise_has_the_stated_mean_and_deviation():
    problem = get_problem("hartmann6+noise0.05")
    config = {f"x{i}": 0.5 for i in range(6)}
    draws = np.array([problem.evaluate(config, seed=s) for s in range(4000)]) - problem.function(config)
    assert abs(draws.mean()) < 4 * 0.05 / math.sqrt(len(draws))
    assert draws.std() == pytest.approx(0.05, rel=0.06)
    other = {**config, "x0": 0.25}
    others = np.array([problem.evaluate(other, seed=s) for s in range(4000)]) - problem.function(other)
    assert abs(np.corrcoef(draws, others)[0, 1]) < 0.1  # a new draw per configuration


def test_noise_is_the_same_in_another_process():
    problem = get_problem("levy-3+noise0.5")
    config = {"x0": 1.5, "x1": -2.0, "x2": 3}
    code = (
        "from fasthpo.benchmark.problems import get_problem\n"
        "print(repr(get_problem('levy-3+noise0.5').evaluate({'x0': 1.5, 'x1': -2.0, 'x2': 3}, seed=11)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tempfile.gettempdir(), check=True).stdout
    assert float(out) == problem.evaluate(config, seed=11)


# --- the grammar ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "says"), [
    ("brannin", "did you mean 'branin'"),
    ("Hartmann6", "did you mean 'hartmann6'"),
    ("hartmann-6", "did you mean 'hartmann6'"),
    ("levi-10", "did you mean 'levy-10'"),
    ("levy", "needs a dimension"),
    ("levy-1", "from 2 to 20"),
    ("ackley-21", "from 2 to 20"),
    ("branin-2", "fixed dimension"),
    ("svm-digits-2", "takes no dimension"),
    ("levy-6+nosie0.1", "did you mean '+noise0.1'"),
    ("levy-6+noise", "+noiseS"),
    ("levy-6+noise-1", "+noiseS"),
    ("levy-6+noiseinf", "unknown modifier"),
    ("levy-6+dead0", "+deadK"),
    ("levy-18+dead3", "21 dimensions"),
    ("levy-6+log-lin", "did you mean '+log-linear'"),
    ("levy-6+log-reverse_log", "auto|linear|log"),
    ("levy-6+revlog-log", "auto|linear|reverse_log"),
    ("levy-6+log", "+log[K]-DECL"),
    ("levy-6+log7-auto", "at most 6"),
    ("levy-6+log-auto+mixed", "at most one"),
    ("levy-6+dead1+dead2", "twice"),
    ("levy-6+mixed2", "+mixed"),
    ("levy-6+", "unknown modifier"),
    ("svm-digits+dead2", "only +noise"),
    ("", "non-empty"),
])
def test_bad_names_raise_config_error(name, says):
    with pytest.raises(ConfigError) as info:
        get_problem(name)
    assert info.value.field == "problem"
    assert says in str(info.value)
    assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdehiklmnorstvy0123456789-+._", max_size=24))
def test_any_text_is_a_problem_or_a_config_error(name):
    try:
        problem = get_problem(name)
    except ConfigError:
        return
    assert problem.name == name and 1 <= len(problem.space) <= 20


@st.composite
def valid_names(draw):
    family = draw(st.sampled_from(["branin", "hartmann3", "hartmann6", "levy", "ackley",
                                   "rosenbrock", "styblinski-tang"]))
    d = {"branin": 2, "hartmann3": 3, "hartmann6": 6}.get(family) or draw(st.integers(2, 12))
    name = family if family in ("branin", "hartmann3", "hartmann6") else f"{family}-{d}"
    mods = []
    if draw(st.booleans()):
        mods.append(f"dead{draw(st.integers(1, 20 - d))}")
    shape = draw(st.sampled_from(["", "log", "revlog", "mixed"]))
    if shape == "mixed":
        mods.append("mixed")
    elif shape:
        decl = draw(st.sampled_from(["auto", "linear", "log" if shape == "log" else "reverse_log"]))
        k = draw(st.sampled_from(["", *map(str, range(1, d + 1))]))
        mods.append(f"{shape}{k}-{decl}")
    if draw(st.booleans()):
        mods.append("noise0.1")
    order = draw(st.permutations(mods))
    return "+".join([name, *order]), d, shape


@settings(max_examples=60, deadline=None)
@given(valid_names())
def test_every_valid_name_builds_and_keeps_its_optimum(case):
    name, d, shape = case
    problem = get_problem(name)
    base = get_problem(_base_name(name))
    assert problem.optimum == base.optimum
    assert problem.space.names[:d] == base.space.names
    if shape == "mixed":
        assert problem.minimizer is None
    else:
        assert problem.function(problem.minimizer) == pytest.approx(base.optimum, abs=1e-8)
    config = problem.space.from_unit([0.5] * len(problem.space))
    assert problem.evaluate(config, seed=1) == problem.evaluate(config, seed=1)


# --- registry, pickling, imports --------------------------------------------------------------

def test_families_are_described():
    families = problem_families()
    for name in ("branin", "hartmann3", "hartmann6", "levy", "ackley", "rosenbrock", "styblinski-tang",
                 "svm-digits", "gbm-breast-cancer", "mlp-wine", "elasticnet-diabetes"):
        assert families[name] and "\n" not in families[name]


def sphere(x: np.ndarray) -> float:
    return float(np.sum(x**2))


def test_registering_a_family_takes_a_few_lines(monkeypatch):
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    register_family("sphere", "sum of squares on [-5, 5]^d, 0 at 0",
                    lambda d: Box.cube(sphere, d, -5.0, 5.0, optimum=0.0, minimizer=0.0), dims=(2, 20))
    problem = get_problem("sphere-3+log2-log+dead1")
    assert len(problem.space) == 4 and problem.function(problem.minimizer) == pytest.approx(0.0, abs=1e-20)
    assert "sphere" in problem_families()
    with pytest.raises(ValueError, match="already registered"):
        register_family("sphere", "again", lambda d: None, dims=2)
    with pytest.raises(ValueError, match="lowercase"):
        register_family("cube-3", "ends like a dimension", lambda d: None, dims=3)


def test_problems_pickle_for_worker_processes():
    for name in ("hartmann3+revlog-auto+noise0.1", "ackley-6+mixed+dead2"):
        problem = get_problem(name)
        copy = pickle.loads(pickle.dumps(problem))
        config = problem.space.from_unit([0.3] * len(problem.space))
        assert copy.evaluate(config, seed=2) == problem.evaluate(config, seed=2)


def test_function_validates_its_config():
    problem = get_problem("branin")
    with pytest.raises(ConfigError):
        problem.function({"x0": 11.0, "x1": 1.0})
    with pytest.raises(ConfigError):
        problem.function({"x0": 1.0})


def test_imports_stay_light():
    code = (
        "import sys\n"
        "import fasthpo.benchmark\n"
        "print('numpy' in sys.modules)\n"
        "from fasthpo.benchmark.problems import get_problem, problem_families\n"
        "problem_families(); get_problem('svm-digits'); get_problem('hartmann6')\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), check=True).stdout
    assert out.split() == ["False", "False"]


# --- scale detection variants -------------------------------------------------------------------

def test_lin_control_is_linear_over_the_log_range():
    problem = get_problem("hartmann3+lin2-auto")
    assert [p.scaling for p in problem.space] == ["auto", "auto", "linear"]
    assert (problem.space["x0"].low, problem.space["x0"].high) == (1e-4, 1e2)
    assert problem.true_scaling == {"x0": "linear", "x1": "linear", "x2": "linear"}
    assert problem.function(problem.minimizer) == pytest.approx(problem.optimum, abs=1e-9)
    # Halfway along the value range is halfway along the natural coordinate.
    base = get_problem("hartmann3")
    mid = (1e-4 + 1e2) / 2
    assert problem.function({"x0": mid, "x1": mid, "x2": 0.3}) == pytest.approx(
        base.function({"x0": 0.5, "x1": 0.5, "x2": 0.3}))


def test_true_scaling_and_redeclared_dims():
    problem = get_problem("hartmann6+log3-auto+as-auto+dead1")
    assert problem.true_scaling == {**{f"x{i}": "log" for i in range(3)},
                                    **{f"x{i}": "linear" for i in range(3, 6)}, "dead0": "linear"}
    assert all(p.scaling == "auto" for p in problem.space)
    assert get_problem("hartmann3+revlog-auto").true_scaling == {f"x{i}": "reverse_log" for i in range(3)}
    mixed = get_problem("ackley-4+mixed+as-auto")
    assert mixed.space["x0"].kind == "integer" and mixed.space["x0"].scaling == "auto"
    with pytest.raises(ConfigError, match="real tasks"):
        get_problem("hartmann3+as-log")
    with pytest.raises(ConfigError, match="at most one"):
        get_problem("hartmann3+log-auto+lin-auto")


def test_real_task_redeclared():
    task = get_problem("mlp-wine+as-log")
    assert [getattr(p, "scaling", None) for p in task.space] == ["log", "log", "log", None]
    assert get_problem("mlp-wine").true_scaling is None


def test_one_dimensional_styblinski_tang():
    problem = get_problem("styblinski-tang-1+log-auto")
    assert len(problem.space) == 1
    assert problem.function(problem.minimizer) == pytest.approx(problem.optimum, abs=1e-9)
