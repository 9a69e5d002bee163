"""Verdicts on ``scaling: auto``: is a fitted input warp the identity, the log map or the reverse-log map?

The Bayesian strategy fits a Kumaraswamy warp w(u) = 1 − (1 − u^a)^b to the
unit-cube coordinate u of each ``auto`` hyperparameter (see
:mod:`fasthpo.gp.warping`). Had the user declared a scaling, the kernel would
have seen that scaling's coordinate instead, which is a fixed map of u that
depends on the hyperparameter's own range [lo, hi] (integers: widened by half a
step at each end, as their encoding is):

* ``linear``: g(u) = u;
* ``log`` (needs lo > 0): g(u) = log(1 + u (r − 1)) / log r, r = hi / lo;
* ``reverse_log`` (continuous, 0 ≤ lo < hi < 1): g(u) = −log(1 − u (1 − 1/ρ)) / log ρ,
  ρ = (1 − lo) / (1 − hi).

The verdict compares the fitted warp with each map by their root-mean-square
distance over u ∈ [0, 1]:

1. A map that is itself within ``MIN_SEPARATION`` of the identity is not a
   candidate: over a short range (hi/lo = 3 is 0.10 from the identity) the log
   map is nearly linear, and no verdict should hinge on it.
2. The nearest candidate map is the verdict if it is within ``MATCH`` of the
   warp and at most ``MARGIN`` times as far as the next candidate; otherwise the
   verdict is ``undetermined`` (the warp is half-way, or bent in a way none of
   the maps explains, e.g. a linear parameter whose effect is itself curved).

The evidence is the fitted shapes and the distances, all floats, plus a string
naming the maps that were not candidates and why.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np

from fasthpo.gp.warping import kumaraswamy_cdf
from fasthpo.space import Continuous, Integer

Verdict = Literal["linear", "log", "reverse_log", "undetermined"]

#: A candidate map must be at least this far (RMS over u) from the identity to be told apart.
MIN_SEPARATION = 0.15
#: The nearest map must be within this distance of the fitted warp ...
MATCH = 0.15
#: ... and at most this share of the distance to the next candidate.
MARGIN = 0.5

_GRID = np.linspace(0.0, 1.0, 101)


def _edges(p: Continuous | Integer) -> tuple[float, float]:
    """The range the unit coordinate spans (integers widened by half a step, as encoded)."""
    if isinstance(p, Integer):
        return p.low - 0.5, p.high + 0.5
    return float(p.low), float(p.high)


def _log_ratio(p: Continuous | Integer) -> tuple[float | None, float | None]:
    """log r of the log map and log ρ of the reverse-log map, None where the range rules one out."""
    lo, hi = _edges(p)
    log_r = math.log(hi / lo) if lo > 0 else None
    rev = isinstance(p, Continuous) and 0.0 <= lo < hi < 1.0
    log_rho = math.log((1.0 - lo) / (1.0 - hi)) if rev else None
    return log_r, log_rho


def _maps(p: Continuous | Integer, u: np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
    """The maps g(u) that ``p``'s range allows and tells apart from linear, and why any others not."""
    log_r, log_rho = _log_ratio(p)
    maps = {"linear": np.asarray(u, dtype=float)}
    notes: list[str] = []
    for name, ratio in (("log", log_r), ("reverse_log", log_rho)):
        if ratio is None:
            notes.append("log: needs min > 0" if name == "log" else "reverse_log: needs 0 <= min < max < 1")
            continue
        separation = _rms(_map(name, ratio, _GRID) - _GRID)
        if separation < MIN_SEPARATION:
            notes.append(f"{name}: within {separation:.3f} of linear over this range")
            continue
        maps[name] = _map(name, ratio, u)
    return maps, notes


def _map(name: str, ratio: float, u: np.ndarray) -> np.ndarray:
    """The log map (ratio = log r) or the reverse-log map (ratio = log ρ) at u."""
    if name == "log":
        return np.log1p(u * math.expm1(ratio)) / ratio
    return -np.log1p(u * math.expm1(-ratio)) / ratio


