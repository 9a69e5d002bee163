"""How much each hyperparameter alone explains of the objective: a first-order, fANOVA-style share.

For each hyperparameter the completed trials are grouped by its value
(categories as they are; numbers in up to 10 quantile bins of at least 5
trials, on the axis scale the report plots them in) and the share of the objective's variance that the
group means explain is measured (η², the correlation ratio) — on the
objective's *ranks*, so one diverged trial cannot dominate. η² of pure noise
is about (k − 1)/(n − 1) for k groups of n trials, so that chance level is
subtracted (ε², clipped at 0). It reads the trials only, no model: it is the
same for every strategy and costs O(n log n) per parameter on 10,000 trials.
Interactions are not counted, so shares need not add up to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Quantile bins of a numeric parameter, at most; fewer on few trials (at least
#: :data:`TRIALS_PER_BIN` each), or the chance level (k − 1)/(n − 1) swamps any effect.
BINS = 10
TRIALS_PER_BIN = 5
#: Fewer completed trials than this: no importance is reported.
MIN_TRIALS = 6


def importance(parameters: Sequence[dict[str, Any]], trials: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Each parameter's share of the objective's (rank) variance that it explains alone, in [0, 1]."""
    done = [t for t in trials if t["objective"] is not None]
    if len(done) < MIN_TRIALS:
        return {}
    y = _ranks(np.array([t["objective"] for t in done], dtype=float))
    total = float(np.var(y))
    if total == 0.0:
        return {p["name"]: 0.0 for p in parameters}
    out = {}
    for p in parameters:
        groups = _groups(p, [t["hyperparameters"].get(p["name"]) for t in done])
        if groups is None:
            continue
        labels, counts = np.unique(groups, return_counts=True)
        means = np.bincount(np.searchsorted(labels, groups), weights=y) / counts
        between = float(np.sum(counts * (means - y.mean()) ** 2) / len(y))
        chance = (len(labels) - 1) / (len(y) - 1)
        out[p["name"]] = max(0.0, between / total - chance)
    return out


def _ranks(y: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(y, kind="stable")
    ranks = np.empty(len(y))
    ranks[order] = np.arange(len(y), dtype=float)
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def _groups(parameter: dict[str, Any], values: list[Any]) -> np.ndarray | None:
    """Group labels of the trials for one parameter; ``None`` when some trial lacks a usable value."""
    if parameter["scale"] == "category":
        return np.array([str(v) for v in values])
    try:
        x = np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return None
    if parameter["scale"] == "log":
        if np.any(x <= 0):
            return None
        x = np.log(x)
    if not np.all(np.isfinite(x)):
        return None
    bins = min(BINS, max(2, len(x) // TRIALS_PER_BIN))
    distinct = np.unique(x)
    if len(distinct) <= bins:
        return np.searchsorted(distinct, x)
    edges = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(np.unique(edges), x, side="right")

