"""Matérn-5/2 kernel: native vs the NumPy reference, scikit-learn as an independent
oracle, structural properties (symmetry, diagonal, PSD) and argument validation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fasthpo.gp import _native, _reference
from fasthpo.gp.kernels import matern52

RTOL = 1e-10


def _problem(n1: int, n2: int, d: int, seed: int):
    """Random points, lengthscales spanning two decades and a non-unit amplitude."""
    rng = np.random.default_rng(seed)
    X1 = rng.uniform(-1.0, 2.0, size=(n1, d))
    X2 = rng.uniform(-1.0, 2.0, size=(n2, d))
    lengthscales = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=d))
    amplitude = float(np.exp(rng.normal()))
    return X1, X2, lengthscales, amplitude


SHAPES = [
    # (n1, n2, d)
    (1, 1, 1),
    (1, 7, 1),
    (7, 1, 3),
    (0, 5, 3),
    (5, 0, 3),
    (0, 0, 1),
    (13, 17, 1),
    (13, 17, 20),
    (40, 31, 5),
    (64, 64, 20),
]


@pytest.mark.parametrize(("n1", "n2", "d"), SHAPES)
def test_cross_matches_reference(n1: int, n2: int, d: int) -> None:
    X1, X2, ls, amp = _problem(n1, n2, d, seed=n1 * 1000 + n2 * 10 + d)
    K = matern52(X1, X2, lengthscales=ls, amplitude=amp)
    assert K.shape == (n1, n2)
    assert K.dtype == np.float64
    assert_allclose(K, _reference.matern52(X1, X2, ls, amp), rtol=RTOL, atol=1e-15 * amp)


@pytest.mark.parametrize(("n", "d"), [(0, 1), (1, 1), (1, 20), (2, 1), (9, 4), (50, 20), (120, 3)])
def test_symmetric_matches_reference_and_cross(n: int, d: int) -> None:
    X, _, ls, amp = _problem(n, 0, d, seed=7 * n + d)
    K = matern52(X, lengthscales=ls, amplitude=amp)
    assert K.shape == (n, n)
    assert_allclose(K, _reference.matern52(X, None, ls, amp), rtol=RTOL, atol=1e-15 * amp)
    # Same arithmetic on both paths, so equal to the last bit.
    assert_array_equal(K, matern52(X, X, lengthscales=ls, amplitude=amp))


@pytest.mark.parametrize(("n", "d"), [(1, 1), (30, 2), (80, 20)])
def test_symmetric_structure(n: int, d: int) -> None:
    X, _, ls, amp = _problem(n, 0, d, seed=100 + n)
    K = matern52(X, lengthscales=ls, amplitude=amp)
    assert_array_equal(K, K.T)
    assert_array_equal(np.diag(K), np.full(n, amp))
    assert np.all(K > 0.0) and np.all(amp >= K)
    assert np.linalg.eigvalsh(K).min() >= -1e-10 * n * amp


def test_psd_with_near_duplicate_points() -> None:
    # Nearly coincident rows make K nearly singular: the hardest case for PSD.
    rng = np.random.default_rng(3)
    base = rng.uniform(size=(20, 4))
    X = np.vstack([base, base + 1e-9 * rng.normal(size=base.shape)])
    K = matern52(X, lengthscales=np.full(4, 0.7), amplitude=2.0)
    assert np.linalg.eigvalsh(K).min() >= -1e-10 * X.shape[0] * 2.0


def test_far_from_origin_keeps_full_accuracy() -> None:
    # Points near 1e5 with unit-scale separations: summing squared differences
    # is exact here (power-of-two lengthscales scale exactly), whereas the
    # |a|^2 + |b|^2 - 2ab expansion would lose about ten digits.
    rng = np.random.default_rng(11)
    X1 = 1e5 + rng.uniform(size=(6, 3))
    X2 = 1e5 + rng.uniform(size=(5, 3))
    ls = np.array([0.5, 1.0, 2.0])
    K = matern52(X1, X2, lengthscales=ls, amplitude=1.0)
    assert_allclose(K, _reference.matern52(X1, X2, ls, 1.0), rtol=1e-13)
    shifted = matern52(X1 - 1e5, X2 - 1e5, lengthscales=ls)
    assert_allclose(K, shifted, rtol=1e-9)


def test_known_values() -> None:
    # r = 1 along one axis: k = 1 + sqrt(5) + 5/3 times exp(-sqrt(5)).
    K = matern52([[0.0, 0.0]], [[0.0, 3.0], [0.0, 0.0]], lengthscales=[1.0, 3.0], amplitude=2.5)
    s5 = np.sqrt(5.0)
    assert_allclose(K, [[2.5 * (1 + s5 + 5.0 / 3.0) * np.exp(-s5), 2.5]], rtol=1e-15)


@pytest.mark.parametrize(("n1", "n2", "d"), [(1, 1, 1), (12, 9, 3), (30, 25, 20)])
def test_matches_scikit_learn(n1: int, n2: int, d: int) -> None:
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    X1, X2, ls, amp = _problem(n1, n2, d, seed=42 + d)
    oracle = amp * kernels.Matern(length_scale=ls, nu=2.5)(X1, X2)
    assert_allclose(matern52(X1, X2, lengthscales=ls, amplitude=amp), oracle, rtol=RTOL)
    oracle_sym = amp * kernels.Matern(length_scale=ls, nu=2.5)(X1)
    assert_allclose(matern52(X1, lengthscales=ls, amplitude=amp), oracle_sym, rtol=RTOL)


def test_accepts_any_layout_and_real_dtype() -> None:
    X1, X2, ls, amp = _problem(6, 4, 3, seed=5)
    expected = matern52(X1, X2, lengthscales=ls, amplitude=amp)
    assert_array_equal(
        matern52(np.asfortranarray(X1), X2.tolist(), lengthscales=list(ls), amplitude=amp),
        expected,
    )
    strided = np.zeros((12, 3))
    strided[::2] = X1
    assert_array_equal(matern52(strided[::2], X2, lengthscales=ls, amplitude=amp), expected)
    ints = np.arange(6).reshape(3, 2)
    assert_allclose(
        matern52(ints, lengthscales=np.ones(2, dtype=np.float32), amplitude=np.float64(1.0)),
        _reference.matern52(ints.astype(float), None, np.ones(2), 1.0),
        rtol=RTOL,
    )


def test_inputs_are_not_modified() -> None:
    X1, X2, ls, amp = _problem(5, 4, 2, seed=9)
    copies = [a.copy() for a in (X1, X2, ls)]
    matern52(X1, X2, lengthscales=ls, amplitude=amp)
    matern52(X1, lengthscales=ls, amplitude=amp)
    for before, after in zip(copies, (X1, X2, ls), strict=True):
        assert_array_equal(before, after)


def test_concurrent_calls_agree() -> None:
    # The binding releases the GIL; calls from several threads at once must
    # still each produce the serial answer (no shared scratch state).
    X1, X2, ls, amp = _problem(150, 120, 8, seed=13)
    expected = matern52(X1, X2, lengthscales=ls, amplitude=amp)
    expected_sym = matern52(X1, lengthscales=ls, amplitude=amp)
    results: list[bool] = []

    def work() -> None:
        for _ in range(5):
            results.append(
                np.array_equal(matern52(X1, X2, lengthscales=ls, amplitude=amp), expected)
                and np.array_equal(matern52(X1, lengthscales=ls, amplitude=amp), expected_sym)
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 20


# ---------------------------------------------------------------------------
# Validation: every rejection is a ValueError that names the argument.
# ---------------------------------------------------------------------------

GOOD_X = np.zeros((3, 2))
GOOD_LS = np.ones(2)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"X1": np.zeros(3)}, r"X1 must be 2-D.*\(3,\)"),
        ({"X1": np.zeros((2, 2, 2))}, r"X1 must be 2-D"),
        ({"X1": np.zeros((3, 0)), "lengthscales": np.ones(0)}, r"X1 must have at least one column"),
        ({"X1": np.array([[0.0, 1.0], [2.0, np.nan]])}, r"X1 must be finite.*X1\[1, 1\] = nan"),
        ({"X1": np.array([[np.inf, 1.0]])}, r"X1\[0, 0\] = inf"),
        ({"X1": np.zeros((3, 2), dtype=complex)}, r"X1 must be a real numeric array"),
        ({"X1": [["a", "b"]]}, r"X1 must be a real numeric array"),
        ({"X2": np.zeros((4, 3))}, r"X2 has 3 columns but X1 has 2"),
        ({"X2": np.array([[0.0, -np.inf]])}, r"X2 must be finite.*X2\[0, 1\] = -inf"),
        ({"X2": np.zeros(2)}, r"X2 must be 2-D"),
        ({"lengthscales": np.ones(3)}, r"lengthscales must have shape \(2,\).*got shape \(3,\)"),
        ({"lengthscales": np.ones((2, 1))}, r"lengthscales must have shape \(2,\)"),
        ({"lengthscales": 1.0}, r"lengthscales must have shape \(2,\).*got shape \(\)"),
        ({"lengthscales": [1.0, -0.5]}, r"lengthscales must be positive.*lengthscales\[1\] = -0.5"),
        ({"lengthscales": [0.0, 1.0]}, r"lengthscales\[0\] = 0.0"),
        ({"lengthscales": [1.0, np.nan]}, r"lengthscales\[1\] = nan"),
        ({"lengthscales": [np.inf, 1.0]}, r"lengthscales\[0\] = inf"),
        ({"amplitude": 0.0}, r"amplitude must be positive and finite, got 0.0"),
        ({"amplitude": -2.0}, r"amplitude must be positive and finite, got -2.0"),
        ({"amplitude": np.nan}, r"amplitude must be positive and finite, got nan"),
        ({"amplitude": np.inf}, r"amplitude .*got inf"),
        ({"amplitude": "1.0"}, r"amplitude must be a real number, got '1.0'"),
        ({"amplitude": True}, r"amplitude must be a real number"),
        ({"amplitude": np.ones(2)}, r"amplitude must be a real number"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, pattern: str) -> None:
    args = {"X1": GOOD_X, "X2": None, "lengthscales": GOOD_LS, "amplitude": 1.0} | kwargs
    with pytest.raises(ValueError, match=pattern):
        matern52(args.pop("X1"), args.pop("X2"), **args)


def test_amplitude_accepts_numpy_scalars() -> None:
    K = matern52(GOOD_X, lengthscales=GOOD_LS, amplitude=np.array(2.0))
    assert_array_equal(np.diag(K), [2.0, 2.0, 2.0])
    K = matern52(GOOD_X, lengthscales=GOOD_LS, amplitude=np.int64(3))
    assert_array_equal(np.diag(K), [3.0, 3.0, 3.0])


def test_binding_guards_buffer_shapes() -> None:
    # The binding is private, but it is the last line before raw pointers:
    # mismatched shapes must raise rather than write out of bounds.
    X = np.zeros((3, 2))
    ls = np.ones(2)
    with pytest.raises(ValueError, match="output K has shape"):
        _native.matern52_symmetric(X, ls, 1.0, np.empty((3, 2)))
    with pytest.raises(ValueError, match="output K has shape"):
        _native.matern52_cross(X, np.zeros((4, 2)), ls, 1.0, np.empty((4, 3)))
    with pytest.raises(ValueError, match="lengthscales has length 1"):
        _native.matern52_symmetric(X, np.ones(1), 1.0, np.empty((3, 3)))
    with pytest.raises(ValueError, match="X2 has 1"):
        _native.matern52_cross(X, np.zeros((4, 1)), ls, 1.0, np.empty((3, 4)))
    with pytest.raises(ValueError, match="d=0"):
        _native.matern52_symmetric(np.zeros((3, 0)), np.ones(0), 1.0, np.empty((3, 3)))
    with pytest.raises(ValueError):  # a non-contiguous buffer is refused, not misread
        _native.matern52_symmetric(np.zeros((4, 2))[::2], ls, 1.0, np.empty((2, 2)))
