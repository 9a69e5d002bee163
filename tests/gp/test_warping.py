"""Kumaraswamy warp: native vs the NumPy reference and a high-precision oracle,
finite-difference gradients, inverse round trips, endpoint limits and validation."""

from __future__ import annotations

import decimal
import itertools
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from fasthpo.gp import _native, _reference
from fasthpo.gp.warping import kumaraswamy_cdf, kumaraswamy_grad, kumaraswamy_inverse

EPS = np.finfo(np.float64).eps
SHAPE_VALUES = (0.3, 1.0, 3.0)
AB_GRID = list(itertools.product((0.3, 0.5, 1.0, 2.0, 3.0), repeat=2))
# Where the textbook formulas are still well conditioned (1 - x^a does not
# cancel badly), so the reference can be trusted to ~1e-12.
INTERIOR = np.concatenate(
    [
        np.linspace(1e-4, 1.0 - 1e-4, 201),
        np.random.default_rng(0).uniform(1e-4, 1.0 - 1e-4, size=300),
    ]
)


@pytest.mark.parametrize(("a", "b"), AB_GRID)
def test_matches_reference(a: float, b: float) -> None:
    assert_allclose(
        kumaraswamy_cdf(INTERIOR, a, b),
        _reference.kumaraswamy_cdf(INTERIOR, a, b),
        rtol=1e-10,
        atol=1e-14,
    )
    w = np.linspace(0.0, 1.0, 101)[1:-1]
    assert_allclose(
        kumaraswamy_inverse(w, a, b),
        _reference.kumaraswamy_inverse(w, a, b),
        rtol=1e-10,
        atol=1e-14,
    )
    for got, want in zip(
        kumaraswamy_grad(INTERIOR, a, b), _reference.kumaraswamy_grad(INTERIOR, a, b), strict=True
    ):
        assert_allclose(got, want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(SHAPE_VALUES, repeat=2)))
def test_endpoints_match_reference(a: float, b: float) -> None:
    x = np.array([0.0, 1.0])
    assert_array_equal(kumaraswamy_cdf(x, a, b), _reference.kumaraswamy_cdf(x, a, b))
    assert_array_equal(kumaraswamy_inverse(x, a, b), _reference.kumaraswamy_inverse(x, a, b))
    for got, want in zip(kumaraswamy_grad(x, a, b), _reference.kumaraswamy_grad(x, a, b), strict=True):
        assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# High-precision oracle where the plain formulas break down: x within an ulp
# of 1 (1 - x^a cancels or rounds to 0) and x near the bottom of the range.
# ---------------------------------------------------------------------------

EXTREME_X = [1e-300, 1e-30, 1e-8, 0.5, 1.0 - 1e-8, 1.0 - 1e-12, float(np.nextafter(1.0, 0.0))]
EXTREME_AB = [(0.3, 0.3), (0.3, 3.0), (3.0, 0.3), (3.0, 3.0), (1e-20, 0.5), (1.0, 1.0), (50.0, 0.2)]


def _oracle(x: float, a: float, b: float) -> tuple[float, float, float, float]:
    """(w, dw/dx, dw/da, dw/db) by the textbook formulas in 1000-digit decimal
    arithmetic (standard library), exact enough that 1 - x^a keeps x^a even for
    x^a ~ 1e-900; each result is then correctly rounded to a double."""
    with decimal.localcontext() as ctx:
        ctx.prec = 1000
        x_, a_, b_ = Decimal(x), Decimal(a), Decimal(b)
        t = x_**a_
        s = 1 - t
        w = 1 - s**b_
        dx = a_ * b_ * x_ ** (a_ - 1) * s ** (b_ - 1)
        da = b_ * s ** (b_ - 1) * t * x_.ln()
        db = -(s**b_) * s.ln()
        return float(w), float(dx), float(da), float(db)


