"""The store's contract, as a conformance class any store implementation must pass."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fasthpo.errors import StoreError
from fasthpo.metric_report import MetricReport
from fasthpo.storage import SCHEMA_VERSION, JobBusyError, LeaseLostError, Store

SPEC = {"objective": {"metric": "loss", "direction": "minimize"}, "hyperparameters": {"b": {}, "a": {}}}


class StoreConformance:
    """Behaviour every store must have; subclasses provide ``make_store``."""

    def make_store(self, tmp_path):
        raise NotImplementedError

    def test_job_round_trip(self, tmp_path):
        store = self.make_store(tmp_path)
        job = store.create_job("j", SPEC, seed=7)
        assert job.name == "j" and job.status == "running" and job.seed == 7
        assert job.spec == SPEC
        assert list(job.spec["hyperparameters"]) == ["b", "a"]  # declared order kept
        store.update_job("j", status="completed")
        assert store.get_job("j").status == "completed"
        assert [j.name for j in store.list_jobs()] == ["j"]
        assert store.get_job("missing") is None

    def test_duplicate_job_is_refused(self, tmp_path):
        store = self.make_store(tmp_path)
        store.create_job("j", SPEC, seed=None)
        with pytest.raises(StoreError, match="already exists"):
            store.create_job("j", SPEC, seed=None)

    def test_trial_lifecycle_and_ids_never_reused(self, tmp_path):
        store = self.make_store(tmp_path)
        store.create_job("j", SPEC, seed=None)
        store.create_job("k", SPEC, seed=None)
        t1 = store.create_trial("j", {"x": 0.5})
        t2 = store.create_trial("j", {"x": 0.25})
        assert (t1.trial_id, t2.trial_id, t1.status) == (1, 2, "pending")
        assert store.create_trial("k", {"x": 1.0}).trial_id == 1  # ids count per job
        store.start_trial("j", 1, directory="/tmp/t1")
        assert store.get_trial("j", 1).status == "running"
        store.finish_trial("j", 1, status="completed", objective=0.1, exit_code=0)
        store.finish_trial("j", 2, status="failed", exit_code=3, error="boom")
        assert store.create_trial("j", {"x": 0.0}).trial_id == 3
        done = store.get_trial("j", 1)
        assert (done.status, done.objective, done.directory) == ("completed", 0.1, "/tmp/t1")
        assert done.ended_at >= done.started_at >= done.created_at
        assert store.counters("j") == {
            "pending": 1, "running": 0, "completed": 1, "failed": 1, "stopped": 0
        }
        assert [t.trial_id for t in store.trials("j", status=("failed",))] == [2]

    def test_best_trial_respects_direction_and_ignores_missing_objectives(self, tmp_path):
        store = self.make_store(tmp_path)
        store.create_job("j", SPEC, seed=None)
        for value in (0.3, None, 0.1, 0.9, 0.1):
            t = store.create_trial("j", {"x": value})
            store.finish_trial("j", t.trial_id, status="completed", objective=value)
        t = store.create_trial("j", {"x": -1})
        store.finish_trial("j", t.trial_id, status="stopped", objective=None)
        assert store.best_trial("j", "minimize").trial_id == 3  # first of the tied 0.1s
        assert store.best_trial("j", "maximize").trial_id == 4

    def test_metrics_keep_order_steps_and_raw_text(self, tmp_path):
        store = self.make_store(tmp_path)
        store.create_job("j", SPEC, seed=None)
        store.create_trial("j", {})
        reports = [
            MetricReport("loss", 1.0, step=0, source="report", reported_at=1.0),
            MetricReport("acc", 0.5, step=0, source="report", reported_at=1.0),
            MetricReport("loss", None, raw="nan", source="regex", reported_at=2.0),
            MetricReport("loss", 0.75, step=0, source="report", reported_at=2.5, instance=3),
        ]
        store.add_metrics("j", 1, reports)
        assert store.metrics("j", 1) == reports
        assert [r.instance for r in store.metrics("j", 1)] == [0, 0, 0, 3]
        assert [r.value for r in store.metrics("j", 1, "loss")] == [1.0, None, 0.75]

    def test_invalid_states_are_refused(self, tmp_path):
        store = self.make_store(tmp_path)
        store.create_job("j", SPEC, seed=None)
        store.create_trial("j", {})
        with pytest.raises(ValueError, match="cannot finish"):
            store.finish_trial("j", 1, status="running")
        with pytest.raises(ValueError, match="unknown job status"):
            store.update_job("j", status="sleeping")
        assert store.get_trial("j", 1).status == "pending"


class TestSQLiteStore(StoreConformance):
    def make_store(self, tmp_path):
        return Store(tmp_path / "sub" / "store.db")

    def test_file_is_wal_with_schema_version(self, tmp_path):
        Store(tmp_path / "s.db").close()
        db = sqlite3.connect(tmp_path / "s.db")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION

    def test_data_survives_reopening(self, tmp_path):
        with Store(tmp_path / "s.db") as store:
            store.create_job("j", SPEC, seed=1)
            store.create_trial("j", {"x": 1})
        with Store(tmp_path / "s.db") as store:
            assert store.get_trial("j", 1).hyperparameters == {"x": 1}

    def test_committed_writes_survive_a_killed_writer(self, tmp_path):
        path = tmp_path / "s.db"
        code = (
            "import os, sys\n"
            "from fasthpo.storage import Store\n"
            f"s = Store({str(path)!r})\n"
            "s.create_job('j', {}, seed=None)\n"
            "s.create_trial('j', {'x': 1})\n"
            "os.kill(os.getpid(), 9)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], env={"PYTHONPATH": ":".join(sys.path)}, cwd=tmp_path
        )
        assert proc.returncode == -9
        with Store(path) as store:
            assert store.get_trial("j", 1).hyperparameters == {"x": 1}

    def test_newer_schema_is_refused(self, tmp_path):
        Store(tmp_path / "s.db").close()
        db = sqlite3.connect(tmp_path / "s.db")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.close()
        with pytest.raises(StoreError, match="newer fasthpo"):
            Store(tmp_path / "s.db")

    def test_foreign_files_are_refused(self, tmp_path):
        other = sqlite3.connect(tmp_path / "other.db")
        other.execute("CREATE TABLE mine (x)")
        other.commit()
        other.close()
        with pytest.raises(StoreError, match="did not create"):
            Store(tmp_path / "other.db")
        (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(StoreError, match="not a fasthpo store"):
            Store(tmp_path / "junk.db")


class TestAttempts:
    def test_a_retry_is_a_new_attempt_of_the_same_trial(self, tmp_path):
        with Store(tmp_path / "s.db") as store:
            store.create_job("j", SPEC, seed=1)
            store.create_trial("j", {"x": 1})
            store.start_trial("j", 1, directory="/runs/trial-0001")
            store.record_process_groups("j", 1, [41, 40, 41])
            store.add_metrics("j", 1, [MetricReport("loss", 3.0)])
            assert store.retry_trial("j", 1, status="failed", exit_code=-9, error="killed") == 2
            trial = store.get_trial("j", 1)
            assert (trial.status, trial.attempt, trial.directory) == ("pending", 2, None)
            store.start_trial("j", 1, directory="/runs/trial-0001-attempt-2")
            store.add_metrics("j", 1, [MetricReport("loss", 1.0)])
            store.finish_trial("j", 1, status="completed", objective=1.0, exit_code=0)

            first, second = store.attempts("j", 1)
            assert (first.attempt, first.status, first.exit_code, first.error) == (1, "failed", -9, "killed")
            assert first.process_groups == (40, 41) and first.directory == "/runs/trial-0001"
            assert (second.attempt, second.status, second.exit_code) == (2, "completed", 0)
            assert second.ended_at >= second.started_at >= first.ended_at
            # Reports are kept per attempt; the trial has one id throughout.
            assert [r.value for r in store.metrics("j", 1, "loss", attempt=1)] == [3.0]
            assert [r.value for r in store.metrics("j", 1, "loss", attempt=2)] == [1.0]
            assert [t.trial_id for t in store.trials("j")] == [1]
            assert store.get_trial("j", 1).to_dict()["attempt"] == 2

    def test_retry_refuses_a_success(self, tmp_path):
        with Store(tmp_path / "s.db") as store:
            store.create_job("j", SPEC, seed=1)
            store.create_trial("j", {})
            with pytest.raises(ValueError):
                store.retry_trial("j", 1, status="completed")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


class _Heartbeat:
    """Beats for a lease from another connection, as a tuner's heartbeat thread does."""

    def __init__(self, path, owner):
        self.path, self.owner = path, owner
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        with Store(self.path) as store:
            while not self.done.wait(0.02):
                store.renew_lease("j", self.owner, ttl=30)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


