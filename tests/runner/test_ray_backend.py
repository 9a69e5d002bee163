"""The Ray backend on a real multi-node Ray cluster started on this machine.

One cluster serves the whole module (Ray's own test utilities start a head and
several raylets, each with its own CPUs and fake GPUs): starting one costs
seconds, so the suite runs with ``--dist loadfile`` (see pyproject.toml) and
every test here runs in one worker, in order, against that one cluster.
The head has no CPUs, so trials run only on the worker nodes; the node-loss
test removes a node and so comes last.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fasthpo.config import parse_job
from fasthpo.errors import ConfigError
from fasthpo.jobspec import MetricDefinition, Resources
from fasthpo.runner.backend import Exited, Reported, TrialLaunch
from fasthpo.runner.recovery import process_running
from fasthpo.runner.tuner import Tuner, run_job
from fasthpo.space import SearchSpace
from fasthpo.storage import Store
from tests.conftest import trainer_job, wait_for

ray = pytest.importorskip("ray")

from fasthpo.runner.ray_backend import RayBackend  # noqa: E402 - needs ray
from fasthpo.runner.ray_remote import node_trial_folder  # noqa: E402

JOBS = Path(__file__).parent / "jobs"
PROBE = JOBS / "ray_probe.py"
LOSS = [MetricDefinition("loss", r"loss=([^\s]+)")]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A head with no CPUs, two nodes with 2 CPUs and 2 fake GPUs each, one with a custom resource."""
    from ray.cluster_utils import Cluster

    small = {"object_store_memory": 80 * MIB}
    # Ray puts the driver's working directory first on its workers' sys.path: start
    # away from the checkout, so the workers import the installed fasthpo, as a user's do.
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray-driver"))
    try:
        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 0, "include_dashboard": False, **small},
        )
        cluster.add_node(num_cpus=2, num_gpus=2, **small)
        cluster.add_node(num_cpus=2, num_gpus=2, **small)
        cluster.add_node(num_cpus=2, resources={"special": 1}, **small)
        ray.init(address=cluster.address, log_to_driver=False)
    finally:
        os.chdir(here)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


#: The backends the running test made, so that teardown can free what a failed test left running.
_MADE: list[RayBackend] = []


def backend(tmp_path: Path, **overrides: Any) -> RayBackend:
    options: dict[str, Any] = {
        "job_name": "probe", "command": ["python", str(PROBE)], "workdir": str(JOBS), "env": {},
        "metrics": LOSS, "runs_dir": tmp_path / "runs", "grace": 2.0, "ship_workdir": False,
    }
    options.update(overrides)
    made = RayBackend(**options)
    _MADE.append(made)
    return made


@pytest.fixture(autouse=True)
def _cluster_left_idle(cluster: Any) -> Iterator[None]:
    """After each test, end whatever its trials left running and wait until every CPU is free.

    A test that fails mid-way leaves trials waiting on their barrier, holding
    nodes (a gang holds all three): without this, every later test would wait
    for nodes that never free up and fail for that reason alone.
    """
    yield
    for made in _MADE:
        for trial in list(made._running.values()):
            for rank in trial.ranks:
                if rank.pid is not None and not rank.ended:
                    try:
                        os.killpg(rank.pid, signal.SIGKILL)  # the nodes are local processes here
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    ray.cancel(rank.stream, force=True)
                except Exception:  # already finished or already cancelled
                    pass
            made._release(trial)
        made._running.clear()
    _MADE.clear()
    total = ray.cluster_resources().get("CPU", 0.0)
    wait_for(lambda: ray.available_resources().get("CPU", 0.0) >= total, timeout=60)


def drive(backend: RayBackend, *, until: set[int], timeout: float = 90.0) -> dict[int, list[Any]]:
    """Poll until every trial in ``until`` exited; every event, by trial."""
    events: dict[int, list[Any]] = {}
    deadline = time.monotonic() + timeout
    left = set(until)
    while left:
        assert time.monotonic() < deadline, f"trials {sorted(left)} did not end"
        for event in backend.poll(0.1):
            events.setdefault(event.trial_id, []).append(event)
            if isinstance(event, Exited):
                left.discard(event.trial_id)
    return events


