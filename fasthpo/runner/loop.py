"""One run of a tuning job: ask the strategy, launch trials, collect results, keep the store true.

The loop serves both faces of fasthpo (job files whose trials are
subprocesses, and ``Tuner.optimize`` on a Python function); the backend is the
only difference. Each state change is written to the store before the loop
acts on it, so whatever kills the tuner, the store says what happened.

What happens to a trial:

* it is created ``pending`` (counted in ``max_trials`` from then on), started
  (``running``, a new attempt), and ends ``completed``, ``failed`` or
  ``stopped``;
* a failed attempt the retry policy retries puts the trial back to
  ``pending`` for a new attempt (see :class:`~fasthpo.jobspec.RetryPolicy`); queued
  attempts start before any new proposal;
* a trial the early-stopping rule stops ends ``stopped`` with its last value,
  which the strategy is told;
* with Hyperband, a trial rejected at a rung ends ``stopped`` with its last
  value; the strategy is told each rung's value as the trial reaches it
  (``tell_rung``), never its final value;
* once a completion criterion or ``limits.max_runtime`` is met, running trials
  end ``stopped`` with their last value and the job ends ``completed`` with
  the reason stored;
* when the tuner is stopped (``fasthpo stop``, SIGINT, SIGTERM), running
  trials are stopped gracefully and go back to ``pending``: a resumed job runs
  them again, since they never had a fair run;
* a job that ends with no trial having an objective (none reported the
  metric, or every trial failed) ends ``failed``.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from fasthpo.jobspec import RetryPolicy
from fasthpo.metric_report import MetricReport
from fasthpo.objective import Objective, ObjectiveTracker
from fasthpo.runner.backend import Backend, Exited, Reported, TrialLaunch
from fasthpo.runner.completion import CompletionCheck
from fasthpo.runner.early_stopping import MedianStoppingRule
from fasthpo.runner.failpoints import failpoint
from fasthpo.runner.lease import JobLease, LeaseLostError
from fasthpo.runner.successive_halving import SuccessiveHalving
from fasthpo.space import SearchSpace
from fasthpo.storage import Store, Trial
from fasthpo.strategies.base import Strategy

log = logging.getLogger("fasthpo")

#: How long one poll of the backend may wait for news (seconds).
POLL_SECONDS = 0.1
STOP_REQUESTED = "the job was stopped with `fasthpo stop`"
INTERRUPTED = "the tuner was interrupted"
LEASE_LOST = "another tuner took the job over"
#: Attempts of one trial lost to dying nodes, in a row, after which it fails instead of
#: running again: a trial that takes its node down with it (memory, a driver crash)
#: would otherwise be retried forever.
MAX_LOST_ATTEMPTS = 3
# An ``auto`` parameter's verdict before any comparison was made: stored as "undetermined"
# with a reason, yet a different state from an "undetermined" that a comparison produced.
NOT_JUDGED = "not judged"


class TuningLoop:
    """The state of one tuner process running one job (built by :class:`~fasthpo.Tuner`)."""

    def __init__(
        self,
        *,
        store: Store,
        job: str,
        space: SearchSpace,
        objective: Objective,
        strategy: Strategy,
        backend: Backend,
        lease: JobLease,
        max_trials: int,
        max_parallel: int,
        static_hyperparameters: Mapping[str, Any],
        retry: RetryPolicy,
        stopping_rule: MedianStoppingRule | None,
        catch: tuple[type[BaseException], ...],
        scheduler: SuccessiveHalving | None = None,
        completion: CompletionCheck | None = None,
    ) -> None:
        self.store = store
        self.job = job
        self.space = space
        self.objective = objective
        self.strategy = strategy
        self.backend = backend
        self.lease = lease
        self.max_trials = max_trials
        self.max_parallel = max_parallel
        self.static = dict(static_hyperparameters)
        self.retry = retry
        self.rule = stopping_rule
        self.catch = catch
        self.scheduler = scheduler  # Hyperband: rung records and stop decisions
        self.completion = completion
        self.reason: str | None = None  # why the job ended by itself (completion, max_runtime)
        self.configs: dict[int, dict[str, Any]] = {}  # tuned values of queued and running trials
        self.queue: deque[int] = deque()  # pending trials, started before new proposals
        self.running: set[int] = set()
        self.trackers: dict[int, ObjectiveTracker] = {}  # what each running trial reported
        self.early: dict[int, str] = {}  # trials the stopping rule is stopping, and why
        self.lost: dict[int, int] = {}  # attempts lost to dying nodes in a row, by trial
        self.created = 0
        self.exhausted = False
        self.told_trial: int | None = None
        self.verdicts: dict[str, str] = {}

    # -- resuming ---------------------------------------------------------------------

    def restore(self, previous: list[Trial]) -> None:
        """Tell the strategy every stored result and queue the pending trials."""
        self.created = len(previous)
        for trial in previous:
            config = _tuned(self.space, trial.hyperparameters)
            if trial.objective is not None and trial.status in ("completed", "stopped"):
                if self.scheduler is None:
                    self.strategy.tell(config, trial.objective)
                self.told_trial = trial.trial_id
                if self.completion is not None:
                    self.completion.finished(trial.trial_id, trial.status, trial.objective)
            elif trial.status in ("completed", "failed", "stopped"):
                self._tell_failed(config)
            elif trial.status == "pending":
                self.configs[trial.trial_id] = config
                self.queue.append(trial.trial_id)
            if self.rule is not None and trial.status in ("completed", "stopped"):
                for report in self.store.metrics(
                    self.job, trial.trial_id, self.objective.metric, attempt=trial.attempt
                ):
                    self.rule.report(trial.trial_id, report.step, report.value)
                self.rule.finished(trial.trial_id)
            if self.scheduler is not None and trial.status in ("completed", "stopped"):
                # Rung records are rebuilt from the stored reports of the trial's last attempt.
                for report in self.store.metrics(
                    self.job, trial.trial_id, self.objective.metric, attempt=trial.attempt
                ):
                    self._rungs_reached(trial.trial_id, config, report)
        for record in self.store.scalings(self.job):
            self.verdicts[record.parameter] = _verdict_state(record.verdict, record.evidence)

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> str:
        """Run until the budget is spent or the job is stopped; return the job's final status.

        A job none of whose trials produced an objective ends ``failed``. A
        tuner that lost its lease to another one kills its trials and raises
        :class:`~fasthpo.storage.LeaseLostError` without writing anything more.
        """
        try:
            status = self._run()
            if status == "completed" and not any(
                t.objective is not None for t in self.store.trials(self.job)
            ):
                status = "failed"
            failpoint("job-ending")
            self.store.update_job(self.job, status=status, reason=self.reason)
        except LeaseLostError:
            # Another tuner owns the job now: stop our processes, write nothing.
            self.backend.stop_all(LEASE_LOST, force=True)
            raise
        return status

    def _run(self) -> str:
        status = "completed"
        try:
            while True:
                self.lease.check()
                if self.lease.stop_requested:
                    log.warning("stop requested: stopping %d running trial(s)", len(self.running))
                    self._drain(STOP_REQUESTED)
                    status = "stopped"
                    break
                if self.reason is None and self.completion is not None:
                    self.reason = self.completion.reason()
                    if self.reason is not None:
                        log.info("job complete: %s", self.reason)
                        for trial_id in self.running:
                            self.early.setdefault(trial_id, f"the job is complete: {self.reason}")
                        self._drain(self.reason)
                        break
                slots = min(self.max_parallel - len(self.running), self.backend.free_slots())
                while slots > 0 and self.queue:
                    self._start(self.queue.popleft())
                    slots -= 1
                want = min(slots, self.max_trials - self.created)
                if want > 0 and not self.exhausted:
                    self._propose(want)
                if not self.running and not self.queue:
                    break
                events = self.backend.poll(POLL_SECONDS)
                self._store_reports(events)
                for event in events:
                    if isinstance(event, Reported):
                        self._reported(event)
                    else:
                        self._exited(event)
        except KeyboardInterrupt:
            log.warning("interrupted: stopping %d running trial(s)", len(self.running))
            self._drain(INTERRUPTED)
            self.store.update_job(self.job, status="stopped")
            raise
        except LeaseLostError:
            raise
        except BaseException:
            self._drain(INTERRUPTED, force=True)
            self.store.update_job(self.job, status="failed")
            raise
        return status

    def _propose(self, want: int) -> None:
        pending = [self.configs[t] for t in (*self.running, *self.queue)]
        proposals = self.strategy.ask(want, pending=pending)
        self.exhausted = len(proposals) < want
        if self.completion is not None:
            self.completion.proposed(getattr(self.strategy, "last_log_ei", None))
        self._record_verdicts()
        for config in proposals:
            failpoint("trial-proposed")
            trial = self.store.create_trial(self.job, config)
            failpoint("trial-created")
            self.created += 1
            self.configs[trial.trial_id] = config
            self._start(trial.trial_id, attempt=1)

    def _start(self, trial_id: int, attempt: int | None = None) -> None:
        if attempt is None:
            stored = self.store.get_trial(self.job, trial_id)
            attempt = stored.attempt if stored is not None else 1
        directory = self.backend.trial_directory(trial_id)
        if directory is not None and attempt > 1:
            directory = f"{directory}-attempt-{attempt}"
        self.store.start_trial(self.job, trial_id, directory=directory)
        failpoint("trial-started")
        config = self.configs[trial_id]
        self.running.add(trial_id)
        self.trackers[trial_id] = ObjectiveTracker(self.objective)
        if self.rule is not None:
            self.rule.restart(trial_id)
        if self.scheduler is not None:
            self.scheduler.restart(trial_id)
        self.backend.launch(
            TrialLaunch(trial_id, {**self.static, **config}, directory, attempt=attempt)
        )
        failpoint("trial-launched")
        if trial_id in self.backend.running:
            self.store.record_process_groups(self.job, trial_id, self.backend.process_groups(trial_id))
        again = f" (attempt {attempt})" if attempt > 1 else ""
        log.info("trial %d started%s: %s", trial_id, again, _describe(config))

    def _store_reports(self, events: list[Reported | Exited]) -> None:
        """Store a poll's reports before acting on any of its events, one transaction per trial
        (a job printing a metric per line must not cost a transaction per line)."""
        by_trial: dict[int, list[MetricReport]] = {}
        for event in events:
            if isinstance(event, Reported):
                by_trial.setdefault(event.trial_id, []).append(event.report)
        for trial_id, reports in by_trial.items():
            self.store.add_metrics(self.job, trial_id, reports)

    def _reported(self, event: Reported) -> None:
        if event.report.name != self.objective.metric:
            return
        self._tracker(event.trial_id).add(event.report)
        if self.scheduler is not None and event.trial_id not in self.early:
            config = self.configs.get(event.trial_id)
            if config is not None and self._rungs_reached(event.trial_id, config, event.report):
                reason = self.scheduler.should_stop(event.trial_id)
                if reason is not None:
                    self.early[event.trial_id] = reason
                    log.info("trial %d: %s", event.trial_id, reason)
                    self.backend.stop(event.trial_id, reason)
        if self.rule is None or event.trial_id in self.early:
            return
        self.rule.report(event.trial_id, event.report.step, event.report.value)
        reason = self.rule.should_stop(event.trial_id)
        if reason is not None:
            self.early[event.trial_id] = reason
            log.info("trial %d: %s", event.trial_id, reason)
            self.backend.stop(event.trial_id, reason)

    def _rungs_reached(self, trial_id: int, config: Mapping[str, Any], report: MetricReport) -> bool:
        """Feed a report to the Hyperband scheduler; tell the strategy each rung it reached."""
        assert self.scheduler is not None
        reached = self.scheduler.report(trial_id, report)
        tell_rung = getattr(self.strategy, "tell_rung", None)
        for resource, value in reached:
            if tell_rung is not None:
                tell_rung(config, resource, value)
            else:
                self.strategy.tell(config, value)
        return bool(reached)

    def _exited(self, event: Exited) -> None:
        failpoint("trial-exited")
        trial_id = event.trial_id
        self.running.discard(trial_id)
        tracker = self.trackers.pop(trial_id, None) or ObjectiveTracker(self.objective)
        lost_before = self.lost.pop(trial_id, 0)
        early = self.early.pop(trial_id, None)
        if early is not None and event.status != "completed":
            self._finish(trial_id, "stopped", tracker.value, event.exit_code, early)
        elif event.status == "completed":
            self._finish(trial_id, "completed", tracker.value, event.exit_code, tracker.problem)
        elif event.status == "lost" and lost_before + 1 >= MAX_LOST_ATTEMPTS:
            self._finish(
                trial_id, "failed", None, event.exit_code,
                f"lost {MAX_LOST_ATTEMPTS} attempts in a row to dying nodes; not run again "
                f"(last: {_first_line(event.error)})",
            )
        elif event.status == "lost":
            # Not the trial's doing (its node died): run it again, not counted as a failure.
            self.lost[trial_id] = lost_before + 1
            attempt = self.store.retry_trial(self.job, trial_id, status="lost", error=event.error)
            log.warning("trial %d %s; running it again as attempt %d", trial_id,
                        _first_line(event.error), attempt)
            self.queue.appendleft(trial_id)
            return
        elif event.status == "failed" and self._retries(trial_id, event.exit_code):
            attempt = self.store.retry_trial(
                self.job, trial_id, status="failed", exit_code=event.exit_code, error=event.error
            )
            log.warning(
                "trial %d failed (%s); retrying as attempt %d", trial_id,
                _first_line(event.error), attempt,
            )
            self.queue.appendleft(trial_id)
            return
        else:
            self._finish(trial_id, event.status, None, event.exit_code, event.error)
        if event.exception is not None and not isinstance(event.exception, self.catch):
            raise event.exception

    def _retries(self, trial_id: int, exit_code: int | None) -> bool:
        failed = sum(a.status == "failed" for a in self.store.attempts(self.job, trial_id))
        return self.retry.retries(failed + 1, exit_code)

    def _finish(
        self, trial_id: int, status: str, value: float | None, exit_code: int | None,
        error: str | None,
    ) -> None:
        """Store how a trial ended; tell the strategy its value if it has one."""
        self.store.finish_trial(
            self.job, trial_id, status=status, objective=value, exit_code=exit_code, error=error
        )
        config = self.configs.pop(trial_id)
        if self.rule is not None:
            self.rule.finished(trial_id)
        if self.completion is not None:
            self.completion.finished(trial_id, status, value)
        if value is None:
            self._tell_failed(config)
            log.warning("trial %d %s: %s", trial_id, status, _first_line(error))
            return
        if self.scheduler is None:  # Hyperband's strategy hears values per rung instead
            self.strategy.tell(config, value)
        self.told_trial = trial_id
        if status == "completed":
            best = self.store.best_trial(self.job, self.objective.direction)
            mark = " (new best)" if best is not None and best.trial_id == trial_id else ""
            log.info("trial %d completed: %s=%.6g%s", trial_id, self.objective.metric, value, mark)
        else:
            log.info("trial %d stopped early at %s=%.6g", trial_id, self.objective.metric, value)

    def _tell_failed(self, config: dict[str, Any]) -> None:
        """A trial ended without a value: strategies that keep failures never propose it again."""
        tell_failed = getattr(self.strategy, "tell_failed", None)
        if tell_failed is not None:
            tell_failed(config)

    def _record_verdicts(self) -> None:
        if self.told_trial is None:
            return
        changes = {
            name: (verdict, evidence)
            for name, (verdict, evidence) in self.strategy.detected_scaling().items()
            if self.verdicts.get(name) != _verdict_state(verdict, evidence)
        }
        if changes:
            self.store.add_scalings(self.job, self.told_trial, changes)
            for name, (verdict, evidence) in changes.items():
                self.verdicts[name] = _verdict_state(verdict, evidence)
                if self.verdicts[name] == NOT_JUDGED:
                    continue  # no comparison was made yet: nothing to say
                if verdict == "undetermined":
                    log.info("%s: neither scale explains the results clearly better (as of trial %d)",
                             name, self.told_trial)
                else:
                    log.info("%s looks %s-scaled (as of trial %d)", name, verdict, self.told_trial)

    def _drain(self, reason: str, *, force: bool = False) -> None:
        """Stop every running trial; those that do not complete go back to ``pending``."""
        self.backend.stop_all(reason, force=force)
        while self.running and self.backend.running:
            try:
                events = self.backend.poll(POLL_SECONDS)
            except KeyboardInterrupt:
                self.backend.stop_all(reason, force=True)
                continue
            self._store_reports(events)
            for event in events:
                if isinstance(event, Reported):
                    self._tracker(event.trial_id).add(event.report)
                elif event.status == "completed" or event.trial_id in self.early:
                    self._exited(event)
                else:
                    self.running.discard(event.trial_id)
                    self._requeue(event.trial_id, event.exit_code, reason)
        # A signal can land between writing a trial and remembering it; sweep the
        # store so no trial of this run is left running.
        for trial in self.store.trials(self.job, status=("running",)):
            self._requeue(trial.trial_id, None, reason)

    def _requeue(self, trial_id: int, exit_code: int | None, reason: str) -> None:
        self.store.retry_trial(self.job, trial_id, status="stopped", exit_code=exit_code, error=reason)
        self.early.pop(trial_id, None)
        self.trackers.pop(trial_id, None)

    def _tracker(self, trial_id: int) -> ObjectiveTracker:
        return self.trackers.setdefault(trial_id, ObjectiveTracker(self.objective))


def _verdict_state(verdict: str, evidence: Mapping[str, Any]) -> str:
    """The verdict as a state whose changes are stored: a judged "undetermined" differs from none yet."""
    if verdict == "undetermined" and "margin" not in evidence:
        return NOT_JUDGED
    return verdict


def _tuned(space: SearchSpace, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    return {name: hyperparameters[name] for name in space.names if name in hyperparameters}


def _describe(config: Mapping[str, Any]) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) and math.isfinite(v) else f"{k}={v}"
        for k, v in config.items()
    )


def _first_line(error: str | None) -> str:
    lines = (error or "").splitlines() or [""]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
