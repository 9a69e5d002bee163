"""The native LogEI polish against scipy's L-BFGS-B on random GPs, and its contract (bounds, ``free``)."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.gp import _native
from fasthpo.gp.acquisition import LogExpectedImprovement
from fasthpo.gp.acquisition_search import BoxedAcquisition, _polish_scipy, polish
from fasthpo.gp.model import GaussianProcess, Hyperparameters


def _case(n: int, d: int, seed: int) -> tuple[LogExpectedImprovement, np.ndarray, np.ndarray]:
    """A GP with random lengthscales on a bumpy function, starts near its best points, a mask."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(9 * X).sum(axis=1)
    theta = Hyperparameters.prior_mode(d).vector()
    theta[:d] = rng.uniform(-2.0, 1.0, d)
    gp = GaussianProcess(X, (y - y.mean()) / y.std(), Hyperparameters.from_vector(theta))
    acquisition = LogExpectedImprovement(gp, float(gp.y.min()))
    starts = np.clip(X[np.argsort(gp.y)[:4]] + rng.normal(0, 0.05, (4, d)), 0, 1)
    starts[0] = rng.random(d)  # one start far from the data
    free = np.ones(d, dtype=bool)
    free[rng.integers(d)] = False
    return acquisition, starts, free


@pytest.mark.parametrize(("n", "d"), [(30, 3), (80, 20)])
def test_native_polish_reaches_scipys_values(n: int, d: int) -> None:
    worse, total = 0, 0
    for seed in range(6):
        acquisition, starts, free = _case(n, d, seed)
        native = polish(acquisition, starts, free)
        reference = _polish_scipy(acquisition, starts, np.nonzero(free)[0], 40)
        got, want, before = acquisition(native), acquisition(reference), acquisition(starts)
        assert np.all(got >= before - 1e-12)  # never downhill
        worse += int(np.sum(got < want - 1e-3))
        total += len(got)
        assert native.min() >= 0.0 and native.max() <= 1.0
        assert np.array_equal(native[:, ~free], starts[:, ~free])
    assert worse <= total // 8, f"{worse} of {total} starts ended lower than scipy's"


def test_native_polish_clips_starts_and_reports_values() -> None:
    acquisition, starts, free = _case(40, 5, seed=7)
    gp = acquisition.gp
    outside = starts.copy()
    outside[1, free] += 3.0  # free coordinates beyond the box are clipped first
    Z = outside.copy()
    values = np.empty(len(Z))
    passes = _native.logei_polish(
        Z, free.astype(np.uint8), gp.X, gp.L, gp.alpha, gp.hp.lengthscales, gp.hp.amplitude,
        gp.hp.mean, acquisition.best, 0, values,
    )
    assert passes == 1  # maxiter 0: score the clipped starts and stop
    assert np.array_equal(Z[:, free], np.clip(outside[:, free], 0, 1))
    assert np.array_equal(Z[:, ~free], outside[:, ~free])
    np.testing.assert_allclose(values, acquisition(Z), rtol=1e-9)
    passes = _native.logei_polish(
        Z, free.astype(np.uint8), gp.X, gp.L, gp.alpha, gp.hp.lengthscales, gp.hp.amplitude,
        gp.hp.mean, acquisition.best, 40, values,
    )
    assert passes > 1
    np.testing.assert_allclose(values, acquisition(Z), rtol=1e-9)


def test_native_polish_with_nothing_free_leaves_the_starts() -> None:
    acquisition, starts, _ = _case(20, 4, seed=3)
    assert np.array_equal(polish(acquisition, starts, np.zeros(4, dtype=bool)), starts)
    assert np.array_equal(acquisition.ascend(starts, np.zeros(4, dtype=bool)), starts)


def test_native_polish_rejects_a_mask_of_the_wrong_length() -> None:
    acquisition, starts, free = _case(20, 4, seed=3)
    with pytest.raises(ValueError, match="free"):
        acquisition.ascend(starts, free[:3])


class _Wrapped:
    """Another acquisition with LogEI's faces: it must take scipy's path."""

    def __init__(self, inner: LogExpectedImprovement) -> None:
        self.inner = inner
        self.calls = 0

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        return self.inner(Z)

    def value_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.inner.value_and_grad(Z)


