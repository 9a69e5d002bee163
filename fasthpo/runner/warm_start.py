"""Warm start: the results of up to five parent jobs, read from a store, made fit for this job.

Two types, as a managed tuner offers them:

* ``identical_data_and_algorithm``: the parents ran the same training on the
  same data, so their completed results are this job's model data from the
  first proposal on (told to the strategy before it proposes anything).
* ``transfer_learning``: the parents tuned a related task; their results
  inform but do not bind: the best of their configurations (at most
  :data:`TRANSFER_DESIGN` of them) are the first configurations this job
  evaluates, and the model learns only from those new evaluations.

How a parent's configuration is carried over: a hyperparameter this job tunes
takes the parent's tuned value, or else the parent's static value; one the
parent had neither way is refused with a clear error. Hyperparameters the
parent had and this job dropped are ignored. A configuration outside this
job's ranges (or with a categorical value this job no longer has) is dropped
and counted. Only completed trials with an objective are taken; the parent's
objective metric and direction must be this job's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fasthpo.errors import ConfigError, StoreError
from fasthpo.jobspec import WarmStart
from fasthpo.objective import Objective
from fasthpo.space import SearchSpace
from fasthpo.storage import Store

#: Most parent configurations a transfer-learning warm start evaluates first.
#: Measured (benchmarks/warm_start_transfer.py, docs/benchmarks.md): with 2 the child's
#: median best improved by a third on a related task and was unchanged on an unrelated
#: one; with 5 (or 3) it was worse than a cold start on the unrelated task.
TRANSFER_DESIGN = 2


def parent_results(
    store: Store, warm: WarmStart, space: SearchSpace, objective: Objective
) -> tuple[list[tuple[dict[str, Any], float]], dict[str, Any]]:
    """The parents' results as ``(config, value)`` in this job's space, best first, and a
    JSON-ready record of what was taken from which parent.

    Raises :class:`~fasthpo.errors.ConfigError` for a parent that does not exist, has
    another objective, or lacks a value for a tuned hyperparameter.
    """
    if warm.store is None:
        return _results(store, warm, space, objective)
    try:
        with Store(warm.store, create=False) as other:
            return _results(other, warm, space, objective)
    except StoreError as exc:
        raise ConfigError("warm_start.store", str(exc)) from None


def _results(
    store: Store, warm: WarmStart, space: SearchSpace, objective: Objective
) -> tuple[list[tuple[dict[str, Any], float]], dict[str, Any]]:
    results: list[tuple[dict[str, Any], float]] = []
    record: dict[str, Any] = {"type": warm.type, "store": warm.store, "parents": []}
    for i, name in enumerate(warm.parents):
        where = f"warm_start.parents[{i}]"
        job = store.get_job(name)
        if job is None:
            raise ConfigError(where, f"no job named {name!r} in the store {str(Path(store.path))!r}")
        theirs = job.spec.get("objective") or {}
        if (theirs.get("metric"), theirs.get("direction")) != (objective.metric, objective.direction):
            raise ConfigError(
                where,
                f"job {name!r} has another objective ({theirs.get('direction')} "
                f"{theirs.get('metric')!r}, this job: {objective.direction} {objective.metric!r})",
            )
        static = job.spec.get("static_hyperparameters") or {}
        taken = dropped = 0
        for trial in store.trials(name, status=("completed",)):
            if trial.objective is None:
                continue
            config = _carried(space, trial.hyperparameters, static, name, where)
            try:
                config = space.validate(config)
            except (ConfigError, ValueError):
                dropped += 1
                continue
            results.append((config, trial.objective))
            taken += 1
        record["parents"].append({"name": name, "taken": taken, "dropped": dropped})
    sign = 1.0 if objective.direction == "minimize" else -1.0
    results.sort(key=lambda result: sign * result[1])
    return results, record


def _carried(
    space: SearchSpace, tuned: Mapping[str, Any], static: Mapping[str, Any], parent: str, where: str
) -> dict[str, Any]:
    config = {}
    for name in space.names:
        if name in tuned:
            config[name] = tuned[name]
        elif name in static:
            config[name] = static[name]
        else:
            raise ConfigError(
                where,
                f"job {parent!r} has no value for hyperparameter {name!r} (neither tuned nor "
                "static there); warm-start from a job that set it, or give it a static value there",
            )
    return config
