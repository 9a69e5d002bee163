"""The local backend: each trial is one or more subprocesses, each in its own process group.

A trial folder holds ``hyperparameters.json``; each instance (process) of the
trial writes ``stdout.log``, ``stderr.log`` and ``metrics.jsonl`` straight to
files (no pipes to fill up), which the backend follows incrementally. With one
instance (the default) those files sit in the trial folder itself; with
``instance_count`` N > 1 each rank has its own subfolder::

    trial-0007/
        hyperparameters.json
        rank-0/stdout.log  rank-0/stderr.log  rank-0/metrics.jsonl
        rank-1/...

Each instance sees the ``FASTHPO_*`` variables listed in
:mod:`fasthpo.trial_env` (trial id, attempt, job name, trial folder,
hyperparameters, its metrics file, its rank and the instance count), and with
N > 1 what ``torch.distributed`` reads with ``init_method="env://"``:
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` (127.0.0.1), ``MASTER_PORT`` (a
port that was free when the trial started), ``LOCAL_RANK`` and
``LOCAL_WORLD_SIZE``. When the tuner hands out GPUs each instance sees only
its own (as ``cuda:0`` ...), so ``LOCAL_RANK`` is 0 and ``LOCAL_WORLD_SIZE``
1 there: ``torch.cuda.set_device(LOCAL_RANK)`` picks the instance's own GPU.

If an instance fails (non-zero exit) the trial fails, naming the rank, and its
other instances are stopped. Stopping a trial sends SIGTERM to every
instance's process group, then SIGKILL after a grace period, so no child or
grandchild outlives it (one that starts a session of its own escapes any
process-group scheme). The trial's ``Exited`` comes once every instance is
gone and its output read. Exits are noticed at once through pidfds where the
OS has them (Linux), else by polling.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fasthpo.errors import RunFolderError
from fasthpo.jobspec import MetricDefinition, Resources
from fasthpo.runner.backend import DEFAULT_GRACE_SECONDS, Event, Exited, Reported, TrialLaunch
from fasthpo.runner.command import build_argv
from fasthpo.runner.logs import InstanceOutput, RegexMetrics
from fasthpo.runner.resources import DevicePool, InstanceDevices, pinned
from fasthpo.trial_env import (
    ATTEMPT_ENV,
    HYPERPARAMETERS_ENV,
    INSTANCE_COUNT_ENV,
    INSTANCE_RANK_ENV,
    JOB_NAME_ENV,
    METRICS_FILE_ENV,
    TRIAL_DIR_ENV,
    TRIAL_ID_ENV,
)

STDERR_TAIL_BYTES = 4096
MASTER_ADDR = "127.0.0.1"


@dataclass
class _Instance:
    rank: int
    process: subprocess.Popen[bytes]
    directory: Path  # where its logs go
    output: InstanceOutput
    pidfd: int | None = None
    exit_code: int | None = None  # set once reaped
    drained: bool = False  # exited, and every byte it wrote has been read


@dataclass
class _Trial:
    trial_id: int
    directory: Path
    started: float  # monotonic
    instances: list[_Instance] = field(default_factory=list)
    stop_reason: str | None = None
    failure: tuple[int, int] | None = None  # (rank, exit code) of the first instance that failed
    kill_at: float | None = None  # monotonic deadline for SIGKILL after SIGTERM


class LocalBackend:
    """Runs trials as local subprocesses.

    Parameters
    ----------
    job_name
        Name of the job (exported to trials, and the folder under ``runs_dir``).
    command
        The job's argv template (see :mod:`fasthpo.runner.command`).
    workdir
        Working directory of every trial.
    env
        Extra environment variables for every trial.
    metrics
        Regex metric definitions applied to stdout and stderr.
    runs_dir
        Folder under which each job keeps its trial folders.
    max_runtime
        Seconds a trial may run before it is stopped; ``None`` for no limit.
    grace
        Seconds between SIGTERM and SIGKILL when a trial is stopped.
    instance_count
        Processes per trial.
    resources
        GPUs and cores each instance gets (see :mod:`fasthpo.runner.resources`);
        ignored when ``pool`` is given.
    pool
        A ready device pool (tests inject one with a fake device list).
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
        pool: DevicePool | None = None,
    ) -> None:
        if isinstance(instance_count, bool) or not isinstance(instance_count, int) or instance_count < 1:
            raise ValueError(f"instance_count must be a positive integer, got {instance_count!r}")
        self.job_name = job_name
        self.command = tuple(command)
        self.workdir = workdir
        self.env = dict(env)
        self.regex = RegexMetrics(metrics)
        self.job_dir = Path(runs_dir) / job_name
        self.max_runtime = max_runtime
        self.grace = grace
        self.instance_count = instance_count
        # Refuses an impossible request (ConfigError) before any trial starts.
        self.pool = pool or DevicePool.for_job(resources or Resources(), instance_count)
        if self.pool.instance_count != instance_count:
            raise ValueError("the device pool was made for another instance_count")
        self._running: dict[int, _Trial] = {}
        self._waiting: deque[TrialLaunch] = deque()  # launched, waiting for free devices
        self._finished: list[Event] = []
        self._backlog = False  # some log has unread data: poll again without waiting
        self._selector = selectors.DefaultSelector()

    # -- the Backend protocol ----------------------------------------------------------

    def trial_directory(self, trial_id: int) -> str:
        return str(self.job_dir / f"trial-{trial_id:04d}")

    def free_slots(self) -> int:
        """How many more trials can start now (the devices' limit; not ``max_parallel``)."""
        return max(self.pool.free_trials() - len(self._waiting), 0)

    def launch(self, trial: TrialLaunch) -> None:
        """Start a trial, or queue it until its devices are free."""
        if self._waiting or not self._start(trial):
            self._waiting.append(trial)

    def poll(self, timeout: float) -> list[Event]:
        events, self._finished = self._finished, []
        if events or self._backlog:
            timeout = 0.0
        if self._running and self._selector.get_map():
            self._selector.select(timeout)
        elif timeout > 0:
            time.sleep(timeout)
        self._backlog = False
        now = time.monotonic()
        for trial in list(self._running.values()):
            events += self._advance(trial, now)
        while self._waiting and self._start(self._waiting[0]):
            self._waiting.popleft()
        return events

    def stop(self, trial_id: int, reason: str) -> None:
        """Stop one trial (SIGTERM, SIGKILL after the grace period); it exits as ``stopped``.

        A trial still waiting for devices is dropped at once; an unknown or
        finished trial is ignored.
        """
        if trial_id in self._running:
            self._stop(self._running[trial_id], reason, force=False)
            return
        for launch in list(self._waiting):
            if launch.trial_id == trial_id:
                self._waiting.remove(launch)
                self._finished.append(Exited(trial_id, "stopped", error=reason))

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        while self._waiting:
            self._finished.append(Exited(self._waiting.popleft().trial_id, "stopped", error=reason))
        for trial in self._running.values():
            self._stop(trial, reason, force=force)

    @property
    def running(self) -> tuple[int, ...]:
        """Ids of trials not yet reported as exited."""
        return (
            *self._running,
            *(t.trial_id for t in self._waiting),
            *(e.trial_id for e in self._finished if isinstance(e, Exited)),
        )

    def process_groups(self, trial_id: int) -> list[int]:
        """Process group ids of a started trial's instances, by rank (``[]`` if none).

        Each instance leads its own group, so ``os.killpg(pgid, sig)`` reaches it
        and everything it started; a tuner that keeps these can stop orphans later.
        """
        trial = self._running.get(trial_id)
        return [] if trial is None else [i.process.pid for i in trial.instances]

    # -- starting ----------------------------------------------------------------------

    def _start(self, launch: TrialLaunch) -> bool:
        """Start every instance of ``launch``; ``False`` if its devices are not free yet."""
        devices = self.pool.acquire(launch.trial_id)
        if devices is None:
            return False
        directory = Path(launch.directory or self.trial_directory(launch.trial_id))
        trial = _Trial(launch.trial_id, directory, started=time.monotonic())
        folder = self._new_trial_folder(directory)  # RunFolderError ends the tuner: see there
        try:
            hyperparameters = dict(launch.hyperparameters)
            encoded = json.dumps(hyperparameters, sort_keys=False)
            _write_new(folder, "hyperparameters.json", (encoded + "\n").encode("utf-8"))
            argv = build_argv(self.command, hyperparameters)
            master = (MASTER_ADDR, _free_port()) if self.instance_count > 1 else None
            shared = trial_environment(
                launch, job_name=self.job_name, directory=str(directory), encoded=encoded,
                instance_count=self.instance_count, master=master,
            )
            for rank, held in enumerate(devices):
                trial.instances.append(
                    self._start_instance(trial, folder, rank, held, argv, shared)
                )
        except OSError as exc:
            self._abort(trial)
            where = f" (instance {len(trial.instances)})" if self.instance_count > 1 else ""
            self._finished.append(
                Exited(launch.trial_id, "failed", error=f"cannot start the trial{where}: {exc}")
            )
            return True
        finally:
            os.close(folder)
        self._running[launch.trial_id] = trial
        return True

    def _new_trial_folder(self, directory: Path) -> int:
        return new_trial_folder(self.job_dir, directory)

    def check_new_job(self) -> None:
        """Refuse to start a job the store does not know over a runs folder that holds files."""
        check_new_job_folder(self.job_dir, self.job_name)

    def _start_instance(
        self, trial: _Trial, trial_folder: int, rank: int, held: InstanceDevices, argv: list[str],
        shared: dict[str, str],
    ) -> _Instance:
        if self.instance_count == 1:
            folder, folder_fd = trial.directory, os.dup(trial_folder)
        else:
            folder = trial.directory / f"rank-{rank}"
            os.mkdir(folder.name, 0o755, dir_fd=trial_folder)
            folder_fd = os.open(
                folder.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                dir_fd=trial_folder,
            )
        try:
            os.close(_new_file(folder_fd, "metrics.jsonl"))
            out = _new_file(folder_fd, "stdout.log")
            try:
                err = _new_file(folder_fd, "stderr.log")
            except OSError:
                os.close(out)
                raise
        finally:
            os.close(folder_fd)
        metrics_file = folder / "metrics.jsonl"
        # Thread counts go first so the job's env can override them; the devices
        # the tuner hands out and its own variables go last and win.
        env = instance_environment(
            os.environ, shared,
            threads=held.thread_environment(),
            job_env=self.env,
            gpus=held.gpu_environment() if self.pool.gpus_managed else {},
            rank=rank, instance_count=self.instance_count, metrics_file=str(metrics_file),
            alone=self.pool.gpus_managed,  # each instance sees only its own GPUs
        )
        try:
            with pinned(held.cpus):  # born on its cores: nothing it forks runs elsewhere
                process = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,  # own process group: stop reaches grandchildren
                    close_fds=True,
                )
        finally:
            os.close(out)
            os.close(err)
        instance = _Instance(
            rank=rank,
            process=process,
            directory=folder,
            output=InstanceOutput(folder / "stdout.log", folder / "stderr.log", metrics_file),
        )
        instance.pidfd = _pidfd(process.pid)
        if instance.pidfd is not None:
            self._selector.register(instance.pidfd, selectors.EVENT_READ, trial.trial_id)
        return instance

    def _abort(self, trial: _Trial) -> None:
        """Undo a start that failed part-way: kill and reap what started, free the devices."""
        for instance in trial.instances:
            _signal_group(instance.process.pid, signal.SIGKILL)
            instance.process.wait()
            self._close_pidfd(instance)
        self.pool.release(trial.trial_id)

    # -- watching ----------------------------------------------------------------------

    def _advance(self, trial: _Trial, now: float) -> list[Event]:
        """Reap exited instances, read new output, enforce limits; the trial's events."""
        events: list[Event] = []
        for instance in trial.instances:
            if instance.exit_code is None:
                code = instance.process.poll()
                if code is not None:
                    self._reaped(trial, instance, code)
            if not instance.drained:
                events += self._read(trial, instance)
        if all(i.drained for i in trial.instances):
            del self._running[trial.trial_id]
            self.pool.release(trial.trial_id)
            events.append(self._exited(trial))
        else:
            self._enforce_limits(trial, now)
        return events

    def _reaped(self, trial: _Trial, instance: _Instance, code: int) -> None:
        instance.exit_code = code
        # Whatever the instance left behind in its group goes with it.
        _signal_group(instance.process.pid, signal.SIGKILL)
        self._close_pidfd(instance)
        if code != 0 and trial.failure is None and trial.stop_reason is None:
            trial.failure = (instance.rank, code)
            self._terminate(trial, force=False)  # its peers cannot finish without it

    def _read(self, trial: _Trial, instance: _Instance) -> list[Event]:
        reports = instance.output.read(
            self.regex, instance=instance.rank, final=instance.exit_code is not None
        )
        # One chunk per file and poll bounds memory; a backlog is read on the next poll at once.
        self._backlog |= instance.output.backlog
        instance.drained = instance.output.drained
        return [Reported(trial.trial_id, r) for r in reports]

    def _enforce_limits(self, trial: _Trial, now: float) -> None:
        if trial.kill_at is not None and now >= trial.kill_at:
            self._terminate(trial, force=True)
        elif (
            self.max_runtime is not None
            and trial.stop_reason is None
            and trial.failure is None
            and now - trial.started > self.max_runtime
        ):
            self._stop(trial, f"exceeded max_runtime_per_trial ({self.max_runtime:g} s)", force=False)

    def _stop(self, trial: _Trial, reason: str, *, force: bool) -> None:
        if trial.stop_reason is None and trial.failure is None:
            trial.stop_reason = reason
        self._terminate(trial, force=force)

    def _terminate(self, trial: _Trial, *, force: bool) -> None:
        """SIGTERM every live instance's group (SIGKILL after the grace), or SIGKILL now."""
        live = [i for i in trial.instances if i.exit_code is None]
        if force:
            for instance in live:
                _signal_group(instance.process.pid, signal.SIGKILL)
            trial.kill_at = float("inf")
        elif trial.kill_at is None:
            for instance in live:
                _signal_group(instance.process.pid, signal.SIGTERM)
            trial.kill_at = time.monotonic() + self.grace

    def _exited(self, trial: _Trial) -> Exited:
        first = trial.instances[0].exit_code
        if trial.failure is not None:
            rank, code = trial.failure
            how = _describe_exit(code)
            if self.instance_count > 1:
                how = f"instance {rank} of {self.instance_count} {how}; the other instances were stopped"
            tail = _tail(trial.instances[rank].directory / "stderr.log")
            return Exited(
                trial.trial_id, "failed", code, how + (f"; stderr ends:\n{tail}" if tail else "")
            )
        if trial.stop_reason is not None:
            return Exited(trial.trial_id, "stopped", first, trial.stop_reason)
        return Exited(trial.trial_id, "completed", 0)

    def _close_pidfd(self, instance: _Instance) -> None:
        if instance.pidfd is not None:
            self._selector.unregister(instance.pidfd)
            os.close(instance.pidfd)
            instance.pidfd = None