def test_other_acquisitions_are_polished_by_scipy() -> None:
    acquisition, starts, free = _case(30, 3, seed=1)
    wrapped = _Wrapped(acquisition)
    moved = polish(wrapped, starts, free)  # type: ignore[arg-type]
    assert wrapped.calls > 1
    assert np.all(acquisition(moved) >= acquisition(starts) - 1e-12)


def test_native_polish_in_a_box_stays_inside_and_reaches_scipys_values() -> None:
    # A trust region: bounds inside [0, 1] around the best point, the polish as plain bounds.
    worse, total = 0, 0
    for seed in range(6):
        acquisition, starts, free = _case(60, 12, seed)
        center = acquisition.gp.X[int(np.argmin(acquisition.gp.y))]
        half = np.random.default_rng(seed).uniform(0.02, 0.3, 12)
        lo, hi = np.clip(center - half, 0, 1), np.clip(center + half, 0, 1)
        inside = np.clip(starts, lo, hi)
        native = polish(acquisition, inside, free, box=(lo, hi))
        assert np.all(native >= lo - 1e-15) and np.all(native <= hi + 1e-15)
        assert np.array_equal(native[:, ~free], inside[:, ~free])
        got, before = acquisition(native), acquisition(inside)
        assert np.all(got >= before - 1e-12)
        # scipy's polish of the same starts in the box's unit coordinates.
        width = hi - lo
        boxed = BoxedAcquisition(acquisition, lo, width)
        unit = _polish_scipy(
            boxed, (inside - lo) / np.maximum(width, 1e-12), np.nonzero(free)[0], 40  # type: ignore[arg-type]
        )
        want = acquisition(lo + width * unit)
        worse += int(np.sum(got < want - 1e-3))
        total += len(got)
    assert worse <= total // 8, f"{worse} of {total} starts ended lower than scipy's"


def test_native_polish_rejects_an_inverted_box() -> None:
    acquisition, starts, free = _case(20, 4, seed=3)
    with pytest.raises(ValueError, match="lower"):
        acquisition.ascend(starts, free, box=(np.ones(4), np.zeros(4)))



@pytest.mark.parametrize("scaled", [True, False])
def test_native_polish_box_coordinates_both_stay_inside_and_climb(scaled: bool) -> None:
    acquisition, starts, free = _case(50, 6, seed=9)
    gp = acquisition.gp
    center = gp.X[int(np.argmin(gp.y))]
    lo, hi = np.clip(center - 0.1, 0, 1), np.clip(center + 0.05, 0, 1)
    Z = starts.copy()  # starts outside the box: their free coordinates are clipped into it
    values = np.empty(len(Z))
    passes = _native.logei_polish(
        Z, free.astype(np.uint8), gp.X, gp.L, gp.alpha, gp.hp.lengthscales, gp.hp.amplitude,
        gp.hp.mean, acquisition.best, 40, values, lo, hi, scaled,
    )
    assert passes > 1
    assert np.all(Z[:, free] >= lo[free]) and np.all(Z[:, free] <= hi[free])
    assert np.array_equal(Z[:, ~free], starts[:, ~free])
    clipped = starts.copy()
    clipped[:, free] = np.clip(starts[:, free], lo[free], hi[free])
    np.testing.assert_allclose(values, acquisition(Z), rtol=1e-9)
    assert np.all(values >= acquisition(clipped) - 1e-12)


def test_after_lead_after_iterations_only_the_leader_climbs_on() -> None:
    stopped_early = 0
    for seed in range(4):
        acquisition, starts, free = _case(80, 20, seed)
        full = acquisition.ascend(starts, free)
        cut = [acquisition.ascend(starts, free, maxiter=m) for m in range(2, 41)]
        led = acquisition.ascend(starts, free, lead_after=2)
        # Each start climbs on its own, so it stopped where a shorter climb would have:
        # after two iterations or more (later, if it led for a while).
        for s in range(len(starts)):
            assert any(np.array_equal(led[s], Z[s]) for Z in cut)
        trailing = [s for s in range(len(starts)) if not np.array_equal(led[s], full[s])]
        stopped_early += len(trailing)
        values = acquisition(led)
        leader = int(np.argmax(values))
        assert leader not in trailing  # the leader went the whole way
        assert np.array_equal(led[leader], full[leader])
    assert stopped_early > 0  # the rule did stop some starts
