"""What runs on a Ray node for the Ray backend: one instance of a trial, as a subprocess.

:func:`run_instance` is a generator that the driver turns into a Ray task
(``num_returns="streaming"``): it starts the training command on the node
where Ray placed it (argv list, its own process group, the same environment
variables as the local backend sets), then yields what the process writes to
``stdout.log``, ``stderr.log`` and ``metrics.jsonl`` as it writes it, byte for
byte, and finally its exit status. The driver appends those bytes to the
same files in its own trial folder and reads them there exactly as it reads a
local trial's files, so regex metrics, ``fasthpo.report`` records and their
order come out the same.

On the node, the trial folder (``FASTHPO_TRIAL_DIR``) is a scratch folder
named after the driver's trial folder (:func:`node_trial_folder`), so a later
tuner can find the processes of a trial by it on every node
(:func:`stop_leftovers`), as local recovery does on its own host. The
folder is removed once the instance has ended and its output was sent.

Nothing here imports Ray at module level: the driver wraps these functions
with ``ray.remote`` once Ray is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fasthpo.runner.local import instance_environment
from fasthpo.runner.recovery import find_trial_processes, stop_processes
from fasthpo.runner.resources import THREAD_VARIABLES
from fasthpo.trial_env import TRIAL_DIR_ENV

#: The files an instance writes, as the driver keeps them too.
STREAMS = ("stdout.log", "stderr.log", "metrics.jsonl")
#: Most bytes of one file sent in one yield (the rest follows at once).
CHUNK_BYTES = 1024 * 1024
#: How long the node waits for news of the process between two looks (seconds).
TICK_SECONDS = 0.02
_SAME_INTERPRETER = ("python", "python3")


def node_trial_folder(driver_directory: str) -> str:
    """The scratch folder on a node for the trial whose driver folder is ``driver_directory``.

    The same on every node (under the node's temporary folder), and unique to
    one attempt of one trial of one store, as the driver's folder is.
    """
    digest = hashlib.sha256(os.fsencode(driver_directory)).hexdigest()[:24]
    return os.path.join(tempfile.gettempdir(), f"fasthpo-ray-{os.getuid()}", digest)


def master_address() -> tuple[str, int]:
    """This node's address and a TCP port free on it now: rank 0's ``MASTER_ADDR``/``MASTER_PORT``."""
    import ray

    address = ray.util.get_node_ip_address()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return address, int(sock.getsockname()[1])


def run_instance(
    launch: Mapping[str, Any], master: tuple[str, int] | None,
) -> Iterator[dict[str, Any]]:
    """Run one instance on this node; yield ``started``, then output chunks, then ``exit``.

    ``launch`` holds ``argv``, ``cwd`` (``None``: the task's own working
    folder, where Ray unpacked the shipped ``working_dir``), ``shared`` (the
    trial's variables), ``job_env``, ``threads`` (cores to size thread pools
    for; 0: leave them), ``rank``, ``instance_count`` and ``driver_directory``.
    ``master`` is rank 0's address when the trial has several instances.

    Each item is a dict: the first ``{"pid", "node", "address"}`` (or
    ``{"error"}`` when the process cannot start), then ``{"data": [stdout,
    stderr, metrics]}`` chunks, and last ``{"exit": code}``. However the task
    ends (a ``ray.cancel`` included), the process group is killed.
    """
    import ray

    trial_folder = node_trial_folder(launch["driver_directory"])
    count = int(launch["instance_count"])
    folder = trial_folder if count == 1 else os.path.join(trial_folder, f"rank-{launch['rank']}")
    os.makedirs(folder, mode=0o755, exist_ok=True)
    paths = [os.path.join(folder, name) for name in STREAMS]
    shared = {**launch["shared"], TRIAL_DIR_ENV: trial_folder}
    if master is not None:
        shared.update(MASTER_ADDR=master[0], MASTER_PORT=str(master[1]))
    threads = int(launch["threads"])
    env = instance_environment(
        os.environ, shared,
        threads=dict.fromkeys(THREAD_VARIABLES, str(threads)) if threads else {},
        job_env=launch["job_env"],
        gpus={},  # Ray has set CUDA_VISIBLE_DEVICES in this worker's own environment
        rank=int(launch["rank"]), instance_count=count, metrics_file=paths[2],
        alone=True,  # each rank is a task of its own, with only its own devices
    )
    argv = list(launch["argv"])
    if argv[0] in _SAME_INTERPRETER and sys.executable:
        argv[0] = sys.executable  # this node's interpreter, as the local backend uses its own
    files = []
    try:
        with open(paths[2], "ab"):
            pass
        files = [open(p, "ab") for p in paths[:2]]  # closed below, once Popen has them
        process = subprocess.Popen(
            argv, cwd=launch["cwd"], env=env, stdin=subprocess.DEVNULL,
            stdout=files[0], stderr=files[1], start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        yield {"error": f"cannot start the trial on node {ray.util.get_node_ip_address()}: {exc}"}
        return
    finally:
        for handle in files:
            handle.close()
    exit_code: int | None = None
    try:
        yield {
            "pid": process.pid,
            "node": ray.get_runtime_context().get_node_id(),
            "address": ray.util.get_node_ip_address(),
        }
        offsets = [0, 0, 0]
        while True:
            if exit_code is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(TICK_SECONDS)
                if process.returncode is not None:
                    exit_code = process.returncode
                    _signal_group(process.pid, signal.SIGKILL)  # what it left in its group goes too
            chunks = _read_new(paths, offsets)
            full = any(len(c) == CHUNK_BYTES for c in chunks)
            if any(chunks):
                yield {"data": chunks}
            if exit_code is not None and not full:
                break
        yield {"exit": exit_code}
    finally:
        if exit_code is None:  # cancelled, or the driver went away: nothing of it stays
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(trial_folder)  # the last rank on this node takes the trial folder with it


def signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to process group ``pgid`` on this node (gone already: nothing happens)."""
    _signal_group(pgid, signal.Signals(signum))


def stop_leftovers(driver_directories: Sequence[str], grace: float) -> int:
    """Stop this node's processes of the given trials (by their node trial folder); how many there were."""
    pids: set[int] = set()
    for directory in driver_directories:
        pids |= find_trial_processes(node_trial_folder(directory))
    if pids:
        stop_processes(pids, grace=grace)
    for directory in driver_directories:
        shutil.rmtree(node_trial_folder(directory), ignore_errors=True)
    return len(pids)


def _read_new(paths: Sequence[str], offsets: list[int]) -> list[bytes]:
    chunks = []
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as fh:
                fh.seek(offsets[i])
                data = fh.read(CHUNK_BYTES)
        except FileNotFoundError:
            data = b""
        offsets[i] += len(data)
        chunks.append(data)
    return chunks


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