@pytest.mark.parametrize(("a", "b"), EXTREME_AB)
def test_extreme_points_match_high_precision(a: float, b: float) -> None:
    x = np.array(EXTREME_X)
    want = np.array([_oracle(xi, a, b) for xi in x]).T
    got = np.array([kumaraswamy_cdf(x, a, b), *kumaraswamy_grad(x, a, b)])
    # Relative accuracy limited by exp() of arguments up to ~700 in size.
    assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_near_one_does_not_saturate() -> None:
    # One ulp below 1 with a < 1 and b < 1: x^a rounds to 1 in double, so the
    # textbook formula would return w = 1 exactly; the true value is 1 - ~1e-5.
    x = float(np.nextafter(1.0, 0.0))
    w = float(kumaraswamy_cdf(x, 0.3, 0.3))
    assert 1.0 - w == pytest.approx(1.0 - _oracle(x, 0.3, 0.3)[0], rel=1e-9)
    assert 1e-6 < 1.0 - w < 1e-4


# ---------------------------------------------------------------------------
# Gradients against central finite differences of the native CDF.
# ---------------------------------------------------------------------------

FD_X = np.linspace(0.05, 0.95, 19)


@pytest.mark.parametrize(("a", "b"), list(itertools.product((0.3, 0.7, 1.0, 1.5, 3.0), repeat=2)))
def test_gradients_match_finite_differences(a: float, b: float) -> None:
    dx, da, db = kumaraswamy_grad(FD_X, a, b)
    h = 1e-6
    fd_x = (kumaraswamy_cdf(FD_X + h, a, b) - kumaraswamy_cdf(FD_X - h, a, b)) / (2 * h)
    fd_a = (kumaraswamy_cdf(FD_X, a * (1 + h), b) - kumaraswamy_cdf(FD_X, a * (1 - h), b)) / (2 * a * h)
    fd_b = (kumaraswamy_cdf(FD_X, a, b * (1 + h)) - kumaraswamy_cdf(FD_X, a, b * (1 - h))) / (2 * b * h)
    assert_allclose(dx, fd_x, rtol=1e-6, atol=1e-9)
    assert_allclose(da, fd_a, rtol=1e-6, atol=1e-9)
    assert_allclose(db, fd_b, rtol=1e-6, atol=1e-9)


def test_signs_of_gradients() -> None:
    x = np.linspace(0.01, 0.99, 99)
    for a, b in AB_GRID:
        dx, da, db = kumaraswamy_grad(x, a, b)
        assert np.all(dx > 0) and np.all(da < 0) and np.all(db > 0)


# ---------------------------------------------------------------------------
# Inverse, monotonicity, identity and endpoint limits.
# ---------------------------------------------------------------------------


