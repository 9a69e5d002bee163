"""Synthetic test functions with known minima, each on its natural box.

Parameters are ``x0 .. x{d-1}``, each ``Continuous(..., scaling="linear")`` on
its domain; d from 2 to 20 unless fixed (Styblinski–Tang from 1); minimisation
throughout. Below, [a, b] is a dimension's natural domain.

branin (d = 2), x₁ ∈ [−5, 10], x₂ ∈ [0, 15]
    (x₂ − 5.1x₁²/(4π²) + 5x₁/π − 6)² + 10(1 − 1/(8π)) cos x₁ + 10;
    minimum 5/(4π) = 0.397887 at (−π, 12.275), (π, 2.275) and (9.42478, 2.475).
hartmann3, hartmann6, [0, 1]^d
    −Σ_{i=1..4} α_i exp(−Σ_j A_ij (x_j − P_ij)²) with the standard α, A, P below;
    minimum −3.86278 (d = 3) and −3.32237 (d = 6).
levy-d, [−10, 10]^d, with w_i = 1 + (x_i − 1)/4
    sin²(πw₁) + Σ_{i<d} (w_i − 1)²(1 + 10 sin²(πw_i + 1)) + (w_d − 1)²(1 + sin²(2πw_d));
    minimum 0 at x = 1.
ackley-d, [−32.768, 32.768]^d
    −20 exp(−0.2 √(mean x_i²)) − exp(mean cos 2πx_i) + 20 + e; minimum 0 at x = 0.
rosenbrock-d, [−5, 10]^d
    Σ_{i<d} 100(x_{i+1} − x_i²)² + (x_i − 1)²; minimum 0 at x = 1.
styblinski-tang-d, [−5, 5]^d
    ½ Σ (x_i⁴ − 16x_i² + 5x_i); minimum −39.16617·d at x = −2.903534 (each coordinate).

Each family is a builder ``d ↦ Box`` listed in :data:`SYNTHETIC_FAMILIES`; the
catalogue (:mod:`fasthpo.benchmark.problems`) registers them, and the variants
(:mod:`fasthpo.benchmark.variants`) turn a box into a problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from fasthpo.benchmark.registry import MAX_DIMS, Box

BRANIN_OPTIMUM = 5.0 / (4.0 * math.pi)
HARTMANN3_OPTIMUM = -3.862779787332663
HARTMANN3_MINIMIZER = (0.114588877, 0.555648895, 0.852546985)
HARTMANN6_OPTIMUM = -3.3223680114155147
HARTMANN6_MINIMIZER = (0.201689511, 0.150010692, 0.476873974, 0.275332431, 0.311651617, 0.657300534)
STYBLINSKI_TANG_X = -2.903534027771177  # the root of 4x³ − 32x + 5 in [−5, 0]
STYBLINSKI_TANG_OPTIMUM_PER_DIM = -39.16616570377141

_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_HARTMANN3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]], dtype=float
)
_HARTMANN6_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14],
])
_HARTMANN6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381],
], dtype=float)


# --- the functions: x is a 1-D float array ----------------------------------------------------

def branin(x: np.ndarray) -> float:
    """Branin–Hoo on x₁∈[−5, 10], x₂∈[0, 15]; three global minima of 5/(4π)."""
    x1, x2 = x
    b, c, t = 5.1 / (4.0 * math.pi**2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x1) + 10.0)


def hartmann3(x: np.ndarray) -> float:
    """Hartmann-3 on [0, 1]³."""
    return -float(_HARTMANN_ALPHA @ np.exp(-np.sum(_HARTMANN3_A * (x - _HARTMANN3_P) ** 2, axis=1)))


def hartmann6(x: np.ndarray) -> float:
    """Hartmann-6 on [0, 1]⁶."""
    return -float(_HARTMANN_ALPHA @ np.exp(-np.sum(_HARTMANN6_A * (x - _HARTMANN6_P) ** 2, axis=1)))


def levy(x: np.ndarray) -> float:
    """Levy on [−10, 10]^d; 0 at x = 1."""
    w = 1.0 + (x - 1.0) / 4.0
    head = np.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(math.pi * w[:-1] + 1.0) ** 2))
    tail = (w[-1] - 1.0) ** 2 * (1.0 + np.sin(2.0 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


def ackley(x: np.ndarray) -> float:
    """Ackley on [−32.768, 32.768]^d; 0 at x = 0."""
    return float(
        -20.0 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
        - np.exp(np.mean(np.cos(2.0 * math.pi * x))) + 20.0 + math.e
    )


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock on [−5, 10]^d; 0 at x = 1."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1.0) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    """Styblinski–Tang on [−5, 5]^d; −39.16617·d at x = −2.903534."""
    return float(0.5 * np.sum(x**4 - 16.0 * x**2 + 5.0 * x))


# --- the families: d ↦ Box --------------------------------------------------------------------

def _branin(d: int) -> Box:
    return Box(branin, ((-5.0, 10.0), (0.0, 15.0)), BRANIN_OPTIMUM, (math.pi, 2.275))


def _hartmann3(d: int) -> Box:
    return Box.cube(hartmann3, 3, 0.0, 1.0, optimum=HARTMANN3_OPTIMUM, minimizer=HARTMANN3_MINIMIZER)


def _hartmann6(d: int) -> Box:
    return Box.cube(hartmann6, 6, 0.0, 1.0, optimum=HARTMANN6_OPTIMUM, minimizer=HARTMANN6_MINIMIZER)


def _levy(d: int) -> Box:
    return Box.cube(levy, d, -10.0, 10.0, optimum=0.0, minimizer=1.0)


def _ackley(d: int) -> Box:
    return Box.cube(ackley, d, -32.768, 32.768, optimum=0.0, minimizer=0.0)


def _rosenbrock(d: int) -> Box:
    return Box.cube(rosenbrock, d, -5.0, 10.0, optimum=0.0, minimizer=1.0)


def _styblinski_tang(d: int) -> Box:
    return Box.cube(styblinski_tang, d, -5.0, 5.0, optimum=STYBLINSKI_TANG_OPTIMUM_PER_DIM * d,
                    minimizer=STYBLINSKI_TANG_X)


class SyntheticFamily(NamedTuple):
    """One synthetic family as :func:`~fasthpo.benchmark.registry.register_family` takes it."""

    name: str
    description: str
    builder: Callable[[int], Box]
    dims: int | tuple[int, int]


SYNTHETIC_FAMILIES = (
    SyntheticFamily("branin", "Branin-Hoo, d=2: three equal minima, a smooth valley", _branin, 2),
    SyntheticFamily("hartmann3", "Hartmann-3 on [0,1]^3: four local minima", _hartmann3, 3),
    SyntheticFamily("hartmann6", "Hartmann-6 on [0,1]^6: the classic BO benchmark", _hartmann6, 6),
    SyntheticFamily("levy", "Levy-d on [-10,10]^d: many local minima, 0 at 1", _levy, (2, MAX_DIMS)),
    SyntheticFamily("ackley", "Ackley-d on [-32.768,32.768]^d: flat plateau, narrow hole at 0",
                    _ackley, (2, MAX_DIMS)),
    SyntheticFamily("rosenbrock", "Rosenbrock-d on [-5,10]^d: curved narrow valley, 0 at 1",
                    _rosenbrock, (2, MAX_DIMS)),
    SyntheticFamily("styblinski-tang", "Styblinski-Tang-d on [-5,5]^d: 2^d local minima",
                    _styblinski_tang, (1, MAX_DIMS)),
)
