"""The ``fasthpo`` command line: run, resume, stop, list, describe, trials, validate, logs, delete,
report, dashboard, export and bench.

Every verb takes ``--db PATH`` (default ``$FASTHPO_DB`` or ``./fasthpo.db``).
Bad input is reported as one line on stderr with a non-zero exit, never a
traceback. Exit codes: 0 done; 1 a store problem (including a job another
tuner is running, or one taken over by another tuner while this one was
frozen); 2 a bad job file or argument; 3 the job was stopped with
``fasthpo stop``; 4 the job failed (no trial produced its objective);
128 + N the tuner got signal N (130 for Ctrl-C, 143 for SIGTERM) and stopped
its trials. Modules are imported inside each verb so
``fasthpo --help`` loads no numerical stack.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3
EXIT_FAILED = 4
EXIT_INTERRUPTED = 128 + signal.SIGINT

#: Seconds ``fasthpo stop`` waits for the tuner to stop its trials, by default.
STOP_WAIT_SECONDS = 120.0
_received_signal: list[int] = []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fasthpo",
        description="Tune the hyperparameters of real training jobs.",
    )
    from fasthpo import __version__

    parser.add_argument("--version", action="version", version=f"fasthpo {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--db", metavar="PATH", default=None,
            help="the SQLite store (default: $FASTHPO_DB or ./fasthpo.db)",
        )
        return sub

    run = verb("run", "run a tuning job from its job file (continues it if it exists)")
    run.add_argument("job_file", metavar="JOB", help="job file (.yaml, .yml or .json)")
    run.add_argument("-q", "--quiet", action="store_true",
                     help="no progress and no log lines: only errors, and the summary at the end")
    run.add_argument(
        "--command", nargs=argparse.REMAINDER, default=None, metavar="ARGV",
        help="with a tuning-job request of the managed service: the local training command "
             "(the rest of the line, e.g. --command python train.py)",
    )
    _backend_arguments(run)

    resume = verb("resume", "continue a stored job (after a stop, a crash or kill -9)")
    resume.add_argument("name", metavar="NAME")
    resume.add_argument("--max-trials", type=int, default=None, metavar="N",
                        help="raise (or lower) the job's trial budget")
    resume.add_argument("-q", "--quiet", action="store_true",
                        help="no progress and no log lines: only errors, and the summary at the end")
    _backend_arguments(resume)

    stop = verb("stop", "stop a job: no new trials, running ones stopped gracefully")
    stop.add_argument("name", metavar="NAME")
    stop.add_argument("--no-wait", action="store_true",
                      help="return once the stop is requested, without waiting for the tuner")
    stop.add_argument("--timeout", type=float, default=STOP_WAIT_SECONDS, metavar="SECONDS",
                      help=f"how long to wait for the tuner (default {STOP_WAIT_SECONDS:g})")
    stop.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                      help="with no live tuner: seconds between SIGTERM and SIGKILL for the trials "
                           "it left running (default 10)")

    verb("list", "list the jobs in the store")

    describe = verb("describe", "show a job's status, counters and best trial")
    describe.add_argument("name", metavar="NAME")
    describe.add_argument("--json", action="store_true", help="print one JSON object")

    trials = verb("trials", "list a job's trials")
    trials.add_argument("name", metavar="NAME")
    trials.add_argument(
        "--format", choices=("table", "csv", "json"), default="table",
        help="output format (csv: the columns of fasthpo.load(), full precision)",
    )
    trials.add_argument(
        "--curves", action="store_true",
        help="print every reported value instead, as CSV in long format: trial_id,step,metric,value",
    )
    validate = verb("validate", "check a job file without running it; print its parsed search space")
    validate.add_argument("job_file", metavar="JOB", help="job file (.yaml, .yml or .json)")

    logs = verb("logs", "print a trial's output (its last attempt's stdout, or --stderr)")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("trial", metavar="TRIAL", type=int)
    logs.add_argument("--stderr", action="store_true", help="print stderr instead of stdout")
    logs.add_argument("--rank", type=int, default=0, metavar="R",
                      help="the instance, for jobs with instance_count > 1 (default 0)")

    delete = verb("delete", "delete a job, its records and its trial folders (never while it runs)")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    report = verb("report", "write a job's report: one self-contained HTML page of plots")
    report.add_argument("name", metavar="NAME")
    report.add_argument("--html", required=True, metavar="PATH", help="the page to write")

    dashboard = verb("dashboard", "serve a live, read-only page of the store's jobs")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to bind (default 127.0.0.1; any other needs a token)")
    dashboard.add_argument("--port", type=int, default=8080, help="port (0: any free one; default 8080)")
    dashboard.add_argument("--token", default=None,
                           help="every request must carry it (default: $FASTHPO_DASHBOARD_TOKEN)")

    export = verb("export", "write a stored job in another format (the managed service's request)")
    export.add_argument("name", metavar="NAME")
    export.add_argument(
        "--format", choices=("sagemaker",), default="sagemaker",
        help="sagemaker: the body of a CreateHyperParameterTuningJob request",
    )
    export.add_argument("-o", "--output", metavar="FILE", default=None, help="write here, not to stdout")
    _bench_parser(verb("bench", "benchmark optimizers against each other (see `bench latency`)"))
    return parser


def _bench_parser(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--suite", default="quick", help="quick (CI-sized) or full (default: quick)")
    bench.add_argument("--problems", nargs="+", metavar="NAME", help="override the suite's problems")
    bench.add_argument(
        "--optimizers", nargs="+", metavar="NAME", help="override the suite's optimizers"
    )
    bench.add_argument("--budget", type=int, help="evaluations per run")
    bench.add_argument("--seeds", type=int, help="seeds per pair (0..K-1)")
    bench.add_argument(
        "--parallel", type=int, nargs="+", default=[], metavar="Q",
        help="also simulate Q asynchronous workers (sequential runs are always made)",
    )
    bench.add_argument(
        "--arrival", choices=["fifo", "random"], default="fifo",
        help="order parallel results arrive in: oldest first, or random trial durations",
    )
    bench.add_argument("--out", default=None, help="output folder (default: fasthpo-bench/SUITE)")
    bench.add_argument("--workers", type=int, default=1, help="runs in parallel processes")
    bench.add_argument("--cache", default=None, help="evaluation cache folder for real tasks")
    bench.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    bench.add_argument(
        "--from", nargs="+", dest="from_files", metavar="FILE",
        help="run nothing: report the runs saved in these results.jsonl files (or .jsonl.gz), "
        "combined (a run found in several is taken from the last); "
        "--problems/--optimizers/--seeds filter",
    )
    sub = bench.add_subparsers(dest="bench_verb", metavar="latency")
    latency = sub.add_parser(
        "latency", help="time one proposal after n observations, single-threaded"
    )
    latency.add_argument("--optimizers", nargs="+", dest="latency_optimizers", metavar="NAME",
                         default=["fasthpo-random", "optuna-tpe", "optuna-gp", "skopt-gp"])
    latency.add_argument("--dims", nargs="+", type=int, default=[5, 20], metavar="D")
    latency.add_argument("--n", nargs="+", type=int, default=[20, 100, 300], metavar="N")
    latency.add_argument("--cutoff", type=float, default=60.0, help="seconds per cell")
    latency.add_argument(
        "--loop-steps", type=int, default=None,
        help="asks timed in the loop (default: n/10 + 1, at least 5, so one refit is included)",
    )
    latency.add_argument(
        "--fresh-repeats", type=int, default=3, metavar="R",
        help="new instances, each with its own design, whose first ask the fresh figure is the "
        "median of (default 3; fewer once they have taken a quarter of the cutoff)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fasthpo`` script; returns the exit code."""
    args = _parser().parse_args(argv)
    import sqlite3

    from fasthpo.errors import ConfigError, RunFolderError, StoreError
    from fasthpo.storage.store import default_db_path

    try:
        return _VERBS[args.verb](args)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (StoreError, RunFolderError) as exc:
        _error(str(exc))
        return EXIT_ERROR
    except sqlite3.Error as exc:
        # The disk is full, a file-size limit was hit or the file is damaged:
        # SQLite rolled the open transaction back, every committed one is kept.
        db = args.db or default_db_path()
        after = (
            "; what was recorded is kept, `fasthpo resume` continues the job"
            if args.verb in ("run", "resume") else ""
        )
        _error(f"the store {db!r} failed: {exc}{after}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        # Not an error of the user's: say what happened, without the "error:" prefix.
        print(
            "fasthpo: interrupted; running trials were stopped and run again on `fasthpo resume`"
            if args.verb in ("run", "resume") else "fasthpo: interrupted",
            file=sys.stderr,
        )
        return 128 + _received_signal[-1] if _received_signal else EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR


def _error(message: str) -> None:
    print(f"fasthpo: error: {message}", file=sys.stderr)


def _store(args: argparse.Namespace) -> Any:
    from fasthpo.storage import Store, default_db_path

    # Only a tuner creates a store: every verb that comes here reads an existing one.
    return Store(args.db or default_db_path(), create=False)


def _job(store: Any, name: str) -> Any:
    from fasthpo.errors import ConfigError

    job = store.get_job(name)
    if job is None:
        known = ", ".join(j.name for j in store.list_jobs()) or "none"
        raise ConfigError("", f"no job named {name!r} in {store.path} (jobs: {known})")
    return job


def _raise_interrupt(signum: int, frame: object) -> None:
    _received_signal.append(signum)
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    from fasthpo.config import load_job

    def ignored(keys: tuple[str, ...]) -> None:
        print(f"fasthpo: ignored (cloud only): {', '.join(keys)}", file=sys.stderr)

    return _tune(load_job(args.job_file, command=args.command, on_ignored=ignored), args)


def _export(args: argparse.Namespace) -> int:
    from fasthpo.sagemaker.export import export_request

    with _store(args) as store:
        job = _job(store, args.name)
    text = json.dumps(export_request(job.spec), indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


def _backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("local", "ray"), default=None,
                        help="where trials run (overrides the job's backend.type)")
    parser.add_argument("--address", default=None, metavar="ADDRESS",
                        help="the Ray cluster, as ray.init takes it, e.g. auto (implies --backend ray)")


def _with_backend(spec: Any, args: argparse.Namespace) -> Any:
    """The job with the backend the command line asks for, if it asks."""
    import dataclasses

    kind = args.backend or ("ray" if args.address is not None else None)
    if kind is None:
        return spec
    address = args.address if args.address is not None else (
        spec.backend.address if kind == spec.backend.type else None
    )
    return dataclasses.replace(
        spec, backend=dataclasses.replace(spec.backend, type=kind, address=address)
    )


def _tune(spec: Any, args: argparse.Namespace) -> int:
    from fasthpo.runner.tuner import run_job

    spec = _with_backend(spec, args)

    # A terminal gets a live bar with the log lines above it; a pipe or a CI log
    # gets plain lines only; --quiet, only errors (and the summary at the end).
    progress = not args.quiet and sys.stderr.isatty()
    logging.basicConfig(
        level=logging.ERROR if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # SIGTERM stops the job the way Ctrl-C does: running trials are stopped and recorded.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    result = run_job(spec, db=args.db, show_progress=progress)
    with _store(args) as store:
        print(_describe_text(_summary(store, _job(store, result.job))))
        if result.status == "failed":
            _error(_why_failed(store, spec))
            return EXIT_FAILED
    return EXIT_STOPPED if result.status == "stopped" else 0


def _why_failed(store: Any, spec: Any) -> str:
    """One line on why no trial of a failed job produced its objective."""
    trials = store.trials(spec.name)
    metric = spec.objective.metric
    if trials and all(t.status == "failed" for t in trials):
        first = trials[0]
        return (
            f"job {spec.name!r} failed: every trial failed; trial {first.trial_id}: "
            f"{_first_line(first.error)}"
        )
    regexes = [m.regex for m in spec.metrics if m.name == metric]
    source = (
        f"no output line matched metrics regex {regexes[0]!r}" if regexes
        else "no metrics entry defines a regex for it"
    )
    return (
        f"job {spec.name!r} failed: no trial reported the objective metric {metric!r} "
        f"({source}, and no fasthpo.report() call reported it)"
    )


def _resume(args: argparse.Namespace) -> int:
    import dataclasses

    from fasthpo.config import parse_job
    from fasthpo.errors import ConfigError

    with _store(args) as store:
        job = _job(store, args.name)
        counters = store.counters(job.name)
    if job.spec.get("kind") == "function":
        raise ConfigError(
            "", f"job {job.name!r} tunes a Python function; resume it by running "
            f"Tuner(..., name={job.name!r}).optimize(fn) again"
        )
    spec = parse_job(job.spec)
    if args.max_trials is not None:
        if args.max_trials < 1:
            raise ConfigError("--max-trials", f"must be a positive integer, got {args.max_trials}")
        spec = dataclasses.replace(
            spec, limits=dataclasses.replace(spec.limits, max_trials=args.max_trials)
        )
    if (
        job.status == "completed"
        and sum(counters.values()) >= spec.limits.max_trials
        and counters["pending"] == 0
    ):
        print(
            f"job {job.name!r} already ran its {spec.limits.max_trials} trials; "
            "give it more with --max-trials N"
        )
        return 0
    return _tune(spec, args)


def _stop(args: argparse.Namespace) -> int:
    from fasthpo.errors import ConfigError
    from fasthpo.runner.backend import DEFAULT_GRACE_SECONDS
    from fasthpo.runner.stop import stop_job

    def requested(tuner: str) -> None:
        print(f"stop requested: {tuner} is stopping job {args.name!r}")

    grace = DEFAULT_GRACE_SECONDS if args.grace is None else args.grace
    if not (math.isfinite(grace) and grace >= 0):
        raise ConfigError("--grace", f"must be a number of seconds >= 0, got {args.grace!r}")
    with _store(args) as store:
        job = _job(store, args.name)
        result = stop_job(
            store, job.name, wait=not args.no_wait, timeout=args.timeout, grace=grace,
            on_requested=requested,
        )
    if result.tuner is None:
        again = f"; {len(result.recovered)} trial(s) will run again on resume" if result.recovered else ""
        print(f"job {result.job!r} is {result.status} (no tuner was running it){again}")
    elif result.timed_out:
        _error(f"the tuner of job {args.name!r} has not stopped after {args.timeout:g} s")
        return EXIT_ERROR
    elif result.status is not None:
        print(f"job {result.job!r} is {result.status}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rows = []
        for job in store.list_jobs():
            counters = store.counters(job.name)
            direction = job.spec["objective"]["direction"]
            best = store.best_trial(job.name, direction)
            rows.append(
                [
                    job.name, job.status, str(sum(counters.values())),
                    job.spec["objective"]["metric"],
                    "-" if best is None else f"{best.objective:.6g}",
                ]
            )
    if not rows:
        print("no jobs")
        return 0
    print(_table(["name", "status", "trials", "objective", "best"], rows))
    return 0


def _summary(store: Any, job: Any) -> dict[str, Any]:
    objective = job.spec["objective"]
    counters = store.counters(job.name)
    best = store.best_trial(job.name, objective["direction"])
    limits = job.spec.get("limits") or {}
    return {
        "name": job.name,
        "status": job.status,
        "objective": objective,
        "strategy": job.spec.get("strategy"),
        "seed": job.seed,
        "max_trials": limits.get("max_trials"),
        "trials": sum(counters.values()),
        "counters": {k: counters[k] for k in ("completed", "failed", "running", "stopped")}
        | {"pending": counters["pending"]},
        "best": None
        if best is None
        else {
            "trial_id": best.trial_id,
            "hyperparameters": best.hyperparameters,
            "objective": best.objective,
            "directory": best.directory,
        },
        "failure": _failure(store, job.name) if best is None else None,
        "tuner": _tuner(store.lease(job.name)),
        "retries": sum(a.attempt > 1 for a in store.attempts(job.name)),
        "detected_scaling": _scalings(store.scalings(job.name)),
        "parallel_cost": _parallel_cost(job.spec.get("strategy"), limits.get("max_parallel", 1)),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        **({"hyperband": job.spec["hyperband"]} if job.spec.get("hyperband") else {}),
        **_job_extras(store, job),
    }


def _failure(store: Any, job: str) -> dict[str, Any] | None:
    """When no trial has an objective yet: how many failed, and the first one's error."""
    failed = store.trials(job, status=("failed",))
    if not failed:
        return None
    return {"failed": len(failed), "trial_id": failed[0].trial_id, "error": _first_line(failed[0].error)}


def _first_line(error: str | None) -> str:
    lines = (error or "no error recorded").strip().splitlines() or [""]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


def _shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when something was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _job_extras(store: Any, job: Any) -> dict[str, Any]:
    """Why the job ended by itself, what it warm-started from, and each trial's Hyperband rung."""
    extras: dict[str, Any] = {"reason": job.reason, "warm_start": job.warm_start}
    if job.spec.get("hyperband"):
        from fasthpo.jobspec import HyperbandSettings
        from fasthpo.runner.successive_halving import rung_reached

        settings = HyperbandSettings(**job.spec["hyperband"])
        metric = job.spec["objective"]["metric"]
        extras["rungs"] = []
        for trial in store.trials(job.name):
            steps = [r.step for r in store.metrics(job.name, trial.trial_id, metric,
                                                   attempt=trial.attempt) if r.step is not None]
            extras["rungs"].append({
                "trial_id": trial.trial_id, "status": trial.status,
                "rung": rung_reached(settings, trial.trial_id, max(steps) if steps else None),
            })
    return extras


def _parallel_cost(strategy: Any, max_parallel: Any) -> str:
    """The measured cost of running ``max_parallel`` trials at once (from the benchmark)."""
    from fasthpo.benchmark.parallel_cost import parallel_cost

    if strategy in ("random", "grid"):
        return f"no cost: {strategy} proposals do not depend on earlier results"
    return parallel_cost(int(max_parallel or 1))


def _tuner(lease: Any) -> dict[str, Any] | None:
    """The tuner process holding the job, if it is alive."""
    if lease is None or not lease.held():
        return None
    return {"pid": lease.pid, "host": lease.host, "lease_expires": lease.expires}


def _scalings(history: list[Any]) -> dict[str, Any]:
    """Each ``auto`` parameter's current verdict, the trial it dates from, and its history."""
    out: dict[str, Any] = {}
    for record in history:
        entry = out.setdefault(record.parameter, {"history": []})
        entry.update(verdict=record.verdict, since_trial=record.trial_id, evidence=record.evidence)
        entry["history"].append({"verdict": record.verdict, "trial": record.trial_id})
    return out


def _verdict_text(entry: dict[str, Any]) -> str:
    """A scale verdict as ``describe`` shows it; none is judged before enough results exist."""
    evidence = entry.get("evidence") or {}
    if entry["verdict"] == "undetermined" and "margin" not in evidence:
        needs = re.search(r"needs (\d+)", str(evidence.get("reason", "")))
        return f"not judged yet (needs {needs.group(1) if needs else 10} results)"
    return f"{entry['verdict']} (since trial {entry['since_trial']})"


def _describe_text(summary: dict[str, Any]) -> str:
    c = summary["counters"]
    budget = f" of {summary['max_trials']}" if summary["max_trials"] else ""
    lines = [
        f"job        {summary['name']} ({summary['status']})",
        f"objective  {summary['objective']['direction']} {summary['objective']['metric']}",
        f"strategy   {summary['strategy']} (seed {summary['seed']})",
        f"trials     {summary['trials']}{budget}: {c['completed']} completed, {c['failed']} "
        f"failed, {c['running']} running, {c['stopped']} stopped"
        + (f", {c['pending']} pending" if c["pending"] else "")
        + (f" ({summary['retries']} retried attempts)" if summary["retries"] else ""),
    ]
    tuner = summary["tuner"]
    if tuner is not None:
        lines.append(f"tuner      process {tuner['pid']} on {tuner['host']}")
    elif summary["status"] == "running":
        lines.append("tuner      none alive (it died): `fasthpo resume` continues the job")
    scalings = summary["detected_scaling"]
    if scalings:
        width = max(len(name) for name in scalings)
        for i, (name, entry) in enumerate(scalings.items()):
            head = "scaling   " if i == 0 else "          "
            lines.append(f"{head} {name.ljust(width)}: {_verdict_text(entry)}")
    if summary.get("reason"):
        lines.append(f"reason     {summary['reason']}")
    warm = summary.get("warm_start")
    if warm:
        taken = ", ".join(f"{p['taken']} from {p['name']}" for p in warm["parents"])
        lines.append(f"warm start {warm['type']}: {taken} result(s)")
    if summary.get("rungs"):
        resource = summary["hyperband"]["resource"] if summary.get("hyperband") else "rung"
        by_rung: dict[Any, list[str]] = {}
        for entry in summary["rungs"]:
            by_rung.setdefault(entry["rung"], []).append(str(entry["trial_id"]))
        shown = "; ".join(
            f"{resource}={rung}: trial(s) {', '.join(ids)}" if rung is not None
            else f"no rung: trial(s) {', '.join(ids)}"
            for rung, ids in sorted(by_rung.items(), key=lambda item: item[0] or 0)
        )
        lines.append(f"rungs      {shown}")
    lines.append(f"parallel   {summary['parallel_cost']}")
    best = summary["best"]
    failure = summary.get("failure")
    if best is None and failure is not None:
        failed = failure["failed"]
        everything = "every trial" if failed == summary["trials"] else f"{failed} trial(s)"
        lines.append(
            f"best       none: {everything} failed; trial {failure['trial_id']}: "
            f"{_shorten(failure['error'], 160)}"
        )
    elif best is None:
        lines.append("best       none yet (no completed trial with a finite objective)")
    else:
        lines.append(
            f"best       trial {best['trial_id']}: "
            f"{summary['objective']['metric']} = {best['objective']:.6g}"
        )
        width = max(len(k) for k in best["hyperparameters"]) if best["hyperparameters"] else 0
        for key, value in best["hyperparameters"].items():
            shown = f"{value:.6g}" if isinstance(value, float) else str(value)
            lines.append(f"           {key.ljust(width)} = {shown}")
        if best["directory"]:
            lines.append(f"           (files: {best['directory']})")
    return "\n".join(lines)


def _describe(args: argparse.Namespace) -> int:
    with _store(args) as store:
        summary = _summary(store, _job(store, args.name))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_describe_text(summary))
    return 0


def _trials(args: argparse.Namespace) -> int:
    from fasthpo.results import CURVE_COLUMNS, curve_table, trial_table

    with _store(args) as store:
        job = _job(store, args.name)
        trials = store.trials(job.name)
        if args.curves:
            curves = curve_table(store, job.name)
            _write_csv(CURVE_COLUMNS, [[_cell(r[c], True) for c in CURVE_COLUMNS] for r in curves])
            return 0
        if args.format == "csv":
            columns, table = trial_table(store, job.name)
            _write_csv(columns, [[_csv_cell(c, row[c]) for c in columns] for row in table])
            return 0
        if args.format == "json":
            metric = job.spec["objective"]["metric"]
            listed = [
                t.to_dict() | {"intermediate": [
                    {"step": r.step, "value": r.value, "instance": r.instance}
                    for r in store.metrics(job.name, t.trial_id, metric, attempt=t.attempt)
                ]}
                for t in trials
            ]
            print(json.dumps(listed, indent=2))
            return 0
    names = list(job.spec["hyperparameters"])
    header = ["trial_id", "status", "objective", *names, "exit_code", "error"]
    rows = [
        [
            str(t.trial_id), t.status, _cell(t.objective, False),
            *(_cell(t.hyperparameters.get(n), False) for n in names),
            _cell(t.exit_code, False),
            _shorten(_first_line(t.error), 60) if t.error else "",
        ]
        for t in trials
    ]
    print(_table(header, rows) if rows else "no trials")
    return 0


def _write_csv(header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    sys.stdout.write(buffer.getvalue())


def _csv_cell(column: str, value: Any) -> str:
    """A CSV cell: full precision, times in ISO 8601 (UTC), a multi-line error on one line."""
    from datetime import UTC, datetime

    if value is None:
        return ""
    if column in ("started_at", "ended_at"):
        return datetime.fromtimestamp(value, UTC).isoformat()
    if column == "error":
        return _first_line(value)
    return _cell(value, True)


def _cell(value: Any, exact: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if exact else f"{value:.6g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _validate(args: argparse.Namespace) -> int:
    from fasthpo.config import load_job
    from fasthpo.strategies.scale_detection import prior_scale

    spec = load_job(args.job_file)
    limits = spec.limits
    print(f"{args.job_file}: valid")
    print(f"job        {spec.name}")
    print(f"command    {' '.join(spec.command)}")
    print(f"objective  {spec.objective.direction} {spec.objective.metric}")
    print(
        f"strategy   {spec.strategy}, {limits.max_trials} trials, {limits.max_parallel} at a time"
        + (f", early stopping {spec.early_stopping}" if spec.early_stopping != "off" else "")
    )
    rows = []
    for p in spec.space:
        if p.kind == "categorical":
            rows.append([p.name, p.kind, ", ".join(map(str, p.values)), ""])  # type: ignore[union-attr]
            continue
        scaling = p.scaling  # type: ignore[union-attr]
        if scaling == "auto":
            start = prior_scale(p).name if spec.strategy == "bayesian" else "linear"  # type: ignore[arg-type]
            learns = "checked against the results" if spec.strategy == "bayesian" else "no learning"
            scaling = f"auto: searched as {start} at first ({learns})"
        rows.append([p.name, p.kind, f"{p.low:g} … {p.high:g}", scaling])  # type: ignore[union-attr]
    print("hyperparameters")
    print("\n".join("  " + line for line in _table(["name", "type", "range", "scaling"], rows).splitlines()))
    if spec.static_hyperparameters:
        fixed = ", ".join(f"{k}={v}" for k, v in spec.static_hyperparameters.items())
        print(f"static     {fixed}")
    return 0


def _logs(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from fasthpo.errors import ConfigError

    with _store(args) as store:
        job = _job(store, args.name)
        trial = store.get_trial(job.name, args.trial)
    if trial is None:
        raise ConfigError("TRIAL", f"job {job.name!r} has no trial {args.trial}")
    if trial.directory is None:
        how = "in-process (Tuner.optimize)" if job.spec.get("kind") == "function" else "nowhere yet"
        raise ConfigError("TRIAL", f"trial {args.trial} of job {job.name!r} ran {how}: it has no log files")
    count = int(job.spec.get("instance_count", 1))
    if not 0 <= args.rank < count:
        raise ConfigError(
            "--rank", f"must be between 0 and {count - 1} for job {job.name!r}, got {args.rank}"
        )
    folder = Path(trial.directory) / f"rank-{args.rank}" if count > 1 else Path(trial.directory)
    path = folder / ("stderr.log" if args.stderr else "stdout.log")
    try:
        with path.open("rb") as source:
            sys.stdout.flush()
            shutil.copyfileobj(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    except FileNotFoundError:
        raise ConfigError("TRIAL", f"no log file at {str(path)!r}") from None
    return 0


def _delete(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from fasthpo.errors import ConfigError

    with _store(args) as store:
        job = _job(store, args.name)
        count = len(store.trials(job.name))
        runs = store.path.resolve().parent / f"{store.path.stem}-runs" / job.name
        what = f"job {job.name!r} and its {count} trial(s) from {str(store.path)!r}"
        if runs.is_dir():
            what += f", and its trial folders in {str(runs)!r}"
        if not args.yes:
            if not sys.stdin.isatty():
                raise ConfigError("--yes", f"would delete {what}; confirm with --yes")
            answer = input(f"delete {what}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 0
        store.delete_job(job.name)
    if Path(runs).is_dir():
        shutil.rmtree(runs)
    print(f"deleted {what}")
    return 0
def _report(args: argparse.Namespace) -> int:
    from fasthpo.storage import default_db_path
    from fasthpo.visualization import write_report

    path = write_report(args.db or default_db_path(), args.name, args.html)
    print(f"report of job {args.name!r}: {path}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from fasthpo.dashboard import serve
    from fasthpo.storage import default_db_path

    return serve(args.db or default_db_path(), host=args.host, port=args.port, token=args.token)


def _bench(args: argparse.Namespace) -> int:
    if args.bench_verb == "latency":
        from fasthpo.benchmark.latency import format_latency, measure_latency

        cells = measure_latency(
            args.latency_optimizers, args.dims, args.n, cutoff_s=args.cutoff,
            loop_steps=args.loop_steps, fresh_repeats=args.fresh_repeats,
            progress=lambda text: print(text, file=sys.stderr),
        )
        print(format_latency(cells))
        return 0

    from fasthpo.benchmark.report import load_results, markdown_report, plot_report
    from fasthpo.benchmark.runner import parse_plan, run_benchmark
    from fasthpo.benchmark.suites import get_suite

    if args.from_files:
        return _bench_from(args)
    suite = get_suite(args.suite)
    plan = parse_plan(
        problems=args.problems or suite.problems,
        optimizers=args.optimizers or suite.optimizers,
        budget=args.budget if args.budget is not None else suite.budget,
        seeds=args.seeds if args.seeds is not None else suite.seeds,
        parallel=args.parallel,
        arrival=args.arrival,
    )
    out = args.out or f"fasthpo-bench/{args.suite}"
    results_file = run_benchmark(plan, out, workers=args.workers, cache_dir=args.cache)
    results = [r for r in load_results(results_file) if r.key in set(plan.runs())]
    order = {"problems": plan.problems, "optimizers": plan.optimizers}
    report = markdown_report(results, title=_bench_title(args), **order)
    (results_file.parent / "report.md").write_text(report, encoding="utf-8")
    sys.stdout.write(report)
    if not args.no_plots:
        try:
            pngs = plot_report(results, results_file.parent, **order)
        except ImportError as exc:
            print(f"plots skipped: {exc}", file=sys.stderr)
        else:
            print("plots: " + ", ".join(str(p) for p in pngs), file=sys.stderr)
    print(f"results: {results_file}", file=sys.stderr)
    return 0


def _bench_from(args: argparse.Namespace) -> int:
    """The report of saved results files (``bench --from``): nothing runs."""
    from pathlib import Path

    from fasthpo.benchmark.report import combine_results, markdown_report, plot_report
    from fasthpo.errors import ConfigError

    try:
        results = combine_results(args.from_files)
    except FileNotFoundError as exc:
        raise ConfigError("from", str(exc)) from None
    if args.problems:
        results = [r for r in results if r.key.problem in args.problems]
    if args.optimizers:
        results = [r for r in results if r.key.optimizer in args.optimizers]
    if args.seeds is not None:  # seeds 0..K-1, e.g. those every optimizer finished
        results = [r for r in results if r.key.seed < args.seeds]
    order = {"problems": args.problems, "optimizers": args.optimizers}
    title = " ".join(["fasthpo bench --from", *args.from_files])
    report = markdown_report(results, title=title, **order)
    sys.stdout.write(report)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "report.md").write_text(report, encoding="utf-8")
        if not args.no_plots:
            try:
                plot_report(results, args.out, **order)
            except ImportError as exc:
                print(f"plots skipped: {exc}", file=sys.stderr)
    return 0


def _bench_title(args: argparse.Namespace) -> str:
    """The command that made a report, as the user gave it (the suite only where it was used)."""
    parts = ["fasthpo bench"]
    if not (args.problems and args.optimizers and args.budget is not None and args.seeds is not None):
        parts.append(f"--suite {args.suite}")
    for flag, values in (("--problems", args.problems), ("--optimizers", args.optimizers)):
        if values:
            parts.append(" ".join([flag, *values]))
    for flag, value in (("--budget", args.budget), ("--seeds", args.seeds)):
        if value is not None:
            parts.append(f"{flag} {value}")
    if args.parallel:
        parts.append(" ".join(["--parallel", *map(str, args.parallel)]))
    return " ".join(parts)


_VERBS = {
    "run": _run, "resume": _resume, "stop": _stop, "list": _list, "describe": _describe,
    "trials": _trials, "bench": _bench, "validate": _validate, "logs": _logs, "delete": _delete,
    "report": _report, "dashboard": _dashboard, "export": _export,
}


if __name__ == "__main__":
    sys.exit(main())