def trial_environment(
    launch: TrialLaunch, *, job_name: str, directory: str, encoded: str, instance_count: int,
    master: tuple[str, int] | None,
) -> dict[str, str]:
    """The variables every instance of a trial sees alike (``master``: rank 0's address and port)."""
    shared = {
        TRIAL_ID_ENV: str(launch.trial_id),
        ATTEMPT_ENV: str(launch.attempt),
        JOB_NAME_ENV: job_name,
        TRIAL_DIR_ENV: directory,
        HYPERPARAMETERS_ENV: encoded,
        INSTANCE_COUNT_ENV: str(instance_count),
    }
    if instance_count > 1:
        shared["WORLD_SIZE"] = str(instance_count)
    if master is not None:
        shared.update(MASTER_ADDR=master[0], MASTER_PORT=str(master[1]))
    return shared


def instance_environment(
    base: Mapping[str, str], shared: Mapping[str, str], *, threads: Mapping[str, str],
    job_env: Mapping[str, str], gpus: Mapping[str, str], rank: int, instance_count: int,
    metrics_file: str, alone: bool,
) -> dict[str, str]:
    """The whole environment of one instance: ``base`` (the tuner's own), then the rest in rising priority.

    Thread counts go first so the job's env can override them; the devices the
    tuner hands out and its own variables go last and win. ``alone``: the
    instance sees only its own GPUs, so it is local rank 0 of 1.
    """
    env = {
        **base, "PYTHONUNBUFFERED": "1", **threads, **job_env, **gpus, **shared,
        INSTANCE_RANK_ENV: str(rank),
        METRICS_FILE_ENV: metrics_file,
    }
    if instance_count > 1:
        env.update(
            RANK=str(rank),
            LOCAL_RANK="0" if alone else str(rank),
            LOCAL_WORLD_SIZE="1" if alone else str(instance_count),
        )
    return env


