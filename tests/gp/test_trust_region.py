"""The trust region: grows on successes, shrinks on failures, restarts when it collapses,
and its box follows the incumbent and the lengthscales."""

from __future__ import annotations

import numpy as np

from fasthpo.gp.trust_region import TrustRegion


def test_grows_after_enough_successes_in_a_row() -> None:
    region = TrustRegion(failure_tolerance=4)
    region.record(True)
    region.record(True)
    assert region.length == 0.8
    region.record(True)
    assert region.length == 1.6
    for _ in range(3):
        region.record(True)
    assert region.length == 1.6  # capped at max_length


def test_a_failure_breaks_a_run_of_successes() -> None:
    region = TrustRegion(failure_tolerance=4)
    for improved in (True, True, False, True, True):
        region.record(improved)
    assert region.length == 0.8


def test_shrinks_after_enough_failures_and_restarts_when_collapsed() -> None:
    region = TrustRegion(failure_tolerance=2)
    region.record(False)
    assert region.length == 0.8
    region.record(False)
    assert region.length == 0.4
    for _ in range(2 * 6):  # six more halvings: 0.4 / 2**6 < 0.5**7
        region.record(False)
    assert region.length == 0.8
    assert region.restarts == 1


def test_failure_tolerance_follows_the_dimension() -> None:
    assert TrustRegion.for_dimension(3).failure_tolerance == 4
    assert TrustRegion.for_dimension(20).failure_tolerance == 20


def test_box_is_centred_weighted_by_lengthscales_and_inside_the_unit_cube() -> None:
    region = TrustRegion(failure_tolerance=4, initial_length=0.4)
    center = np.array([0.5, 0.5, 0.05, 0.3])
    lengthscales = np.array([1.0, 2.0, 1.0, 9.0])
    free = np.array([True, True, True, False])
    lo, hi = region.box(center, lengthscales, free)
    side = hi - lo
    # The long direction gets the wide side; the geometric mean of the free sides is L.
    assert side[1] > side[0]
    np.testing.assert_allclose(side[1] / side[0], 2.0)
    assert lo[2] == 0.0  # clipped at the cube's face, the other half kept
    full = np.array([side[0], side[1], 2 * (hi[2] - center[2])])
    np.testing.assert_allclose(np.exp(np.log(full).mean()), 0.4)
    assert (lo[3], hi[3]) == (0.0, 1.0)  # a one-hot coordinate is not bounded
    assert ((lo <= center) & (center <= hi)).all()
