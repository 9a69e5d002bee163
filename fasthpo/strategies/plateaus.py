"""Plateaus: observations near each other whose results are exactly equal.

Many training metrics are constant over whole regions of the search space. A
random forest trains the same model for ``max_features`` 0.93 and 0.95 of ten
features (nine either way), for ``min_samples_split`` 2 and 3 on data without
ties, for any seed-fixed setting that rounds to the same integer. A GP fitted
with a small noise floor (:mod:`fasthpo.gp.priors`) then sees several points with
the very same value around the incumbent: the posterior there is nearly exact,
LogEI elsewhere is lower still, and the best proposal is yet another point of
the plateau. On ``extratrees-diabetes`` one run spent 18 of its 50 evaluations
that way, returning the incumbent's value 15 times in a row.

An exact repeat is information no model can miss: the region is explored. So a
proposal avoids a small ball around each observation that shares its value
exactly with another observation near it (see
:class:`fasthpo.gp.exploitation.ExcludingAcquisition` for the barrier). A
continuous objective never repeats a value, so on smooth problems nothing
changes; ties far apart (an accuracy of 0.956 reached by two unrelated models)
do not count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Radius of the ball a proposal avoids around each plateau point (unit cube of the
#: model's coordinates): the exploiting slots' radius; a step of one in an integer of
#: 20 values is 0.05.
PLATEAU_RADIUS = 0.05
#: Two observations with equal results count as one plateau when they are at most this
#: far apart (unit cube): a few integer steps, a small share of a continuous range.
TWIN_DISTANCE = 0.25
#: Observations of one value compared pairwise: the most recent ones (a metric with few
#: distinct values, such as accuracy on a small data set, can repeat a value hundreds
#: of times).
GROUP_LIMIT = 256
#: Plateau points a proposal avoids: the most recent ones (the barrier costs
#: candidates × points × dimensions).
POINT_LIMIT = 64


class TiedValues:
    """The rows of every value observed more than once, kept up to date as results
    arrive: O(1) a result, so a run of 10,000 results pays nothing per proposal
    until a value repeats. Each tied value's plateau points are kept too, and looked
    for again only when the value gains a row (or the points move: see
    :meth:`forget_distances`), so a proposal compares only what changed."""

    def __init__(self, twin_distance: float = TWIN_DISTANCE) -> None:
        self.twin_distance = twin_distance
        self._rows: dict[float, list[int]] = {}
        self._tied: list[float] = []
        self._near: dict[float, np.ndarray] = {}  # tied value -> its plateau rows
        self._seen = 0

    def update(self, values: Sequence[float]) -> None:
        """Take in the values appended since the last call (observations only grow)."""
        for i in range(self._seen, len(values)):
            value = float(values[i])
            if not math.isfinite(value):
                continue
            rows = self._rows.setdefault(value, [])
            rows.append(i)
            if len(rows) == 2:
                self._tied.append(value)
            self._near.pop(value, None)
        self._seen = len(values)

    def forget_distances(self) -> None:
        """The points were encoded anew (a coordinate's scale changed): look again."""
        self._near.clear()

    def plateau_points(self, Z: np.ndarray) -> np.ndarray:
        """Indices (sorted) of the rows of ``Z`` (n, D) whose value equals another row's
        exactly, that row lying within ``twin_distance`` (Euclidean, in Z's coordinates);
        at most ``POINT_LIMIT``, the most recent. ``Z`` holds the same points from call
        to call, new rows appended, unless :meth:`forget_distances` was called."""
        marked: list[np.ndarray] = []
        for value in self._tied:
            near = self._near.get(value)
            if near is None:
                rows = np.array(self._rows[value][-GROUP_LIMIT:])
                points = Z[rows]
                dist2 = np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1)
                np.fill_diagonal(dist2, np.inf)
                near = self._near[value] = rows[np.any(dist2 <= self.twin_distance**2, axis=1)]
            marked.append(near)
        if not marked:
            return np.empty(0, dtype=int)
        return np.unique(np.concatenate(marked))[-POINT_LIMIT:].astype(int)


def plateau_points(
    Z: np.ndarray, y: Sequence[float], *, twin_distance: float = TWIN_DISTANCE
) -> np.ndarray:
    """:meth:`TiedValues.plateau_points` of the observations ``Z`` (n, D) with values ``y``."""
    ties = TiedValues(twin_distance)
    ties.update(y)
    return ties.plateau_points(Z)
