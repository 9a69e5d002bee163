"""Search spaces: unit-cube encoding properties per kind and scaling, the shape of each
scaling's distribution, SearchSpace round trips, and every refusal with its message."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fasthpo.errors import ConfigError
from fasthpo.space import (
    MAX_CATEGORICAL_VALUES,
    Categorical,
    Continuous,
    Integer,
    SearchSpace,
    render_value,
)

PROPERTY = settings(max_examples=150, deadline=None)

# ---------------------------------------------------------------------------
# hypothesis strategies: valid parameters of every kind and scaling
# ---------------------------------------------------------------------------


def _ordered_pair(values: st.SearchStrategy[float]) -> st.SearchStrategy[tuple[float, float]]:
    return st.tuples(values, values).filter(lambda p: p[0] != p[1]).map(lambda p: tuple(sorted(p)))


_linear_bounds = _ordered_pair(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False))
_log_bounds = _ordered_pair(st.floats(1e-100, 1e100, allow_nan=False, allow_infinity=False))
_reverse_log_bounds = _ordered_pair(
    st.floats(0.0, 1.0, allow_nan=False, exclude_max=True)
)


@st.composite
def continuous_params(draw: st.DrawFn) -> Continuous:
    scaling = draw(st.sampled_from(["auto", "linear", "log", "reverse_log"]))
    bounds = {"log": _log_bounds, "reverse_log": _reverse_log_bounds}.get(scaling, _linear_bounds)
    low, high = draw(bounds)
    # Adjacent floats can share a logarithm: such a range is refused (tested below).
    if scaling == "log":
        assume(math.log(low) != math.log(high))
    if scaling == "reverse_log":
        assume(math.log1p(-low) != math.log1p(-high))
    return Continuous("x", low, high, scaling)


@st.composite
def integer_params(draw: st.DrawFn) -> Integer:
    scaling = draw(st.sampled_from(["auto", "linear", "log"]))
    floor = 1 if scaling == "log" else -(10**6)
    low = draw(st.integers(floor, 10**6))
    high = draw(st.integers(low + 1, low + 10**6))
    return Integer("n", low, high, scaling)


_categorical_value = st.one_of(
    st.text(min_size=1, max_size=8),
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans(),
)
categorical_params = st.lists(
    _categorical_value, min_size=1, max_size=MAX_CATEGORICAL_VALUES, unique_by=render_value
).map(lambda values: Categorical("c", values))

any_param = st.one_of(continuous_params(), integer_params(), categorical_params)
unit = st.floats(0.0, 1.0)
any_u = st.floats(allow_nan=False)


def _in_range(p: Continuous | Integer | Categorical, value: object) -> bool:
    if isinstance(p, Categorical):
        return any(type(v) is type(value) and v == value for v in p.values)
    if isinstance(p, Integer):
        return type(value) is int and p.low <= value <= p.high
    return type(value) is float and p.low <= value <= p.high


# ---------------------------------------------------------------------------
# properties of the encoding
# ---------------------------------------------------------------------------


@PROPERTY
@given(p=any_param, u=any_u)
def test_from_unit_is_inside_the_range_for_any_u(p, u):
    value = p.from_unit(u)
    assert _in_range(p, value), (p, u, value)
    if u <= 0.0:
        assert value == p.from_unit(0.0)
    if u >= 1.0:
        assert value == p.from_unit(1.0)


@PROPERTY
@given(p=any_param, u=unit)
def test_to_unit_of_from_unit_is_in_the_cube(p, u):
    back = p.to_unit(p.from_unit(u))
    assert isinstance(back, float)
    assert 0.0 <= back <= 1.0


@PROPERTY
@given(p=st.one_of(integer_params(), categorical_params), data=st.data())
def test_discrete_round_trip_is_exact(p, data):
    if isinstance(p, Integer):
        value = data.draw(st.integers(p.low, p.high))
    else:
        value = data.draw(st.sampled_from(p.values))
    back = p.from_unit(p.to_unit(value))
    assert back == value and type(back) is type(value)


@PROPERTY
@given(p=continuous_params(), data=st.data())
def test_continuous_round_trip_is_close(p, data):
    value = data.draw(st.floats(p.low, p.high))
    back = p.from_unit(p.to_unit(value))
    if p.scaling in ("auto", "linear"):
        # Linear maps lose absolute precision relative to the width of the range.
        assert back == pytest.approx(value, rel=1e-9, abs=1e-9 * (p.high - p.low))
    else:
        assert back == pytest.approx(value, rel=1e-9)


@PROPERTY
@given(p=st.one_of(continuous_params(), integer_params()), data=st.data())
def test_to_unit_is_monotone(p, data):
    if isinstance(p, Integer):
        values = st.integers(p.low, p.high)
    else:
        values = st.floats(p.low, p.high)
    a, b = sorted([data.draw(values), data.draw(values)])
    assert p.to_unit(a) <= p.to_unit(b)
    if isinstance(p, Integer) and a < b:
        assert p.to_unit(a) < p.to_unit(b)


@pytest.mark.parametrize(
    "p",
    [
        Continuous("x", 0.5, 2.0),
        Continuous("x", 1e-3, 1e3, "log"),
        Continuous("x", 0.9, 0.999, "reverse_log"),
        Integer("n", 1, 100, "log"),
        Categorical("c", ["a", "b"]),
    ],
)
def test_nan_coordinate_is_refused_not_turned_into_a_value(p):
    with pytest.raises(ValueError, match="NaN"):
        p.from_unit(math.nan)


def test_ends_of_the_cube_are_exactly_the_bounds():
    # exp(log(high)) is not always high; the ends must still be the declared bounds.
    for p in (
        Continuous("x", 1e-3, 1e3, "log"),
        Continuous("x", 1e-5, 10, "log"),
        Continuous("x", 0.9, 0.999, "reverse_log"),
        Continuous("x", -3.0, 0.1),
    ):
        assert p.from_unit(0.0) == p.low
        assert p.from_unit(1.0) == p.high


def test_from_unit_returns_python_floats_for_numpy_coordinates():
    p = Continuous("x", 0.0, 1.0)
    assert type(p.from_unit(np.float64(0.25))) is float
    assert p.from_unit(np.float64(0.25)) == 0.25


# ---------------------------------------------------------------------------
# the distributions the scalings imply
# ---------------------------------------------------------------------------


def test_log_scaling_is_log_uniform():
    p = Continuous("lr", 1e-3, 1e3, "log")
    u = np.random.default_rng(0).random(20_000)
    values = np.array([p.from_unit(x) for x in u])
    assert np.median(values) == pytest.approx(1.0, rel=0.1)  # linear would give ~500
    # Each of the six decades holds about a sixth of the draws.
    decades = np.floor(np.log10(values)).clip(-3, 2)
    counts = np.bincount((decades + 3).astype(int), minlength=6) / len(values)
    assert np.allclose(counts, 1 / 6, atol=0.02), counts


def test_reverse_log_puts_half_its_mass_above_the_geometric_midpoint_of_1_minus_x():
    low, high = 0.9, 0.999
    p = Continuous("momentum", low, high, "reverse_log")
    midpoint = 1 - math.sqrt((1 - low) * (1 - high))  # 0.99
    u = np.random.default_rng(1).random(20_000)
    values = np.array([p.from_unit(x) for x in u])
    assert np.mean(values > midpoint) == pytest.approx(0.5, abs=0.02)
    # Linear sampling would put only (high - 0.99) / (high - low) ~ 9% above it.
    assert p.from_unit(0.5) == pytest.approx(midpoint, rel=1e-12)


@pytest.mark.parametrize("scaling", ["auto", "linear"])
def test_every_integer_gets_an_equal_share_of_the_cube(scaling):
    p = Integer("n", -3, 6, scaling)
    n = 100_000
    counts = Counter(p.from_unit((i + 0.5) / n) for i in range(n))
    assert sorted(counts) == list(range(-3, 7))
    share = n / 10
    assert all(abs(c - share) <= 1 for c in counts.values()), counts


def test_log_integers_get_log_width_shares():
    p = Integer("n", 1, 20, "log")
    n = 100_000
    counts = Counter(p.from_unit((i + 0.5) / n) for i in range(n))
    total = math.log(20.5 / 0.5)
    for k in range(1, 21):
        expected = n * math.log((k + 0.5) / (k - 0.5)) / total
        assert abs(counts[k] - expected) <= 2, (k, counts[k], expected)


def test_categorical_bins_are_equal():
    p = Categorical("c", ["a", "b", "c", "d"])
    n = 10_000
    counts = Counter(p.from_unit((i + 0.5) / n) for i in range(n))
    assert counts == {"a": 2500, "b": 2500, "c": 2500, "d": 2500}


# ---------------------------------------------------------------------------
# SearchSpace
# ---------------------------------------------------------------------------


@pytest.fixture
def mixed() -> SearchSpace:
    return SearchSpace(
        [
            Continuous("lr", 1e-4, 1e-1, "log"),
            Integer("layers", 1, 8),
            Categorical("act", ["relu", "tanh"]),
            Categorical("mix", [0.5, 1, "a", True]),
            Continuous("momentum", 0.9, 0.999, "reverse_log"),
        ]
    )


def test_search_space_encoding_round_trip(mixed):
    config = {"lr": 0.01, "layers": 3, "act": "tanh", "mix": True, "momentum": 0.99}
    u = mixed.to_unit(config)
    assert len(u) == 5 and all(0.0 <= x <= 1.0 for x in u)
    back = mixed.from_unit(u)
    assert list(back) == list(mixed.names)
    assert back["layers"] == 3 and back["act"] == "tanh" and back["mix"] is True
    assert back["lr"] == pytest.approx(0.01, rel=1e-9)
    assert back["momentum"] == pytest.approx(0.99, rel=1e-9)
    assert mixed.validate(back) == back


def test_search_space_from_unit_clips_and_checks_length(mixed):
    config = mixed.from_unit([-1.0, 2.0, -5.0, 7.0, 0.5])
    assert config["lr"] == 1e-4 and config["layers"] == 8
    assert config["act"] == "relu" and config["mix"] is True
    with pytest.raises(ValueError, match="expected 5 coordinates, got 2"):
        mixed.from_unit([0.1, 0.2])


def test_search_space_dict_round_trip(mixed):
    spec = mixed.to_dict()
    assert spec["lr"] == {"type": "continuous", "min": 1e-4, "max": 1e-1, "scaling": "log"}
    assert spec["mix"] == {"type": "categorical", "values": [0.5, 1, "a", True]}
    rebuilt = SearchSpace.from_dict(spec)
    assert rebuilt == mixed
    assert rebuilt.names == mixed.names
    assert hash(rebuilt) == hash(mixed)
    assert SearchSpace.from_dict({"lr": {"type": "continuous", "min": 0, "max": 1}}) != mixed


def test_from_dict_defaults_to_auto_scaling():
    space = SearchSpace.from_dict({"n": {"type": "integer", "min": 1, "max": 5}})
    assert space["n"] == Integer("n", 1, 5, "auto")


def test_validate_normalises(mixed):
    config = {"lr": 1e-2, "layers": 2.0, "act": "relu", "mix": 1.0, "momentum": np.float64(0.95)}
    out = mixed.validate(config)
    assert out["layers"] == 2 and type(out["layers"]) is int
    assert out["mix"] == 1 and type(out["mix"]) is int  # the declared value, found by numeric equality
    assert type(out["momentum"]) is float
    assert mixed.validate({**config, "mix": "true"})["mix"] is True  # read back from text
    assert mixed.validate({**config, "mix": 0.5})["mix"] == 0.5
    assert config["layers"] == 2.0 and type(config["layers"]) is float  # input untouched


def test_categorical_does_not_confuse_bools_and_numbers():
    p = Categorical("c", [1, 2])
    with pytest.raises(ConfigError, match=r"c: value True is not one of \[1, 2\]"):
        p.validate(True)
    assert Categorical("c", [True, False]).validate(True) is True


def test_search_space_container_protocol(mixed):
    assert len(mixed) == 5
    assert "lr" in mixed and "nope" not in mixed
    assert [p.name for p in mixed] == list(mixed.names)
    assert mixed["layers"] == Integer("layers", 1, 8)


# ---------------------------------------------------------------------------
# refusals: each a ConfigError naming the parameter and the rule
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: Continuous("lr", 1.0, 1.0), r"^lr: low must be less than high, got low=1\.0, high=1\.0"),
        (lambda: Continuous("lr", 2.0, 1.0), r"^lr: low must be less than high"),
        (lambda: Integer("n", 5, 5), r"^n: low must be less than high"),
        (lambda: Continuous("lr", math.nan, 1.0), r"^lr: low must be finite, got nan"),
        (lambda: Continuous("lr", 0.0, math.inf), r"^lr: high must be finite, got inf"),
        (lambda: Continuous("lr", -math.inf, 0.0), r"^lr: low must be finite"),
        (lambda: Integer("n", 0, math.inf), r"^n: high must be finite"),
        (lambda: Continuous("lr", -1e308, 1e308), r"^lr: the range .* is too wide"),
        (
            lambda: Continuous("lr", 5.230128729210162e99, 5.230128729210163e99, "log"),
            r"^lr: the range .* is too narrow to divide on a log scale",
        ),
        (lambda: Continuous("lr", "0", 1.0), r"^lr: low must be a number, got '0'"),
        (lambda: Continuous("lr", True, 2.0), r"^lr: low must be a number, got True"),
        (lambda: Continuous("lr", 0.0, 1.0, "log"), r"^lr: log scaling needs low > 0, got low=0\.0"),
        (lambda: Continuous("lr", -1.0, 1.0, "log"), r"^lr: log scaling needs low > 0"),
        (lambda: Integer("n", 0, 10, "log"), r"^n: log scaling needs low > 0"),
        (
            lambda: Continuous("m", 0.5, 1.0, "reverse_log"),
            r"^m: reverse_log scaling needs 0 <= low < high < 1",
        ),
        (lambda: Continuous("m", -0.1, 0.5, "reverse_log"), r"^m: reverse_log scaling needs 0 <= low"),
        (lambda: Continuous("m", 0.5, 2.0, "reverse_log"), r"^m: reverse_log scaling needs"),
        (lambda: Integer("n", 0, 1, "reverse_log"), r"^n: reverse_log needs a range inside \[0, 1\)"),
        (lambda: Integer("n", 1.5, 3), r"^n: integer bound low must be a whole number, got 1\.5"),
        (lambda: Integer("n", 1, 3.25), r"^n: integer bound high must be a whole number, got 3\.25"),
        (lambda: Continuous("lr", 0.0, 1.0, "logg"), r"^lr: unknown scaling 'logg' \(did you mean 'log'\?\)"),
        (lambda: Categorical("c", []), r"^c: values is empty"),
        (lambda: Categorical("c", "ab"), r"^c: values must be a list"),
        (lambda: Categorical("c", ["a", "b", "a"]), r"^c: duplicated value 'a'"),
        (lambda: Categorical("c", ["1", 1]), r"^c: duplicated value 1 .*same argument '1'"),
        (lambda: Categorical("c", [True, "true"]), r"^c: duplicated value 'true'"),
        (lambda: Categorical("c", [0.5, math.nan]), r"^c: value nan is not finite"),
        (lambda: Categorical("c", [None]), r"^c: value None must be a string, number or boolean"),
        (lambda: Categorical("c", list(range(31))), r"^c: 31 values is more than the 30 allowed"),
    ],
)
def test_parameter_refusals(make, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        make()
    assert isinstance(info.value, ValueError)


def test_thirty_categorical_values_are_allowed():
    assert len(Categorical("c", list(range(30))).values) == 30


@pytest.mark.parametrize("name", ["a b", "1x", "x;rm", "", "a" * 65, "x-y", "é", None, 3])
def test_unsafe_names_are_refused(name):
    pattern = re.escape(f"hyperparameter name {name!r} is not a safe identifier")
    with pytest.raises(ConfigError, match=pattern):
        Continuous(name, 0.0, 1.0)
    with pytest.raises(ConfigError, match=pattern):
        Categorical(name, ["a"])


def test_longest_safe_name_is_accepted():
    assert Integer("a" * 64, 0, 1).name == "a" * 64
    assert Integer("_x9", 0, 1).name == "_x9"


def test_duplicate_names_in_a_space():
    with pytest.raises(ConfigError, match=r"^x: duplicated hyperparameter name"):
        SearchSpace([Continuous("x", 0, 1), Integer("y", 0, 3), Categorical("x", ["a"])])


def test_empty_space_and_non_parameters_are_refused():
    with pytest.raises(ConfigError, match="at least one hyperparameter"):
        SearchSpace([])
    with pytest.raises(ConfigError, match="is not a hyperparameter"):
        SearchSpace([{"type": "continuous"}])


def test_more_than_twenty_tunable_hyperparameters():
    params = [Continuous(f"x{i}", 0, 1) for i in range(21)]
    with pytest.raises(ConfigError, match=r"21 tunable hyperparameters .*limit of 20 \(max_tunable=20\)"):
        SearchSpace(params)
    assert len(SearchSpace(params[:20])) == 20
    assert len(SearchSpace(params, max_tunable=25)) == 21
    with pytest.raises(ConfigError, match="max_tunable=25"):
        SearchSpace([Continuous(f"x{i}", 0, 1) for i in range(26)], max_tunable=25)
    spec = {p.name: p.to_dict() for p in params}
    with pytest.raises(ConfigError, match="max_tunable=20"):
        SearchSpace.from_dict(spec)
    assert len(SearchSpace.from_dict(spec, max_tunable=21)) == 21


def test_validate_refusals(mixed):
    good = {"lr": 1e-2, "layers": 2, "act": "relu", "mix": 1, "momentum": 0.95}
    with pytest.raises(ConfigError, match=r"^lrr: unknown hyperparameter \(did you mean 'lr'\?\)"):
        mixed.validate({**good, "lrr": 0.1})
    without = {k: v for k, v in good.items() if k != "layers"}
    with pytest.raises(ConfigError, match=r"^layers: missing from the configuration"):
        mixed.validate(without)
    with pytest.raises(ConfigError, match=r"^lr: value 0\.5 is outside \[0\.0001, 0\.1\]"):
        mixed.validate({**good, "lr": 0.5})
    with pytest.raises(ConfigError, match=r"^layers: value 9 is outside \[1, 8\]"):
        mixed.validate({**good, "layers": 9})
    with pytest.raises(ConfigError, match=r"^layers: value 2\.5 is not a whole number"):
        mixed.validate({**good, "layers": 2.5})
    with pytest.raises(ConfigError, match=r"^act: value 'gelu' is not one of \['relu', 'tanh'\]"):
        mixed.validate({**good, "act": "gelu"})
    with pytest.raises(ConfigError, match=r"^lr: value must be finite"):
        mixed.validate({**good, "lr": math.nan})
    with pytest.raises(ConfigError, match="must be a mapping"):
        mixed.validate([("lr", 0.1)])
    with pytest.raises(ConfigError, match=r"^lr: value 0\.5 is outside"):
        mixed.to_unit({**good, "lr": 0.5})


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        (
            {"x": {"type": "continous", "min": 0, "max": 1}},
            r"^x\.type: unknown type 'continous' \(did you mean 'continuous'\?\)",
        ),
        ({"x": {"min": 0, "max": 1}}, r"^x\.type: unknown type None"),
        (
            {"x": {"type": "integer", "min": 0, "max": 1, "minn": 0}},
            r"^x\.minn: unknown key for a integer hyperparameter \(did you mean 'min'\?\)",
        ),
        (
            {"x": {"type": "categorical", "value": [1]}},
            r"^x\.value: unknown key .*\(did you mean 'values'\?\)",
        ),
        (
            {"x": {"type": "continuous", "min": 0, "max": 1, "scaling": "logg"}},
            r"^x: unknown scaling 'logg' \(did you mean 'log'\?\)",
        ),
        (
            {"x": {"type": "continuous", "min": 0, "max": 1, "scaling": "reverselog"}},
            r"did you mean 'reverse_log'\?",
        ),
        ({"x": {"type": "continuous", "min": 0}}, r"^x\.max: required for a continuous hyperparameter"),
        ({"x": {"type": "categorical"}}, r"^x\.values: required for a categorical hyperparameter"),
        ({"x": [0, 1]}, r"^x: must be a mapping"),
        ({"a b": {"type": "continuous", "min": 0, "max": 1}}, r"name 'a b' is not a safe identifier"),
        ([("x", {})], r"must be a mapping of name to range"),
    ],
)
def test_from_dict_refusals(spec, pattern):
    with pytest.raises(ConfigError, match=pattern):
        SearchSpace.from_dict(spec)


def test_config_error_carries_its_field():
    with pytest.raises(ConfigError) as info:
        SearchSpace.from_dict({"x": {"type": "integer", "min": 0, "max": 1, "minn": 0}})
    assert info.value.field == "x.minn"
    assert info.value.within("hyperparameters").field == "hyperparameters.x.minn"
    assert str(info.value.within("hyperparameters")).startswith("hyperparameters.x.minn: unknown key")


def test_render_value():
    assert render_value(True) == "true" and render_value(False) == "false"
    assert render_value(0.1) == "0.1" and render_value(1e-5) == "1e-05"
    assert render_value(np.float64(0.25)) == "0.25"
    assert render_value(3) == "3" and render_value("rbf") == "rbf"


@PROPERTY
@given(p=any_param)
def test_parameter_to_dict_round_trip(p):
    rebuilt = SearchSpace.from_dict({p.name: p.to_dict()})
    assert rebuilt.parameters == (p,)
