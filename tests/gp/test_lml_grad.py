"""Fused Matérn-5/2 gradient passes: the log-marginal-likelihood gradient and the
cross-kernel gradient, against their NumPy twins, against finite differences of the
true log marginal likelihood (and of weighted kernel sums), and their validation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import cho_factor, cho_solve

from fasthpo.gp import _native, _reference
from fasthpo.gp.kernels import matern52, matern52_cross_grad, matern52_lml_grad

RTOL = 1e-10


def _points(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Points in a box wider than the lengthscales, lengthscales over two decades, a non-unit amplitude."""
    X = rng.uniform(-1.0, 2.0, size=(n, d))
    lengthscales = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=d))
    return X, lengthscales, float(np.exp(rng.normal()))


def _lml_problem(n: int, d: int, seed: int):
    """Points plus a random symmetric W (an arbitrary weight matrix, not from a GP)."""
    rng = np.random.default_rng(seed)
    X, ls, amp = _points(n, d, rng)
    W = rng.normal(size=(n, n))
    return X, W + W.T, ls, amp


def _g_x_scale(W: np.ndarray, ls: np.ndarray, amp: float) -> np.ndarray:
    """A bound on the size of the terms summed into G_X[i, k]: (5/3) a max_s (1+s)e^-s s/sqrt5
    (< 0.4) times sum_j |W_ij| / l_k. Cancellation in the sum is measured against it."""
    return amp * np.abs(W).sum(axis=1)[:, None] / ls[None, :]


LML_SHAPES = [
    # (n, d)
    (0, 3),
    (1, 1),
    (1, 20),
    (2, 1),
    (7, 3),
    (40, 20),
    (64, 5),
    (130, 7),
    (530, 2),  # more than one block of columns
]


@pytest.mark.parametrize(("n", "d"), LML_SHAPES)
def test_lml_grad_matches_reference(n: int, d: int) -> None:
    X, W, ls, amp = _lml_problem(n, d, seed=100 * n + d)
    g_ls, g_amp, G_X = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
    want_ls, want_amp, want_X = _reference.matern52_lml_grad(X, W, ls, amp, input_grad=True)
    assert g_ls.shape == (d,) and G_X is not None and G_X.shape == (n, d)
    assert isinstance(g_amp, float)
    # Scales of the summed terms (all non-negative with |W|), for entries that cancel.
    abs_ls, abs_amp, _ = _reference.matern52_lml_grad(X, np.abs(W), ls, amp)
    assert_allclose(g_ls, want_ls, rtol=RTOL, atol=1e-13 * abs_ls.max(initial=0.0))
    assert g_amp == pytest.approx(want_amp, rel=RTOL, abs=1e-13 * abs_amp)
    assert np.all(np.abs(G_X - want_X) <= RTOL * np.abs(want_X) + 1e-13 * _g_x_scale(W, ls, amp))


def test_lml_grad_single_point_and_empty() -> None:
    g_ls, g_amp, G_X = matern52_lml_grad(
        [[0.3, 0.7]], [[4.0]], lengthscales=[1.0, 2.0], amplitude=1.5, input_grad=True
    )
    assert_array_equal(g_ls, [0.0, 0.0])
    assert g_amp == 0.5 * 4.0 * 1.5
    assert_array_equal(G_X, [[0.0, 0.0]])
    g_ls, g_amp, G_X = matern52_lml_grad(
        np.empty((0, 4)), np.empty((0, 0)), lengthscales=np.ones(4), amplitude=1.0, input_grad=True
    )
    assert_array_equal(g_ls, np.zeros(4))
    assert g_amp == 0.0
    assert G_X is not None and G_X.shape == (0, 4)


def test_without_input_grad_same_bits_and_none() -> None:
    X, W, ls, amp = _lml_problem(90, 6, seed=1)
    g_ls, g_amp, G_X = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp)
    assert G_X is None
    g_ls2, g_amp2, G_X2 = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
    assert G_X2 is not None
    assert_array_equal(g_ls, g_ls2)
    assert g_amp == g_amp2