def _x_tolerance(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """How far x may move in a round trip through w, from the conditioning.

    A rounding of w moves x by about eps / (dw/dx) (unbounded where the warp is
    flat and w saturates), and exp/log of arguments of size |log x| cost that
    many ulps of x.
    """
    dw_dx = kumaraswamy_grad(x, a, b)[0]
    with np.errstate(divide="ignore", over="ignore"):  # a flat warp: any x will do
        return 8 * EPS / dw_dx + 16 * EPS * x * (1.0 + np.abs(np.log(np.maximum(x, 1e-320))))


def _w_tolerance(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """How far w may move when x is rounded to the nearest double: eps x dw/dx."""
    dw_dx = kumaraswamy_grad(x, a, b)[0]
    with np.errstate(invalid="ignore"):  # 0 * inf at x = 0, which is exact anyway
        return 4 * EPS + 2 * EPS * np.where(x > 0.0, x * dw_dx, 0.0)


@pytest.mark.parametrize(("a", "b"), AB_GRID)
def test_inverse_round_trips(a: float, b: float) -> None:
    x = np.linspace(0.01, 0.99, 197)
    x_back = kumaraswamy_inverse(kumaraswamy_cdf(x, a, b), a, b)
    assert_allclose(x_back, x, rtol=1e-9)  # well-conditioned interior: a plain bound
    assert np.all(np.abs(x_back - x) <= _x_tolerance(x, a, b))
    w = np.linspace(0.0, 1.0, 201)
    x_of_w = kumaraswamy_inverse(w, a, b)
    assert np.all(np.abs(kumaraswamy_cdf(x_of_w, a, b) - w) <= _w_tolerance(x_of_w, a, b))


# Shapes within two decades of identity. Far beyond (b ~ 20 with a ~ 0.05), w
# rounds to 1 over a stretch of x wider than the local eps / (dw/dx) bound.
@given(
    x=st.floats(0.0, 1.0),
    a=st.floats(0.1, 10.0),
    b=st.floats(0.1, 10.0),
)
@settings(max_examples=500, deadline=None)
def test_round_trip_property(x: float, a: float, b: float) -> None:
    w = kumaraswamy_cdf(x, a, b)
    x_back = kumaraswamy_inverse(w, a, b)
    assert 0.0 <= x_back <= 1.0
    assert abs(x_back - x) <= _x_tolerance(np.float64(x), a, b)
    # ... and w is recovered in its own space up to the rounding of x_back.
    assert abs(kumaraswamy_cdf(x_back, a, b) - w) <= _w_tolerance(x_back, a, b)


@pytest.mark.parametrize(("a", "b"), AB_GRID)
def test_monotone_onto_unit_interval(a: float, b: float) -> None:
    x = np.linspace(0.0, 1.0, 20001)
    w = kumaraswamy_cdf(x, a, b)
    assert w[0] == 0.0 and w[-1] == 1.0
    assert np.all(np.diff(w) >= 0.0)
    assert np.all(np.diff(kumaraswamy_inverse(x, a, b)) >= 0.0)


def test_identity_when_a_and_b_are_one() -> None:
    x = np.concatenate([np.linspace(0.0, 1.0, 1001), [1e-300, 1e-12, 1.0 - 1e-12]])
    assert_allclose(kumaraswamy_cdf(x, 1.0, 1.0), x, rtol=4 * EPS, atol=0)
    assert_allclose(kumaraswamy_inverse(x, 1.0, 1.0), x, rtol=4 * EPS, atol=0)
    dx, da, db = kumaraswamy_grad(x, 1.0, 1.0)
    assert_allclose(dx, 1.0, rtol=4 * EPS)
    inner = x[1:-1]  # at a = b = 1: dw/da = x log x, dw/db = -(1 - x) log(1 - x)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert_allclose(da[1:-1], np.where(inner > 0, inner * np.log(inner), 0.0), rtol=1e-12)
        assert_allclose(db[1:-1], np.where(inner < 1, -(1 - inner) * np.log1p(-inner), 0.0), rtol=1e-9)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(SHAPE_VALUES, repeat=2)))
def test_endpoint_limits(a: float, b: float) -> None:
    x = np.array([0.0, 1.0])
    assert_array_equal(kumaraswamy_cdf(x, a, b), [0.0, 1.0])
    assert_array_equal(kumaraswamy_inverse(x, a, b), [0.0, 1.0])
    dx, da, db = kumaraswamy_grad(x, a, b)
    at_0 = np.inf if a < 1 else (b if a == 1 else 0.0)
    at_1 = np.inf if b < 1 else (a if b == 1 else 0.0)
    assert_array_equal(dx, [at_0, at_1])
    assert_array_equal(da, [0.0, 0.0])
    assert_array_equal(db, [0.0, 0.0])


