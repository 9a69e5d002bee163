"""The scale of ``auto`` hyperparameters: where the search starts, and what the data say.

**Prior scale.** Before any data, an ``auto`` range that spans two decades or
more (``max / min ≥ 100`` with ``min > 0``) is searched as ``log``, one whose
distance to 1 spans two decades (``0 ≤ min < max < 1`` and
``(1 − min) / (1 − max) ≥ 100``, e.g. momentum 0.9 … 0.9999) as
``reverse_log``, and anything else (or a range that qualifies for both) as
``linear``. That is the scale an expert would declare for such a range, and it
is what makes ``auto`` as good as the right declaration from the first trial
on: a log-scaled optimum in the lowest decades is never found by a design that
is uniform in the linear range. The model then fits a Kumaraswamy warp on top
of the prior scale's coordinate (see :mod:`fasthpo.gp.warping`), with a prior
at the identity, so the search bends towards whatever the data say.

**Verdict.** The verdict does not trust the prior: after each model fit it
compares, for each ``auto`` hyperparameter, how well the data are explained
when that hyperparameter is seen through each candidate scale — linear, log,
reverse-log — with everything else as fitted. For each scale it takes the
log marginal likelihood of the GP with that coordinate replaced by the scale's
map of the linear unit coordinate u (integers: over their half-step-widened
range), maximised over that coordinate's lengthscale (a profile likelihood).
The best scale is the verdict if it beats the runner-up by ``VERDICT_NATS``
(a likelihood ratio of e³ ≈ 20); otherwise the verdict is ``undetermined`` —
typically because the hyperparameter hardly matters yet. No verdict is given
before ``MIN_VERDICT_POINTS`` observations and two per hyperparameter. The maps, with r =
hi / lo and ρ = (1 − lo) / (1 − hi):

* ``linear``: g(u) = u;
* ``log`` (needs lo > 0): g(u) = log(1 + u (r − 1)) / log r;
* ``reverse_log`` (continuous, 0 ≤ lo < hi < 1): g(u) = −log(1 − u (1 − 1/ρ)) / log ρ.

A map within ``MIN_SEPARATION`` (RMS over u) of the identity is not a
candidate: over a short range (hi/lo = 3 is 0.10 away) log is nearly linear,
and a hyperparameter with no candidate but linear is called ``linear``.

The evidence holds each candidate's log-likelihood relative to the best
(``loglik_<scale>``, 0 for the best), the ``margin``, the scale the search was
in (``searched_in``) and its fitted warp shapes, and how many points the
comparison used.

**Use.** A confident verdict is acted on at once: the strategy moves that
coordinate into the verdict's scale (the observations are re-encoded and the
model refitted), since a warp bends only slowly away from its prior — a log
prior over six decades is far from linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fasthpo.gp.likelihood import MarginalLikelihood
from fasthpo.space import Continuous, Integer

Verdict = Literal["linear", "log", "reverse_log", "undetermined"]

#: A candidate map must be at least this far (RMS over u) from the identity to be told apart.
MIN_SEPARATION = 0.15
#: An ``auto`` range spanning at least this ratio is searched in the matching scale from the start.
PRIOR_MIN_RATIO = 100.0
#: Log-likelihood lead (nats) the best scale needs over the runner-up to be the verdict.
VERDICT_NATS = 3.0
#: Fewest observations for a verdict: this many, and two per hyperparameter of the space.
MIN_VERDICT_POINTS = 10
#: Largest number of observations the verdict compares scales on (a subset above it).
VERDICT_POINTS = 120
#: Grid of log lengthscales over which each scale's likelihood is maximised.
_LOG_LENGTHSCALES = np.linspace(-3.0, 2.0, 6)

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


def _map(name: str, ratio: float | None, u: np.ndarray) -> np.ndarray:
    """The log map (ratio = log r) or the reverse-log map (ratio = log ρ) at u; linear: u."""
    u = np.asarray(u, dtype=float)
    if name == "linear" or ratio is None:
        return u.copy()
    if name == "log":
        return np.log1p(u * math.expm1(ratio)) / ratio
    return -np.log1p(u * math.expm1(-ratio)) / ratio


def _map_inverse(name: str, ratio: float | None, v: np.ndarray) -> np.ndarray:
    """u such that ``_map(name, ratio, u) = v``."""
    v = np.asarray(v, dtype=float)
    if name == "linear" or ratio is None:
        return v.copy()
    if name == "log":
        return np.expm1(v * ratio) / math.expm1(ratio)
    return np.expm1(-v * ratio) / math.expm1(-ratio)


def candidate_maps(p: Continuous | Integer) -> tuple[dict[str, np.ndarray], list[str]]:
    """The maps g(u) on a grid of u that ``p``'s range allows, and why any others are left out."""
    return _maps(p, _GRID)


