"""Exclusive GPUs and CPU cores for a job's trials: which exist, which are free, who holds which.

A job asks for ``gpus_per_instance`` GPUs and ``cpus_per_instance`` cores for
each of a trial's ``instance_count`` processes. :class:`DevicePool` hands them
out so that no two trials ever share a GPU or a core, and says how many more
trials fit right now, so the tuner never proposes a trial it cannot start.

* **GPUs** are the ``resources.gpu_ids`` of the job, or else those that
  ``nvidia-smi`` lists (no ``nvidia-smi``: no GPUs). An inherited
  ``CUDA_VISIBLE_DEVICES`` limits them: the tuner never hands out a GPU it
  was not given. An instance sees only its own GPUs, through
  ``CUDA_VISIBLE_DEVICES``.
* **CPUs** are the cores the tuner may run on (its affinity mask). An
  instance is pinned to its own set of cores from its very first
  instruction, and ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
  ``OPENBLAS_NUM_THREADS`` are set to that many cores (unless the job's
  ``env`` sets them), so thread pools do not oversubscribe.

A request that can never fit (more GPUs or cores per trial than exist) is a
:class:`~fasthpo.errors.ConfigError` when the pool is made, never a silent
reduction.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from fasthpo.errors import ConfigError
from fasthpo.jobspec import Resources

#: Seconds ``nvidia-smi`` may take to list the GPUs.
NVIDIA_SMI_TIMEOUT = 10.0
NVIDIA_SMI = ("nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: What :meth:`DevicePool.free_trials` says when nothing limits the number of trials.
UNLIMITED = 1 << 30


@dataclass(frozen=True)
class InstanceDevices:
    """The GPUs and cores one instance of a trial holds (empty: not managed)."""

    gpus: tuple[str, ...] = ()
    cpus: tuple[int, ...] = ()

    def thread_environment(self) -> dict[str, str]:
        """Thread-pool sizes matching the instance's cores (empty when cores are not managed)."""
        return dict.fromkeys(THREAD_VARIABLES, str(len(self.cpus))) if self.cpus else {}

    def gpu_environment(self) -> dict[str, str]:
        """``CUDA_VISIBLE_DEVICES`` naming the instance's GPUs (use only when GPUs are managed)."""
        return {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)}


@dataclass(frozen=True)
class GpuInventory:
    """The GPUs a job may use, and in words where that list came from (for errors)."""

    ids: tuple[str, ...]
    source: str


def detect_gpus(
    *,
    environ: Mapping[str, str] | None = None,
    command: Sequence[str] = NVIDIA_SMI,
    timeout: float = NVIDIA_SMI_TIMEOUT,
) -> GpuInventory:
    """The GPUs ``nvidia-smi`` lists, limited by an inherited ``CUDA_VISIBLE_DEVICES``.

    Ids are ``nvidia-smi`` indices (physical, as a child's ``CUDA_VISIBLE_DEVICES``
    reads them). A missing, failing or slow ``nvidia-smi`` means no GPUs.
    """
    try:
        result = subprocess.run(  # a fixed argv list, never a shell
            list(command), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        return GpuInventory((), f"{command[0]} not found")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return GpuInventory((), f"{command[0]} failed: {exc}")
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        return GpuInventory((), f"{command[0]} exited with code {result.returncode}"
                            + (f": {why[0]}" if why else ""))
    found: list[tuple[str, str]] = []
    for line in result.stdout.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) >= 2 and fields[0].isdigit():
            found.append((fields[0], fields[1]))
    return _limit_by_visible(
        GpuInventory(tuple(i for i, _ in found), f"found by {command[0]}"),
        {uuid: index for index, uuid in found},
        environ,
    )


def _limit_by_visible(
    inventory: GpuInventory, uuids: Mapping[str, str], environ: Mapping[str, str] | None
) -> GpuInventory:
    visible = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return inventory
    allowed = []
    for token in (t.strip() for t in visible.split(",")):
        index = uuids.get(token, token)
        if index in inventory.ids and index not in allowed:
            allowed.append(index)
    return GpuInventory(
        tuple(allowed), f"{inventory.source}, limited by CUDA_VISIBLE_DEVICES={visible!r}"
    )


def available_cpus() -> tuple[int, ...]:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is not None:
        return tuple(sorted(getter(0)))
    return tuple(range(os.cpu_count() or 1))


@contextmanager
def pinned(cpus: Sequence[int]) -> Iterator[None]:
    """Run the body with the calling thread bound to ``cpus``, then restore its mask.

    A process started inside inherits the mask at birth, so neither it nor
    anything it forks ever runs on another core (pinning it after the start
    would leave a window). Without ``sched_setaffinity`` (macOS) this does nothing.
    """
    setter = getattr(os, "sched_setaffinity", None)
    if not cpus or setter is None:
        yield
        return
    before = os.sched_getaffinity(0)
    setter(0, cpus)  # pid 0: the calling thread only
    try:
        yield
    finally:
        setter(0, before)


