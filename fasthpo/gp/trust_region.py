"""A trust region around the incumbent, after TuRBO (Eriksson et al., 2019).

In ten or more dimensions a global GP fitted to a few dozen points is mostly
prior: LogEI is highest wherever the model knows least, and the acquisition
search spends its proposals on far, empty corners of the box. A trust region
keeps the search local: the candidates and the polish are restricted to a box
centred at the best observed point, whose side along each coordinate is the
region's length ``L`` times that coordinate's lengthscale (normalised so that
the box's volume is ``L^d``, as TuRBO does). The box grows after
``success_tolerance`` improvements in a row and shrinks after
``failure_tolerance`` proposals without one; when it has shrunk below
``min_length`` it starts again at ``initial_length`` (the model keeps its data,
only the search widens again).

Shapes: ``D`` model coordinates; ``center``, ``lengthscales``, ``free`` and the
box's bounds all ``(D,)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class TrustRegion:
    """The length of a TuRBO trust region and its success and failure counters.

    Attributes
    ----------
    length
        Side of the box in unit coordinates before the lengthscale weighting.
    successes, failures
        Consecutive proposals that improved on the incumbent, or did not.
    restarts
        How many times the region collapsed and started again.
    """

    failure_tolerance: int
    success_tolerance: int = 3
    initial_length: float = 0.8
    min_length: float = 0.5**7
    max_length: float = 1.6
    length: float = math.nan
    successes: int = 0
    failures: int = 0
    restarts: int = 0

    def __post_init__(self) -> None:
        if math.isnan(self.length):
            self.length = self.initial_length

    @classmethod
    def for_dimension(cls, dim: int) -> TrustRegion:
        """TuRBO's settings for a sequential search in ``dim`` dimensions."""
        return cls(failure_tolerance=max(4, dim))

    def record(self, improved: bool) -> None:
        """Count one finished proposal: grow, shrink or restart when a tolerance is reached."""
        if improved:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes >= self.success_tolerance:
            self.length = min(2.0 * self.length, self.max_length)
            self.successes = 0
        elif self.failures >= self.failure_tolerance:
            self.length /= 2.0
            self.failures = 0
        if self.length < self.min_length:
            self.length = self.initial_length
            self.restarts += 1

    def box(
        self, center: np.ndarray, lengthscales: np.ndarray, free: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds (D,) of the region around ``center``, inside [0, 1].

        Only ``free`` coordinates are bounded (the others, one-hot categoricals, keep
        [0, 1]); their sides are proportional to the lengthscales, with a geometric mean of
        ``length``, so the model's long directions get a wide side and its short ones a
        narrow one.
        """
        lo, hi = np.zeros(len(center)), np.ones(len(center))
        idx = np.nonzero(free)[0]
        if len(idx) == 0:
            return lo, hi
        weights = lengthscales[idx] / lengthscales[idx].mean()
        weights = weights / np.exp(np.mean(np.log(weights)))
        half = 0.5 * self.length * weights
        lo[idx] = np.clip(center[idx] - half, 0.0, 1.0)
        hi[idx] = np.clip(center[idx] + half, 0.0, 1.0)
        return lo, hi