def test_reads_only_the_upper_triangle() -> None:
    X, W, ls, amp = _lml_problem(30, 4, seed=2)
    scrambled = np.triu(W) + np.tril(np.random.default_rng(0).normal(size=W.shape), -1)
    for a, b in zip(
        matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True),
        matern52_lml_grad(X, scrambled, lengthscales=ls, amplitude=amp, input_grad=True),
        strict=True,
    ):
        assert_array_equal(a, b)


def test_amplitude_gradient_is_half_w_dot_k() -> None:
    X, W, ls, amp = _lml_problem(50, 3, seed=3)
    _, g_amp, _ = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp)
    K = matern52(X, lengthscales=ls, amplitude=amp)
    assert g_amp == pytest.approx(0.5 * float(np.sum(W * K)), rel=1e-12, abs=1e-13 * np.abs(W).sum())


def test_far_from_origin_keeps_accuracy() -> None:
    # Only differences of scaled coordinates enter; power-of-two lengthscales
    # scale exactly, so a shift by 1e5 costs at most the rounding of the shift.
    X, W, _, amp = _lml_problem(25, 3, seed=4)
    ls = np.array([0.5, 1.0, 2.0])
    near = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
    far = matern52_lml_grad(X + 1e5, W, lengthscales=ls, amplitude=amp, input_grad=True)
    assert_allclose(far[0], near[0], rtol=1e-9)
    assert far[1] == pytest.approx(near[1], rel=1e-9)
    assert np.all(np.abs(far[2] - near[2]) <= 1e-9 * _g_x_scale(W, ls, amp))


# ---------------------------------------------------------------------------
# Finite differences of the true log marginal likelihood.
# ---------------------------------------------------------------------------


def _lml(X: np.ndarray, y: np.ndarray, ls: np.ndarray, amp: float, noise: float) -> float:
    """-1/2 y^T K_y^-1 y - 1/2 log|K_y| - n/2 log 2 pi, K_y = K + noise I."""
    K = matern52(X, lengthscales=ls, amplitude=amp)
    K[np.diag_indices_from(K)] += noise
    c, lower = cho_factor(K, lower=True)
    alpha = cho_solve((c, lower), y)
    return -0.5 * float(y @ alpha) - float(np.log(np.diag(c)).sum()) - 0.5 * len(y) * np.log(2 * np.pi)


