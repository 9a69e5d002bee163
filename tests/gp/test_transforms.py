"""The robust output transform."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.gp.transforms import RobustStandardizer


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
