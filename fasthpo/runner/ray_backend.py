"""The Ray backend: each instance of a trial runs as a Ray task on some node of a Ray cluster.

The tuner, the store and the run folder stay on the driver (where ``fasthpo
run`` runs); Ray does placement, resources and failure detection. Each
instance is one streaming Ray task (:func:`~fasthpo.runner.ray_remote.run_instance`)
that starts the training command as a subprocess on its node and sends back
what it writes as it writes it; the driver appends those bytes to the
instance's ``stdout.log``, ``stderr.log`` and ``metrics.jsonl`` in the trial
folder, laid out as for local trials, and reads them with the local backend's
readers, so metrics, reports and their order are the same.

* **Resources**: ``cpus_per_instance`` and ``gpus_per_instance`` become the
  task's ``num_cpus`` (at least 1) and ``num_gpus`` (Ray sets
  ``CUDA_VISIBLE_DEVICES``); ``resources.ray`` adds custom resources.
* **Gangs**: a trial with ``instance_count`` N > 1 gets a placement group of N
  bundles, reserved all at once or not at all; ``MASTER_ADDR`` is rank 0's
  node address and ``MASTER_PORT`` a port free there. One rank failing stops
  the others, wherever they run.
* **Stopping** (a stop, the runtime limit, early stopping) sends SIGTERM to the
  instance's process group on its node, SIGKILL after the grace period, and
  ``ray.cancel`` after one more grace period as the last resort.
* **Faults**: an instance whose node or worker dies makes the attempt
  ``lost``: it runs again as a new attempt, not counted as a failure.
  Processes a killed tuner left on the nodes are found by their trial folder
  and stopped by the next tuner (:meth:`RayBackend.stop_leftovers`).
* **Code**: the job's ``workdir`` is shipped to the nodes with Ray's runtime
  environment (``working_dir``), unless the job says it lives on a shared
  filesystem (``backend.ship_workdir: false``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from fasthpo.errors import ConfigError
from fasthpo.jobspec import JobSpec, MetricDefinition, Resources
from fasthpo.runner.backend import DEFAULT_GRACE_SECONDS, Event, Exited, Reported, TrialLaunch
from fasthpo.runner.command import build_argv
from fasthpo.runner.local import (
    _describe_exit,
    _new_file,
    _tail,
    _write_new,
    check_new_job_folder,
    new_trial_folder,
    trial_environment,
)
from fasthpo.runner.logs import InstanceOutput, RegexMetrics
from fasthpo.runner.ray_remote import STREAMS, master_address, run_instance, signal_group, stop_leftovers

log = logging.getLogger("fasthpo")

#: What :meth:`RayBackend.free_slots` says while the cluster seems to have room.
UNLIMITED = 1 << 30
#: A launched trial not started on a node after this long means the cluster is full (seconds).
PLACEMENT_SECONDS = 1.0
#: Ray namespace of the tuner's connection.
NAMESPACE = "fasthpo"
RAY_MISSING = (
    "the Ray backend needs ray: pip install 'fasthpo[ray]' (from a checkout: pip install '.[ray]')"
)


def import_ray(field_path: str = "backend.type") -> ModuleType:
    """Ray, imported on first use; a one-line :class:`ConfigError` naming the extra when it is missing."""
    try:
        import ray
    except ImportError:
        raise ConfigError(field_path, RAY_MISSING) from None
    return ray


def connect(address: str | None, *, working_dir: str | None = None) -> bool:
    """Connect this process to the Ray cluster at ``address`` unless it is connected already.

    ``address`` is what ``ray.init`` accepts (``auto``, ``HOST:PORT``,
    ``ray://HOST:PORT``; ``None`` starts a Ray instance on this machine when
    none runs). ``working_dir`` is shipped to every node (Ray uploads it once
    per connection, and workers start in their copy). Returns whether this
    call made the connection (and so should end it).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    runtime_env = {"working_dir": working_dir} if working_dir is not None else None
    ray.init(
        address=address, namespace=NAMESPACE, runtime_env=runtime_env, log_to_driver=False,
        configure_logging=False,
    )
    return True


