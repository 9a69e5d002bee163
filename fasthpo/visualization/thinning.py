"""Thinning intermediate curves so a job of 10,000 trials still draws in a browser in seconds.

Only the curves are thinned; every trial stays in the scatter plots. The
curves share a budget of points: each keeps about ``budget / curves`` of its
reports, evenly spaced by index, always with its first and last report (so a
stopped trial's mark stays where it stopped) and its best one.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Points all intermediate curves together may draw.
CURVE_POINT_BUDGET = 40_000
#: Points a curve keeps however many curves there are.
MIN_POINTS_PER_CURVE = 4


def points_per_curve(curves: int, budget: int | None = None) -> int:
    """How many reports each of ``curves`` curves may keep (of :data:`CURVE_POINT_BUDGET` by default)."""
    total = CURVE_POINT_BUDGET if budget is None else budget
    return max(MIN_POINTS_PER_CURVE, total // max(curves, 1))


def thin(
    steps: Sequence[int], values: Sequence[float], keep: int, *, minimize: bool = True
) -> tuple[list[int], list[float]]:
    """At most about ``keep`` reports of one curve: first, last, best, and evenly spaced between."""
    n = len(steps)
    if n <= keep:
        return list(steps), list(values)
    chosen = {round(i * (n - 1) / (keep - 1)) for i in range(keep)}
    best = min(range(n), key=values.__getitem__) if minimize else max(range(n), key=values.__getitem__)
    chosen.update((0, n - 1, best))
    order = sorted(chosen)
    return [steps[i] for i in order], [values[i] for i in order]