def poll_until(backend: RayBackend, predicate: Any, events: dict[int, list[Any]],
               timeout: float = 90.0) -> None:
    """Poll the backend (keeping its events) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        for event in backend.poll(0.1):
            events.setdefault(event.trial_id, []).append(event)


def probes(directory: Path) -> list[dict[str, Any]]:
    """The ``probe`` lines of a trial's instances, by rank."""
    logs = [directory / "stdout.log"] if (directory / "stdout.log").exists() else sorted(
        directory.glob("rank-*/stdout.log")
    )
    found = []
    for log in logs:
        for line in log.read_text().splitlines():
            if line.startswith("probe "):
                found.append(json.loads(line[len("probe "):]))
    return found


def exited(events: list[Any]) -> Exited:
    last = events[-1]
    assert isinstance(last, Exited)
    return last


def test_trials_spread_over_nodes_and_stream_their_output_back(cluster, tmp_path):
    barrier = tmp_path / "go"
    rays = backend(tmp_path, resources=Resources(cpus_per_instance=2))
    for trial_id in (1, 2, 3):
        rays.launch(TrialLaunch(trial_id, {"x": 0.1 * trial_id, "wait_for": str(barrier)}))
    events: dict[int, list[Any]] = {}
    # Two CPUs each: the three trials fill the three worker nodes, one each.
    poll_until(rays, lambda: all(None not in rays.nodes(t) for t in (1, 2, 3)), events)
    assert len({rays.nodes(t)[0] for t in (1, 2, 3)}) == 3
    # What each trial printed reaches the driver's trial folder while it still runs.
    folders = [tmp_path / "runs" / "probe" / f"trial-000{t}" for t in (1, 2, 3)]
    poll_until(rays, lambda: all(probes(f) for f in folders), events)
    assert rays.running == (1, 2, 3)
    barrier.touch()
    events.update({k: events.get(k, []) + v for k, v in drive(rays, until={1, 2, 3}).items()})
    for trial_id, folder in zip((1, 2, 3), folders, strict=True):
        assert exited(events[trial_id]).status == "completed"
        reports = [e.report for e in events[trial_id] if isinstance(e, Reported)]
        # The fasthpo.report value (x + 1) comes before the line printed after it (x).
        assert [(r.source, r.value) for r in reports] == [
            ("report", pytest.approx(1 + 0.1 * trial_id)), ("regex", pytest.approx(0.1 * trial_id)),
        ]
        (probe,) = probes(folder)
        assert probe["FASTHPO_TRIAL_ID"] == str(trial_id)
        assert probe["OMP_NUM_THREADS"] == "2"
        # On the node, the trial folder is scratch space, gone once the trial ended.
        assert probe["FASTHPO_TRIAL_DIR"] == node_trial_folder(str(folder))
        assert not Path(probe["FASTHPO_TRIAL_DIR"]).exists()
        assert json.loads((folder / "metrics.jsonl").read_text())["metrics"] == {
            "loss": pytest.approx(1 + 0.1 * trial_id)
        }
        assert json.loads((folder / "hyperparameters.json").read_text())["x"] == pytest.approx(0.1 * trial_id)


def test_a_gang_is_placed_all_at_once_with_its_master_on_rank_0(cluster, tmp_path):
    barrier = tmp_path / "go"
    rays = backend(tmp_path, instance_count=3, resources=Resources(cpus_per_instance=2))
    rays.launch(TrialLaunch(1, {"x": 0.2, "wait_for": str(barrier)}))
    events: dict[int, list[Any]] = {}
    poll_until(rays, lambda: None not in rays.nodes(1), events)
    # Launched once the first holds its nodes: Ray need not place gangs in the order they were asked for.
    rays.launch(TrialLaunch(2, {"x": 0.3}))
    # Each rank holds a whole node; the second gang gets none of its three until the first is done.
    assert len(set(rays.nodes(1))) == 3
    folder = tmp_path / "runs" / "probe" / "trial-0001"
    poll_until(rays, lambda: len(probes(folder)) == 3, events)
    assert rays.nodes(2) == [None, None, None]
    poll_until(rays, lambda: rays.free_slots() == 0, events)  # no more proposals meanwhile
    barrier.touch()
    events.update(drive(rays, until={1, 2}))
    assert exited(events[1]).status == "completed" and exited(events[2]).status == "completed"
    ranks = probes(folder)
    assert [p["RANK"] for p in ranks] == ["0", "1", "2"]
    assert {p["WORLD_SIZE"] for p in ranks} == {"3"}
    assert {p["FASTHPO_INSTANCE_COUNT"] for p in ranks} == {"3"}
    assert len({(p["MASTER_ADDR"], p["MASTER_PORT"]) for p in ranks}) == 1
    assert ranks[0]["MASTER_ADDR"] == ray.util.get_node_ip_address()
    assert 0 < int(ranks[0]["MASTER_PORT"]) < 65536
    assert [p["LOCAL_RANK"] for p in ranks] == ["0", "0", "0"]
    reports = [e.report for e in events[1] if isinstance(e, Reported)]
    assert sorted(r.instance for r in reports if r.source == "report") == [0, 1, 2]