def test_never_nan() -> None:
    tiny = np.finfo(np.float64).tiny
    x = np.array(
        [0.0, 5e-324, tiny, 1e-300, 1e-20, 1e-8, 0.5, 1 - 1e-8, 1 - 1e-15, float(np.nextafter(1.0, 0.0)), 1.0]
    )
    shapes = [5e-324, 1e-300, 1e-20, 1e-3, 0.3, 1.0, 3.0, 1e3, 1e20, 1e300, 1.7e308]
    for a, b in itertools.product(shapes, repeat=2):
        outputs = [kumaraswamy_cdf(x, a, b), kumaraswamy_inverse(x, a, b), *kumaraswamy_grad(x, a, b)]
        for out in outputs:
            assert not np.isnan(out).any(), (a, b)
        w = outputs[0]
        assert np.all((w >= 0) & (w <= 1)), (a, b)
        assert np.all(outputs[2] >= 0), (a, b)  # dw/dx may be +inf, never negative


def test_keeps_input_shape() -> None:
    assert kumaraswamy_cdf(0.25, 2.0, 3.0).shape == ()
    assert kumaraswamy_inverse(np.float64(0.25), 2.0, 3.0).shape == ()
    grid = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    assert kumaraswamy_cdf(grid, 2.0, 3.0).shape == (3, 4)
    assert all(g.shape == (3, 4) for g in kumaraswamy_grad(grid, 2.0, 3.0))
    assert_array_equal(kumaraswamy_cdf(grid.T, 2.0, 3.0), kumaraswamy_cdf(grid, 2.0, 3.0).T)
    assert kumaraswamy_cdf(np.empty((0, 3)), 2.0, 3.0).shape == (0, 3)
    assert all(g.shape == (0,) for g in kumaraswamy_grad([], 2.0, 3.0))
    assert_array_equal(kumaraswamy_cdf([0, 1], 2, 3), [0.0, 1.0])


# ---------------------------------------------------------------------------
# Validation: every rejection is a ValueError that names the argument.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("func", [kumaraswamy_cdf, kumaraswamy_grad])
@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (1.5, r"x must be finite and in \[0, 1\], but x = 1.5"),
        ([0.2, -0.1], r"x\[1\] = -0.1"),
        ([[0.2], [np.nan]], r"x\[1, 0\] = nan"),
        ([np.inf], r"x\[0\] = inf"),
        (np.array([0.5j]), r"x must be a real numeric array"),
        (["0.5"], r"x must be a real numeric array"),
    ],
)
def test_rejects_bad_x(func, x, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        func(x, 1.0, 1.0)


def test_inverse_rejects_bad_w() -> None:
    with pytest.raises(ValueError, match=r"w must be finite and in \[0, 1\], but w\[2\] = 2.0"):
        kumaraswamy_inverse([0.0, 0.5, 2.0], 1.0, 1.0)


@pytest.mark.parametrize("func", [kumaraswamy_cdf, kumaraswamy_inverse, kumaraswamy_grad])
@pytest.mark.parametrize(
    ("a", "b", "pattern"),
    [
        (0.0, 1.0, r"a must be positive and finite, got 0.0"),
        (-1.0, 1.0, r"a must be positive and finite, got -1.0"),
        (np.nan, 1.0, r"a must be positive and finite, got nan"),
        (1.0, np.inf, r"b must be positive and finite, got inf"),
        (1.0, -3, r"b must be positive and finite, got -3.0"),
        ("2", 1.0, r"a must be a real number, got '2'"),
        (True, 1.0, r"a must be a real number"),
        (1.0, [1.0], r"b must be a real number"),
    ],
)
def test_rejects_bad_shapes(func, a, b, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        func([0.5], a, b)


def test_binding_guards_buffer_lengths() -> None:
    x = np.full(4, 0.5)
    with pytest.raises(ValueError, match="output out has length 3"):
        _native.kumaraswamy_cdf(x, 1.0, 1.0, np.empty(3))
    with pytest.raises(ValueError, match="output out has length 5"):
        _native.kumaraswamy_inverse(x, 1.0, 1.0, np.empty(5))
    with pytest.raises(ValueError, match="output dw_db has length 2"):
        _native.kumaraswamy_grad(x, 1.0, 1.0, np.empty(4), np.empty(4), np.empty(2))
