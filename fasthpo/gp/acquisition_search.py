"""Where to evaluate next: score many candidates by the acquisition, then polish the best.

The acquisition is maximised over a mix of space-filling candidates and random
neighbours of the best observed points, and the highest few are moved uphill by
L-BFGS-B with the acquisition's analytic gradient. Everything happens in the
model's coordinates (warped, when some inputs are warped). This module knows
only arrays: the caller supplies how to step to neighbours (``perturb``) and how
to turn any point into one that stands for a real configuration (``settle``),
so every score is the score of something that can be proposed.

Shapes: ``D`` model coordinates; ``observed (n, D)`` with ``values (n,)``
(smaller is better); ``quasi (q, D)``; results ``(c, D)`` best first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from fasthpo.gp.acquisition import LogExpectedImprovement

#: Random neighbours of the given points at the given step size, in model coordinates.
Perturb = Callable[[np.ndarray, float], np.ndarray]
#: Points (c, D) → (valid encodings, the same in model coordinates), both (c, D).
Settle = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class CandidateSearch:
    """How hard the acquisition is searched.

    Attributes
    ----------
    n_incumbents
        How many of the best observed points get random neighbours.
    n_local
        Neighbours in all, shared evenly between the incumbents and the step sizes.
    step_sizes
        Standard deviations of the neighbours' steps (a close and a wider ring).
    n_polish
        How many of the highest-scoring candidates the gradient polish starts from.
    polish_maxiter
        L-BFGS-B iterations of the polish.
    n_exact
        How many of the best candidates are guaranteed exact scores before the polish;
        the others may carry an upper bound (see ``LogExpectedImprovement.ranked``).
    """

    n_incumbents: int = 5
    n_local: int = 256
    step_sizes: tuple[float, ...] = (0.02, 0.1)
    n_polish: int = 4
    polish_maxiter: int = 40
    n_exact: int = 16


def rank_candidates(
    acquisition: LogExpectedImprovement,
    *,
    observed: np.ndarray,
    values: np.ndarray,
    quasi: np.ndarray,
    perturb: Perturb,
    settle: Settle,
    free: np.ndarray,
    search: CandidateSearch = CandidateSearch(),
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates as valid encodings (c, D) and their acquisition values (c,), best first.

    The candidates are ``quasi`` and neighbours of the ``n_incumbents`` best rows of
    ``observed``, settled; the ``n_polish`` best are polished over the ``free``
    coordinates, settled again and ranked with the rest. The caller proposes the
    first that is not a duplicate of an observed or pending configuration. On large
    models only the ``n_exact`` best unpolished scores are exact; the rest are upper
    bounds, each below those (they rank after them, roughly in order).
    """
    top = observed[np.argsort(values, kind="stable")[: search.n_incumbents]]
    repeats = search.n_local // (len(search.step_sizes) * len(top)) + 1
    local = np.vstack([perturb(np.repeat(top, repeats, axis=0), step) for step in search.step_sizes])
    Z, W = settle(np.vstack([quasi, local]))
    scores = acquisition.ranked(W, max(search.n_exact, search.n_polish))
    order = np.argsort(-scores, kind="stable")
    polished, polished_w = settle(
        polish(acquisition, W[order[: search.n_polish]], free, maxiter=search.polish_maxiter)
    )
    Z = np.vstack([polished, Z[order]])
    scores = np.concatenate([acquisition(polished_w), scores[order]])
    ranked = np.argsort(-scores, kind="stable")
    return Z[ranked], scores[ranked]


def polish(
    acquisition: LogExpectedImprovement,
    starts: np.ndarray,
    free: np.ndarray,
    *,
    maxiter: int = 40,
) -> np.ndarray:
    """Maximise the acquisition from each start over the ``free`` coordinates in [0, 1].

    Plain LogEI is climbed natively (:meth:`LogExpectedImprovement.ascend`: a
    projected L-BFGS per start with no Python between iterations). Any other
    acquisition goes through scipy's L-BFGS-B, the starts optimised jointly
    (their values summed: the terms do not interact, so one run moves each on
    its own surface) to pay the Python overhead once. Coordinates outside
    ``free`` (one-hot categoricals) stay where they are. Returns the moved
    points (k, D).
    """
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    k = len(starts)
    idx = np.nonzero(free)[0]
    if k == 0 or len(idx) == 0:
        return starts.copy()
    if type(acquisition) is LogExpectedImprovement:
        return acquisition.ascend(starts, np.asarray(free, dtype=bool), maxiter=maxiter)
    return _polish_scipy(acquisition, starts, idx, maxiter)


def _polish_scipy(
    acquisition: LogExpectedImprovement, starts: np.ndarray, idx: np.ndarray, maxiter: int
) -> np.ndarray:
    """The joint L-BFGS-B polish of :func:`polish` for acquisitions without a native climb."""
    k = len(starts)

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        Z = starts.copy()
        Z[:, idx] = flat.reshape(k, len(idx))
        value, grad = acquisition.value_and_grad(Z)
        finite = np.isfinite(value)
        if not finite.all():  # a start in a hopeless spot must not poison the others
            value = np.where(finite, value, -1e6)
            grad = np.where(finite[:, None], grad, 0.0)
        return -float(value.sum()), -grad[:, idx].ravel()

    result = minimize(
        objective,
        starts[:, idx].ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (k * len(idx)),
        options={"maxiter": maxiter},
    )
    out = starts.copy()
    out[:, idx] = np.clip(result.x.reshape(k, len(idx)), 0.0, 1.0)
    return out