@dataclass(frozen=True)
class ScaleMap:
    """A scale's map between the linear unit coordinate u of a hyperparameter and its own."""

    name: str  # linear | log | reverse_log
    ratio: float | None = None  # log r or log ρ of the range

    def forward(self, u: np.ndarray) -> np.ndarray:
        return np.clip(_map(self.name, self.ratio, np.clip(u, 0.0, 1.0)), 0.0, 1.0)

    def inverse(self, v: np.ndarray) -> np.ndarray:
        return np.clip(_map_inverse(self.name, self.ratio, np.clip(v, 0.0, 1.0)), 0.0, 1.0)


def scale_map(p: Continuous | Integer, name: str) -> ScaleMap:
    """The map of scale ``name`` over ``p``'s range (linear when the range rules it out)."""
    log_r, log_rho = _log_ratio(p)
    ratio = log_r if name == "log" else log_rho if name == "reverse_log" else None
    return ScaleMap(name, ratio) if ratio is not None else ScaleMap("linear")


def prior_scale(p: Continuous | Integer) -> ScaleMap:
    """The scale an ``auto`` hyperparameter is searched in before any data (module docstring)."""
    log_r, log_rho = _log_ratio(p)
    wide = math.log(PRIOR_MIN_RATIO)
    log_wide = log_r is not None and log_r >= wide
    reverse_wide = log_rho is not None and log_rho >= wide
    if log_wide and not reverse_wide:
        return scale_map(p, "log")
    if reverse_wide and not log_wide:
        return scale_map(p, "reverse_log")
    return ScaleMap("linear")


def _rms(diff: np.ndarray) -> float:
    return float(np.sqrt(np.mean(diff**2)))


def verdicts(
    params: Sequence[Continuous | Integer],
    columns: Sequence[int],
    priors: Sequence[ScaleMap],
    X: np.ndarray,
    Xw: np.ndarray,
    y: np.ndarray,
    *,
    lengthscales: np.ndarray,
    amplitude: float,
    noise: float,
    mean: float,
    warp_a: Sequence[float] | np.ndarray,
    warp_b: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    min_points: int = MIN_VERDICT_POINTS,
) -> dict[str, tuple[Verdict, dict[str, Any]]]:
    """The verdict on each ``auto`` hyperparameter by profile likelihood (module docstring).

    ``X`` holds the model's unwarped inputs (prior-scale coordinates) and ``Xw`` the
    warped ones the GP was fitted to, with targets ``y``; the other arguments are the
    fitted hyperparameters. With fewer than ``min_points`` observations every verdict is
    ``undetermined``: with the other hyperparameters held at a fit to a handful of
    points the comparison is overconfident (on truly linear ranges searched as log, 12 %
    false ``log`` verdicts at 10 evaluations).
    """
    if len(y) < min_points:
        reason = f"{len(y)} observations; a verdict needs {min_points}"
        return {
            p.name: ("undetermined", {"searched_in": prior.name, "reason": reason})
            for p, prior in zip(params, priors, strict=True)
        }
    if len(y) > VERDICT_POINTS:
        rows = np.sort(rng.choice(len(y), VERDICT_POINTS, replace=False))
        X, Xw, y = X[rows], Xw[rows], y[rows]
    likelihood = MarginalLikelihood(y)  # one scratch for every comparison below
    out: dict[str, tuple[Verdict, dict[str, Any]]] = {}
    for p, column, prior, a, b in zip(params, columns, priors, warp_a, warp_b, strict=True):
        u = prior.inverse(X[:, column])
        maps, notes = _maps(p, u)
        evidence: dict[str, Any] = {
            "searched_in": prior.name, "warp_a": round(float(a), 4), "warp_b": round(float(b), 4),
        }
        if notes:
            evidence["not_candidates"] = "; ".join(notes)
        if len(maps) == 1:
            out[p.name] = ("linear", evidence)
            continue
        loglik = {
            name: _profile_loglik(likelihood, Xw, column, g, lengthscales, amplitude, noise, mean)
            for name, g in maps.items()
        }
        ranked = sorted(loglik, key=loglik.__getitem__, reverse=True)
        margin = loglik[ranked[0]] - loglik[ranked[1]]
        decided: Verdict = ranked[0] if margin >= VERDICT_NATS else "undetermined"  # type: ignore[assignment]
        evidence.update({f"loglik_{name}": round(loglik[name] - loglik[ranked[0]], 2) for name in maps})
        evidence.update(margin=round(margin, 2), points=len(y))
        out[p.name] = (decided, evidence)
    return out


def _profile_loglik(
    likelihood: MarginalLikelihood, Xw: np.ndarray, column: int, g: np.ndarray,
    lengthscales: np.ndarray, amplitude: float, noise: float, mean: float,
) -> float:
    """Largest log marginal likelihood over the coordinate's lengthscale, the rest held fixed."""
    X = Xw.copy()
    X[:, column] = g
    ls = np.array(lengthscales, dtype=float)
    best = -math.inf
    for log_l in _LOG_LENGTHSCALES:
        ls[column] = math.exp(log_l)
        value = likelihood.value(X, lengthscales=ls, amplitude=amplitude, noise=noise, mean=mean)
        best = max(best, value)
    return best


def not_fitted() -> tuple[Verdict, dict[str, Any]]:
    """The verdict before any model has been fitted."""
    return "undetermined", {"reason": "no model fitted yet"}
