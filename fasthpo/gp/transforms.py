"""Output transforms: make observed objective values safe for a Gaussian process.

Training jobs diverge: one loss of 1e9 among values near 0.1 would make a
plain standardisation squash every useful difference to nothing. The robust
transform (for minimisation) compresses only the *bad* tail — values above
median + ``c``·scale grow logarithmically beyond that point — and leaves the
good values, which the optimiser cares about, untouched; then it standardises.

    scale = IQR / 1.349  (σ for Gaussian data; falls back to the std, then 1)
    t     = median + c·scale
    y'    = y                                     y ≤ t
    y'    = t + scale · log1p((y − t) / scale)    y > t
    z     = (y' − mean(y')) / std(y')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Values more than this many robust scales above the median are compressed.
OUTLIER_SCALES = 3.0


@dataclass(frozen=True)
class RobustStandardizer:
    """A fitted transform; ``transform`` applies it to any values (e.g. new ones between refits)."""

    threshold: float
    scale: float
    mean: float
    std: float

    @classmethod
    def fit(cls, y: np.ndarray) -> RobustStandardizer:
        """Fit to observed values (minimisation; at least one value)."""
        y = np.asarray(y, dtype=float)
        q25, median, q75 = np.percentile(y, [25, 50, 75])
        scale = (q75 - q25) / 1.349
        if not scale > 0:
            scale = float(np.std(y))
        if not scale > 0:
            scale = 1.0
        threshold = median + OUTLIER_SCALES * scale
        squashed = _squash(y, threshold, scale)
        std = float(np.std(squashed))
        return cls(threshold, scale, float(np.mean(squashed)), std if std > 0 else 1.0)

    def transform(self, y: np.ndarray) -> np.ndarray:
        """Transformed values (n,)."""
        return (_squash(np.asarray(y, dtype=float), self.threshold, self.scale) - self.mean) / self.std


def _squash(y: np.ndarray, threshold: float, scale: float) -> np.ndarray:
    over = y > threshold
    if not over.any():
        return y.copy()
    out = y.copy()
    out[over] = threshold + scale * np.log1p((y[over] - threshold) / scale)
    return out