class DevicePool:
    """Hands out GPUs and cores to trials, exclusively.

    Parameters
    ----------
    gpus
        Ids of the GPUs to hand out (used only when ``gpus_per_instance > 0``).
    cpus
        Cores to hand out (used only when ``cpus_per_instance > 0``).
    gpus_per_instance, cpus_per_instance
        What each instance gets; 0 leaves that kind of device unmanaged.
    instance_count
        Instances per trial.
    gpu_source
        Where ``gpus`` came from, for the error when they are too few.
    """

    def __init__(
        self,
        *,
        gpus: Sequence[str] = (),
        cpus: Sequence[int] = (),
        gpus_per_instance: int = 0,
        cpus_per_instance: int = 0,
        instance_count: int = 1,
        gpu_source: str = "given",
    ) -> None:
        self.gpus_per_instance = gpus_per_instance
        self.cpus_per_instance = cpus_per_instance
        self.instance_count = instance_count
        self.gpus = tuple(gpus) if gpus_per_instance else ()
        self.cpus = tuple(cpus) if cpus_per_instance else ()
        need_gpus = gpus_per_instance * instance_count
        if need_gpus > len(self.gpus):
            raise ConfigError(
                "resources.gpus_per_instance",
                f"a trial needs {gpus_per_instance} x {instance_count} instance(s) = {need_gpus} "
                f"GPUs, but {len(self.gpus)} are available ({gpu_source})",
            )
        need_cpus = cpus_per_instance * instance_count
        if need_cpus > len(self.cpus):
            raise ConfigError(
                "resources.cpus_per_instance",
                f"a trial needs {cpus_per_instance} x {instance_count} instance(s) = {need_cpus} "
                f"cores, but this process may use {len(self.cpus)}",
            )
        self._held: dict[int, list[InstanceDevices]] = {}

    @classmethod
    def for_job(
        cls,
        resources: Resources,
        instance_count: int,
        *,
        environ: Mapping[str, str] | None = None,
        cpus: Sequence[int] | None = None,
    ) -> DevicePool:
        """The pool a job's ``resources`` ask for, on this machine.

        ``nvidia-smi`` runs only when GPUs are wanted and ``gpu_ids`` is not given.
        """
        inventory = GpuInventory((), "none wanted")
        if resources.gpus_per_instance:
            if resources.gpu_ids is not None:
                inventory = _given_gpus(resources.gpu_ids, environ)
            else:
                inventory = detect_gpus(environ=environ)
        return cls(
            gpus=inventory.ids,
            cpus=available_cpus() if cpus is None else cpus,
            gpus_per_instance=resources.gpus_per_instance,
            cpus_per_instance=resources.cpus_per_instance,
            instance_count=instance_count,
            gpu_source=inventory.source,
        )

    @property
    def gpus_managed(self) -> bool:
        """True when instances get their GPUs through ``CUDA_VISIBLE_DEVICES``."""
        return self.gpus_per_instance > 0

    def capacity(self) -> int:
        """How many trials fit at once when nothing is held."""
        return self._fit(len(self.gpus), len(self.cpus))

    def free_trials(self) -> int:
        """How many more trials could start now."""
        held = [d for devices in self._held.values() for d in devices]
        return self._fit(
            len(self.gpus) - sum(len(d.gpus) for d in held),
            len(self.cpus) - sum(len(d.cpus) for d in held),
        )

    def acquire(self, trial_id: int) -> list[InstanceDevices] | None:
        """Devices for each instance of ``trial_id`` (by rank), or ``None`` if they are not free."""
        if trial_id in self._held:
            raise ValueError(f"trial {trial_id} already holds devices")
        if self.free_trials() < 1:
            return None
        held = [d for devices in self._held.values() for d in devices]
        free_gpus = [g for g in self.gpus if all(g not in d.gpus for d in held)]
        free_cpus = [c for c in self.cpus if all(c not in d.cpus for d in held)]
        g, c = self.gpus_per_instance, self.cpus_per_instance
        devices = [
            InstanceDevices(tuple(free_gpus[r * g : (r + 1) * g]), tuple(free_cpus[r * c : (r + 1) * c]))
            for r in range(self.instance_count)
        ]
        self._held[trial_id] = devices
        return devices

    def release(self, trial_id: int) -> None:
        """Give back what ``trial_id`` holds (nothing happens if it holds nothing)."""
        self._held.pop(trial_id, None)

    def _fit(self, gpus: int, cpus: int) -> int:
        fits = UNLIMITED
        if self.gpus_per_instance:
            fits = min(fits, gpus // (self.gpus_per_instance * self.instance_count))
        if self.cpus_per_instance:
            fits = min(fits, cpus // (self.cpus_per_instance * self.instance_count))
        return fits


def _given_gpus(ids: Sequence[str], environ: Mapping[str, str] | None) -> GpuInventory:
    visible = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        allowed = {t.strip() for t in visible.split(",")}
        hidden = [i for i in ids if i not in allowed]
        if hidden:
            raise ConfigError(
                "resources.gpu_ids",
                f"GPU(s) {', '.join(hidden)} are not in the inherited CUDA_VISIBLE_DEVICES="
                f"{visible!r}; the tuner hands out only GPUs it was given",
            )
    return GpuInventory(tuple(ids), "resources.gpu_ids")
