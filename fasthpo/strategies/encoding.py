"""The model's view of a search space: configurations as points of a box, categoricals one-hot.

A :class:`~fasthpo.space.SearchSpace` gives each hyperparameter one unit-cube
coordinate. A Gaussian process needs a little more: a categorical's values are
unordered, so it becomes one coordinate per value (one-hot), and the kernel
sees no order between them. Continuous and integer hyperparameters keep their
unit coordinate (integers at the centre of their slice), except that an
``auto`` one is seen through its prior scale
(:func:`fasthpo.strategies.scale_detection.prior_scale`: log for a range over
two decades, and so on), so a design uniform in the encoded box is uniform in
that scale.

Shapes: ``n`` configurations, ``D`` encoded coordinates (``D ≥ len(space)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fasthpo.space import Categorical, Integer, SearchSpace
from fasthpo.strategies.scale_detection import ScaleMap, prior_scale

#: Share of continuous coordinates a local perturbation moves (see ``SpaceEncoder.perturb``).
PERTURB_SHARE = 0.3


class SpaceEncoder:
    """Encodes configurations to ``(n, D)`` arrays in [0, 1] and back.

    Attributes
    ----------
    dim
        Number of encoded coordinates ``D``.
    continuous
        Boolean mask (D,) of coordinates a gradient optimiser may move freely
        (continuous and integer hyperparameters; integers are rounded after).
    auto, auto_columns, auto_scales
        The continuous and integer hyperparameters declared ``auto``, their
        coordinates and the prior scale each is encoded in, in space order.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._slices: list[slice] = []
        start = 0
        mask: list[bool] = []
        for p in space:
            width = len(p.values) if isinstance(p, Categorical) else 1
            self._slices.append(slice(start, start + width))
            mask += [not isinstance(p, Categorical)] * width
            start += width
        self.dim = start
        self.continuous = np.array(mask, dtype=bool)
        self.has_categoricals = not self.continuous.all()
        # The model warps the coordinates of ``auto`` hyperparameters (see fasthpo.gp.warping).
        self.auto = [p for p in space if not isinstance(p, Categorical) and p.scaling == "auto"]
        self.auto_columns = tuple(sl.start for p, sl in zip(space, self._slices, strict=True)
                                  if not isinstance(p, Categorical) and p.scaling == "auto")
        self.auto_scales: tuple[ScaleMap, ...] = tuple(prior_scale(p) for p in self.auto)
        self._scale_of = {
            p.name: scale for p, scale in zip(self.auto, self.auto_scales, strict=True)
            if scale.name != "linear"
        }

    def rescale(self, name: str, scale: ScaleMap) -> None:
        """See the ``auto`` hyperparameter ``name`` through ``scale`` from now on."""
        self.auto_scales = tuple(
            scale if p.name == name else old for p, old in zip(self.auto, self.auto_scales, strict=True)
        )
        if scale.name == "linear":
            self._scale_of.pop(name, None)
        else:
            self._scale_of[name] = scale

    def _to_coordinate(self, name: str, u: float) -> float:
        scale = self._scale_of.get(name)
        return u if scale is None else float(scale.forward(np.array(u)))

    def _from_coordinate(self, name: str, v: float) -> float:
        scale = self._scale_of.get(name)
        return v if scale is None else float(scale.inverse(np.array(v)))

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode validated configurations (n, D)."""
        Z = np.zeros((len(configs), self.dim))
        for i, config in enumerate(configs):
            for p, sl in zip(self.space, self._slices, strict=True):
                if isinstance(p, Categorical):
                    Z[i, sl.start + p.index(config[p.name])] = 1.0
                else:
                    Z[i, sl.start] = self._to_coordinate(p.name, p.to_unit(config[p.name]))
        return Z

    def decode(self, Z: np.ndarray) -> list[dict[str, Any]]:
        """Configurations of encoded points (categoricals by their largest coordinate)."""
        configs = []
        for z in np.atleast_2d(Z):
            config = {}
            for p, sl in zip(self.space, self._slices, strict=True):
                if isinstance(p, Categorical):
                    config[p.name] = p.values[int(np.argmax(z[sl]))]
                else:
                    config[p.name] = p.from_unit(self._from_coordinate(p.name, float(z[sl.start])))
            configs.append(config)
        return configs

    def project(self, Z: np.ndarray) -> np.ndarray:
        """Snap points to valid encodings: integers to their slice centre, one-hot exact."""
        Z = np.clip(np.atleast_2d(np.asarray(Z, dtype=float)), 0.0, 1.0)
        out = Z.copy()
        for p, sl in zip(self.space, self._slices, strict=True):
            if isinstance(p, Categorical):
                hot = np.argmax(Z[:, sl], axis=1)
                out[:, sl] = 0.0
                out[np.arange(len(Z)), sl.start + hot] = 1.0
            elif isinstance(p, Integer):
                out[:, sl.start] = [
                    self._to_coordinate(p.name, p.to_unit(p.from_unit(self._from_coordinate(p.name, v))))
                    for v in Z[:, sl.start]
                ]
        return out

    def from_unit(self, U: np.ndarray, *, snap: bool = True) -> np.ndarray:
        """Encode points of the per-hyperparameter unit cube (n, len(space)), e.g. a Sobol design.

        ``snap=False`` leaves integer coordinates where they fall (for points that are
        mapped further, e.g. out of a warped space, before they are snapped).
        """
        U = np.atleast_2d(U)
        Z = np.zeros((len(U), self.dim))
        for j, (p, sl) in enumerate(zip(self.space, self._slices, strict=True)):
            if isinstance(p, Categorical):
                k = len(p.values)
                Z[np.arange(len(U)), sl.start + np.minimum((U[:, j] * k).astype(int), k - 1)] = 1.0
            else:
                Z[:, sl.start] = U[:, j]
        return self.project(Z) if snap else Z

    def perturb(
        self, Z: np.ndarray, rng: np.random.Generator, scale: float, *, snap: bool = True
    ) -> np.ndarray:
        """Random neighbours of points: Gaussian steps in a random subset of the continuous
        coordinates, and each categorical re-drawn with probability 1 / len(space).

        Each continuous coordinate moves with probability ``PERTURB_SHARE`` (at least one
        moves): in 10 or 20 dimensions a step in every coordinate at once almost never
        improves, while a few at a time does (the idea behind TuRBO's and BoTorch's
        sampling around the best). Measured over 8 seeds at 50 evaluations: Levy-10
        regret 11.1 → 7.1, Branin 1.9e-5 → 8.6e-6, Ackley-20 unchanged. ``snap=False``
        returns the neighbours unprojected (as ``from_unit``).
        """
        Z = np.atleast_2d(Z)
        out = Z.copy()
        if self.continuous.any():
            moves = (rng.random(Z.shape) < PERTURB_SHARE) & self.continuous[None, :]
            still = ~moves.any(axis=1)
            columns = np.nonzero(self.continuous)[0]
            moves[np.nonzero(still)[0], rng.choice(columns, size=int(still.sum()))] = True
            out += moves * rng.normal(0.0, scale, size=Z.shape)
        flip = 1.0 / len(self.space)
        for p, sl in zip(self.space, self._slices, strict=True):
            if isinstance(p, Categorical):
                rows = np.nonzero(rng.random(len(Z)) < flip)[0]
                if len(rows):
                    out[rows, sl] = 0.0
                    out[rows, sl.start + rng.integers(len(p.values), size=len(rows))] = 1.0
        return self.project(out) if snap else out

    def keys(self, Z: np.ndarray) -> list[bytes]:
        """Hashable identities of projected points, for duplicate checks.

        Continuous coordinates are rounded to 1e-9, well below anything a
        training job could tell apart.
        """
        snapped = np.round(self.project(Z), 9)
        return [row.tobytes() for row in snapped]
