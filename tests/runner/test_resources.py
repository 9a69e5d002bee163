"""The device pool: GPU discovery, exclusive hand-out, capacity, and refusals that name the field."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from fasthpo.errors import ConfigError
from fasthpo.jobspec import Resources
from fasthpo.runner.resources import UNLIMITED, DevicePool, InstanceDevices, detect_gpus, pinned


def _fake_smi(tmp_path, output: str, code: int = 0, sleep: float = 0.0):
    script = tmp_path / "nvidia-smi"
    script.write_text(
        f"#!{sys.executable}\nimport sys, time\ntime.sleep({sleep})\n"
        f"sys.stdout.write({output!r})\nsys.exit({code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return [str(script), "--query-gpu=index,uuid", "--format=csv,noheader"]


SMI = "0, GPU-aaa\n1, GPU-bbb\n2, GPU-ccc\n3, GPU-ddd\n"


def test_detect_gpus_reads_nvidia_smi(tmp_path):
    inventory = detect_gpus(environ={}, command=_fake_smi(tmp_path, SMI))
    assert inventory.ids == ("0", "1", "2", "3")


def test_an_inherited_cuda_visible_devices_limits_the_gpus(tmp_path):
    command = _fake_smi(tmp_path, SMI)
    inventory = detect_gpus(environ={"CUDA_VISIBLE_DEVICES": "3,GPU-bbb,7"}, command=command)
    assert inventory.ids == ("3", "1")  # by index or UUID, in the given order; unknown ids dropped
    assert "CUDA_VISIBLE_DEVICES='3,GPU-bbb,7'" in inventory.source
    assert detect_gpus(environ={"CUDA_VISIBLE_DEVICES": ""}, command=command).ids == ()


def test_no_nvidia_smi_means_no_gpus(tmp_path):
    inventory = detect_gpus(environ={}, command=[str(tmp_path / "missing"), "-L"])
    assert inventory.ids == () and "not found" in inventory.source
    failing = detect_gpus(environ={}, command=_fake_smi(tmp_path, "NVIDIA-SMI has failed", code=9))
    assert failing.ids == () and "exited with code 9" in failing.source
    slow = detect_gpus(environ={}, command=_fake_smi(tmp_path, SMI, sleep=5), timeout=0.3)
    assert slow.ids == () and "failed" in slow.source


def test_gpus_are_handed_out_exclusively_and_given_back():
    pool = DevicePool(gpus=["0", "1", "2", "3", "4"], gpus_per_instance=1, instance_count=2)
    assert pool.capacity() == 2 and pool.free_trials() == 2
    first = pool.acquire(1)
    second = pool.acquire(2)
    assert first == [InstanceDevices(("0",)), InstanceDevices(("1",))]
    assert second == [InstanceDevices(("2",)), InstanceDevices(("3",))]
    assert pool.free_trials() == 0 and pool.acquire(3) is None  # one GPU left, a trial needs two
    pool.release(1)
    assert pool.acquire(3) == [InstanceDevices(("0",)), InstanceDevices(("1",))]
    with pytest.raises(ValueError, match="already holds"):
        pool.acquire(3)
    pool.release(99)  # holding nothing: nothing happens


def test_gpus_and_cpus_together_fit_by_the_scarcer():
    pool = DevicePool(gpus=["a", "b", "c", "d"], cpus=range(6), gpus_per_instance=1, cpus_per_instance=3)
    assert pool.capacity() == 2
    (devices,) = pool.acquire(1)
    assert devices == InstanceDevices(("a",), (0, 1, 2))
    assert devices.thread_environment() == dict.fromkeys(
        ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "3"
    )
    assert devices.gpu_environment() == {"CUDA_VISIBLE_DEVICES": "a"}
    assert pool.acquire(2) == [InstanceDevices(("b",), (3, 4, 5))]
    assert pool.free_trials() == 0  # two GPUs are free, but no cores


def test_nothing_managed_means_no_limit():
    pool = DevicePool(gpus=["0"], cpus=[0])
    assert pool.free_trials() == UNLIMITED and not pool.gpus_managed
    assert pool.acquire(1) == [InstanceDevices()]
    assert InstanceDevices().thread_environment() == {}


def test_impossible_requests_are_refused_naming_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"^resources\.gpus_per_instance: a trial needs 2 x 3 instance\(s\) "
                       r"= 6 GPUs, but 4 are available \(given\)"):
        DevicePool(gpus=["0", "1", "2", "3"], gpus_per_instance=2, instance_count=3)
    with pytest.raises(ConfigError, match=r"^resources\.cpus_per_instance: .* = 4 cores, but this process "
                       r"may use 2"):
        DevicePool(cpus=[0, 1], cpus_per_instance=2, instance_count=2)


def test_for_job_uses_gpu_ids_within_the_inherited_devices():
    resources = Resources(gpus_per_instance=1, gpu_ids=("2", "3"))
    pool = DevicePool.for_job(resources, 2, environ={"CUDA_VISIBLE_DEVICES": "1,2,3"}, cpus=[0])
    assert pool.gpus == ("2", "3")
    with pytest.raises(ConfigError, match=r"^resources\.gpu_ids: GPU\(s\) 3 are not in the inherited "
                       r"CUDA_VISIBLE_DEVICES='1,2'"):
        DevicePool.for_job(resources, 2, environ={"CUDA_VISIBLE_DEVICES": "1,2"}, cpus=[0])


def test_for_job_without_nvidia_smi_refuses_a_gpu_request(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi there
    with pytest.raises(ConfigError, match=r"^resources\.gpus_per_instance: .* but 0 are available "
                       r"\(nvidia-smi not found\)"):
        DevicePool.for_job(Resources(gpus_per_instance=1), 1, environ={})
    # Asking for no GPU never runs nvidia-smi and never fails.
    assert DevicePool.for_job(Resources(), 4, environ={}).free_trials() == UNLIMITED


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_pinned_binds_the_calling_thread_and_restores_it():
    before = os.sched_getaffinity(0)
    core = min(before)
    with pinned([core]):
        assert os.sched_getaffinity(0) == {core}
    assert os.sched_getaffinity(0) == before
    with pinned([]):
        assert os.sched_getaffinity(0) == before