class TestLeases:
    def test_a_live_holder_keeps_the_job(self, tmp_path):
        with Store(tmp_path / "s.db") as store, Store(tmp_path / "s.db") as other:
            store.create_job("j", SPEC, seed=1)
            lease = store.acquire_lease("j", ttl=30)
            assert lease.pid == os.getpid() and lease.held()
            with _Heartbeat(store.path, lease.owner), pytest.raises(
                JobBusyError, match=f"process {os.getpid()}"
            ):
                other.acquire_lease("j", ttl=30)  # refused at the first beat, not after 30 s
            assert store.renew_lease("j", lease.owner, ttl=30)
            store.release_lease("j", lease.owner)
            assert store.lease("j") is None
            assert store.acquire_lease("j", ttl=30).owner != lease.owner

    def test_the_lease_of_a_dead_tuner_can_be_taken_over(self, tmp_path):
        with Store(tmp_path / "s.db") as store:
            store.create_job("j", SPEC, seed=1)
            old = store.acquire_lease("j", ttl=30)
            store._db.execute("UPDATE jobs SET lease_pid = ?", (_dead_pid(),))
            assert not store.lease("j").held()
            new = store.acquire_lease("j", ttl=30)  # at once: its process is gone
            # The old holder learns it lost the job at its next renewal.
            assert not store.renew_lease("j", old.owner, ttl=30)
            assert store.renew_lease("j", new.owner, ttl=30)

    def test_a_reused_pid_does_not_pass_for_the_holder(self, tmp_path):
        with Store(tmp_path / "s.db") as store:
            store.create_job("j", SPEC, seed=1)
            store.acquire_lease("j", ttl=30)
            assert store.lease("j").pid_start is not None
            assert store.lease("j").held()
            # The recorded pid now names a process started at another time.
            store._db.execute("UPDATE jobs SET lease_pid_start = lease_pid_start - 1")
            assert not store.lease("j").held()

    def test_a_live_holder_whose_expiry_is_past_still_holds_the_job(self, tmp_path):
        # A wall clock jumping forward (or a host's clock ahead) makes the stored
        # expiry look past; a beating holder on this host keeps the job anyway.
        with Store(tmp_path / "s.db") as store, Store(tmp_path / "s.db") as other:
            store.create_job("j", SPEC, seed=1)
            lease = store.acquire_lease("j", ttl=30)
            store._db.execute("UPDATE jobs SET lease_expires = 0")
            assert store.lease("j").held()
            with _Heartbeat(store.path, lease.owner), pytest.raises(JobBusyError):
                other.acquire_lease("j", ttl=30)
            assert store.lease("j").owner == lease.owner

    def test_a_silent_holder_is_taken_over_after_the_lease_duration(self, tmp_path):
        # Alive but not beating: frozen (SIGSTOP) or hung. Its expiry lies in the
        # future, which does not matter either.
        with Store(tmp_path / "s.db") as store, Store(tmp_path / "s.db") as other:
            store.create_job("j", SPEC, seed=1)
            old = store.acquire_lease("j", ttl=3600)
            new = other.acquire_lease("j", ttl=0.3)
            assert new.owner != old.owner and store.lease("j").owner == new.owner

    def test_a_store_whose_lease_was_taken_over_writes_nothing(self, tmp_path):
        with Store(tmp_path / "s.db") as old, Store(tmp_path / "s.db") as new:
            old.create_job("j", SPEC, seed=1)
            mine = old.acquire_lease("j", ttl=30)
            old.create_trial("j", {"x": 1})
            old.start_trial("j", 1, directory="/r/1")
            old._db.execute("UPDATE jobs SET lease_pid = ?", (_dead_pid(),))
            new.acquire_lease("j", ttl=30)
            new.retry_trial("j", 1, status="lost", error="lost")
            writes = [
                lambda: old.create_trial("j", {"x": 2}),
                lambda: old.start_trial("j", 1, directory="/r/1-attempt-2"),
                lambda: old.record_process_groups("j", 1, [123]),
                lambda: old.add_metrics("j", 1, [MetricReport("loss", 0.5)]),
                lambda: old.finish_trial("j", 1, status="completed", objective=0.5),
                lambda: old.retry_trial("j", 1, status="failed"),
                lambda: old.add_scalings("j", 1, {"x": ("log", {})}),
                lambda: old.update_job("j", status="completed"),
            ]
            for write in writes:
                with pytest.raises(LeaseLostError, match="another tuner took job 'j' over"):
                    write()
            old.release_lease("j", mine.owner)  # a no-op: the lease is not its own
            assert new.lease("j").owner != mine.owner
            with pytest.raises(LeaseLostError):  # and the old store stays fenced
                old.create_trial("j", {"x": 3})
            (trial,) = new.trials("j")
            assert (trial.status, trial.attempt) == ("pending", 2)
            assert [a.status for a in new.attempts("j", 1)] == ["lost"]
            assert new.metrics("j", 1) == [] and new.scalings("j") == []
            assert new.get_job("j").status == "running"
            new.start_trial("j", 1, directory="/r/1-attempt-2")

    def test_an_unfenced_store_writes_other_jobs(self, tmp_path):
        with Store(tmp_path / "s.db") as store, Store(tmp_path / "s.db") as other:
            store.create_job("j", SPEC, seed=1)
            store.create_job("k", SPEC, seed=1)
            store.acquire_lease("j", ttl=30)
            other._db.execute("UPDATE jobs SET lease_owner = 'someone' WHERE name = 'j'")
            store.create_trial("k", {})  # the fence is per job
            with pytest.raises(LeaseLostError):
                store.create_trial("j", {})

    def test_stop_requests_last_until_a_tuner_takes_the_job(self, tmp_path):
        with Store(tmp_path / "s.db") as store:
            store.create_job("j", SPEC, seed=1)
            assert not store.stop_requested("j")
            store.request_stop("j")
            store.request_stop("j")
            assert store.stop_requested("j")
            store.acquire_lease("j", ttl=30)
            assert not store.stop_requested("j")


