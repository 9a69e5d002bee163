"""A job's results as a table: one row per trial, and its per-step curves in long format.

The same columns serve ``Tuner.trials_dataframe()``, ``fasthpo.load(job)``
and ``fasthpo trials --format csv`` (the analytics columns of managed tuners):

``trial_id``, ``status``, ``objective``, each tuned hyperparameter by its
name, ``metric.<name>`` the last value of every other reported metric (the
current attempt's), ``started_at``, ``ended_at``, ``duration_s``,
``attempts``, ``exit_code``, ``error``. Hyperparameter names are identifiers,
so the dotted metric columns never collide with them.

pandas is optional (``pip install 'fasthpo[pandas]'``) and imported only by
the functions that return a DataFrame.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fasthpo.errors import ConfigError
from fasthpo.storage import Store, default_db_path

if TYPE_CHECKING:
    import pandas

TIME_COLUMNS = ("started_at", "ended_at")
CURVE_COLUMNS = ["trial_id", "step", "metric", "value"]


def trial_table(store: Store, job: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and one row per trial (plain Python values; times as epoch seconds)."""
    record = store.get_job(job)
    if record is None:
        raise ConfigError("job", f"no job named {job!r} in {store.path}")
    names = list(record.spec["hyperparameters"])
    objective = record.spec["objective"]["metric"]
    attempts = Counter(a.trial_id for a in store.attempts(job))
    rows: list[dict[str, Any]] = []
    metric_names: dict[str, None] = {}
    for trial in store.trials(job):
        last: dict[str, Any] = {}
        for report in store.metrics(job, trial.trial_id, attempt=trial.attempt):
            if report.name != objective:
                last[report.name] = report.value if report.value is not None else report.raw
        metric_names.update(dict.fromkeys(last))
        duration = (
            trial.ended_at - trial.started_at
            if trial.started_at is not None and trial.ended_at is not None else None
        )
        rows.append({
            "trial_id": trial.trial_id,
            "status": trial.status,
            "objective": trial.objective,
            **{n: trial.hyperparameters.get(n) for n in names},
            **{f"metric.{m}": v for m, v in last.items()},
            "started_at": trial.started_at,
            "ended_at": trial.ended_at,
            "duration_s": duration,
            "attempts": attempts.get(trial.trial_id, 0),
            "exit_code": trial.exit_code,
            "error": trial.error,
        })
    columns = [
        "trial_id", "status", "objective", *names, *(f"metric.{m}" for m in metric_names),
        *TIME_COLUMNS, "duration_s", "attempts", "exit_code", "error",
    ]
    return columns, [{c: row.get(c) for c in columns} for row in rows]


def curve_table(store: Store, job: str) -> list[dict[str, Any]]:
    """Every metric report of each trial's current attempt: trial_id, step, metric, value."""
    rows = []
    for trial in store.trials(job):
        for report in store.metrics(job, trial.trial_id, attempt=trial.attempt):
            value = report.value if report.value is not None else report.raw
            rows.append(
                {"trial_id": trial.trial_id, "step": report.step, "metric": report.name, "value": value}
            )
    return rows


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "results as a DataFrame need pandas: pip install 'fasthpo[pandas]' "
            "(from a checkout: pip install '.[pandas]')"
        ) from None
    return pandas


def dataframe(store: Store, job: str) -> pandas.DataFrame:
    """:func:`trial_table` as a pandas DataFrame indexed by nothing, times as UTC timestamps."""
    pd = _pandas()
    columns, rows = trial_table(store, job)
    frame = pd.DataFrame(rows, columns=columns)
    for column in TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


def load(job: str, db: str | Path | None = None, *, curves: bool = False) -> pandas.DataFrame:
    """A stored job's trials as a DataFrame (``curves=True``: its per-step reports, long format).

    Parameters
    ----------
    job
        The job's name.
    db
        The store (default ``$FASTHPO_DB`` or ``./fasthpo.db``); never created here.
    """
    pd = _pandas()
    with Store(db if db is not None else default_db_path(), create=False) as store:
        if curves:
            if store.get_job(job) is None:
                raise ConfigError("job", f"no job named {job!r} in {store.path}")
            return pd.DataFrame(curve_table(store, job), columns=CURVE_COLUMNS)
        return dataframe(store, job)