def sweep_nodes(directories: Sequence[str], *, grace: float, address: str) -> int:
    """Connect to the cluster at ``address`` and stop, on every live node, the given trials' processes.

    For ``fasthpo stop`` on a job whose tuner died: what its trials left on the
    nodes is found by their driver folders, as a resuming tuner does it.
    Returns how many processes were stopped.
    """
    ray = import_ray()
    owns = connect(address)
    try:
        sweep = ray.remote(num_cpus=0, max_retries=0)(stop_leftovers)
        return _sweep_live_nodes(ray, sweep, directories, grace)
    finally:
        if owns:
            ray.shutdown()


def _sweep_live_nodes(ray: Any, sweep: Any, directories: Sequence[str], grace: float) -> int:
    """Run the ``stop_leftovers`` task ``sweep`` once on every live node; processes stopped in all."""
    if not directories:
        return 0
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    sweeps = [
        sweep.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote(list(directories), grace)
        for node in ray.nodes() if node.get("Alive")
    ]
    stopped = 0
    for one in sweeps:
        try:
            stopped += int(ray.get(one, timeout=grace + 60))
        except ray.exceptions.RayError as exc:  # a node died meanwhile: so did its processes
            log.warning("could not look for leftover trial processes on a node: %s", exc)
    return stopped


@dataclass
class _Rank:
    """One instance of a trial: its task's stream and what came back from it."""

    rank: int
    directory: Path  # where its files go on the driver
    output: InstanceOutput
    stream: Any  # ray.ObjectRefGenerator
    files: list[int] = field(default_factory=list)  # open descriptors on the driver's files
    pid: int | None = None  # of the process on its node; its process group id too
    node: str | None = None
    ended: bool = False  # the task has sent its last item (or failed)
    exit_code: int | None = None
    error: str | None = None  # the process could not start
    drained: bool = False


@dataclass
class _Trial:
    trial_id: int
    directory: Path
    launched: float  # monotonic
    ranks: list[_Rank] = field(default_factory=list)
    group: Any = None  # placement group of a gang
    started: float | None = None  # monotonic, when its first instance started on a node
    stop_reason: str | None = None
    failure: tuple[int, int | None] | None = None  # (rank, exit code) of the first rank that failed
    lost: str | None = None  # why the attempt was lost (a node or worker died)
    kill_at: float | None = None  # monotonic deadline for SIGKILL after SIGTERM
    cancel_at: float | None = None  # monotonic deadline for ray.cancel after SIGKILL


