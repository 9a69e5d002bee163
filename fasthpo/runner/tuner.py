"""The tuner loop: ask the strategy, launch trials, collect results, keep the store true.

One loop serves both faces of fasthpo: a job file whose trials are
subprocesses (:func:`run_job`, behind ``fasthpo run``) and a Python function
tuned in-process (:meth:`Tuner.optimize`). Each state change is written to the
store before the loop acts on it, so whatever kills the tuner, the store says
what happened up to that point.

A trial's objective is made from the values of the objective metric it
reported, as ``Objective.aggregate`` says (by default the last one; see
:class:`~fasthpo.objective.ObjectiveTracker`). A trial that exits 0 without a
finite objective is ``completed`` with no objective (and an ``error`` saying
why); it never counts as the best.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fasthpo.config import JobSpec, binding_differences, check_job_name
from fasthpo.errors import ConfigError
from fasthpo.objective import Objective, ObjectiveTracker, check_direction
from fasthpo.runner.backend import Backend, Exited, Reported, TrialLaunch
from fasthpo.space import SearchSpace
from fasthpo.storage import Store, Trial, default_db_path
from fasthpo.strategies.base import Strategy
from fasthpo.strategies.registry import DEFAULT_STRATEGY, check_strategy_name, make_strategy

log = logging.getLogger("fasthpo")

#: How long one poll of the backend may wait for news (seconds).
POLL_SECONDS = 0.1
LOST_TRIAL_ERROR = "lost: the tuner exited while this trial was running"


@dataclass(frozen=True)
class TuningResult:
    """How a tuning run ended."""

    job: str
    status: str  # completed | stopped
    best: Trial | None


class Tuner:
    """Tunes a search space with a strategy, recording every trial in a SQLite store.

    Parameters
    ----------
    space
        The search space.
    objective
        ``"minimize"``, ``"maximize"`` or an :class:`~fasthpo.Objective`.
    strategy
        A strategy name (``"random"``, ``"grid"``) or a strategy instance.
    max_trials
        Total trials of the job, counting those of earlier runs.
    seed
        Seed of the strategy; ``None`` draws one and stores it with the job.
    name
        Job name in the store; an existing job of that name is continued.
        ``None`` makes a new one, ``tuner-<timestamp>``.
    db
        Path of the store (default ``$FASTHPO_DB`` or ``./fasthpo.db``).
    static_hyperparameters
        Fixed values passed to every trial along with the tuned ones.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        objective: str | Objective = "minimize",
        strategy: str | Strategy = DEFAULT_STRATEGY,
        max_trials: int = 20,
        seed: int | None = None,
        name: str | None = None,
        db: str | Path | None = None,
        static_hyperparameters: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise ConfigError("space", f"must be a SearchSpace, got {type(space).__name__}")
        if isinstance(objective, str):
            objective = Objective(direction=check_direction(objective, "objective"))
        elif not isinstance(objective, Objective):
            raise ConfigError(
                "objective", f"must be 'minimize', 'maximize' or an Objective, got {objective!r}"
            )
        if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
            raise ConfigError("max_trials", f"must be a positive integer, got {max_trials!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ConfigError("seed", f"must be a non-negative integer, got {seed!r}")
        if isinstance(strategy, str):
            check_strategy_name(strategy)
        elif not isinstance(strategy, Strategy):
            raise ConfigError("strategy", f"must be a strategy name or instance, got {strategy!r}")
        elif strategy.space != space:
            raise ConfigError("strategy", "the strategy was built for a different search space")
        self.space = space
        self.objective = objective
        self.strategy = strategy
        self.max_trials = max_trials
        self.seed = seed
        self.name = (
            check_job_name(name)
            if name is not None
            else datetime.now().strftime("tuner-%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        )
        self.db = str(db) if db is not None else default_db_path()
        self.static_hyperparameters = dict(static_hyperparameters or {})

    # -- public faces -----------------------------------------------------------------

    def optimize(
        self,
        fn: Callable[[dict[str, Any]], float],
        *,
        catch: tuple[type[BaseException], ...] = (),
    ) -> Trial | None:
        """Tune ``fn(params) -> float`` in this process, one trial at a time; return the best.

        An exception in ``fn`` fails its trial and is re-raised once stored,
        unless its type is in ``catch``, in which case tuning goes on.
        """
        from fasthpo.runner.function import FunctionBackend

        spec = {
            "kind": "function",
            "hyperparameters": self.space.to_dict(),
            "static_hyperparameters": self.static_hyperparameters,
            "objective": self.objective.to_dict(),
            "strategy": self.strategy if isinstance(self.strategy, str) else type(self.strategy).__name__,
        }
        backend = FunctionBackend(fn, metric=self.objective.metric)
        with Store(self.db) as store:
            return self._run(store, spec, backend, max_parallel=1, catch=catch).best

    def best(self) -> Trial | None:
        """The best completed trial of this tuner's job in the store."""
        with Store(self.db) as store:
            return store.best_trial(self.name, self.objective.direction)

    def trials(self) -> list[Trial]:
        """Every trial of this tuner's job, by id."""
        with Store(self.db) as store:
            return store.trials(self.name)

    # -- the loop ---------------------------------------------------------------------

    def _run(
        self,
        store: Store,
        spec: dict[str, Any],
        backend: Backend,
        *,
        max_parallel: int,
        catch: tuple[type[BaseException], ...] = (),
    ) -> TuningResult:
        seed, previous = self._open_job(store, spec)
        strategy = self._strategy(seed)
        for trial in previous:
            if trial.status == "completed" and trial.objective is not None:
                strategy.tell(_tuned(self.space, trial.hyperparameters), trial.objective)
        created = len(previous)
        running: dict[int, dict[str, Any]] = {}
        trackers: dict[int, ObjectiveTracker] = {}
        exhausted = False
        status = "completed"
        try:
            while True:
                want = min(max_parallel - len(running), self.max_trials - created, backend.free_slots())
                if want > 0 and not exhausted:
                    proposals = strategy.ask(want, pending=list(running.values()))
                    exhausted = len(proposals) < want
                    for config in proposals:
                        trial_id = self._launch(store, backend, config)
                        running[trial_id] = config
                        created += 1
                if not running:
                    break
                for event in backend.poll(POLL_SECONDS):
                    if isinstance(event, Reported):
                        store.add_metrics(self.name, event.trial_id, [event.report])
                        self._tracker(trackers, event.trial_id).add(event.report)
                        continue
                    config = running.pop(event.trial_id)
                    value = self._finish(store, event, self._tracker(trackers, event.trial_id, pop=True))
                    if value is not None:
                        strategy.tell(config, value)
                    if event.exception is not None and not isinstance(event.exception, catch):
                        raise event.exception
        except KeyboardInterrupt:
            status = "stopped"
            log.warning("interrupted: stopping %d running trial(s)", len(running))
            self._drain(store, backend, running, trackers)
            store.update_job(self.name, status=status)
            raise
        except BaseException:
            self._drain(store, backend, running, trackers, force=True)
            store.update_job(self.name, status="failed")
            raise
        store.update_job(self.name, status=status)
        best = store.best_trial(self.name, self.objective.direction)
        return TuningResult(self.name, status, best)

    def _open_job(self, store: Store, spec: dict[str, Any]) -> tuple[int, list[Trial]]:
        """Create the job, or continue it if it exists with the same binding fields."""
        job = store.get_job(self.name)
        if job is None:
            seed = self.seed if self.seed is not None else secrets.randbits(31)
            store.create_job(self.name, spec, seed=seed)
            return seed, []
        changed = binding_differences(job.spec, spec)
        if changed:
            raise ConfigError(
                "",
                f"job {self.name!r} already exists in {self.db} with a different definition; "
                "use a new name or restore the old one. Differences:\n  " + "\n  ".join(changed),
            )
        for trial in store.trials(self.name, status=("pending", "running")):
            store.finish_trial(self.name, trial.trial_id, status="failed", error=LOST_TRIAL_ERROR)
        store.update_job(self.name, status="running", spec=spec)
        previous = store.trials(self.name)
        log.info("continuing job %s: %d trial(s) already recorded", self.name, len(previous))
        seed = job.seed if job.seed is not None else secrets.randbits(31)
        return seed, previous

    def _strategy(self, seed: int) -> Strategy:
        if isinstance(self.strategy, str):
            return make_strategy(
                self.strategy, self.space, seed=seed, direction=self.objective.direction
            )
        return self.strategy

    def _launch(self, store: Store, backend: Backend, config: dict[str, Any]) -> int:
        trial = store.create_trial(self.name, config)
        directory = backend.trial_directory(trial.trial_id)
        store.start_trial(self.name, trial.trial_id, directory=directory)
        hyperparameters = {**self.static_hyperparameters, **config}
        backend.launch(TrialLaunch(trial.trial_id, hyperparameters, directory))
        log.info("trial %d started: %s", trial.trial_id, _describe(config))
        return trial.trial_id

    def _tracker(
        self, trackers: dict[int, ObjectiveTracker], trial_id: int, *, pop: bool = False
    ) -> ObjectiveTracker:
        tracker = trackers.pop(trial_id, None) if pop else trackers.get(trial_id)
        if tracker is None:
            tracker = ObjectiveTracker(self.objective)
            if not pop:
                trackers[trial_id] = tracker
        return tracker

    def _finish(self, store: Store, event: Exited, tracker: ObjectiveTracker) -> float | None:
        """Store how a trial ended; return its objective if it should be told to the strategy."""
        value = tracker.value
        error = event.error
        if event.status == "completed" and value is None:
            error = tracker.problem
        objective = value if event.status == "completed" else None
        store.finish_trial(
            self.name, event.trial_id, status=event.status, objective=objective,
            exit_code=event.exit_code, error=error,
        )
        best = store.best_trial(self.name, self.objective.direction)
        if objective is not None:
            mark = " (new best)" if best is not None and best.trial_id == event.trial_id else ""
            log.info(
                "trial %d completed: %s=%.6g%s", event.trial_id, self.objective.metric,
                objective, mark,
            )
        else:
            lines = (error or "").splitlines() or [""]
            summary = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
            log.warning("trial %d %s: %s", event.trial_id, event.status, summary)
        return objective

    def _drain(
        self,
        store: Store,
        backend: Backend,
        running: dict[int, dict[str, Any]],
        trackers: dict[int, ObjectiveTracker],
        *,
        force: bool = False,
    ) -> None:
        """Stop every running trial and record how each ended."""
        reason = "the tuner was interrupted"
        backend.stop_all(reason, force=force)
        while running and backend.running:
            try:
                events = backend.poll(POLL_SECONDS)
            except KeyboardInterrupt:
                backend.stop_all(reason, force=True)
                continue
            for event in events:
                if isinstance(event, Reported):
                    store.add_metrics(self.name, event.trial_id, [event.report])
                    self._tracker(trackers, event.trial_id).add(event.report)
                else:
                    running.pop(event.trial_id, None)
                    self._finish(store, event, self._tracker(trackers, event.trial_id, pop=True))
        # A signal can land between writing a trial and remembering it; sweep the
        # store so no trial of this run is left pending or running.
        leftover = {t.trial_id for t in store.trials(self.name, status=("pending", "running"))}
        for trial_id in sorted(leftover | set(running)):
            store.finish_trial(self.name, trial_id, status="stopped", error=reason)


def _tuned(space: SearchSpace, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    return {name: hyperparameters[name] for name in space.names if name in hyperparameters}


def _describe(config: Mapping[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) and math.isfinite(v) else f"{k}={v}"
        for k, v in config.items()
    )


def run_job(spec: JobSpec, *, db: str | Path | None = None) -> TuningResult:
    """Run (or continue) the tuning job ``spec`` with the local subprocess backend.

    Trial folders go to ``<db folder>/<db stem>-runs/<job>/trial-NNNN``.
    """
    from fasthpo.runner.local import LocalBackend

    db_path = Path(db) if db is not None else Path(default_db_path())
    tuner = Tuner(
        spec.space,
        objective=spec.objective,
        strategy=spec.strategy,
        max_trials=spec.limits.max_trials,
        seed=spec.seed,
        name=spec.name,
        db=db_path,
        static_hyperparameters=spec.static_hyperparameters,
    )
    backend = LocalBackend(
        job_name=spec.name,
        command=spec.command,
        workdir=spec.workdir,
        env=spec.env,
        metrics=spec.metrics,
        runs_dir=db_path.resolve().parent / f"{db_path.stem}-runs",
        max_runtime=spec.limits.max_runtime_per_trial,
        instance_count=spec.instance_count,
        resources=spec.resources,
    )
    started = time.monotonic()
    with Store(db_path) as store:
        result = tuner._run(store, spec.to_dict(), backend, max_parallel=spec.limits.max_parallel)
    log.info("job %s %s in %.1f s", spec.name, result.status, time.monotonic() - started)
    return result
