"""LocalBackend with real subprocesses: instances, their environment and folders, failures,
single-trial stops, time limits, and devices handed out through a pool."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from fasthpo.jobspec import MetricDefinition
from fasthpo.runner.backend import Exited, Reported, TrialLaunch
from fasthpo.runner.local import LocalBackend
from fasthpo.runner.recovery import process_running
from fasthpo.runner.resources import DevicePool, available_cpus

INSTANCE = Path(__file__).parent / "jobs" / "instance.py"
# Trials import this checkout's fasthpo, whatever is installed.
TRIAL_ENV = {"PYTHONPATH": os.pathsep.join(sys.path)}


def _backend(tmp_path, *, instance_count=1, pool=None, **kwargs):
    return LocalBackend(
        job_name="job", command=["python", str(INSTANCE)], workdir=str(tmp_path), env=TRIAL_ENV,
        metrics=[MetricDefinition("started", r"rank (\d+) started")], runs_dir=tmp_path / "runs",
        instance_count=instance_count, pool=pool or DevicePool(instance_count=instance_count),
        **kwargs,
    )


def _launch(backend, trial_id, **hyperparameters):
    backend.launch(TrialLaunch(trial_id, {"x": 0.5, **hyperparameters}))


def _until_exited(backend, timeout=60.0, on_poll=None):
    """Poll until every trial has exited; the events, and when each trial's Exited came."""
    events, exited_at = [], {}
    deadline = time.monotonic() + timeout
    while backend.running:
        assert time.monotonic() < deadline, "trials did not exit in time"
        for event in backend.poll(0.05):
            events.append(event)
            if isinstance(event, Exited):
                exited_at[event.trial_id] = time.monotonic()
                if on_poll:
                    on_poll(event)
        if on_poll:
            on_poll(None)
    return events, exited_at


def _seen(backend, trial_id, rank):
    return json.loads((Path(backend.trial_directory(trial_id)) / f"seen-{rank}.json").read_text())


def _exits(events):
    return {e.trial_id: e for e in events if isinstance(e, Exited)}


