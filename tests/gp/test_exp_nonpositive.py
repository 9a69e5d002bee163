"""The Matérn passes' branch-free exponential against libm's exp, over its whole range."""

from __future__ import annotations

import math

import numpy as np
from numpy.testing import assert_array_equal

from fasthpo.gp import _native

MAX_ULP = 2


def _exp(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _native.exp_nonpositive(np.ascontiguousarray(x, dtype=np.float64), out)
    return out


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between non-negative doubles (subnormals and 0 too)."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


def _libm(x: np.ndarray) -> np.ndarray:
    return np.array([math.exp(v) for v in x.tolist()])


def test_within_two_ulp_of_libm_over_the_whole_range() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(-746.0, 0.0, 200_001),  # evenly, past the underflow to 0
            -np.exp(rng.uniform(np.log(1e-300), np.log(746.0), 100_000)),  # every scale
            rng.uniform(-0.35, 0.0, 20_000),  # the reduced range itself (k = 0)
            rng.uniform(-745.2, -708.3, 20_000),  # subnormal results
        ]
    )
    got, want = _exp(x), _libm(x)
    distance = _ulp_distance(got, want)
    worst = int(np.argmax(distance))
    assert distance[worst] <= MAX_ULP, f"exp({x[worst]!r}): {got[worst]!r}, libm {want[worst]!r}"


def test_ends_of_the_range() -> None:
    tiny = 5e-324
    x = np.array(
        [0.0, -0.0, -tiny, -1e-300, -1e-17, -0.5 * math.log(2.0), -math.log(2.0),
         -708.3964185322641, -708.4, -745.1332191019411, -745.1332191019412, -745.2, -746.0,
         -746.5, -1e4, -1e300, -math.inf]
    )
    got, want = _exp(x), _libm(x)
    assert np.all(_ulp_distance(got, want) <= MAX_ULP), list(zip(x, got, want, strict=True))
    assert got[0] == 1.0 and got[1] == 1.0
    assert_array_equal(got[-6:], 0.0)  # beyond the underflow: exactly 0, never negative or NaN


def test_nan_stays_nan() -> None:
    assert np.isnan(_exp(np.array([np.nan, -1.0])))[0]
