"""A standard BoTorch loop as a benchmark peer: what a BoTorch user would write for a tuning job.

The loop is the one BoTorch's tutorials and Ax's defaults describe, with no
tuning of our own:

* **Initial design**: 10 points of a scrambled Sobol sequence (seeded), the same
  number of random start-up points the other GP peers use; the sequence continues
  while fewer than 10 results have been told.
* **Model**: ``SingleTaskGP`` with BoTorch's default kernel, priors and
  likelihood (inferred noise), ``Normalize`` on the inputs and ``Standardize`` on
  the outcome, fitted by ``fit_gpytorch_mll`` (L-BFGS-B on the marginal log
  likelihood with BoTorch's own retries).
* **Acquisition**: ``LogExpectedImprovement`` for a single proposal with nothing
  pending; ``qLogExpectedImprovement`` with ``X_pending`` (the running
  configurations) when something is pending or several proposals are asked
  for at once, which are then optimised jointly as a q-batch.
* **Optimiser**: ``optimize_acqf`` with ``num_restarts=20`` and ``raw_samples=1024``,
  the defaults of Ax (BoTorch's own high-level front end).
* torch on the CPU in double precision, one intra-op thread during a proposal
  (as fasthpo's own strategy proposes single-threaded); the previous thread
  count is restored afterwards.

How fasthpo's space is encoded: every dimension lives in [0, 1]. Continuous and
integer parameters map linearly, or after a logarithm when declared ``log``
(``linear``, ``auto`` and ``reverse_log`` are linear, as for the other peers);
integers are rounded after decoding. A categorical becomes one column per value
(one-hot); a proposal takes the value of its largest column, and the model sees
the exact one-hot code of every told configuration. This continuous relaxation
with rounding is how BoTorch's users commonly treat mixed spaces.

torch and BoTorch are imported only when the optimizer is made.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from fasthpo.space import Categorical, Integer, Parameter, SearchSpace
from fasthpo.strategies.base import Observations, check_count

#: Random start-up points, as Optuna's GPSampler and scikit-optimize use.
INITIAL_POINTS = 10
#: Ax's defaults for ``optimize_acqf`` (BoTorch's tutorials use smaller values for speed).
NUM_RESTARTS = 20
RAW_SAMPLES = 1024


class _Encoding:
    """fasthpo configurations <-> points of the unit cube BoTorch works in."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        # One (parameter, first column, number of columns) per parameter.
        self.columns: list[tuple[Parameter, int, int]] = []
        width = 0
        for p in space:
            n = len(p.values) if isinstance(p, Categorical) else 1
            self.columns.append((p, width, n))
            width += n
        self.width = width

    @staticmethod
    def _ends(p: Parameter) -> tuple[float, float, bool]:
        log = p.scaling == "log"  # type: ignore[union-attr]
        low, high = float(p.low), float(p.high)  # type: ignore[union-attr]
        return (math.log(low), math.log(high), True) if log else (low, high, False)

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """A validated configuration as a point of [0, 1]^width."""
        x = np.zeros(self.width)
        for p, start, _ in self.columns:
            value = config[p.name]
            if isinstance(p, Categorical):
                index = next(i for i, v in enumerate(p.values)
                             if type(v) is type(value) and v == value)
                x[start + index] = 1.0
                continue
            low, high, log = self._ends(p)
            t = math.log(value) if log else float(value)
            x[start] = 0.0 if high == low else (t - low) / (high - low)
        return x

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """A point of the cube as a valid configuration (rounded, argmax'd, clipped)."""
        config: dict[str, Any] = {}
        for p, start, n in self.columns:
            if isinstance(p, Categorical):
                config[p.name] = p.values[int(np.argmax(x[start:start + n]))]
                continue
            low, high, log = self._ends(p)
            t = low + float(np.clip(x[start], 0.0, 1.0)) * (high - low)
            value = math.exp(t) if log else t
            if isinstance(p, Integer):
                config[p.name] = min(max(round(value), p.low), p.high)
            else:
                config[p.name] = min(max(value, float(p.low)), float(p.high))
        return config


@contextmanager
def _one_thread_quietly(torch: Any) -> Iterator[None]:
    """One torch thread and BoTorch's routine warnings silenced, for one proposal."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # input-scaling, optimisation and numerical notes
            yield
    finally:
        torch.set_num_threads(threads)


class BoTorchGP:
    """A standard BoTorch loop (see the module docstring), driven through ask/tell.

    Parameters
    ----------
    space
        The search space; encoded in the unit cube as the module explains.
    seed
        Seeds the Sobol design and every random draw of the acquisition optimiser.
    """

    def __init__(self, space: SearchSpace, seed: int) -> None:
        import torch

        self._torch = torch
        self.space = space
        self.seed = seed
        self._encoding = _Encoding(space)
        self._observations = Observations(space, "minimize")
        self._sobol = torch.quasirandom.SobolEngine(self._encoding.width, scramble=True, seed=seed)
        self._asks = 0

    def ask(
        self, n: int = 1, *, pending: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        """Propose ``n`` configurations: Sobol points at first, then the model's (q)LogEI optimum."""
        n = check_count(n)
        pending_x = [self._encoding.encode(self.space.validate(c)) for c in pending]
        self._asks += 1
        if len(self._observations) < INITIAL_POINTS:
            points = self._sobol.draw(n, dtype=self._torch.float64).numpy()
        else:
            with self._torch.random.fork_rng(), _one_thread_quietly(self._torch):
                self._torch.manual_seed(self.seed * 100_003 + self._asks)
                points = self._model_points(n, pending_x)
        return [self._encoding.decode(x) for x in points]

    def _model_points(self, n: int, pending_x: list[np.ndarray]) -> np.ndarray:
        torch = self._torch
        from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
        from botorch.exceptions.errors import ModelFittingError
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Normalize, Standardize
        from botorch.optim import optimize_acqf
        from gpytorch.mlls import ExactMarginalLogLikelihood

        d = self._encoding.width
        x = torch.tensor(np.array([self._encoding.encode(c) for c in self._observations.configs]),
                         dtype=torch.float64)
        # BoTorch maximises: the negated value is the objective.
        y = -torch.tensor(self._observations.values, dtype=torch.float64).unsqueeze(-1)
        bounds = torch.stack([torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)])
        model = SingleTaskGP(x, y, input_transform=Normalize(d=d, bounds=bounds),
                             outcome_transform=Standardize(m=1))
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        except ModelFittingError:
            pass  # every retry failed: propose with the model's initial hyperparameters
        best_f = y.max()
        if n == 1 and not pending_x:
            acquisition: Any = LogExpectedImprovement(model, best_f=best_f)
        else:
            x_pending = (torch.tensor(np.array(pending_x), dtype=torch.float64)
                         if pending_x else None)
            acquisition = qLogExpectedImprovement(model, best_f=best_f, X_pending=x_pending)
        candidates, _ = optimize_acqf(
            acquisition, bounds=bounds, q=n, num_restarts=NUM_RESTARTS, raw_samples=RAW_SAMPLES
        )
        return candidates.detach().numpy()

    def tell(self, config: Mapping[str, Any], value: float) -> None:
        """Record one result; the model is refitted at the next ``ask``."""
        self._observations.add(config, value)

    def best(self) -> tuple[dict[str, Any], float] | None:
        """Best configuration and value told so far."""
        return self._observations.best()

    def detected_scaling(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The peer says nothing about scales."""
        return {}
