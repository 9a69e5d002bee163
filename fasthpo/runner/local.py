"""The local backend: each trial is a subprocess in its own process group and folder.

A trial folder holds ``hyperparameters.json``, ``stdout.log``, ``stderr.log``
and ``metrics.jsonl``; the job writes its logs straight to those files (no
pipes to fill up), and the backend follows them incrementally. The job sees::

    FASTHPO_TRIAL_ID         the trial's id within its job
    FASTHPO_JOB_NAME         the job's name
    FASTHPO_TRIAL_DIR        the trial folder (a place for checkpoints and outputs)
    FASTHPO_HYPERPARAMETERS  JSON object of static and tuned hyperparameters
    FASTHPO_METRICS_FILE     where fasthpo.report appends its JSON lines

Stopping a trial sends SIGTERM to its whole process group, then SIGKILL after
a grace period, so no child or grandchild outlives it. Exits are noticed at
once through pidfds where the OS has them (Linux), else by polling.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fasthpo.config import MetricDefinition
from fasthpo.reporting import HYPERPARAMETERS_ENV, METRICS_FILE_ENV, TRIAL_ID_ENV
from fasthpo.runner.backend import Event, Exited, Reported, TrialLaunch
from fasthpo.runner.command import build_argv
from fasthpo.runner.logs import LineFollower, RegexMetrics, parse_report_lines

DEFAULT_GRACE_SECONDS = 10.0
STDERR_TAIL_BYTES = 4096


@dataclass
class _Running:
    trial_id: int
    process: subprocess.Popen[bytes]
    directory: Path
    started: float  # monotonic
    followers: tuple[LineFollower, LineFollower]
    reports: LineFollower
    pidfd: int | None = None
    stop_reason: str | None = None
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
    ) -> None:
        self.job_name = job_name
        self.command = tuple(command)
        self.workdir = workdir
        self.env = dict(env)
        self.regex = RegexMetrics(metrics)
        self.job_dir = Path(runs_dir) / job_name
        self.max_runtime = max_runtime
        self.grace = grace
        self._running: dict[int, _Running] = {}
        self._finished: list[Event] = []
        self._selector = selectors.DefaultSelector()

    def trial_directory(self, trial_id: int) -> str:
        return str(self.job_dir / f"trial-{trial_id:04d}")

    def launch(self, trial: TrialLaunch) -> None:
        directory = Path(trial.directory or self.trial_directory(trial.trial_id))
        hyperparameters = dict(trial.hyperparameters)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            encoded = json.dumps(hyperparameters, sort_keys=False)
            (directory / "hyperparameters.json").write_text(encoded + "\n", encoding="utf-8")
            metrics_file = directory / "metrics.jsonl"
            metrics_file.write_bytes(b"")
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
            env.update(
                {
                    TRIAL_ID_ENV: str(trial.trial_id),
                    "FASTHPO_JOB_NAME": self.job_name,
                    "FASTHPO_TRIAL_DIR": str(directory),
                    HYPERPARAMETERS_ENV: encoded,
                    METRICS_FILE_ENV: str(metrics_file),
                }
            )
            argv = build_argv(self.command, hyperparameters)
            with (
                open(directory / "stdout.log", "wb") as out,
                open(directory / "stderr.log", "wb") as err,
            ):
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
        except OSError as exc:
            self._finished.append(
                Exited(trial.trial_id, "failed", error=f"cannot start the trial: {exc}")
            )
            return
        running = _Running(
            trial_id=trial.trial_id,
            process=process,
            directory=directory,
            started=time.monotonic(),
            followers=(
                LineFollower(directory / "stdout.log"),
                LineFollower(directory / "stderr.log"),
            ),
            reports=LineFollower(metrics_file),
        )
        running.pidfd = _pidfd(process.pid)
        if running.pidfd is not None:
            self._selector.register(running.pidfd, selectors.EVENT_READ, running.trial_id)
        self._running[trial.trial_id] = running

    def poll(self, timeout: float) -> list[Event]:
        events, self._finished = self._finished, []
        if events:
            timeout = 0.0
        if self._running and self._selector.get_map():
            self._selector.select(timeout)
        elif timeout > 0:
            time.sleep(timeout)
        now = time.monotonic()
        for trial_id, running in list(self._running.items()):
            exit_code = running.process.poll()
            events += self._read(running, final=exit_code is not None)
            if exit_code is not None:
                events.append(self._exited(running, exit_code))
                del self._running[trial_id]
            else:
                self._enforce_limits(running, now)
        return events

    def stop_all(self, reason: str, *, force: bool = False) -> None:
        for running in self._running.values():
            self._stop(running, reason, force=force)

    @property
    def running(self) -> tuple[int, ...]:
        """Ids of trials not yet reported as exited."""
        return (*self._running, *(e.trial_id for e in self._finished if isinstance(e, Exited)))

    def _read(self, running: _Running, *, final: bool) -> list[Event]:
        lines = [line for f in running.followers for line in f.read(final=final)]
        reports = self.regex.parse(lines) + parse_report_lines(running.reports.read(final=final))
        return [Reported(running.trial_id, r) for r in reports]

    def _enforce_limits(self, running: _Running, now: float) -> None:
        if running.kill_at is not None and now >= running.kill_at:
            _signal_group(running.process.pid, signal.SIGKILL)
            running.kill_at = float("inf")
        elif (
            self.max_runtime is not None
            and running.stop_reason is None
            and now - running.started > self.max_runtime
        ):
            self._stop(
                running, f"exceeded max_runtime_per_trial ({self.max_runtime:g} s)", force=False
            )

    def _stop(self, running: _Running, reason: str, *, force: bool) -> None:
        if running.stop_reason is None:
            running.stop_reason = reason
        if force:
            _signal_group(running.process.pid, signal.SIGKILL)
            running.kill_at = float("inf")
        elif running.kill_at is None:
            _signal_group(running.process.pid, signal.SIGTERM)
            running.kill_at = time.monotonic() + self.grace

    def _exited(self, running: _Running, exit_code: int) -> Exited:
        # Whatever the leader left behind in its group goes with it.
        _signal_group(running.process.pid, signal.SIGKILL)
        if running.pidfd is not None:
            self._selector.unregister(running.pidfd)
            os.close(running.pidfd)
        if running.stop_reason is not None:
            return Exited(running.trial_id, "stopped", exit_code, running.stop_reason)
        if exit_code == 0:
            return Exited(running.trial_id, "completed", 0)
        how = (
            f"killed by signal {signal.Signals(-exit_code).name}"
            if exit_code < 0 and -exit_code in signal.valid_signals()
            else f"exited with code {exit_code}"
        )
        tail = _tail(running.directory / "stderr.log")
        return Exited(
            running.trial_id, "failed", exit_code, f"{how}" + (f"; stderr ends:\n{tail}" if tail else "")
        )


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