def _live_members(pgid: int) -> list[int]:
    """Pids of live (not zombie) processes in group ``pgid``, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _wait_dead(pids, timeout=5.0):
    deadline = time.monotonic() + timeout
    while any(process_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in pids if process_running(p)]


def test_a_single_instance_keeps_the_flat_folder_and_no_distributed_variables(tmp_path):
    backend = _backend(tmp_path)
    folder = tmp_path / "attempt-2"
    backend.launch(TrialLaunch(7, {"x": 0.5}, directory=str(folder), attempt=2))
    events, _ = _until_exited(backend)
    assert _exits(events)[7].status == "completed"
    assert sorted(p.name for p in folder.iterdir()) == [
        "hyperparameters.json", "metrics.jsonl", "seen-0.json", "stderr.log", "stdout.log",
    ]
    env = json.loads((folder / "seen-0.json").read_text())["env"]
    assert env["FASTHPO_ATTEMPT"] == "2" and env["FASTHPO_TRIAL_ID"] == "7"
    assert env["FASTHPO_INSTANCE_RANK"] == "0" and env["FASTHPO_INSTANCE_COUNT"] == "1"
    assert env["FASTHPO_TRIAL_DIR"] == str(folder)
    assert env["FASTHPO_METRICS_FILE"] == str(folder / "metrics.jsonl")
    assert not {"RANK", "WORLD_SIZE", "MASTER_PORT", "CUDA_VISIBLE_DEVICES"} & set(env)
    losses = [e.report.value for e in events if isinstance(e, Reported) and e.report.name == "loss"]
    assert losses == [10.5, 0.5]


def test_instances_get_ranks_a_shared_rendezvous_and_their_own_folders(tmp_path):
    backend = _backend(tmp_path, instance_count=3)
    _launch(backend, 1, rendezvous="true")
    assert len(set(backend.process_groups(1))) == 3
    events, _ = _until_exited(backend)
    assert _exits(events)[1] == Exited(1, "completed", 0)
    folder = Path(backend.trial_directory(1))
    assert sorted(p.name for p in folder.iterdir()) == [
        "hyperparameters.json", "rank-0", "rank-1", "rank-2", "seen-0.json", "seen-1.json", "seen-2.json",
    ]
    seen = [_seen(backend, 1, rank) for rank in range(3)]
    port = seen[0]["env"]["MASTER_PORT"]
    for rank, s in enumerate(seen):
        env = s["env"]
        assert env["FASTHPO_INSTANCE_RANK"] == env["RANK"] == env["LOCAL_RANK"] == str(rank)
        assert env["FASTHPO_INSTANCE_COUNT"] == env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == "3"
        assert env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"] == port
        assert env["FASTHPO_METRICS_FILE"] == str(folder / f"rank-{rank}" / "metrics.jsonl")
        assert env["FASTHPO_TRIAL_DIR"] == str(folder)
        assert s["pgid"] == s["pid"]  # each instance leads its own process group
        assert (folder / f"rank-{rank}" / "stdout.log").read_text() == f"rank {rank} started\n"
    assert sorted(seen[0]["peers"]) == ["1", "2"]  # the port was free and shared: they met
    assert len({s["pgid"] for s in seen}) == 3
    reports = [e.report for e in events if isinstance(e, Reported)]
    assert sorted((r.instance, r.name, r.value) for r in reports if r.step == 1) == [
        (0, "loss", 0.5), (1, "loss", 1.5), (2, "loss", 2.5),
    ]
    assert sorted((r.instance, r.value) for r in reports if r.name == "started") == [
        (0, 0.0), (1, 1.0), (2, 2.0),
    ]


def test_one_failing_instance_fails_the_trial_and_stops_the_others(tmp_path):
    backend = _backend(tmp_path, instance_count=3, grace=1.0)
    started = time.monotonic()
    # Rank 1 fails; rank 2 ignores SIGTERM, so only SIGKILL after the grace ends it.
    _launch(backend, 1, fail_rank=1, fail_after=1.5, sleep=60.0, ignore_term="true", grandchild="true")
    pids = []

    def check(event):
        if event is None and not pids and all(
            (Path(backend.trial_directory(1)) / f"seen-{r}.json").exists() for r in range(3)
        ):
            for rank in range(3):
                seen = _seen(backend, 1, rank)
                pids.extend([seen["pid"], seen["grandchild"]])
        if event is not None:
            # The trial's Exited comes only once every instance is gone.
            assert pids and not [p for p in pids[::2] if process_running(p)]

    events, _ = _until_exited(backend, on_poll=check)
    (exited,) = _exits(events).values()
    assert exited.status == "failed" and exited.exit_code == 3
    assert exited.error.startswith("instance 1 of 3 exited with code 3; the other instances were stopped")
    assert "rank 1 is failing" in exited.error  # the failing rank's stderr
    assert time.monotonic() - started < 30
    assert _wait_dead(pids) == []
    folder = Path(backend.trial_directory(1))
    assert (folder / "sigterm-0").exists() and (folder / "sigterm-2").exists()


def test_stop_one_trial_stops_all_its_instances_and_leaves_the_others(tmp_path):
    backend = _backend(tmp_path, instance_count=2, grace=5.0)
    _launch(backend, 1, sleep=60.0, grandchild="true")
    _launch(backend, 2, sleep=1.0)
    groups = backend.process_groups(1)
    assert len(groups) == 2 and backend.process_groups(99) == []
    stopped = []

    def stop_once_started(event):
        folder = Path(backend.trial_directory(1))
        if not stopped and all((folder / f"seen-{r}.json").exists() for r in range(2)):
            stopped.append(time.monotonic())
            backend.stop(1, "pruned by the scheduler")
            backend.stop(1, "a second stop changes nothing")
            backend.stop(42, "unknown trials are ignored")

    events, _ = _until_exited(backend, on_poll=stop_once_started)
    exits = _exits(events)
    assert exits[1].status == "stopped" and exits[1].error == "pruned by the scheduler"
    assert exits[1].exit_code == -signal.SIGTERM  # it honoured SIGTERM: no SIGKILL needed
    assert exits[2] == Exited(2, "completed", 0)
    grandchildren = [_seen(backend, 1, r)["grandchild"] for r in range(2)]
    assert _wait_dead(grandchildren) == []
    if Path("/proc").is_dir():
        assert [_live_members(pgid) for pgid in groups] == [[], []]
    assert backend.process_groups(1) == []


def test_runtime_limit_terms_every_group_then_kills_after_the_grace(tmp_path):
    grace, limit = 1.0, 0.5
    backend = _backend(tmp_path, instance_count=2, max_runtime=limit, grace=grace)
    started = time.monotonic()
    _launch(backend, 1, sleep=60.0, ignore_term="true", grandchild="true")
    events, exited_at = _until_exited(backend)
    (exited,) = _exits(events).values()
    assert exited.status == "stopped"
    assert exited.error == "exceeded max_runtime_per_trial (0.5 s)"
    assert exited.exit_code == -signal.SIGKILL  # SIGTERM was ignored, SIGKILL ended it
    assert limit + grace <= exited_at[1] - started < 20
    folder = Path(backend.trial_directory(1))
    pids = []
    for rank in range(2):
        assert (folder / f"sigterm-{rank}").exists()  # every instance got SIGTERM first
        seen = _seen(backend, 1, rank)
        pids += [seen["pid"], seen["grandchild"]]
    assert _wait_dead(pids) == []


def test_a_trial_that_cannot_start_frees_its_devices(tmp_path):
    pool = DevicePool(gpus=["g0", "g1"], gpus_per_instance=1, instance_count=2)
    backend = LocalBackend(
        job_name="job", command=["/nonexistent/trainer"], workdir=str(tmp_path), env={}, metrics=[],
        runs_dir=tmp_path / "runs", instance_count=2, pool=pool,
    )
    assert backend.free_slots() == 1
    backend.launch(TrialLaunch(1, {}))
    events, _ = _until_exited(backend)
    (exited,) = _exits(events).values()
    assert exited.status == "failed" and exited.error.startswith("cannot start the trial (instance 0)")
    assert backend.free_slots() == 1


def test_gpus_are_exclusive_and_a_trial_waits_for_free_ones(tmp_path):
    pool = DevicePool(gpus=["0", "1", "2"], gpus_per_instance=1, instance_count=1)
    backend = _backend(tmp_path, pool=pool)
    assert backend.free_slots() == 3
    for trial_id in (1, 2, 3, 4):
        _launch(backend, trial_id, sleep=0.5)
    assert backend.free_slots() == 0
    assert [len(backend.process_groups(t)) for t in (1, 2, 3, 4)] == [1, 1, 1, 0]  # 4 waits
    assert backend.running == (1, 2, 3, 4)
    events, _ = _until_exited(backend)
    assert all(e.status == "completed" for e in _exits(events).values())
    seen = {t: _seen(backend, t, 0) for t in (1, 2, 3, 4)}
    assert [seen[t]["env"]["CUDA_VISIBLE_DEVICES"] for t in (1, 2, 3)] == ["0", "1", "2"]
    assert seen[4]["env"]["CUDA_VISIBLE_DEVICES"] in {"0", "1", "2"}
    assert seen[4]["start"] >= min(seen[t]["start"] for t in (1, 2, 3)) + 0.5
    assert backend.free_slots() == 3


def test_stopping_a_waiting_trial_drops_it_without_starting_it(tmp_path):
    pool = DevicePool(gpus=["0"], gpus_per_instance=1)
    backend = _backend(tmp_path, pool=pool)
    _launch(backend, 1, sleep=0.3)
    _launch(backend, 2)
    backend.stop(2, "no longer wanted")
    events, _ = _until_exited(backend)
    exits = _exits(events)
    assert exits[2] == Exited(2, "stopped", None, "no longer wanted")
    assert exits[1].status == "completed"
    assert not Path(backend.trial_directory(2)).exists()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_cpus_are_pinned_from_birth_with_matching_thread_counts(tmp_path):
    cpus = available_cpus()
    pool = DevicePool(cpus=cpus, cpus_per_instance=1, instance_count=len(cpus))
    backend = _backend(tmp_path, instance_count=len(cpus), pool=pool)
    backend.env["OPENBLAS_NUM_THREADS"] = "7"  # the job's own env wins over the default
    before = os.sched_getaffinity(0)
    _launch(backend, 1, grandchild="true")
    assert backend.free_slots() == 0  # every core is taken
    events, _ = _until_exited(backend)
    assert _exits(events)[1].status == "completed"
    assert os.sched_getaffinity(0) == before  # the tuner's own mask is restored
    seen = [_seen(backend, 1, rank) for rank in range(len(cpus))]
    assert sorted(c for s in seen for c in s["affinity"]) == sorted(cpus)  # one core each, disjoint
    for s in seen:
        assert len(s["affinity"]) == 1
        assert s["env"]["OMP_NUM_THREADS"] == s["env"]["MKL_NUM_THREADS"] == "1"
        assert s["env"]["OPENBLAS_NUM_THREADS"] == "7"
        assert "CUDA_VISIBLE_DEVICES" not in s["env"] or os.environ.get("CUDA_VISIBLE_DEVICES")
