"""When a job ends by itself: a target value, no improvement for N trials, convergence, a runtime.

:class:`CompletionCheck` watches every finished trial (and the clock) and
gives the reason the job is complete, which the job stores and ``describe``
shows ("target reached at trial 17 ...").

Convergence (``convergence: auto``) reads the model's own judgement: each
model-based proposal comes with the log expected improvement of the chosen
point, in the model's standardised units (one unit: the spread of the observed
values). The job has converged when the last :data:`CONVERGENCE_PROPOSALS`
model proposals in a row all expected less than :data:`CONVERGENCE_EI` of a
unit of improvement, after at least :data:`CONVERGENCE_MIN_RESULTS` results.
A strategy without a model (random, grid) never converges by this rule.
"""

from __future__ import annotations

import math
import time

from fasthpo.jobspec import CompletionCriteria
from fasthpo.objective import Objective

#: Expected improvement (standardised units) below which a proposal counts as negligible.
CONVERGENCE_EI = 1e-3
#: Negligible proposals in a row that make convergence.
CONVERGENCE_PROPOSALS = 5
#: Results needed before convergence is judged at all.
CONVERGENCE_MIN_RESULTS = 15


class CompletionCheck:
    """Follows a job's results and says when its completion criteria or runtime limit are met."""

    def __init__(
        self,
        criteria: CompletionCriteria | None,
        objective: Objective,
        *,
        max_runtime: float | None = None,
        clock: float | None = None,
    ) -> None:
        self.criteria = criteria or CompletionCriteria()
        self.objective = objective
        self.max_runtime = max_runtime
        self.started = time.monotonic() if clock is None else clock
        self.best: float | None = None
        self.best_trial: int | None = None
        self.since_improvement = 0
        self.results = 0
        self.negligible = 0
        self._reason: str | None = None

    def finished(self, trial_id: int, status: str, value: float | None) -> None:
        """A trial ended with ``value`` (``None``: no objective); stopped trials count as results
        for the model but never reach the target (their value is of a shorter run)."""
        if value is None or not math.isfinite(value):
            return
        self.results += 1
        c, metric = self.criteria, self.objective.metric
        if status == "completed" and c.target_objective is not None and self._reason is None:
            target = c.target_objective
            hit = value <= target if self.objective.direction == "minimize" else value >= target
            if hit:
                self._reason = f"target reached at trial {trial_id} ({metric}={value:.6g}, target {target:g})"
        improved = self.best is None or (
            self.objective.is_better(value, self.best) and abs(value - self.best) > c.min_improvement
        )
        if self.best is None or self.objective.is_better(value, self.best):
            if improved:
                self.best_trial = trial_id
            self.best = value
        if improved:
            self.since_improvement = 0
        else:
            self.since_improvement += 1
            n = c.max_trials_without_improvement
            if n is not None and self.since_improvement >= n and self._reason is None:
                self._reason = (
                    f"no improvement over {c.min_improvement:g} in the {n} trials after trial "
                    f"{self.best_trial} ({metric}={self.best:.6g})"
                )

    def proposed(self, log_ei: float | None) -> None:
        """A proposal was made; ``log_ei`` is its model's LogEI (``None`` without a model)."""
        if self.criteria.convergence != "auto" or log_ei is None:
            return
        if log_ei < math.log(CONVERGENCE_EI):
            self.negligible += 1
        else:
            self.negligible = 0
        if (
            self.negligible >= CONVERGENCE_PROPOSALS and self.results >= CONVERGENCE_MIN_RESULTS
            and self._reason is None
        ):
            self._reason = (
                f"converged after {self.results} results: the model expected less than "
                f"{CONVERGENCE_EI:g} of the values' spread from each of the last "
                f"{CONVERGENCE_PROPOSALS} proposals"
            )

    def reason(self) -> str | None:
        """Why the job is complete now, or ``None`` to go on."""
        if self._reason is None and self.max_runtime is not None:
            elapsed = time.monotonic() - self.started
            if elapsed >= self.max_runtime:
                self._reason = f"max_runtime of {self.max_runtime:g} s reached after {elapsed:.1f} s"
        return self._reason