def _gp_problem(n: int, d: int, seed: int):
    """GP data with one exactly duplicated and one nearly duplicated point (r = 0 and r ~ 1e-4),
    and W = alpha alpha^T - K_y^-1 as a GP fit builds it."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    X[1] = X[0]
    X[3] = X[2] + 1e-4 * rng.normal(size=d)
    ls = np.exp(rng.uniform(np.log(0.2), np.log(2.0), size=d)) * np.sqrt(d)
    amp, noise = 1.7, 0.05
    y = rng.normal(size=n)
    K = matern52(X, lengthscales=ls, amplitude=amp)
    K[np.diag_indices_from(K)] += noise
    Kinv = np.linalg.inv(K)
    Kinv = 0.5 * (Kinv + Kinv.T)
    alpha = Kinv @ y
    return X, y, ls, amp, noise, np.outer(alpha, alpha) - Kinv


@pytest.mark.parametrize(("n", "d"), [(12, 1), (10, 3), (8, 20)])
def test_lml_grad_matches_finite_differences(n: int, d: int) -> None:
    X, y, ls, amp, noise, W = _gp_problem(n, d, seed=n + d)
    g_ls, g_amp, G_X = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
    assert G_X is not None
    h = 1e-5

    fd_ls = np.empty(d)
    for k in range(d):
        up, down = ls.copy(), ls.copy()
        up[k] *= np.exp(h)
        down[k] *= np.exp(-h)
        fd_ls[k] = (_lml(X, y, up, amp, noise) - _lml(X, y, down, amp, noise)) / (2 * h)
    fd_amp = (_lml(X, y, ls, amp * np.exp(h), noise) - _lml(X, y, ls, amp * np.exp(-h), noise)) / (2 * h)

    fd_X = np.empty_like(X)
    for i in range(n):
        for k in range(d):
            up, down = X.copy(), X.copy()
            up[i, k] += h
            down[i, k] -= h
            fd_X[i, k] = (_lml(up, y, ls, amp, noise) - _lml(down, y, ls, amp, noise)) / (2 * h)

    scale = np.abs(fd_X).max() + np.abs(fd_ls).max() + abs(fd_amp)
    assert_allclose(g_ls, fd_ls, rtol=1e-6, atol=1e-8 * scale)
    assert g_amp == pytest.approx(fd_amp, rel=1e-6, abs=1e-8 * scale)
    assert_allclose(G_X, fd_X, rtol=1e-5, atol=1e-7 * scale)
    # The duplicated pair: the pair term itself vanishes at r = 0 (no singularity).
    assert np.all(np.isfinite(G_X))


# ---------------------------------------------------------------------------
# Determinism.
# ---------------------------------------------------------------------------


def test_repeated_and_concurrent_calls_agree_bitwise() -> None:
    # Fixed summation order, no shared scratch: the same bits from every call,
    # whatever runs alongside (the binding releases the GIL).
    X, W, ls, amp = _lml_problem(160, 8, seed=5)
    Xc = np.random.default_rng(6).uniform(size=(70, 8))
    V = np.random.default_rng(7).normal(size=(70, 160))
    expected = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
    expected_cross = matern52_cross_grad(Xc, X, V, lengthscales=ls, amplitude=amp)
    results: list[bool] = []

    def work() -> None:
        for _ in range(5):
            got = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
            cross = matern52_cross_grad(Xc, X, V, lengthscales=ls, amplitude=amp)
            results.append(
                np.array_equal(got[0], expected[0])
                and got[1] == expected[1]
                and np.array_equal(got[2], expected[2])
                and np.array_equal(cross, expected_cross)
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 20


# ---------------------------------------------------------------------------
# Cross-kernel gradient.
# ---------------------------------------------------------------------------


CROSS_SHAPES = [
    # (m, n, d)
    (1, 1, 1),
    (0, 5, 3),
    (5, 0, 3),
    (0, 0, 2),
    (3, 1, 20),
    (7, 13, 20),
    (25, 31, 5),
    (40, 600, 2),  # more than one block of columns
]


@pytest.mark.parametrize(("m", "n", "d"), CROSS_SHAPES)
def test_cross_grad_matches_reference(m: int, n: int, d: int) -> None:
    rng = np.random.default_rng(1000 * m + 10 * n + d)
    X, ls, amp = _points(n, d, rng)
    Xc = rng.uniform(-1.0, 2.0, size=(m, d))
    V = rng.normal(size=(m, n))
    G = matern52_cross_grad(Xc, X, V, lengthscales=ls, amplitude=amp)
    assert G.shape == (m, d) and G.dtype == np.float64
    want = _reference.matern52_cross_grad(Xc, X, V, ls, amp)
    assert np.all(np.abs(G - want) <= RTOL * np.abs(want) + 1e-13 * _g_x_scale(V, ls, amp))
    if n == 0:
        assert_array_equal(G, np.zeros((m, d)))


@pytest.mark.parametrize("d", [1, 4, 20])
def test_cross_grad_is_the_posterior_mean_gradient(d: int) -> None:
    # With V[c] = alpha for every candidate, G is the gradient of
    # mu(xc) = k(xc, X) alpha; checked by central differences, including a
    # candidate that coincides with a data point (r = 0).
    rng = np.random.default_rng(d)
    X = rng.uniform(size=(15, d))
    ls = np.exp(rng.uniform(np.log(0.3), np.log(1.5), size=d)) * np.sqrt(d)
    alpha = rng.normal(size=15)
    Xc = np.vstack([rng.uniform(size=(5, d)), X[4]])
    V = np.tile(alpha, (len(Xc), 1))
    G = matern52_cross_grad(Xc, X, V, lengthscales=ls, amplitude=2.3)

    def mean(Z: np.ndarray) -> np.ndarray:
        return matern52(Z, X, lengthscales=ls, amplitude=2.3) @ alpha

    h = 1e-6
    fd = np.empty_like(Xc)
    for k in range(d):
        step = np.zeros(d)
        step[k] = h
        fd[:, k] = (mean(Xc + step) - mean(Xc - step)) / (2 * h)
    assert_allclose(G, fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())


def test_cross_grad_of_variance_weights() -> None:
    # V = -2 (K_y^-1 k(X, Xc))^T makes G the gradient of the posterior variance
    # a - k*^T K_y^-1 k*, the way the acquisition uses it.
    rng = np.random.default_rng(8)
    X = rng.uniform(size=(20, 3))
    ls, amp, noise = np.array([0.4, 0.9, 0.6]), 1.3, 0.01
    Ky = matern52(X, lengthscales=ls, amplitude=amp) + noise * np.eye(20)
    Xc = rng.uniform(size=(6, 3))

    def variance(Z: np.ndarray) -> np.ndarray:
        Ks = matern52(Z, X, lengthscales=ls, amplitude=amp)
        return amp - np.einsum("ij,ji->i", Ks, np.linalg.solve(Ky, Ks.T))

    Ks = matern52(Xc, X, lengthscales=ls, amplitude=amp)
    G = matern52_cross_grad(Xc, X, -2.0 * np.linalg.solve(Ky, Ks.T).T, lengthscales=ls, amplitude=amp)
    h = 1e-6
    fd = np.stack([(variance(Xc + h * e) - variance(Xc - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    assert_allclose(G, fd, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------
# Validation: every rejection is a ValueError that names the argument.
# ---------------------------------------------------------------------------

GOOD_X = np.zeros((3, 2))
GOOD_W = np.eye(3)
GOOD_LS = np.ones(2)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"X": np.zeros(3)}, r"X must be 2-D.*\(3,\)"),
        ({"X": np.zeros((3, 0)), "lengthscales": np.ones(0)}, r"X must have at least one column"),
        ({"X": np.array([[0.0, 1.0], [np.nan, 0.0], [0.0, 0.0]])}, r"X must be finite.*X\[1, 0\] = nan"),
        ({"X": np.zeros((3, 2), dtype=complex)}, r"X must be a real numeric array"),
        ({"W": np.eye(4)}, r"W must have shape \(3, 3\) to match X's n=3, got shape \(4, 4\)"),
        ({"W": np.ones(3)}, r"W must have shape \(3, 3\)"),
        ({"W": np.where(np.eye(3) > 0, 1.0, np.inf)}, r"W must be finite.*W\[0, 1\] = inf"),
        ({"W": [["a"] * 3] * 3}, r"W must be a real numeric array"),
        ({"lengthscales": np.ones(3)}, r"lengthscales must have shape \(2,\) to match X's d=2"),
        ({"lengthscales": [1.0, 0.0]}, r"lengthscales must be positive.*lengthscales\[1\] = 0.0"),
        ({"amplitude": -1.0}, r"amplitude must be positive and finite, got -1.0"),
        ({"amplitude": "2"}, r"amplitude must be a real number"),
    ],
)
def test_lml_grad_rejects_bad_arguments(kwargs: dict, pattern: str) -> None:
    args = {"X": GOOD_X, "W": GOOD_W, "lengthscales": GOOD_LS, "amplitude": 1.0} | kwargs
    with pytest.raises(ValueError, match=pattern):
        matern52_lml_grad(args.pop("X"), args.pop("W"), **args)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"Xc": np.zeros(2)}, r"Xc must be 2-D"),
        ({"Xc": np.array([[np.nan, 0.0]])}, r"Xc must be finite.*Xc\[0, 0\] = nan"),
        ({"X": np.zeros((3, 3))}, r"X has 3 columns but Xc has 2"),
        ({"X": np.array([[0.0, -np.inf]] * 3)}, r"X must be finite.*X\[0, 1\] = -inf"),
        ({"V": np.zeros((3, 2))}, r"V must have shape \(2, 3\) to match Xc's m=2 and X's n=3"),
        ({"V": np.array([[0.0, 0.0, 0.0], [0.0, np.nan, 0.0]])}, r"V must be finite.*V\[1, 1\] = nan"),
        ({"lengthscales": np.ones(1)}, r"lengthscales must have shape \(2,\) to match Xc's d=2"),
        ({"amplitude": np.nan}, r"amplitude must be positive and finite, got nan"),
    ],
)
def test_cross_grad_rejects_bad_arguments(kwargs: dict, pattern: str) -> None:
    args = {
        "Xc": np.zeros((2, 2)),
        "X": GOOD_X,
        "V": np.zeros((2, 3)),
        "lengthscales": GOOD_LS,
        "amplitude": 1.0,
    } | kwargs
    with pytest.raises(ValueError, match=pattern):
        matern52_cross_grad(args.pop("Xc"), args.pop("X"), args.pop("V"), **args)


def test_accepts_any_layout_and_real_dtype() -> None:
    X, W, ls, amp = _lml_problem(6, 3, seed=9)
    expected = matern52_lml_grad(X, W, lengthscales=ls, amplitude=amp, input_grad=True)
    got = matern52_lml_grad(
        np.asfortranarray(X), W.tolist(), lengthscales=list(ls), amplitude=np.float32(amp), input_grad=True
    )
    assert_allclose(got[0], expected[0], rtol=1e-6)  # amplitude went through float32
    got = matern52_lml_grad(
        X[:, ::-1][:, ::-1], np.asfortranarray(W), lengthscales=ls, amplitude=amp, input_grad=True
    )
    for a, b in zip(got, expected, strict=True):
        assert_array_equal(a, b)
    ints = np.arange(6).reshape(3, 2)
    G = matern52_cross_grad(ints, ints, np.ones((3, 3), dtype=np.int32), lengthscales=[1, 2], amplitude=1)
    assert_allclose(
        G,
        _reference.matern52_cross_grad(ints, ints, np.ones((3, 3)), np.array([1.0, 2.0]), 1.0),
        rtol=RTOL,
        atol=1e-15,
    )


def test_binding_guards_buffer_shapes() -> None:
    # The binding is private, but it is the last line before raw pointers.
    X, ls = np.zeros((3, 2)), np.ones(2)
    with pytest.raises(ValueError, match=r"W has shape \(3, 2\), expected \(3, 3\)"):
        _native.matern52_lml_grad(X, np.zeros((3, 2)), ls, 1.0, np.empty(2))
    with pytest.raises(ValueError, match="output g_log_ls has length 3"):
        _native.matern52_lml_grad(X, np.eye(3), ls, 1.0, np.empty(3))
    with pytest.raises(ValueError, match=r"output G_X has shape \(2, 3\)"):
        _native.matern52_lml_grad(X, np.eye(3), ls, 1.0, np.empty(2), np.empty((2, 3)))
    with pytest.raises(ValueError, match="lengthscales has length 1"):
        _native.matern52_lml_grad(X, np.eye(3), np.ones(1), 1.0, np.empty(2))
    with pytest.raises(ValueError, match="Xc has d=2 columns but X has 1"):
        _native.matern52_cross_grad(X, np.zeros((4, 1)), np.zeros((3, 4)), ls, 1.0, np.empty((3, 2)))
    with pytest.raises(ValueError, match=r"V has shape \(4, 3\), expected \(3, 4\)"):
        _native.matern52_cross_grad(X, np.zeros((4, 2)), np.zeros((4, 3)), ls, 1.0, np.empty((3, 2)))
    with pytest.raises(ValueError, match=r"output G has shape \(3, 3\)"):
        _native.matern52_cross_grad(X, np.zeros((4, 2)), np.zeros((3, 4)), ls, 1.0, np.empty((3, 3)))
    with pytest.raises(ValueError):  # a non-contiguous buffer is refused, not misread
        _native.matern52_lml_grad(X, np.eye(6)[::2, ::2], ls, 1.0, np.empty(2))