def test_one_rank_failing_stops_the_others_on_their_nodes(cluster, tmp_path):
    rays = backend(tmp_path, instance_count=3, resources=Resources(cpus_per_instance=2))
    rays.launch(TrialLaunch(1, {"fail_rank": 1, "sleep": 120}))
    events = drive(rays, until={1})
    end = exited(events[1])
    assert end.status == "failed" and end.exit_code == 3
    assert end.error.startswith("instance 1 of 3 exited with code 3; the other instances were stopped")
    assert "this rank gives up" in end.error
    for probe in probes(tmp_path / "runs" / "probe" / "trial-0001"):
        wait_for(lambda probe=probe: not process_running(probe["pid"]), timeout=30)


def test_gpus_are_disjoint_between_concurrent_trials_and_custom_resources_pass(cluster, tmp_path):
    barrier = tmp_path / "go"
    rays = backend(tmp_path, resources=Resources(gpus_per_instance=1, cpus_per_instance=1))
    for trial_id in (1, 2, 3, 4):
        rays.launch(TrialLaunch(trial_id, {"wait_for": str(barrier)}))
    special = backend(tmp_path, job_name="special", custom_resources={"special": 1})
    special.launch(TrialLaunch(1, {"wait_for": str(barrier)}))
    events: dict[int, list[Any]] = {}
    folders = [tmp_path / "runs" / "probe" / f"trial-000{t}" for t in (1, 2, 3, 4)]
    poll_until(rays, lambda: all(probes(f) for f in folders), events)
    held = {(rays.nodes(t)[0], probes(f)[0]["CUDA_VISIBLE_DEVICES"]) for t, f in
            zip((1, 2, 3, 4), folders, strict=True)}
    assert len(held) == 4  # four (node, GPU) pairs: no GPU given to two trials at once
    assert all(gpu in ("0", "1") for _, gpu in held)
    poll_until(special, lambda: special.nodes(1) != [None], {})
    (node,) = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("special")]
    assert special.nodes(1) == [node]
    barrier.touch()
    drive(rays, until={1, 2, 3, 4})
    assert exited(drive(special, until={1})[1]).status == "completed"


def test_the_runtime_limit_kills_the_remote_process_group(cluster, tmp_path):
    rays = backend(tmp_path, max_runtime=1.0)
    rays.launch(TrialLaunch(1, {"sleep": 120}))
    events = drive(rays, until={1})
    end = exited(events[1])
    assert end.status == "stopped" and "max_runtime_per_trial" in end.error
    (probe,) = probes(tmp_path / "runs" / "probe" / "trial-0001")
    wait_for(lambda: not process_running(probe["pid"]), timeout=30)
    wait_for(lambda: not Path(probe["FASTHPO_TRIAL_DIR"]).exists(), timeout=30)


def test_a_stopped_trial_and_one_still_waiting_for_a_node_both_exit_stopped(cluster, tmp_path):
    rays = backend(tmp_path, resources=Resources(cpus_per_instance=2))
    for trial_id in (1, 2, 3, 4):  # three fit on the nodes; the fourth waits for Ray
        rays.launch(TrialLaunch(trial_id, {"sleep": 120}))
    events: dict[int, list[Any]] = {}
    folders = [tmp_path / "runs" / "probe" / f"trial-000{t}" for t in (1, 2, 3)]
    poll_until(rays, lambda: all(probes(f) for f in folders), events)
    assert rays.nodes(4) == [None]
    rays.stop_all("the job was stopped")
    events.update(drive(rays, until={1, 2, 3, 4}))
    assert {exited(e).status for e in events.values()} == {"stopped"}
    for folder in folders:
        pid = probes(folder)[0]["pid"]
        wait_for(lambda pid=pid: not process_running(pid), timeout=30)


