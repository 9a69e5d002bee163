"""The tuning loop's handling of how trials end, on a real store."""

from __future__ import annotations

import fasthpo
from fasthpo.jobspec import RetryPolicy
from fasthpo.objective import Objective
from fasthpo.runner.backend import Exited
from fasthpo.runner.loop import MAX_LOST_ATTEMPTS, TuningLoop
from fasthpo.storage import Store
from fasthpo.strategies.random import RandomSearch

SPEC = {"objective": {"metric": "loss", "direction": "minimize"}, "hyperparameters": {"x": {}}}


def _loop(store: Store) -> TuningLoop:
    space = fasthpo.SearchSpace([fasthpo.Continuous("x", 0.0, 1.0)])
    return TuningLoop(
        store=store, job="j", space=space, objective=Objective("loss"),
        strategy=RandomSearch(space, seed=0), backend=None, lease=None,  # type: ignore[arg-type]
        max_trials=2, max_parallel=1, static_hyperparameters={}, retry=RetryPolicy(),
        stopping_rule=None, catch=(),
    )


def _start(store: Store, loop: TuningLoop, trial_id: int) -> None:
    store.start_trial("j", trial_id, directory=f"/runs/{trial_id}")
    loop.running.add(trial_id)


def test_a_trial_lost_to_dying_nodes_runs_again_until_the_limit_then_fails(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.create_job("j", SPEC, seed=0)
        loop = _loop(store)
        trial = store.create_trial("j", {"x": 0.5})
        loop.configs[trial.trial_id] = {"x": 0.5}
        for attempt in range(1, MAX_LOST_ATTEMPTS):
            _start(store, loop, trial.trial_id)
            loop._exited(Exited(trial.trial_id, "lost", error=f"node {attempt} died"))
            assert list(loop.queue) == [trial.trial_id]  # queued to run again
            loop.queue.clear()
            assert store.get_trial("j", trial.trial_id).status == "pending"
        _start(store, loop, trial.trial_id)
        loop._exited(Exited(trial.trial_id, "lost", error="node 3 died\nworker gone"))
        ended = store.get_trial("j", trial.trial_id)
        assert ended.status == "failed" and not loop.queue
        assert ended.error.startswith(f"lost {MAX_LOST_ATTEMPTS} attempts in a row to dying nodes")
        assert "node 3 died ... worker gone" in ended.error
        statuses = [a.status for a in store.attempts("j", trial.trial_id)]
        assert statuses == ["lost"] * (MAX_LOST_ATTEMPTS - 1) + ["failed"]


def test_each_trial_counts_its_own_lost_attempts(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.create_job("j", SPEC, seed=0)
        loop = _loop(store)
        first = store.create_trial("j", {"x": 0.5})
        loop.configs[first.trial_id] = {"x": 0.5}
        for _ in range(MAX_LOST_ATTEMPTS - 1):
            _start(store, loop, first.trial_id)
            loop._exited(Exited(first.trial_id, "lost", error="node died"))
        # The same trial, now lost once more, would fail; another trial's count is its own.
        second = store.create_trial("j", {"x": 0.25})
        loop.configs[second.trial_id] = {"x": 0.25}
        _start(store, loop, second.trial_id)
        loop._exited(Exited(second.trial_id, "lost", error="node died"))
        assert store.get_trial("j", second.trial_id).status == "pending"
        assert loop.lost == {first.trial_id: MAX_LOST_ATTEMPTS - 1, second.trial_id: 1}