def test_scaling_verdicts_keep_their_history(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.create_job("j", SPEC, seed=1)
        store.add_scalings("j", 8, {"lr": ("undetermined", {"distance_log": 0.2})})
        store.add_scalings("j", 12, {"lr": ("log", {"distance_log": 0.01}), "m": ("linear", {})})
        history = store.scalings("j")
        assert [(v.parameter, v.trial_id, v.verdict) for v in history] == [
            ("lr", 8, "undetermined"), ("lr", 12, "log"), ("m", 12, "linear"),
        ]
        assert history[1].evidence == {"distance_log": 0.01}


def test_a_version_1_store_is_migrated_without_losing_anything(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript((Path(__file__).parent / "data" / "store_v1_schema.sql").read_text())
    db.execute("INSERT INTO jobs VALUES ('j', '{}', 'stopped', 3, 1.0, 2.0)")
    db.execute("INSERT INTO trials VALUES ('j', 1, 'completed', '{\"x\": 1}', 0.5, 0, NULL, "
               "'/r/1', 1.0, 1.5, 2.0)")
    db.execute("INSERT INTO trials VALUES ('j', 2, 'running', '{\"x\": 2}', NULL, NULL, NULL, "
               "'/r/2', 1.0, 1.6, NULL)")
    db.execute("INSERT INTO metrics VALUES ('j', 1, 'loss', 0, 0.5, '0.5', 'regex', 1.7)")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.get_trial("j", 1).objective == 0.5
        assert store.get_trial("j", 2).attempt == 1
        assert [(a.trial_id, a.status) for a in store.attempts("j")] == [(1, "completed"), (2, "lost")]
        assert [r.value for r in store.metrics("j", 1, attempt=1)] == [0.5]
        assert store.lease("j") is None and store.scalings("j") == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_3_store_gains_the_job_reason_and_warm_start_columns(tmp_path):
    path = tmp_path / "v3.db"
    with Store(path) as store:
        store.create_job("j", {"objective": {"metric": "m"}}, seed=1)
        store.update_job("j", status="stopped")
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE jobs DROP COLUMN reason")
    db.execute("ALTER TABLE jobs DROP COLUMN warm_start")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    with Store(path) as store:
        job = store.get_job("j")
        assert (job.status, job.seed, job.reason, job.warm_start) == ("stopped", 1, None, None)
        store.update_job("j", status="completed", reason="target reached at trial 1",
                         warm_start={"type": "transfer_learning", "parents": []})
        job = store.get_job("j")
        assert job.reason == "target reached at trial 1" and job.warm_start["type"] == "transfer_learning"
        store.update_job("j", status="running")  # a new run clears the reason
        assert store.get_job("j").reason is None
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
