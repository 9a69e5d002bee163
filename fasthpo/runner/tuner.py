"""The public face of tuning: :class:`Tuner` (Python API) and :func:`run_job` (job files).

Both open the job in the store (creating it, or continuing it when its
definition matches), take the job's lease so no second tuner runs it at the
same time, recover what a dead tuner left running, and hand over to
:class:`~fasthpo.runner.loop.TuningLoop`.

A trial's objective is made from the values of the objective metric it
reported, as ``Objective.aggregate`` says (by default the last one; see
:class:`~fasthpo.objective.ObjectiveTracker`). A trial that exits 0 without a
finite objective is ``completed`` with no objective (and an ``error`` saying
why); it never counts as the best.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fasthpo.errors import ConfigError
from fasthpo.jobspec import BACKEND_TYPES, JobSpec, RetryPolicy, binding_differences, check_job_name
from fasthpo.objective import Objective, check_direction
from fasthpo.runner.backend import DEFAULT_GRACE_SECONDS, Backend
from fasthpo.runner.early_stopping import MedianStoppingRule
from fasthpo.runner.lease import JobLease
from fasthpo.runner.loop import TuningLoop
from fasthpo.runner.recovery import recover_trials
from fasthpo.space import SearchSpace
from fasthpo.storage import Store, Trial, default_db_path
from fasthpo.strategies.base import Strategy
from fasthpo.strategies.registry import DEFAULT_STRATEGY, check_strategy_name, make_strategy

if TYPE_CHECKING:
    from fasthpo.runner.ray_backend import RayBackend

log = logging.getLogger("fasthpo")



@dataclass(frozen=True)
class TuningResult:
    """How a tuning run ended."""

    job: str
    status: str  # completed | stopped | failed (no trial produced an objective)
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
        A strategy name (``"random"``, ``"grid"``) or a strategy instance
        (anything with the methods of :class:`~fasthpo.strategies.base.Strategy`).
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
    retry
        Which failed trials run again (default: only those lost to a tuner
        crash; see :class:`~fasthpo.jobspec.RetryPolicy`).
    backend
        Where :meth:`optimize` calls the function: ``"local"`` (this process)
        or ``"ray"`` (Ray tasks on the cluster this process is connected to,
        or a local Ray instance; see :mod:`fasthpo.runner.ray_function`).
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
        retry: RetryPolicy | None = None,
        backend: str = "local",
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
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError("retry", f"must be a RetryPolicy, got {retry!r}")
        self.retry = retry or RetryPolicy()
        if backend not in BACKEND_TYPES:
            raise ConfigError("backend", f"must be one of {', '.join(BACKEND_TYPES)}, got {backend!r}")
        self.backend = backend

    # -- public faces -----------------------------------------------------------------

    def optimize(
        self,
        fn: Callable[[dict[str, Any]], float],
        *,
        catch: tuple[type[BaseException], ...] = (),
        backend: str | None = None,
        max_parallel: int = 1,
    ) -> Trial | None:
        """Tune ``fn(params) -> float`` in this process, one trial at a time; return the best.

        An exception in ``fn`` fails its trial and is re-raised once stored,
        unless its type is in ``catch``, in which case tuning goes on. With
        ``backend="ray"`` (default: the tuner's) calls run as Ray tasks,
        ``max_parallel`` at a time.
        """
        from fasthpo.runner.function import FunctionBackend

        spec = {
            "kind": "function",
            "hyperparameters": self.space.to_dict(),
            "static_hyperparameters": self.static_hyperparameters,
            "objective": self.objective.to_dict(),
            "strategy": self.strategy if isinstance(self.strategy, str) else type(self.strategy).__name__,
        }
        kind = self.backend if backend is None else backend
        if kind not in BACKEND_TYPES:
            raise ConfigError("backend", f"must be one of {', '.join(BACKEND_TYPES)}, got {kind!r}")
        if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
            raise ConfigError("max_parallel", f"must be a positive integer, got {max_parallel!r}")
        if kind == "local" and max_parallel != 1:
            raise ConfigError("max_parallel", "calls in this process run one at a time; use backend='ray'")
        if kind == "ray":
            from fasthpo.runner.ray_function import RayFunctionBackend

            remote = RayFunctionBackend(fn, metric=self.objective.metric)
            try:
                with Store(self.db, verify=True) as store:
                    return self._run(store, spec, remote, max_parallel=max_parallel, catch=catch).best
            finally:
                remote.close()
        in_process = FunctionBackend(fn, metric=self.objective.metric)
        with Store(self.db, verify=True) as store:
            return self._run(store, spec, in_process, max_parallel=1, catch=catch).best

    def best(self) -> Trial | None:
        """The best completed trial of this tuner's job in the store."""
        if not Path(self.db).exists():
            return None
        with Store(self.db, create=False) as store:
            return store.best_trial(self.name, self.objective.direction)

    def trials(self) -> list[Trial]:
        """Every trial of this tuner's job, by id."""
        if not Path(self.db).exists():
            return []
        with Store(self.db, create=False) as store:
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
        early_stopping: str = "off",
        grace: float = DEFAULT_GRACE_SECONDS,
        stop_remote: Callable[[list[str]], object] | None = None,
    ) -> TuningResult:
        seed = self._open_job(store, spec)
        with JobLease(store, self.name) as lease:
            recovered = recover_trials(store, self.name, grace=grace, stop_remote=stop_remote)
            if recovered:
                log.warning(
                    "trial(s) %s were running when the previous tuner died; they run again",
                    ", ".join(map(str, recovered)),
                )
            store.update_job(self.name, status="running", spec=spec)
            previous = store.trials(self.name)
            if previous:
                log.info("continuing job %s: %d trial(s) already recorded", self.name, len(previous))
            loop = TuningLoop(
                store=store,
                job=self.name,
                space=self.space,
                objective=self.objective,
                strategy=self._strategy(seed),
                backend=backend,
                lease=lease,
                max_trials=self.max_trials,
                max_parallel=max_parallel,
                static_hyperparameters=self.static_hyperparameters,
                retry=self.retry,
                stopping_rule=(
                    MedianStoppingRule(self.objective.direction) if early_stopping == "auto" else None
                ),
                catch=catch,
            )
            loop.restore(previous)
            status = loop.run()
        best = store.best_trial(self.name, self.objective.direction)
        return TuningResult(self.name, status, best)

    def _open_job(self, store: Store, spec: dict[str, Any]) -> int:
        """Create the job, or check that the stored one has the same binding fields; return its seed."""
        job = store.get_job(self.name)
        if job is None:
            seed = self.seed if self.seed is not None else secrets.randbits(31)
            store.create_job(self.name, spec, seed=seed)
            return seed
        changed = binding_differences(job.spec, spec)
        if changed:
            raise ConfigError(
                "",
                f"job {self.name!r} already exists in {self.db} with a different definition; "
                "use a new name or restore the old one. Differences:\n  " + "\n  ".join(changed),
            )
        return job.seed if job.seed is not None else secrets.randbits(31)

    def _strategy(self, seed: int) -> Strategy:
        if isinstance(self.strategy, str):
            return make_strategy(
                self.strategy, self.space, seed=seed, direction=self.objective.direction
            )
        return self.strategy


def run_job(spec: JobSpec, *, db: str | Path | None = None) -> TuningResult:
    """Run (or continue) the tuning job ``spec`` with the backend it names (local subprocesses by default).

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
        retry=spec.retry,
    )
    remote = _ray_backend(spec, db_path)
    backend = remote or LocalBackend(
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
    with contextlib.closing(remote) if remote else contextlib.nullcontext(), \
            Store(db_path, verify=True) as store:
        if store.get_job(spec.name) is None:
            backend.check_new_job()
        result = tuner._run(
            store, spec.to_dict(), backend, max_parallel=spec.limits.max_parallel,
            early_stopping=spec.early_stopping, grace=backend.grace,
            stop_remote=remote.stop_leftovers if remote else None,
        )
    log.info("job %s %s in %.1f s", spec.name, result.status, time.monotonic() - started)
    return result


def _ray_backend(spec: JobSpec, db_path: Path) -> RayBackend | None:
    """The Ray backend the job asks for (``backend.type: ray``), else ``None``."""
    if spec.backend.type != "ray":
        return None
    from fasthpo.runner.ray_backend import RayBackend

    return RayBackend.for_job(spec, db_path.resolve().parent / f"{db_path.stem}-runs")
