"""The robust output transform."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fasthpo.gp.transforms import (
    DIVERGED_LOG,
    POWER_BOUNDS,
    PowerStandardizer,
    RobustStandardizer,
    fit_yeo_johnson,
    yeo_johnson,
    yeo_johnson_inverse,
    yeo_johnson_log_likelihood,
)


def test_standardises_plain_data():
    y = np.random.default_rng(0).normal(3.0, 2.0, 200)
    t = RobustStandardizer.fit(y).transform(y)
    assert t.mean() == pytest.approx(0.0, abs=1e-12) and t.std() == pytest.approx(1.0)


def test_a_diverged_run_does_not_flatten_the_rest():
    good = np.linspace(0.1, 0.5, 20)
    y = np.append(good, 1e9)
    t = RobustStandardizer.fit(y).transform(y)
    # The good values keep their spread instead of collapsing onto one point.
    spread = t[:20].max() - t[:20].min()
    assert spread > 0.25  # the outlier, compressed to a few scales, leaves them room
    assert np.all(np.diff(t) > 0)  # order is kept, the outlier stays worst
    plain = (y - y.mean()) / y.std()
    assert plain[:20].max() - plain[:20].min() < 1e-6


def test_the_squash_bends_twice_smoothly_and_keeps_order():
    # Up to DIVERGED_LOG log-scales past the threshold: one logarithm; beyond it a second
    # one, continuous with a continuous slope, so a 1e9 among values near 1 sits a few
    # scales above them instead of 22.
    good = np.linspace(0.0, 1.0, 21)
    tr = RobustStandardizer.fit(good)
    t, s = tr.threshold, tr.scale
    y = np.concatenate([good, t + s * np.geomspace(1e-3, 1e12, 400)])
    squashed = tr.transform(y) * tr.std + tr.mean
    assert np.all(np.diff(squashed) > 0)
    over = y > t
    L = np.log1p(np.maximum(y - t, 0.0) / s)
    expected = np.where(L <= DIVERGED_LOG, L, DIVERGED_LOG + np.log1p(np.maximum(L - DIVERGED_LOG, 0)))
    np.testing.assert_allclose((squashed[over] - t) / s, expected[over], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(squashed[~over], y[~over], rtol=1e-12, atol=1e-12)
    # Continuity of value and slope at the knee, by finite differences either side.
    knee = t + s * math.expm1(DIVERGED_LOG)
    h = 1e-6 * s
    left, mid, right = (tr.transform(np.array([knee - h, knee, knee + h])) * tr.std + tr.mean)
    assert (mid - left) / h == pytest.approx((right - mid) / h, rel=1e-4)
    assert (tr.transform(np.array([1e9])) * tr.std + tr.mean)[0] - t < 6 * s  # not 22


def test_good_tail_is_untouched_and_values_between_refits_map_consistently():
    y = np.array([5.0, 4.0, 3.0, 2.0, -100.0])
    tr = RobustStandardizer.fit(y)
    t = tr.transform(y)
    # Low (good) outliers keep their distance: affine there.
    ratio = (t[4] - t[3]) / (t[3] - t[2])
    assert ratio == pytest.approx(102.0)
    assert tr.transform(np.array([3.0]))[0] == pytest.approx(t[2])


def test_constant_and_single_values():
    for y in (np.array([2.0]), np.full(5, 2.0)):
        t = RobustStandardizer.fit(y).transform(y)
        assert np.all(np.isfinite(t)) and np.allclose(t, 0.0)


def _yeo_johnson_reference(z: np.ndarray, lam: float) -> np.ndarray:
    """Yeo & Johnson (2000), case by case, one value at a time."""
    out = []
    for v in z:
        if v >= 0:
            out.append(math.log(v + 1) if lam == 0 else ((v + 1) ** lam - 1) / lam)
        else:
            out.append(-math.log(1 - v) if lam == 2 else -((1 - v) ** (2 - lam) - 1) / (2 - lam))
    return np.array(out)


@pytest.mark.parametrize("lam", [-1.5, 0.0, 0.4, 1.0, 2.0, 2.7])
def test_yeo_johnson_matches_the_definition_and_inverts(lam):
    z = np.random.default_rng(1).normal(0.0, 2.0, 100)
    p = yeo_johnson(z, lam)
    np.testing.assert_allclose(p, _yeo_johnson_reference(z, lam), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(yeo_johnson_inverse(p, lam), z, rtol=1e-9, atol=1e-10)
    order = np.argsort(z)
    assert np.all(np.diff(p[order]) > 0)  # strictly increasing


def test_power_exponent_is_the_maximum_likelihood_one():
    rng = np.random.default_rng(2)
    grid = np.linspace(POWER_BOUNDS[0], POWER_BOUNDS[1], 601)
    for z in (rng.gamma(4.0, 1.0, 200), -rng.gamma(4.0, 1.0, 200)):
        z = (z - z.mean()) / z.std()
        lam = fit_yeo_johnson(z)
        best = grid[np.argmax([yeo_johnson_log_likelihood(z, g) for g in grid])]
        assert lam == pytest.approx(best, abs=0.02)
        # Right-skewed values are bent down (λ < 1), left-skewed ones up.
        assert (lam < 0.9) if z.max() > -z.min() else (lam > 1.1)
    # Beyond the bounds the fit stops at them: a logarithm at most.
    z = rng.lognormal(0.0, 2.0, 200)
    z = (z - z.mean()) / z.std()
    assert fit_yeo_johnson(z) == pytest.approx(POWER_BOUNDS[0], abs=0.02)
    # Gaussian-likelihood check of the profile: the log-likelihood of the identity is
    # that of a plain Gaussian sample of these (standardised) values.
    assert yeo_johnson_log_likelihood(z, 1.0) == pytest.approx(0.0, abs=1e-9)


def test_power_standardizer_keeps_order_and_spreads_the_good_tail():
    # Rosenbrock-like values: most far above the minimum, a few near it.
    y = np.random.default_rng(3).lognormal(8.0, 1.5, 60)
    tr = PowerStandardizer.fit(y)
    t = tr.transform(y)
    assert t.mean() == pytest.approx(0.0, abs=1e-9) and t.std() == pytest.approx(1.0)
    order = np.argsort(y)
    assert np.all(np.diff(t[order]) > 0)
    # The best values are resolved better than by the robust transform alone.
    plain = RobustStandardizer.fit(y).transform(y)
    best5 = order[:5]
    assert np.ptp(t[best5]) > 2 * np.ptp(plain[best5])
    # Values between refits, and the incumbent, go through the same map.
    assert tr.transform(y[order[:1]])[0] == pytest.approx(t[order[0]])
    new = tr.transform(np.array([0.5 * y.min(), 2.0 * y.max()]))
    assert new[0] < t.min() and new[1] > t.max()


def test_power_standardizer_on_few_or_constant_values():
    for y in (np.array([2.0]), np.full(5, 2.0), np.array([1.0, 2.0])):
        tr = PowerStandardizer.fit(y)
        t = tr.transform(y)
        assert np.all(np.isfinite(t)) and tr.power == 1.0


@pytest.mark.parametrize("shifted", [False, True])
def test_log_jacobian_matches_finite_differences(shifted):
    # Skewed values with one diverged run (past both bends of the squash): the summed
    # log-derivative of the whole transform, per value and in total.
    rng = np.random.default_rng(4)
    y = np.concatenate([rng.lognormal(2.0, 1.5, 40), [1e9]])
    tr = PowerStandardizer.fit(y, shifted=shifted)
    assert tr.shifted == shifted
    for value in [y.min(), np.median(y), y.max(), 0.5 * y.min(), tr.robust.threshold * 1.01]:
        h = 1e-6 * value
        slope = (tr.transform(np.array([value + h])) - tr.transform(np.array([value - h])))[0]
        expected = math.log(slope / (2 * h))
        assert tr.log_jacobian(np.array([value])) == pytest.approx(expected, abs=1e-5)
    singles = sum(tr.log_jacobian(y[i : i + 1]) for i in range(len(y)))
    assert tr.log_jacobian(y) == pytest.approx(singles)


def test_shifted_power_standardizer_resolves_the_values_near_the_best():
    # Values that fall by decades towards a floor: the plain transform's power stops at a
    # logarithm of z + 1; the shifted one takes it of the distance above the best value,
    # so the best few are further apart, and the order is kept everywhere, including
    # new values below the best and above the worst.
    y = 1.0 + np.random.default_rng(5).lognormal(4.0, 2.0, 60)
    plain, shifted = PowerStandardizer.fit(y), PowerStandardizer.fit(y, shifted=True)
    assert plain.power == pytest.approx(POWER_BOUNDS[0], abs=0.02)
    t, s = plain.transform(y), shifted.transform(y)
    assert s.mean() == pytest.approx(0.0, abs=1e-9) and s.std() == pytest.approx(1.0)
    best5 = np.argsort(y)[:5]
    assert np.ptp(s[best5]) > 1.5 * np.ptp(t[best5])
    grid = np.concatenate([[0.0, 0.5, 0.99], np.sort(y), [1e6, 1e12]]) + 0.0
    assert np.all(np.diff(shifted.transform(grid)) > 0)
    assert np.all(np.isfinite(PowerStandardizer.fit(np.full(4, 3.0), shifted=True).transform(y)))
