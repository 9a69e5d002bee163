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
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fasthpo.errors import ConfigError
from fasthpo.jobspec import (
    BACKEND_TYPES,
    CompletionCriteria,
    HyperbandSettings,
    JobSpec,
    RetryPolicy,
    WarmStart,
    binding_differences,
    check_job_name,
)
from fasthpo.objective import Objective, check_direction
from fasthpo.runner.backend import DEFAULT_GRACE_SECONDS, Backend
from fasthpo.runner.completion import CompletionCheck
from fasthpo.runner.early_stopping import MedianStoppingRule
from fasthpo.runner.lease import JobLease
from fasthpo.runner.loop import TuningLoop
from fasthpo.runner.recovery import recover_trials
from fasthpo.runner.scratch import MEMORY, ScratchStore
from fasthpo.runner.successive_halving import SuccessiveHalving
from fasthpo.runner.warm_start import parent_results
from fasthpo.space import SearchSpace
from fasthpo.storage import Store, Trial, default_db_path
from fasthpo.storage.store import DB_ENV
from fasthpo.strategies.base import Strategy
from fasthpo.strategies.registry import DEFAULT_STRATEGY, check_strategy_name, make_strategy

if TYPE_CHECKING:
    import pandas

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
        Path of the store. ``":memory:"`` is a throwaway store that lives as
        long as the tuner (see :mod:`fasthpo.runner.scratch`). The default is
        ``$FASTHPO_DB`` when it is set, else ``":memory:"`` (as in Optuna): pass a
        path to keep the results or to continue the job later.
    static_hyperparameters
        Fixed values passed to every trial along with the tuned ones.
    retry
        Which failed trials run again (default: only those lost to a tuner
        crash; see :class:`~fasthpo.jobspec.RetryPolicy`).
    hyperband
        With ``strategy="hyperband"``: a :class:`~fasthpo.jobspec.HyperbandSettings`
        or its keys as a dict (``resource``, ``min_resource``, ``max_resource``,
        ``reduction_factor``).
    completion
        When the job ends by itself: a :class:`~fasthpo.jobspec.CompletionCriteria`
        or its keys as a dict.
    max_runtime
        Seconds this run of the job may take in all.
    warm_start
        Parent jobs whose results start this one: a :class:`~fasthpo.jobspec.WarmStart`,
        or a dict ``{"parents": [...], "type": ..., "store": ...}``.
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
        hyperband: HyperbandSettings | Mapping[str, Any] | None = None,
        completion: CompletionCriteria | Mapping[str, Any] | None = None,
        max_runtime: float | None = None,
        warm_start: WarmStart | Mapping[str, Any] | None = None,
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
        if db is None:
            db = os.environ.get(DB_ENV) or MEMORY
        self._scratch = ScratchStore() if str(db) == MEMORY else None
        self.db = self._scratch.path if self._scratch is not None else str(db)
        self.static_hyperparameters = dict(static_hyperparameters or {})
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError("retry", f"must be a RetryPolicy, got {retry!r}")
        self.retry = retry or RetryPolicy()
        self.hyperband = _record(HyperbandSettings, hyperband, "hyperband")
        if (strategy == "hyperband") != (self.hyperband is not None):
            raise ConfigError(
                "hyperband", "strategy='hyperband' and hyperband=... go together (got strategy "
                f"{strategy!r}, hyperband={hyperband!r})"
            )
        if self.hyperband is not None and self.hyperband.resource in space:
            raise ConfigError(
                "hyperband.resource", f"{self.hyperband.resource!r} is a tuned hyperparameter"
            )
        self.completion = _record(CompletionCriteria, completion, "completion")
        if max_runtime is not None and (
            isinstance(max_runtime, bool) or not isinstance(max_runtime, (int, float))
            or not max_runtime > 0
        ):
            raise ConfigError("max_runtime", f"must be a positive number of seconds, got {max_runtime!r}")
        self.max_runtime = max_runtime
        if isinstance(warm_start, Mapping):
            warm_start = {**warm_start, "parents": tuple(warm_start.get("parents") or ())}
        self.warm_start = _record(WarmStart, warm_start, "warm_start")
        if backend not in BACKEND_TYPES:
            raise ConfigError("backend", f"must be one of {', '.join(BACKEND_TYPES)}, got {backend!r}")
        self.backend = backend

    # -- public faces -----------------------------------------------------------------

    def optimize(
        self,
        fn: Callable[[dict[str, Any]], float | None],
        *,
        catch: tuple[type[BaseException], ...] = (),
        max_parallel: int = 1,
        executor: str = "thread",
        early_stopping: str = "off",
        show_progress: bool = False,
        backend: str | None = None,
        n_jobs: int | None = None,
    ) -> Trial | None:
        """Tune ``fn(params) -> float``; return the best trial.

        Parameters
        ----------
        fn
            The objective. It returns the trial's value, or ``None`` when it
            reported the objective metric itself with ``fasthpo.report``; it may
            call ``fasthpo.report(step=..., **metrics)`` for intermediate values and
            ``fasthpo.should_stop()`` to learn that the tuner wants it to stop.
        catch
            Exception types that fail their trial and let tuning go on; any
            other exception fails its trial and is re-raised once stored.
        max_parallel
            Trials at once (proposals take the running ones into account, as for
            job files).
        executor
            ``"thread"`` (default): each trial in a thread of this process, any
            callable. ``"process"``: worker processes (``spawn``), for CPU-bound
            objectives; ``fn`` must be importable (a module-level function).
        backend
            ``"ray"``: each call is a Ray task (default: the tuner's ``backend``);
            ``max_parallel`` of them at a time.
        early_stopping
            ``"auto"``: the median stopping rule on the objective metric's
            reported steps (the objective must check ``fasthpo.should_stop()``).
        show_progress
            A live progress bar on stderr (a widget in notebooks); see :mod:`fasthpo.progress`.
        n_jobs
            Another name for ``max_parallel``, as Optuna and scikit-learn spell it;
            ``-1`` means one per CPU core.
        """
        from fasthpo.jobspec import EARLY_STOPPING_MODES

        if n_jobs is not None:
            if max_parallel != 1:
                raise ConfigError("n_jobs", "give max_parallel or n_jobs, not both")
            if n_jobs == -1 and not isinstance(n_jobs, bool):
                max_parallel = os.cpu_count() or 1
            elif isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
                raise ConfigError("n_jobs", f"must be a positive integer or -1, got {n_jobs!r}")
            else:
                max_parallel = n_jobs

        if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
            raise ConfigError("max_parallel", f"must be a positive integer, got {max_parallel!r}")
        if executor not in ("thread", "process"):
            raise ConfigError("executor", f"must be 'thread' or 'process', got {executor!r}")
        if early_stopping not in EARLY_STOPPING_MODES:
            raise ConfigError(
                "early_stopping", f"must be one of {', '.join(EARLY_STOPPING_MODES)}, got {early_stopping!r}"
            )
        spec = {
            "kind": "function",
            "hyperparameters": self.space.to_dict(),
            "static_hyperparameters": self.static_hyperparameters,
            "objective": self.objective.to_dict(),
            "strategy": self.strategy if isinstance(self.strategy, str) else type(self.strategy).__name__,
            "limits": {"max_trials": self.max_trials, "max_parallel": max_parallel},
            "early_stopping": early_stopping,
            **({"hyperband": self.hyperband.to_dict()} if self.hyperband else {}),
            **({"completion": self.completion.to_dict()} if self.completion else {}),
            **({"warm_start": self.warm_start.to_dict()} if self.warm_start else {}),
        }
        kind = self.backend if backend is None else backend
        if kind not in BACKEND_TYPES:
            raise ConfigError("backend", f"must be one of {', '.join(BACKEND_TYPES)}, got {kind!r}")
        runner: Backend
        if kind == "ray":
            from fasthpo.runner.ray_function import RayFunctionBackend

            runner = RayFunctionBackend(fn, metric=self.objective.metric)
        elif executor == "process":
            from fasthpo.runner.worker_pool import ProcessBackend

            runner = ProcessBackend(fn, metric=self.objective.metric, workers=max_parallel)
        else:
            from fasthpo.runner.function import FunctionBackend

            runner = FunctionBackend(fn, metric=self.objective.metric, workers=max_parallel)
        try:
            with Store(self.db, verify=True) as store:
                return self._run(
                    store, spec, runner, max_parallel=max_parallel, catch=catch,
                    early_stopping=early_stopping, show_progress=show_progress,
                ).best
        finally:
            close = getattr(runner, "close", None)
            if close is not None:
                close()

    def best(self) -> Trial | None:
        """The best completed trial of this tuner's job in the store."""
        if not Path(self.db).exists():
            return None
        with Store(self.db, create=False) as store:
            return store.best_trial(self.name, self.objective.direction)

    def report_html(self, path: str | Path) -> Path:
        """Write this job's self-contained HTML report (plots of its trials) to ``path``; needs plotly."""
        from fasthpo.visualization import write_report

        return write_report(self.db, self.name, path)

    def trials(self) -> list[Trial]:
        """Every trial of this tuner's job, by id."""
        if not Path(self.db).exists():
            return []
        with Store(self.db, create=False) as store:
            return store.trials(self.name)

    def trials_dataframe(self) -> pandas.DataFrame:
        """Every trial of this tuner's job as a pandas DataFrame, one row per trial.

        The columns are those of ``fasthpo trials --format csv`` (see
        :mod:`fasthpo.results`); needs pandas (``pip install 'fasthpo[pandas]'``).
        """
        from fasthpo.results import dataframe

        with Store(self.db, create=False) as store:
            return dataframe(store, self.name)

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
        show_progress: bool = False,
        instances: int = 1,
        stop_remote: Callable[[list[str]], object] | None = None,
    ) -> TuningResult:
        if early_stopping == "auto" and self.hyperband is not None:
            raise ConfigError(
                "early_stopping", "'auto' cannot be combined with strategy: hyperband, which stops "
                "trials itself"
            )
        # A bad warm start is refused before the job is created.
        warm = (
            parent_results(store, self.warm_start, self.space, self.objective)
            if self.warm_start is not None else None
        )
        seed = self._open_job(store, spec)
        with JobLease(store, self.name) as lease:
            recovered = recover_trials(store, self.name, grace=grace, stop_remote=stop_remote)
            if recovered:
                log.warning(
                    "trial(s) %s were running when the previous tuner died; they run again",
                    ", ".join(map(str, recovered)),
                )
            store.update_job(self.name, status="running", spec=spec)
            strategy = self._strategy(seed)
            if warm is not None:
                results, record = warm
                strategy = self._warm_started(strategy, results)
                store.update_job(self.name, warm_start=record)
                log.info(
                    "warm start (%s): %s", record["type"],
                    ", ".join(f"{p['taken']} result(s) of {p['name']}" for p in record["parents"]),
                )
            static = dict(self.static_hyperparameters)
            scheduler = None
            if self.hyperband is not None:
                # Each trial gets the full resource unless the job sets the value itself.
                static.setdefault(self.hyperband.resource, self.hyperband.max_resource)
                scheduler = SuccessiveHalving(self.hyperband, self.objective, instances=instances)
            previous = store.trials(self.name)
            if previous:
                log.info("continuing job %s: %d trial(s) already recorded", self.name, len(previous))
            loop = TuningLoop(
                store=store,
                job=self.name,
                space=self.space,
                objective=self.objective,
                strategy=strategy,
                backend=backend,
                lease=lease,
                max_trials=self.max_trials,
                max_parallel=max_parallel,
                static_hyperparameters=static,
                retry=self.retry,
                stopping_rule=(
                    MedianStoppingRule(self.objective.direction) if early_stopping == "auto" else None
                ),
                catch=catch,
                scheduler=scheduler,
                completion=(
                    CompletionCheck(self.completion, self.objective, max_runtime=self.max_runtime)
                    if self.completion is not None or self.max_runtime is not None else None
                ),
            )
            loop.restore(previous)
            if show_progress:
                from fasthpo.progress import ProgressBar

                with ProgressBar(
                    self.db, self.name, total=self.max_trials, direction=self.objective.direction
                ):
                    status = loop.run()
            else:
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
        if self.strategy == "hyperband":
            from fasthpo.strategies.hyperband import HyperbandProposals

            assert self.hyperband is not None
            return HyperbandProposals(
                self.space, seed=seed, direction=self.objective.direction,
                max_resource=self.hyperband.max_resource,
            )
        if isinstance(self.strategy, str):
            return make_strategy(
                self.strategy, self.space, seed=seed, direction=self.objective.direction
            )
        return self.strategy

    def _warm_started(
        self, strategy: Strategy, results: list[tuple[dict[str, Any], float]]
    ) -> Strategy:
        """Tell the parents' results (identical data and algorithm) or evaluate their best
        configurations first (transfer learning)."""
        from fasthpo.runner.warm_start import TRANSFER_DESIGN
        from fasthpo.strategies.initial_design import WithInitialDesign

        assert self.warm_start is not None
        if self.warm_start.type == "identical_data_and_algorithm":
            for config, value in results:
                strategy.tell(config, value)
            return strategy
        return WithInitialDesign(strategy, [c for c, _ in results[:TRANSFER_DESIGN]])