def test_a_job_file_runs_on_ray_from_the_command_line_and_ships_its_workdir(cluster, tmp_path):
    job = trainer_job(
        name="shipped", command=["python", "ray_probe.py"], workdir=str(JOBS),
        backend={"type": "ray", "address": "127.0.0.1:1"},  # the command line's address wins
        limits={"max_trials": 4, "max_parallel": 3},
    )
    path = tmp_path / "shipped.json"
    path.write_text(json.dumps(job))
    db = tmp_path / "fasthpo.db"
    done = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(path), "--db", str(db),
         "--backend", "ray", "--address", cluster.address, "-q"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        trials = store.trials("shipped")
        stored = store.get_job("shipped").spec
    assert [t.status for t in trials] == ["completed"] * 4
    assert all(t.objective == pytest.approx(t.hyperparameters["x"]) for t in trials)
    assert stored["backend"] == {"type": "ray", "address": cluster.address, "ship_workdir": True}
    probe = probes(Path(trials[0].directory))[0]
    # The relative script ran from Ray's copy of the workdir, not from the folder itself.
    assert probe["cwd"] != str(JOBS)
    assert (Path(probe["cwd"]) / "ray_probe.py").exists()


def test_a_tuner_connected_already_does_not_ship_a_workdir_silently(cluster, tmp_path):
    with pytest.raises(ConfigError, match=r"backend\.ship_workdir"):
        backend(tmp_path, ship_workdir=True)


def _orphans_of_a_killed_tuner(cluster: Any, tmp_path: Path) -> tuple[dict[str, Any], Path, list[int]]:
    """Run a two-trial job on Ray, kill its tuner with ``kill -9`` so that what its trials
    started lives on; the job, its store and the pids left running on the nodes."""
    never = tmp_path / "never"  # the first attempts wait for it; their reruns do not
    job = trainer_job(
        name="orphans", command=["python", str(PROBE)], workdir=str(JOBS),
        static_hyperparameters={"wait_for": str(never), "spawn": 1},
        backend={"type": "ray", "ship_workdir": False, "address": cluster.address},
        limits={"max_trials": 2, "max_parallel": 2},
    )
    path = tmp_path / "orphans.json"
    path.write_text(json.dumps(job))
    db = tmp_path / "fasthpo.db"
    tuner = subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(path), "--db", str(db), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    runs = tmp_path / "fasthpo-runs" / "orphans"
    try:
        wait_for(lambda: all(probes(runs / f"trial-000{t}") for t in (1, 2)), timeout=120)
        started = [probes(runs / f"trial-000{t}")[0] for t in (1, 2)]
        # Ray's workers running the two tasks are frozen, then die with the tuner without
        # cleaning up after it (as when a worker is killed hard, or its node is too
        # loaded to run the task's cleanup): what they started lives on.
        for probe in started:
            os.kill(probe["ppid"], signal.SIGSTOP)
    finally:
        tuner.send_signal(signal.SIGKILL)
        tuner.wait()
    for probe in started:
        os.kill(probe["ppid"], signal.SIGKILL)
    left = [pid for probe in started for pid in (probe["pid"], probe["grandchild"])]
    wait_for(lambda: not any(process_running(p["ppid"]) for p in started), timeout=60)
    assert all(process_running(pid) for pid in left)
    return job, db, left


def test_a_tuner_killed_with_kill_9_leaves_trials_the_next_one_stops(cluster, tmp_path):
    job, db, left = _orphans_of_a_killed_tuner(cluster, tmp_path)
    spec = parse_job(job)
    result = run_job(spec, db=db)
    assert result.status == "completed"
    assert not any(process_running(pid) for pid in left)
    with Store(db) as store:
        for trial in store.trials("orphans"):
            assert trial.status == "completed" and trial.attempt == 2
            assert [a.status for a in store.attempts("orphans", trial.trial_id)] == ["lost", "completed"]


def test_stop_without_a_tuner_stops_what_its_trials_left_on_the_nodes(cluster, tmp_path):
    _, db, left = _orphans_of_a_killed_tuner(cluster, tmp_path)
    stopped = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "stop", "orphans", "--db", str(db), "--grace", "1"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert stopped.returncode == 0, stopped.stderr
    assert "is stopped (no tuner was running it); 2 trial(s) will run again on resume" in stopped.stdout
    assert not any(process_running(pid) for pid in left)
    with Store(db) as store:
        assert store.get_job("orphans").status == "stopped"
        assert [t.status for t in store.trials("orphans")] == ["pending", "pending"]