def candidate_maps(p: Continuous | Integer) -> tuple[dict[str, np.ndarray], list[str]]:
    """The maps g(u) on a grid of u that ``p``'s range allows, and why any others are left out."""
    return _maps(p, _GRID)


def warp_like(p: Continuous | Integer, name: str) -> tuple[float, float] | None:
    """Kumaraswamy shapes (a, b) closest (least squares over u) to ``p``'s ``name`` map, or None
    when that map is not a candidate for ``p``: starting points of the warp fit, so that a
    log-shaped optimum is reached even when the identity is a local one."""
    if name not in candidate_maps(p)[0]:
        return None
    log_r, log_rho = _log_ratio(p)
    ratio = log_r if name == "log" else log_rho
    assert ratio is not None
    return _closest_shapes(name, round(ratio, 6))


@functools.lru_cache(maxsize=256)
def _closest_shapes(name: str, ratio: float) -> tuple[float, float]:
    from scipy.optimize import minimize

    target = _map(name, ratio, _GRID)

    def loss(log_ab: np.ndarray) -> float:
        a, b = np.exp(np.clip(log_ab, -6.0, 6.0))
        return float(np.sum((kumaraswamy_cdf(_GRID, a, b) - target) ** 2))

    start = np.array([-1.0, 0.0]) if name == "log" else np.array([0.0, -1.0])
    best = minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-10})
    a, b = np.exp(np.clip(best.x, -6.0, 6.0))
    return float(a), float(b)


def design_coordinate(p: Continuous | Integer, t: np.ndarray) -> np.ndarray:
    """Unit coordinates u for an initial design drawn uniformly as t, hedged between the scales.

    Before any data an ``auto`` scale is unknown, so the design is the equal mixture
    of the candidate scalings: u has the CDF F(u) = mean of the candidate maps g(u).
    Over a range of six decades about half the points then fall in the lower
    decades, where a log-scaled optimum lives and which a linear design would
    never visit; ranges with no candidate but linear keep u = t.
    """
    t = np.asarray(t, dtype=float)
    log_r, log_rho = _log_ratio(p)
    maps, _ = candidate_maps(p)
    if len(maps) == 1:
        return t.copy()
    # A grid fine wherever any candidate puts mass: the uniform grid and its images
    # under each candidate map's inverse.
    grids = [_GRID]
    if "log" in maps and log_r is not None:
        grids.append(np.expm1(_GRID * log_r) / math.expm1(log_r))
    if "reverse_log" in maps and log_rho is not None:
        grids.append(np.expm1(-_GRID * log_rho) / math.expm1(-log_rho))
    u = np.unique(np.clip(np.concatenate(grids), 0.0, 1.0))
    F = np.mean(list(_maps(p, u)[0].values()), axis=0)
    return np.interp(t, F, u)


def _rms(diff: np.ndarray) -> float:
    return float(np.sqrt(np.mean(diff**2)))


def verdict(p: Continuous | Integer, a: float, b: float) -> tuple[Verdict, dict[str, Any]]:
    """The verdict on one ``auto`` hyperparameter given its fitted warp shapes, and the evidence."""
    maps, notes = candidate_maps(p)
    w = kumaraswamy_cdf(_GRID, a, b)
    distances = {name: _rms(w - g) for name, g in maps.items()}
    ranked = sorted(distances, key=distances.__getitem__)
    nearest = ranked[0]
    runner_up = distances[ranked[1]] if len(ranked) > 1 else math.inf
    decided: Verdict = "undetermined"
    if distances[nearest] <= MATCH and distances[nearest] <= MARGIN * runner_up:
        decided = nearest  # type: ignore[assignment]
    evidence: dict[str, Any] = {
        "warp_a": round(float(a), 4),
        "warp_b": round(float(b), 4),
        **{f"distance_{name}": round(d, 4) for name, d in distances.items()},
    }
    if notes:
        evidence["not_candidates"] = "; ".join(notes)
    return decided, evidence


def not_fitted() -> tuple[Verdict, dict[str, Any]]:
    """The verdict before any model has been fitted."""
    return "undetermined", {"reason": "no model fitted yet"}
