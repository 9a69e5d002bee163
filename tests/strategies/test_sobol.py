"""Our Sobol sequence: SciPy's points unscrambled; scrambled, stratified, low in
discrepancy like SciPy's, reproducible from the seed and continued across calls."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import qmc

from fasthpo.strategies.sobol import TABLE_DIMENSIONS, Sobol, scrambled_sobol


def test_the_table_covers_64_dimensions():
    assert TABLE_DIMENSIONS >= 64


@pytest.mark.parametrize("d", [1, 2, 3, 7, 20, 41, TABLE_DIMENSIONS])
def test_unscrambled_points_are_scipys(d):
    ours = Sobol(d, scramble=False).random(1024)
    theirs = qmc.Sobol(d, scramble=False).random(1024)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("d", [1, 6, TABLE_DIMENSIONS])
def test_scrambled_points_are_scipys_from_the_generator_scipy_spawns(d):
    # qmc.Sobol(seed=generator) draws from a child it spawns; handed the same child,
    # ours draws the same bits in the same order.
    ours = Sobol(d, rng=np.random.default_rng(7).spawn(1)[0])
    theirs = qmc.Sobol(d, seed=np.random.default_rng(7))
    for n in (1, 255, 256):
        np.testing.assert_array_equal(ours.random(n), theirs.random(n))


def test_successive_calls_continue_the_sequence():
    whole = Sobol(6, rng=np.random.default_rng(3)).random(512)
    sobol = Sobol(6, rng=np.random.default_rng(3))
    parts = np.vstack([sobol.random(1), sobol.random(0), sobol.random(100), sobol.random(411)])
    np.testing.assert_array_equal(parts, whole)
    assert sobol.num_generated == 512


@pytest.mark.parametrize("d", [1, 5, TABLE_DIMENSIONS])
def test_scrambled_points_lie_in_the_half_open_cube_and_each_axis_is_stratified(d):
    k = 10
    points = Sobol(d, rng=np.random.default_rng(11)).random(2**k)
    assert points.min() >= 0.0 and points.max() < 1.0
    cells = np.floor(points * 2**k).astype(int)
    for j in range(d):  # exactly one point in each interval of width 2^-k
        assert np.array_equal(np.sort(cells[:, j]), np.arange(2**k)), f"axis {j}"


def test_scrambled_points_are_deterministic_given_the_seed_and_differ_across_seeds():
    first = Sobol(8, rng=np.random.default_rng(42)).random(64)
    again = Sobol(8, rng=np.random.default_rng(42)).random(64)
    other = Sobol(8, rng=np.random.default_rng(43)).random(64)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("d", [2, 10])
def test_scrambled_discrepancy_is_like_scipys(d):
    n, seeds = 256, range(8)
    ours = [qmc.discrepancy(Sobol(d, rng=np.random.default_rng(s)).random(n)) for s in seeds]
    theirs = [qmc.discrepancy(qmc.Sobol(d, seed=np.random.default_rng(s)).random(n)) for s in seeds]
    uniform = qmc.discrepancy(np.random.default_rng(0).random((n, d)))
    assert np.median(ours) <= 1.5 * np.median(theirs)
    assert np.median(ours) < 0.5 * uniform  # the test can tell a sequence from noise


def test_beyond_the_table_scipy_takes_over():
    d = TABLE_DIMENSIONS + 1
    with pytest.raises(ValueError, match=f"d={d} is more than the {TABLE_DIMENSIONS} dimensions"):
        Sobol(d, rng=np.random.default_rng(0))
    points = scrambled_sobol(d, np.random.default_rng(0)).random(16)
    assert points.shape == (16, d) and points.min() >= 0.0 and points.max() < 1.0


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bad_dimension_is_refused(bad):
    with pytest.raises(ValueError, match="d must be a positive integer"):
        Sobol(bad, scramble=False)


def test_scrambling_needs_a_generator_and_counts_are_checked():
    with pytest.raises(ValueError, match="rng is required"):
        Sobol(3)
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        Sobol(3, scramble=False).random(-1)
    with pytest.raises(ValueError, match="past its"):
        Sobol(3, scramble=False).random(2**30 + 1)
