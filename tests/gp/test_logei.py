"""Log expected improvement and erfcx: native vs scipy and the NumPy twin, an
independent 60-digit decimal oracle from the definition h = phi + z Phi, finite-
difference gradients (also far in the tail), branch continuity, extremes, validation."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import special

from fasthpo.gp import _native, _reference
from fasthpo.gp.logei import erfcx, log_expected_improvement

EPS = np.finfo(np.float64).eps
SQRT2 = math.sqrt(2.0)

# ---------------------------------------------------------------------------
# erfcx
# ---------------------------------------------------------------------------

# Where the native approximation changes piece: x = 1/2, 1/2 + k/4 up to 5/2,
# and y = 4 / (4 + x) = k/18 beyond.
ERFCX_BREAKS = [0.5 + k / 4 for k in range(9)] + [4.0 * (1 - k / 18) / (k / 18) for k in range(1, 12)]


def _around(points: list[float]) -> np.ndarray:
    """Each point with its two neighbouring doubles."""
    p = np.array(points)
    return np.concatenate([np.nextafter(p, -np.inf), p, np.nextafter(p, np.inf)])


def test_erfcx_matches_scipy_for_nonnegative_x() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(0.0, 30.0, 30001),
            np.logspace(-300, 300, 6001),
            np.exp(rng.uniform(np.log(1e-3), np.log(1e8), 20000)),
            _around(ERFCX_BREAKS),
        ]
    )
    assert_allclose(erfcx(x), special.erfcx(x), rtol=1e-14, atol=0)


def test_erfcx_matches_scipy_for_negative_x() -> None:
    # scipy forms exp(x^2) from a rounded x^2 here, so its own relative error
    # grows like x^2 eps (~60 ulps at x = -26); the native code splits x^2 into
    # an exact sum first. Allow scipy's share on top of 1e-14.
    x = np.concatenate([np.linspace(-26.5, 0.0, 26501), -np.logspace(-300, 1, 3001)])
    got, want = erfcx(x), special.erfcx(x)
    assert np.all(np.abs(got - want) <= (1e-14 + 2 * EPS * x**2) * want)


def test_erfcx_against_high_precision() -> None:
    mpmath = pytest.importorskip("mpmath")  # not a dependency: an extra, tighter oracle
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            rng.uniform(-26.0, 0.0, 150),
            rng.uniform(0.0, 3.0, 300),
            np.exp(rng.uniform(1.0, 18.0, 150)),
            _around(ERFCX_BREAKS),
        ]
    )
    with mpmath.workdps(50):
        want = np.array([float(mpmath.erfc(v) * mpmath.exp(mpmath.mpf(v) ** 2)) for v in x])
    assert_allclose(erfcx(x), want, rtol=4 * EPS, atol=0)


def test_erfcx_special_values_and_shape() -> None:
    assert_array_equal(erfcx([0.0, -0.0, np.inf, -np.inf, -27.0]), [1.0, 1.0, 0.0, np.inf, np.inf])
    assert np.isnan(erfcx(np.nan))
    huge = np.array([1e10, 1e100, 1e300, np.finfo(np.float64).max])
    assert_allclose(erfcx(huge), (1.0 / np.sqrt(np.pi)) / huge, rtol=4 * EPS)
    assert erfcx(0.25).shape == ()
    assert erfcx(np.zeros((2, 3))).shape == (2, 3)
    assert erfcx([]).shape == (0,)
    with pytest.raises(ValueError, match="x must be a real numeric array"):
        erfcx(["1"])


# ---------------------------------------------------------------------------
# An independent oracle: h = phi + z Phi straight from its definition, in
# 60-digit decimal arithmetic (standard library), with Phi from the erf series
# near 0 and Laplace's continued fraction for the Mills ratio in the tail.
# ---------------------------------------------------------------------------


def _pi() -> Decimal:
    """pi to the current precision (the recipe of the decimal module's documentation)."""
    decimal.getcontext().prec += 2
    three = Decimal(3)
    lasts, t, s, n, na, d, da = Decimal(0), three, three, 1, 0, 0, 24
    while s != lasts:
        lasts = s
        n, na = n + na, na + 8
        d, da = d + da, da + 32
        t = (t * n) / d
        s += t
    decimal.getcontext().prec -= 2
    return +s


def _mills(t: Decimal, pi: Decimal) -> Decimal:
    """(1 - Phi(t)) / phi(t) for t >= 0."""
    if t < 3:
        # erf(x) = 2/sqrt(pi) e^-x^2 sum_n (2x^2)^n x / (1 3 5 ... (2n+1)): positive terms.
        x = t / Decimal(2).sqrt()
        term, total, k = x, Decimal(0), 0
        while term > Decimal(10) ** -70:
            total += term
            k += 1
            term = term * 2 * x * x / (2 * k + 1)
        erf = 2 / pi.sqrt() * (-x * x).exp() * total
        phi = (-t * t / 2).exp() / (2 * pi).sqrt()
        return (1 - erf) / 2 / phi
    # m(t) = 1/(t + 1/(t + 2/(t + 3/(t + ...)))), evaluated from the bottom up;
    # at t >= 3, 1000 levels leave an error below e^-190.
    tail = t
    for k in range(1000, 0, -1):
        tail = t + k / tail
    return 1 / tail


def _oracle(z: float) -> tuple[float, float, float]:
    """(log h(z), Phi(z)/h(z), phi(z)/h(z)), each correctly rounded to a double."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        ctx.Emin, ctx.Emax = -999_999_999, 999_999_999
        pi = _pi()
        zd = Decimal(z)
        phi = (-zd * zd / 2).exp() / (2 * pi).sqrt()
        tail = phi * _mills(abs(zd), pi)  # 1 - Phi(|z|)
        cdf = tail if zd < 0 else 1 - tail
        h = phi + zd * cdf  # cancels ~log10(z^2) digits for z << 0, of 60
        return float(h.ln()), float(cdf / h), float(phi / h)


ORACLE_Z = [
    -1000.0,
    -700.0,
    -500.0,
    -301.5,
    -150.0,
    -100.0,
    -60.0,
    -38.5,
    -30.0,
    -20.0,
    -12.5,
    -8.0,
    -5.5,
    -4.0,
    -2.5 * SQRT2,
    -3.0,
    -2.5,
    -2.0,
    -1.5,
    -1.0,
    -0.75,
    -SQRT2 / 2,
    -0.5,
    -0.25,
    -1e-3,
    0.0,
    1e-3,
    0.5,
    SQRT2 / 2,
    1.0,
    2.0,
    3.5,
    5.0,
    7.5,
    10.0,
]


@pytest.mark.parametrize("z", ORACLE_Z)
def test_matches_decimal_oracle(z: float) -> None:
    log_h, cdf_over_h, pdf_over_h = _oracle(z)
    # best - mu = z exactly and sigma = 1, so log EI = log h(z).
    value, d_mu, d_sigma = log_expected_improvement([-z], [1.0], 0.0, grad=True)
    assert value[0] == pytest.approx(log_h, rel=1e-14, abs=1e-15)
    assert -d_mu[0] == pytest.approx(cdf_over_h, rel=1e-14)
    assert d_sigma[0] == pytest.approx(pdf_over_h, rel=1e-14)


def test_decimal_oracle_agrees_with_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        for z in ORACLE_Z[::3]:
            zm = mpmath.mpf(z)
            h = mpmath.npdf(zm) + zm * mpmath.ncdf(zm)
            assert _oracle(z)[0] == pytest.approx(float(mpmath.log(h)), rel=1e-15, abs=1e-16)


def test_against_high_precision_on_a_dense_grid() -> None:
    mpmath = pytest.importorskip("mpmath")
    z = np.concatenate([-np.logspace(3, -6, 250), np.linspace(-40.0, 40.0, 401), np.logspace(-6, 1.5, 60)])
    value, d_mu, d_sigma = log_expected_improvement(-z, np.ones_like(z), 0.0, grad=True)
    with mpmath.workdps(60):
        want = []
        for v in z:
            zm = mpmath.mpf(v)
            pdf, cdf = mpmath.npdf(zm), mpmath.ncdf(zm)
            h = pdf + zm * cdf
            want.append((float(mpmath.log(h)), float(cdf / h), float(pdf / h)))
    log_h, cdf_h, pdf_h = np.array(want).T
    assert np.all(np.abs(value - log_h) <= 4 * EPS * np.maximum(1.0, np.abs(log_h)))
    assert_allclose(-d_mu, cdf_h, rtol=8 * EPS)
    assert_allclose(d_sigma, pdf_h, rtol=8 * EPS, atol=1e-300)


# ---------------------------------------------------------------------------
# Against the NumPy twin, in its well-conditioned range.
# ---------------------------------------------------------------------------


def test_matches_reference() -> None:
    rng = np.random.default_rng(2)
    m = 5000
    sigma = np.exp(rng.uniform(-8.0, 4.0, m))
    z = np.concatenate([rng.uniform(-100.0, 40.0, m - 200), rng.uniform(-2.0, 2.0, 200)])
    best = 0.37
    mu = best - z * sigma
    value, d_mu, d_sigma = log_expected_improvement(mu, sigma, best, grad=True)
    want, want_mu, want_sigma = _reference.log_expected_improvement(mu, sigma, best, grad=True)
    assert_allclose(value, want, rtol=1e-10, atol=1e-12)
    assert_allclose(d_mu, want_mu, rtol=1e-10)
    assert_allclose(d_sigma, want_sigma, rtol=1e-10, atol=1e-300)
    assert_array_equal(log_expected_improvement(mu, sigma, best), value)


def test_exp_of_value_is_expected_improvement() -> None:
    # EI = (best - mu) Phi(z) + sigma phi(z), the textbook form, where it is safe.
    rng = np.random.default_rng(3)
    mu, sigma, best = rng.normal(size=300), np.exp(rng.normal(size=300)), 0.2
    z = (best - mu) / sigma
    ei = (best - mu) * special.ndtr(z) + sigma * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    assert_allclose(np.exp(log_expected_improvement(mu, sigma, best)), ei, rtol=1e-12)


# ---------------------------------------------------------------------------
# Gradients by central differences.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "z", [-1000.0, -500.0, -50.0, -12.0, -3.6, -2.0, -0.8, -0.3, 0.0, 0.4, 1.5, 3.0, 8.0, 30.0]
)
@pytest.mark.parametrize("sigma", [0.01, 1.0, 250.0])
def test_gradients_match_finite_differences(z: float, sigma: float) -> None:
    best = 1.5
    mu = best - z * sigma
    _, d_mu, d_sigma = log_expected_improvement([mu], [sigma], best, grad=True)
    h = 1e-5 * sigma

    def f(m: float, s: float) -> float:
        return float(log_expected_improvement([m], [s], best)[0])

    fd_mu = (f(mu + h, sigma) - f(mu - h, sigma)) / (2 * h)
    fd_sigma = (f(mu, sigma + h) - f(mu, sigma - h)) / (2 * h)
    # Rounding of log EI (~ z^2/2 in size) limits the differences.
    slack = 8 * EPS * max(1.0, z * z) / h
    assert d_mu[0] == pytest.approx(fd_mu, rel=1e-6, abs=slack)
    assert d_sigma[0] == pytest.approx(fd_sigma, rel=1e-6, abs=slack + 1e-12 / sigma)


# ---------------------------------------------------------------------------
# Continuity where the formula changes, the far tail, extremes.
# ---------------------------------------------------------------------------


def test_continuous_across_branches() -> None:
    # z = 0 (sign), |z| = x sqrt 2 at every piece boundary of the approximation,
    # and z = 1e150 (beyond which EI = best - mu). At the boundary b and its two
    # neighbouring doubles, each output must follow its own slope (estimated
    # over +-1e-7) to within a few ulps: log EI to a few ulps of EI (absolutely,
    # near log EI = 0), the ratios to a few ulps of themselves.
    breaks = [0.0] + [s * x * SQRT2 for x in ERFCX_BREAKS for s in (-1.0, 1.0)]
    for b in breaks:
        delta = 1e-7 * max(1.0, abs(b))
        z = np.array([np.nextafter(b, -np.inf), b, np.nextafter(b, np.inf), b - delta, b + delta])
        outputs = log_expected_improvement(-z, np.ones(5), 0.0, grad=True)
        for out, floor in zip(outputs, (1.0, 0.0, 0.0), strict=True):
            slope = (out[4] - out[3]) / (2 * delta)
            jump = out[:3] - out[1] - slope * (z[:3] - b)
            assert np.all(np.abs(jump) <= 8 * EPS * max(floor, abs(out[1]))), b
    z = np.array([np.nextafter(1e150, 0.0), 1e150, np.nextafter(1e150, np.inf)])
    value, d_mu, _ = log_expected_improvement(np.zeros(3), 1.0 / z, 1.0, grad=True)
    assert np.ptp(value) <= 4 * EPS * abs(value[1]) + 1e-15
    assert_allclose(d_mu, -1.0, rtol=4 * EPS)


def test_monotone_and_smooth_on_a_fine_grid() -> None:
    # d log h / dz = Phi/h > 0: increasing in z, and the gradient ratio Phi/h is
    # increasing in -z as well, with no glitches where the formula changes.
    z = np.linspace(-60.0, 60.0, 240_001)
    value, d_mu, d_sigma = log_expected_improvement(-z, np.ones_like(z), 0.0, grad=True)
    assert np.all(np.diff(value) > 0)
    assert np.all(np.diff(-d_mu) < 0)
    assert np.all(np.isfinite(d_sigma)) and np.all(d_sigma >= 0)


@pytest.mark.parametrize("t", [1e4, 1e6, 1e10, 1e50, 1e100, 1e150])
def test_far_tail_asymptotics(t: float) -> None:
    # For z = -t << 0: h = phi(t) w with w = t^-2 (1 - 3/t^2 + ...), so
    # log h = -t^2/2 - log sqrt(2 pi) - 2 log t - 3/t^2, Phi/h = t (1 + 2/t^2),
    # phi/h = t^2 (1 + 3/t^2), to within 1e-16 relative from t = 1e4 on.
    value, d_mu, d_sigma = log_expected_improvement([t], [1.0], 0.0, grad=True)
    log_h = -0.5 * t * t - 0.5 * np.log(2 * np.pi) - 2 * np.log(t) - 3 / t**2
    assert value[0] == pytest.approx(log_h, rel=2 * EPS)
    assert -d_mu[0] == pytest.approx(t * (1 + 2 / t**2), rel=4 * EPS)
    assert d_sigma[0] == pytest.approx(t * t * (1 + 3 / t**2), rel=4 * EPS)


def test_extremes_are_never_nan() -> None:
    big = np.finfo(np.float64).max
    tiny = np.finfo(np.float64).smallest_subnormal
    cases = [
        # (mu, sigma, best)
        (1e200, 1.0, 0.0),  # z = -1e200: log EI below -DBL_MAX
        (big, tiny, -big),  # best - mu = -inf
        (0.0, tiny, 1.0),  # z = +inf: EI = best - mu = 1
        (-big, 1.0, big),  # best - mu overflows to +inf
        (0.0, big, 0.0),  # z = 0 with a huge sigma
        (0.0, tiny, 0.0),  # z = 0 with a subnormal sigma
        (1.0, 1.0, 1.0 + 1e-300),  # z tiny
    ]
    for mu, sigma, best in cases:
        outputs = log_expected_improvement([mu], [sigma], best, grad=True)
        assert not any(np.isnan(out).any() for out in outputs), (mu, sigma, best)
    value, d_mu, d_sigma = log_expected_improvement([1e200], [1.0], 0.0, grad=True)
    assert value[0] == -np.inf and d_mu[0] == pytest.approx(-1e200) and d_sigma[0] == np.inf
    value, d_mu, d_sigma = log_expected_improvement([0.0], [tiny], 1.0, grad=True)
    assert value[0] == 0.0 and d_mu[0] == -1.0 and d_sigma[0] == 0.0
    value, d_mu, _ = log_expected_improvement([-big], [1.0], big, grad=True)
    assert value[0] == pytest.approx(np.log(big) + np.log(2.0), rel=4 * EPS)
    assert d_mu[0] == pytest.approx(-0.5 / big, rel=4 * EPS)
    value = log_expected_improvement([0.0], [big], 0.0)
    assert value[0] == pytest.approx(np.log(big) - 0.5 * np.log(2 * np.pi), rel=4 * EPS)


@given(
    mu=st.floats(allow_nan=False, allow_infinity=False),
    sigma=st.floats(min_value=5e-324, allow_infinity=False),
    best=st.floats(allow_nan=False, allow_infinity=False),
)
@settings(max_examples=500, deadline=None)
def test_any_finite_input_gives_signed_non_nan_output(mu: float, sigma: float, best: float) -> None:
    value, d_mu, d_sigma = log_expected_improvement([mu], [sigma], best, grad=True)
    assert not np.isnan(value[0]) and value[0] < np.inf
    # EI falls as mu rises and grows with sigma.
    assert d_mu[0] <= 0.0 and d_sigma[0] >= 0.0
    assert log_expected_improvement([mu], [sigma], best)[0] == value[0]


def test_finite_down_to_z_minus_1000_for_any_sigma() -> None:
    z = -np.linspace(0.0, 1000.0, 10_001)
    for sigma in (1e-8, 1.0, 1e8):
        value, d_mu, d_sigma = log_expected_improvement(-z * sigma, np.full_like(z, sigma), 0.0, grad=True)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(d_mu)) and np.all(np.isfinite(d_sigma))


# ---------------------------------------------------------------------------
# Shapes and validation.
# ---------------------------------------------------------------------------


def test_shapes_and_return_types() -> None:
    value = log_expected_improvement([], [], 0.0)
    assert isinstance(value, np.ndarray) and value.shape == (0,)
    out = log_expected_improvement(np.empty(0), np.empty(0), 0.0, grad=True)
    assert isinstance(out, tuple) and len(out) == 3 and all(a.shape == (0,) for a in out)
    value = log_expected_improvement([1, 2, 3], np.array([1, 1, 2], dtype=np.int32), np.float32(2.5))
    assert value.dtype == np.float64 and value.shape == (3,)
    strided = np.zeros(6)
    strided[::2] = [0.0, 1.0, 2.0]
    assert_array_equal(
        log_expected_improvement(strided[::2], [1.0, 1.0, 1.0], 1.0),
        log_expected_improvement([0.0, 1.0, 2.0], [1.0, 1.0, 1.0], 1.0),
    )


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"mu": np.zeros((2, 1))}, r"mu must be 1-D with shape \(m,\), got shape \(2, 1\)"),
        ({"mu": 0.5}, r"mu must be 1-D"),
        ({"mu": [0.0, np.nan]}, r"mu must be finite, but mu\[1\] = nan"),
        ({"mu": ["a", "b"]}, r"mu must be a real numeric array"),
        ({"sigma": [1.0, 1.0, 1.0]}, r"sigma has shape \(3,\) but mu has \(2,\)"),
        ({"sigma": [1.0, 0.0]}, r"sigma must be positive, but sigma\[1\] = 0.0"),
        ({"sigma": [-2.0, 1.0]}, r"sigma must be positive, but sigma\[0\] = -2.0"),
        ({"sigma": [np.inf, 1.0]}, r"sigma must be finite, but sigma\[0\] = inf"),
        ({"sigma": np.ones((2, 2))}, r"sigma must be 1-D"),
        ({"best": np.nan}, r"best must be finite, got nan"),
        ({"best": -np.inf}, r"best must be finite, got -inf"),
        ({"best": "0"}, r"best must be a real number, got '0'"),
        ({"best": True}, r"best must be a real number"),
        ({"best": [0.0]}, r"best must be a real number"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, pattern: str) -> None:
    args = {"mu": [0.0, 1.0], "sigma": [1.0, 2.0], "best": 0.5} | kwargs
    with pytest.raises(ValueError, match=pattern):
        log_expected_improvement(args["mu"], args["sigma"], args["best"], grad=True)


def test_binding_guards_buffer_lengths() -> None:
    x = np.zeros(4)
    with pytest.raises(ValueError, match="sigma has length 3, mu has 4"):
        _native.log_expected_improvement(x, np.ones(3), 0.0, np.empty(4))
    with pytest.raises(ValueError, match="output out has length 5"):
        _native.log_expected_improvement(x, np.ones(4), 0.0, np.empty(5))
    with pytest.raises(ValueError, match="d_mu and d_sigma must be given together"):
        _native.log_expected_improvement(x, np.ones(4), 0.0, np.empty(4), np.empty(4))
    with pytest.raises(ValueError, match="output d_sigma has length 3"):
        _native.log_expected_improvement(x, np.ones(4), 0.0, np.empty(4), np.empty(4), np.empty(3))
    with pytest.raises(ValueError, match="output out has length 2"):
        _native.erfcx(x, np.empty(2))