def new_trial_folder(job_dir: Path, directory: Path) -> int:
    """Make an attempt's folder, new, inside the job's runs folder; a descriptor on it.

    Every attempt has a folder of its own, recorded in the store before it
    is made, so one that exists already belongs to something the store does
    not know (a store replaced or rolled back): writing there would destroy
    another run's results, so :class:`~fasthpo.errors.RunFolderError` ends
    the tuner instead. ``mkdir`` never follows a link, and the job's runs
    folder must not be one.
    """
    for owned in (job_dir.parent, job_dir):
        if owned.is_symlink():
            raise RunFolderError(
                f"the runs folder {str(owned)!r} is a symbolic link (to "
                f"{os.readlink(owned)!r}); fasthpo writes trial files only under a real folder"
            )
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(directory, 0o755)
    except FileExistsError:
        raise RunFolderError(
            f"the trial folder {str(directory)!r} already exists but the store does not know "
            "it (was the store replaced, or its -wal file lost?); fasthpo does not write over "
            "it: move it away or restore the store, then resume"
        ) from None
    except OSError as exc:
        raise RunFolderError(f"cannot make the trial folder {str(directory)!r}: {exc}") from None
    return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def check_new_job_folder(job_dir: Path, job_name: str) -> None:
    """Refuse to start a job the store does not know over a runs folder that holds files.

    The folder is where an earlier run of a job of this name left its
    trials; a store that lost the job (replaced, or its ``-wal`` file gone
    after a crash) would otherwise start again at trial 1 beside them.
    """
    try:
        entries = sorted(os.listdir(job_dir))
    except (FileNotFoundError, NotADirectoryError):
        return
    if entries:
        raise RunFolderError(
            f"the store has no job {job_name!r}, but its runs folder "
            f"{str(job_dir)!r} already holds {len(entries)} entries ({entries[0]}, ...); "
            "fasthpo does not write over another run: restore the store, or move the folder away"
        )


def _new_file(folder: int, name: str) -> int:
    """Create ``name`` in the folder open as ``folder``, for writing; never an existing file or a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(name, flags, 0o644, dir_fd=folder)


def _write_new(folder: int, name: str, data: bytes) -> None:
    fd = _new_file(folder, name)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _describe_exit(code: int) -> str:
    if code < 0 and -code in signal.valid_signals():
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((MASTER_ADDR, 0))
        return int(sock.getsockname()[1])


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, limit: int = STDERR_TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - limit, 0))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
