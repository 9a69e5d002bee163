"""Central finite differences, the reference the analytic gradients of the GP tests are held to."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[np.ndarray], np.ndarray], Z: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Gradient (m, d) of a row-wise ``f`` (m,) at the rows of ``Z`` (m, d), by central differences."""
    grad = np.zeros_like(Z)
    for i in range(Z.shape[1]):
        up, down = Z.copy(), Z.copy()
        up[:, i] += eps
        down[:, i] -= eps
        grad[:, i] = (f(up) - f(down)) / (2 * eps)
    return grad