class RayBackend:
    """Runs trials as Ray tasks that each start the training command on a node of a cluster.

    Parameters
    ----------
    job_name, command, workdir, env, metrics, runs_dir, max_runtime, grace, instance_count
        As for :class:`~fasthpo.runner.local.LocalBackend`.
    resources
        ``cpus_per_instance``/``gpus_per_instance`` (``gpu_ids`` does not apply: Ray picks GPUs).
    custom_resources
        Ray custom resources each instance needs (``resources.ray`` of the job).
    address
        The cluster (see :func:`connect`); unused when this process is connected already.
    ship_workdir
        Ship ``workdir`` to the nodes as Ray's ``working_dir`` (else it must
        exist at the same path on every node: a shared filesystem).
    """

    def __init__(
        self,
        *,
        job_name: str,
        command: Sequence[str],
        workdir: str,
        env: Mapping[str, str],
        metrics: Sequence[MetricDefinition],
        runs_dir: str | os.PathLike[str],
        max_runtime: float | None = None,
        grace: float = DEFAULT_GRACE_SECONDS,
        instance_count: int = 1,
        resources: Resources | None = None,
        custom_resources: Mapping[str, float] | None = None,
        address: str | None = None,
        ship_workdir: bool = True,
    ) -> None:
        if isinstance(instance_count, bool) or not isinstance(instance_count, int) or instance_count < 1:
            raise ValueError(f"instance_count must be a positive integer, got {instance_count!r}")
        self._ray = import_ray()
        self.job_name = job_name
        self.command = tuple(command)
        self.workdir = workdir
        self.env = dict(env)
        self.regex = RegexMetrics(metrics)
        self.job_dir = Path(runs_dir) / job_name
        self.max_runtime = max_runtime
        self.grace = grace
        self.instance_count = instance_count
        resources = resources or Resources()
        self.cpus = max(resources.cpus_per_instance, 1)
        self.gpus = resources.gpus_per_instance
        self.threads = resources.cpus_per_instance
        self.custom = {k: float(v) for k, v in (custom_resources or {}).items()}
        self.ship_workdir = ship_workdir
        ray = self._ray
        self._owns_connection = connect(address, working_dir=workdir if ship_workdir else None)
        if ship_workdir and not self._owns_connection \
                and not ray.get_runtime_context().runtime_env.get("working_dir"):
            # Ray ships a folder only with a new connection (ray.init's runtime_env).
            raise ConfigError(
                "backend.ship_workdir",
                "this process is connected to Ray already, without a working_dir to ship: connect "
                f"with ray.init(runtime_env={{'working_dir': {workdir!r}}}), or set ship_workdir "
                "to false if the workdir is on a filesystem every node shares",
            )
        self._warn_if_no_node_fits()
        # Ray retries nothing itself: a lost attempt is the tuner's to run again.
        self._run = ray.remote(num_returns="streaming", max_retries=0)(run_instance)
        self._master = ray.remote(num_cpus=0, max_retries=0)(master_address)
        self._signal = ray.remote(num_cpus=0, max_retries=0)(signal_group)
        self._sweep = ray.remote(num_cpus=0, max_retries=0)(stop_leftovers)
        self._running: dict[int, _Trial] = {}
        self._finished: list[Event] = []
        self._backlog = False

    @classmethod
    def for_job(cls, spec: JobSpec, runs_dir: str | os.PathLike[str]) -> RayBackend:
        """The backend a job file's ``backend: {type: ray}`` asks for."""
        return cls(
            job_name=spec.name,
            command=spec.command,
            workdir=spec.workdir,
            env=spec.env,
            metrics=spec.metrics,
            runs_dir=runs_dir,
            max_runtime=spec.limits.max_runtime_per_trial,
            instance_count=spec.instance_count,
            resources=spec.resources,
            custom_resources=spec.resources.ray,
            address=spec.backend.address,
            ship_workdir=spec.backend.ship_workdir,
        )

    # -- the Backend protocol ----------------------------------------------------------

    def trial_directory(self, trial_id: int) -> str:
        return str(self.job_dir / f"trial-{trial_id:04d}")

    def free_slots(self) -> int:
        """None while a launched trial has waited long for Ray to place it (the cluster is full), else many.

        A trial takes a moment to start even on an idle cluster; only one that
        waits longer than :data:`PLACEMENT_SECONDS` stops further proposals.
        """
        return 0 if _waiting(self._running.values(), time.monotonic()) else UNLIMITED

    def launch(self, trial: TrialLaunch) -> None:
        """Make the trial's folder and hand its instances to Ray, which starts them when they fit."""
        directory = Path(trial.directory or self.trial_directory(trial.trial_id))
        folder = new_trial_folder(self.job_dir, directory)  # RunFolderError ends the tuner
        try:
            hyperparameters = dict(trial.hyperparameters)
            encoded = json.dumps(hyperparameters, sort_keys=False)
            _write_new(folder, "hyperparameters.json", (encoded + "\n").encode("utf-8"))
            folders = self._rank_folders(directory, folder)
        except OSError as exc:
            self._finished.append(Exited(trial.trial_id, "failed", error=f"cannot start the trial: {exc}"))
            return
        finally:
            os.close(folder)
        argv = build_argv(self.command, hyperparameters)
        if self.command[0] in ("python", "python3"):
            argv[0] = self.command[0]  # each node runs its own interpreter
        shared = trial_environment(
            trial, job_name=self.job_name, directory=str(directory), encoded=encoded,
            instance_count=self.instance_count, master=None,
        )
        running = _Trial(trial.trial_id, directory, launched=time.monotonic())
        strategies: list[Any] = [None] * self.instance_count
        master = None
        if self.instance_count > 1:
            from ray.util.placement_group import placement_group
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            bundle = {"CPU": float(self.cpus), **({"GPU": float(self.gpus)} if self.gpus else {}),
                      **self.custom}
            running.group = placement_group(
                [bundle] * self.instance_count, strategy="PACK", name=f"fasthpo:{directory}"
            )
            strategies = [
                PlacementGroupSchedulingStrategy(running.group, placement_group_bundle_index=r)
                for r in range(self.instance_count)
            ]
            master = self._master.options(scheduling_strategy=strategies[0]).remote()
        for rank, (where, path) in enumerate(zip(strategies, folders, strict=True)):
            spec = {
                "argv": argv, "cwd": None if self.ship_workdir else self.workdir, "shared": shared,
                "job_env": self.env, "threads": self.threads, "rank": rank,
                "instance_count": self.instance_count, "driver_directory": str(directory),
            }
            options: dict[str, Any] = {
                "num_cpus": self.cpus, "num_gpus": self.gpus, "resources": self.custom,
                "name": f"fasthpo {self.job_name} trial {trial.trial_id} rank {rank}",
            }
            if where is not None:
                options["scheduling_strategy"] = where
            stream = self._run.options(**options).remote(spec, master)
            files = [
                os.open(path / name, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC) for name in STREAMS
            ]
            output = InstanceOutput(*(path / name for name in STREAMS))
            running.ranks.append(_Rank(rank, path, output, stream, files))
        self._running[trial.trial_id] = running

    def poll(self, timeout: float) -> list[Event]:
        events, self._finished = self._finished, []
        if events or self._backlog:
            timeout = 0.0
        streams = [r.stream for t in self._running.values() for r in t.ranks if not r.ended]
        if streams:
            self._ray.wait(streams, num_returns=1, timeout=timeout)
        elif timeout > 0:
            time.sleep(timeout)
        self._backlog = False
        now = time.monotonic()
        for trial in list(self._running.values()):
            events += self._advance(trial, now)
        return events

    def stop(self, trial_id: int, reason: str) -> None:
        """Stop one trial (SIGTERM on its nodes, SIGKILL after the grace); it exits as ``stopped``."""
        trial = self._running.get(trial_id)
        if trial is not None:
            self._stop(trial, reason, force=False)

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        for trial in self._running.values():
            self._stop(trial, reason, force=force)

    @property
    def running(self) -> tuple[int, ...]:
        """Ids of trials not yet reported as exited."""
        return (*self._running, *(e.trial_id for e in self._finished if isinstance(e, Exited)))

    def process_groups(self, trial_id: int) -> list[int]:
        """Always empty: the processes run on other nodes (a later tuner finds them by trial folder)."""
        return []

    # -- beyond the protocol -----------------------------------------------------------

    def check_new_job(self) -> None:
        """Refuse to start a job the store does not know over a runs folder that holds files."""
        check_new_job_folder(self.job_dir, self.job_name)

    def nodes(self, trial_id: int) -> list[str | None]:
        """The Ray node id each instance of a running trial runs on, by rank (``None``: not placed yet)."""
        trial = self._running.get(trial_id)
        return [] if trial is None else [r.node for r in trial.ranks]

    def stop_leftovers(self, directories: Sequence[str]) -> int:
        """Stop, on every live node, the processes of the trials whose driver folders are given.

        A tuner killed with ``kill -9`` leaves its trials' processes running on
        their nodes; the next tuner calls this (holding the job's lease) before
        it runs them again. Returns how many processes were stopped.
        """
        return _sweep_live_nodes(self._ray, self._sweep, directories, self.grace)

    def close(self) -> None:
        """Disconnect from Ray if this backend connected (trials must have ended)."""
        if self._owns_connection:
            self._ray.shutdown()
            self._owns_connection = False

    # -- starting ----------------------------------------------------------------------

    def _warn_if_no_node_fits(self) -> None:
        """Say so when no node of the cluster can hold one instance (its trials would wait for one)."""
        need = {"CPU": float(self.cpus), "GPU": float(self.gpus), **self.custom}
        nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
        if not any(all(r.get(k, 0.0) >= v for k, v in need.items() if v) for r in nodes):
            wanted = ", ".join(f"{k}={v:g}" for k, v in need.items() if v)
            log.warning(
                "no node of the Ray cluster has %s for one instance; trials wait until such a node joins",
                wanted,
            )

    def _rank_folders(self, directory: Path, folder: int) -> list[Path]:
        """Make each instance's empty log files on the driver (rank subfolders for N > 1)."""
        paths = []
        for rank in range(self.instance_count):
            if self.instance_count == 1:
                path, fd = directory, os.dup(folder)
            else:
                path = directory / f"rank-{rank}"
                os.mkdir(path.name, 0o755, dir_fd=folder)
                fd = os.open(path.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            try:
                for name in STREAMS:
                    os.close(_new_file(fd, name))
            finally:
                os.close(fd)
            paths.append(path)
        return paths

    # -- watching ----------------------------------------------------------------------

    def _advance(self, trial: _Trial, now: float) -> list[Event]:
        events: list[Event] = []
        for rank in trial.ranks:
            if not rank.ended:
                self._take(trial, rank, now)
            if not rank.drained:
                reports = rank.output.read(self.regex, instance=rank.rank, final=rank.ended)
                self._backlog |= rank.output.backlog
                rank.drained = rank.output.drained
                events += [Reported(trial.trial_id, r) for r in reports]
        if all(r.drained for r in trial.ranks):
            del self._running[trial.trial_id]
            self._release(trial)
            events.append(self._exited(trial))
        else:
            self._enforce_limits(trial, now)
        return events

    def _take(self, trial: _Trial, rank: _Rank, now: float) -> None:
        """Take every item the rank's task has sent so far, without waiting."""
        ray = self._ray
        while not rank.ended:
            ready, _ = ray.wait([rank.stream], num_returns=1, timeout=0)
            if not ready:
                return
            try:
                item = ray.get(next(rank.stream))
            except StopIteration:
                rank.ended = True
            except ray.exceptions.TaskCancelledError:
                rank.ended = True
                if trial.stop_reason is None and trial.failure is None and trial.lost is None:
                    trial.lost = "lost: its Ray task was cancelled"
            except ray.exceptions.RayTaskError as exc:  # the node side failed, not the training
                rank.ended = True
                rank.error = f"the Ray task of instance {rank.rank} failed: {_first_line(str(exc))}"
                self._failed(trial, rank.rank, None)
            except ray.exceptions.RayError as exc:  # its node or worker died
                rank.ended = True
                if trial.lost is None and trial.stop_reason is None:
                    trial.lost = f"lost: {_first_line(str(exc))}"
                    self._terminate(trial, force=False)
            else:
                self._item(trial, rank, item, now)
        for fd in rank.files:
            os.close(fd)
        rank.files = []

    def _item(self, trial: _Trial, rank: _Rank, item: Mapping[str, Any], now: float) -> None:
        if "data" in item:
            for fd, chunk in zip(rank.files, item["data"], strict=True):
                if chunk:
                    os.write(fd, chunk)
        elif "pid" in item:
            rank.pid, rank.node = int(item["pid"]), str(item["node"])
            if trial.started is None:
                trial.started = now
            if trial.kill_at is not None:  # stopped while it waited: it goes at once
                self._send(rank, signal.SIGKILL)
        elif "exit" in item:
            rank.exit_code = int(item["exit"])
            if rank.exit_code != 0:
                self._failed(trial, rank.rank, rank.exit_code)
        elif "error" in item:
            rank.error = str(item["error"])
            self._failed(trial, rank.rank, None)

    def _failed(self, trial: _Trial, rank: int, code: int | None) -> None:
        if trial.failure is None and trial.stop_reason is None and trial.lost is None:
            trial.failure = (rank, code)
            self._terminate(trial, force=False)  # its peers cannot finish without it

    def _enforce_limits(self, trial: _Trial, now: float) -> None:
        if trial.cancel_at is not None and now >= trial.cancel_at:
            # Last resort: the node did not answer the signals (its raylet may be hung).
            for rank in trial.ranks:
                if not rank.ended:
                    self._ray.cancel(rank.stream)
            trial.cancel_at = float("inf")
        elif trial.kill_at is not None and now >= trial.kill_at:
            self._terminate(trial, force=True)
        elif (
            self.max_runtime is not None
            and trial.started is not None
            and trial.stop_reason is None
            and trial.failure is None
            and trial.lost is None
            and now - trial.started > self.max_runtime
        ):
            self._stop(trial, f"exceeded max_runtime_per_trial ({self.max_runtime:g} s)", force=False)

    def _stop(self, trial: _Trial, reason: str, *, force: bool) -> None:
        if trial.stop_reason is None and trial.failure is None and trial.lost is None:
            trial.stop_reason = reason
        self._terminate(trial, force=force)

    def _terminate(self, trial: _Trial, *, force: bool) -> None:
        """SIGTERM every live instance's group on its node (SIGKILL after the grace), or SIGKILL now.

        Instances Ray has not started yet are cancelled: they never start.
        """
        now = time.monotonic()
        for rank in trial.ranks:
            if not rank.ended and rank.pid is None:
                self._ray.cancel(rank.stream)
        live = [r for r in trial.ranks if not r.ended and r.pid is not None]
        if force:
            for rank in live:
                self._send(rank, signal.SIGKILL)
            trial.kill_at = float("inf")
            if trial.cancel_at is None:
                trial.cancel_at = now + self.grace
        elif trial.kill_at is None:
            for rank in live:
                self._send(rank, signal.SIGTERM)
            trial.kill_at = now + self.grace

    def _send(self, rank: _Rank, sig: signal.Signals) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        assert rank.pid is not None and rank.node is not None
        self._signal.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(rank.node, soft=False)
        ).remote(rank.pid, int(sig))

    def _release(self, trial: _Trial) -> None:
        for rank in trial.ranks:
            for fd in rank.files:
                os.close(fd)
            rank.files = []
        if trial.group is not None:
            from ray.util.placement_group import remove_placement_group

            remove_placement_group(trial.group)
            trial.group = None

    def _exited(self, trial: _Trial) -> Exited:
        first = trial.ranks[0].exit_code
        if trial.stop_reason is not None:
            return Exited(trial.trial_id, "stopped", first, trial.stop_reason)
        if trial.lost is not None:
            return Exited(trial.trial_id, "lost", None, trial.lost)
        if trial.failure is not None:
            rank, code = trial.failure
            failed = trial.ranks[rank]
            how = failed.error if code is None else _describe_exit(code)
            how = how or "failed"
            if self.instance_count > 1:
                how = f"instance {rank} of {self.instance_count} {how}; the other instances were stopped"
            tail = _tail(failed.directory / "stderr.log")
            return Exited(trial.trial_id, "failed", code, how + (f"; stderr ends:\n{tail}" if tail else ""))
        return Exited(trial.trial_id, "completed", 0)


def _waiting(trials: Iterable[_Trial], now: float) -> bool:
    """Whether some trial has waited longer than :data:`PLACEMENT_SECONDS` for a node."""
    return any(
        now - t.launched > PLACEMENT_SECONDS and any(r.pid is None and not r.ended for r in t.ranks)
        for t in trials
    )


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else text