def run_job(
    spec: JobSpec, *, db: str | Path | None = None, show_progress: bool = False
) -> TuningResult:
    """Run (or continue) the tuning job ``spec`` with the backend it names (local subprocesses by default).

    Trial folders go to ``<db folder>/<db stem>-runs/<job>/trial-NNNN``;
    ``show_progress`` draws a live bar on stderr (:mod:`fasthpo.progress`).
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
        hyperband=spec.hyperband,
        completion=spec.completion,
        max_runtime=spec.limits.max_runtime,
        warm_start=spec.warm_start,
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
            early_stopping=spec.early_stopping, grace=backend.grace, show_progress=show_progress,
            instances=spec.instance_count,
            stop_remote=remote.stop_leftovers if remote else None,
        )
    log.info("job %s %s in %.1f s", spec.name, result.status, time.monotonic() - started)
    return result


def _record(cls: Any, value: Any, field: str) -> Any:
    """``value`` as a ``cls`` record: itself, built from a dict of its keys, or ``None``."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        try:
            return cls(**value)
        except TypeError as exc:
            raise ConfigError(field, f"has a key {cls.__name__} does not know: {exc}") from None
    raise ConfigError(field, f"must be a {cls.__name__} or a dict of its keys, got {value!r}")


def _ray_backend(spec: JobSpec, db_path: Path) -> RayBackend | None:
    """The Ray backend the job asks for (``backend.type: ray``), else ``None``."""
    if spec.backend.type != "ray":
        return None
    from fasthpo.runner.ray_backend import RayBackend

    return RayBackend.for_job(spec, db_path.resolve().parent / f"{db_path.stem}-runs")