def test_without_ray_asking_for_it_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    from fasthpo.cli import main

    path = tmp_path / "toy.json"
    path.write_text(json.dumps(trainer_job()))
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'fasthpo\[ray\]'"):
        backend(tmp_path)
    assert main(["run", str(path), "--db", str(tmp_path / "f.db"), "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fasthpo[ray]" in err


def test_a_python_objective_runs_as_ray_tasks_and_reports_from_inside(cluster, tmp_path):
    def objective(params: dict[str, Any]) -> float:
        import fasthpo

        if params["x"] > 0.9:
            raise ZeroDivisionError("diverged")
        fasthpo.report(step=0, objective=params["x"] + 1.0)
        return params["x"]

    space = SearchSpace.from_dict({"x": {"type": "continuous", "min": 0.0, "max": 1.0}})
    db = tmp_path / "fasthpo.db"
    tuner = Tuner(space, strategy="random", max_trials=8, seed=3, name="fn", db=db, backend="ray")
    best = tuner.optimize(objective, max_parallel=4, catch=(ZeroDivisionError,))
    trials = tuner.trials()
    assert len(trials) == 8
    done = [t for t in trials if t.status == "completed"]
    assert best is not None and best.objective == min(t.objective for t in done)
    with Store(db) as store:
        for trial in done:
            reports = store.metrics("fn", trial.trial_id, "objective")
            assert [(r.source, r.step) for r in reports] == [("report", 0), ("return", None)]
            assert reports[0].value == pytest.approx(trial.objective + 1.0)
    for trial in trials:
        if trial.hyperparameters["x"] > 0.9:
            assert trial.status == "failed" and "ZeroDivisionError: diverged" in trial.error
    with pytest.raises(ZeroDivisionError):  # not caught: re-raised once stored, as in-process
        Tuner(space, strategy="random", max_trials=30, seed=3, name="fn2", db=db).optimize(
            objective, backend="ray", max_parallel=2
        )


def test_a_node_that_dies_mid_trial_loses_the_attempt_which_runs_again_elsewhere(cluster, tmp_path):
    never = tmp_path / "never"  # the first attempt waits for it; the rerun does not
    spec = parse_job(trainer_job(
        name="doomed", command=["python", str(PROBE)], workdir=str(JOBS),
        static_hyperparameters={"wait_for": str(never)},
        resources={"cpus_per_instance": 2},
        backend={"type": "ray", "ship_workdir": False},
        limits={"max_trials": 1, "max_parallel": 1},
    ))
    db = tmp_path / "fasthpo.db"
    rays = RayBackend.for_job(spec, tmp_path / "fasthpo-runs")
    tuner = Tuner(spec.space, objective=spec.objective, strategy="random", max_trials=1, seed=1,
                  name="doomed", db=db, static_hyperparameters=spec.static_hyperparameters)
    outcome: list[Any] = []

    def tune() -> None:
        with Store(db) as store:
            outcome.append(tuner._run(store, spec.to_dict(), rays, max_parallel=1, grace=2.0))

    thread = threading.Thread(target=tune, daemon=True)  # a failure must not hang the session
    thread.start()
    first = tmp_path / "fasthpo-runs" / "doomed" / "trial-0001"
    wait_for(lambda: probes(first), timeout=120)
    (node,) = rays.nodes(1)
    (doomed,) = [n for n in cluster.worker_nodes if n.node_id == node]
    pid = probes(first)[0]["pid"]
    cluster.remove_node(doomed)
    thread.join(timeout=120)
    # On a real cluster these went down with their node; here they share this machine, and
    # the removed node's raylet may or may not have taken them along already.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(probes(first)[0]["FASTHPO_TRIAL_DIR"], ignore_errors=True)
    assert not thread.is_alive()
    assert outcome[0].status == "completed"
    with Store(db) as store:
        (trial,) = store.trials("doomed")
        attempts = store.attempts("doomed", 1)
    assert [a.status for a in attempts] == ["lost", "completed"]
    assert attempts[0].error.startswith("lost: ")
    assert trial.directory.endswith("trial-0001-attempt-2")
    assert probes(Path(trial.directory))[0]["FASTHPO_ATTEMPT"] == "2"
