"""Stopping a job from outside its tuner (``fasthpo stop``).

With a live tuner, the stop is requested in the store: the tuner's heartbeat
sees it within half a second, stops its trials, puts them back to
``pending`` and gives the lease back, which is what a waiting caller watches
for. With no live tuner (or one whose heartbeat stays silent for the lease
duration: frozen or hung), the job's lease is taken here and what the tuner
left running is recovered as a new tuner would do it (its processes stopped,
its attempts recorded ``lost``), then the job is marked ``stopped``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fasthpo.errors import StoreError
from fasthpo.runner.backend import DEFAULT_GRACE_SECONDS
from fasthpo.runner.lease import lease_seconds
from fasthpo.runner.recovery import recover_trials
from fasthpo.storage import JobBusyError, Store

log = logging.getLogger("fasthpo")

#: How often a waiting stop looks whether the tuner has let go of the job (seconds).
_WAIT_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class StopResult:
    """How a stop went.

    ``tuner`` describes the tuner that was asked to stop (``None``: none was
    running, and ``recovered`` lists the trials a dead one left running, which
    run again on resume). ``status`` is the job's status once its tuner let go
    of it; ``None`` when the caller did not wait or ``timed_out``.
    """

    job: str
    tuner: str | None
    status: str | None
    recovered: tuple[int, ...] = ()
    timed_out: bool = False


def stop_job(
    store: Store,
    name: str,
    *,
    wait: bool,
    timeout: float,
    grace: float = DEFAULT_GRACE_SECONDS,
    on_requested: Callable[[str], None] | None = None,
) -> StopResult:
    """Stop job ``name``: ask its tuner to stop, or, with none running, recover and mark it stopped.

    ``on_requested`` is called with the tuner's description as soon as the
    stop is requested, before any wait (up to ``timeout`` seconds when
    ``wait``) for the tuner to let go of the job. ``grace`` is the time between
    SIGTERM and SIGKILL for trials this call stops itself (those a dead or
    frozen tuner left running); a live tuner stops its own trials with its own grace.
    """
    job = store.get_job(name)
    if job is None:
        raise StoreError(f"no job named {name!r} in {store.path}")
    ttl = lease_seconds()
    lease = store.lease(name)
    if lease is None or not lease.held():
        # No tuner runs the job: stop what a dead one may have left running.
        try:
            return _stop_unattended(store, name, ttl, grace)
        except JobBusyError:  # a tuner started just now
            lease = store.lease(name)
    assert lease is not None
    store.request_stop(name)
    tuner = lease.describe()
    if on_requested is not None:
        on_requested(tuner)
    if not wait:
        return StopResult(name, tuner, None)
    deadline = time.monotonic() + timeout
    beats, since = lease.beats, time.monotonic()
    while time.monotonic() < deadline:
        current = store.lease(name)
        if current is None or current.owner != lease.owner or not current.held():
            return StopResult(name, tuner, _status(store, name))
        if current.beats != beats:
            beats, since = current.beats, time.monotonic()
        elif time.monotonic() - since >= ttl:
            # Its heartbeat stopped (frozen or hung): take the job from it, as from a dead one.
            try:
                stopped = _stop_unattended(store, name, ttl, grace)
            except JobBusyError:  # it woke up
                beats, since = -1, time.monotonic()
            else:
                return StopResult(name, tuner, stopped.status, stopped.recovered)
        time.sleep(_WAIT_POLL_SECONDS)
    return StopResult(name, tuner, None, timed_out=True)


def _stop_unattended(store: Store, name: str, ttl: float, grace: float) -> StopResult:
    """Take the job's lease, stop what its last tuner left running, and mark it stopped."""
    job = store.get_job(name)
    assert job is not None
    taken = store.acquire_lease(name, ttl=ttl)
    try:
        recovered = recover_trials(
            store, name, grace=grace, stop_remote=_cluster_sweep(job.spec, grace)
        )
        if job.status == "running" or recovered:
            store.update_job(name, status="stopped")
    finally:
        store.release_lease(name, taken.owner)
    return StopResult(name, None, _status(store, name), tuple(recovered))


def _cluster_sweep(spec: Mapping[str, Any], grace: float) -> Callable[[list[str]], object] | None:
    """For a job run on Ray: stop what its trials left on the cluster's nodes (else ``None``).

    A cluster that cannot be reached is said in a warning and skipped: the
    store is recovered all the same, and a resumed tuner sweeps the nodes again.
    """
    backend = spec.get("backend") or {}
    if not isinstance(backend, Mapping) or backend.get("type") != "ray":
        return None
    # "auto" joins a cluster already running here; it never starts one just to find it empty.
    address = backend.get("address") or "auto"

    def sweep(directories: list[str]) -> int:
        if not directories:
            return 0
        from fasthpo.runner.ray_backend import sweep_nodes

        try:
            return sweep_nodes(directories, grace=grace, address=address)
        except Exception as exc:  # Ray raises many kinds when a cluster is gone
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            log.warning("could not reach the Ray cluster at %s to stop what the trials left on "
                        "its nodes: %s", address, first)
            return 0

    return sweep


def _status(store: Store, name: str) -> str:
    job = store.get_job(name)
    assert job is not None  # jobs are never deleted
    return job.status
