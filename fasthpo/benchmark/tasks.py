"""Real tuning tasks on scikit-learn's bundled data sets (nothing is downloaded).

=====================  =========================================================  ==================
task                   model and hyperparameters                                  value (minimised)
=====================  =========================================================  ==================
svm-digits             SVC(rbf) on raw digits: C [1e-3, 1e3], gamma [1e-5, 10]    3-fold CV error
gbm-breast-cancer      HistGradientBoostingClassifier: learning_rate [1e-3, 1],   3-fold CV error
                       max_iter [10, 200], max_leaf_nodes [4, 64],
                       min_samples_leaf [2, 50], l2_regularization [1e-6, 10]
mlp-wine               StandardScaler → MLPClassifier(one hidden layer, adam,      3-fold CV error
                       max_iter 200): hidden_units [4, 128], alpha [1e-6, 1],
                       learning_rate_init [1e-4, 1e-1], activation relu|tanh
elasticnet-diabetes    StandardScaler → ElasticNet: alpha [1e-5, 10],             5-fold CV MSE / var(y)
                       l1_ratio [0, 1]
hgb-logloss-           HistGradientBoostingClassifier: learning_rate [1e-3, 1]    3-fold CV log-loss
breast-cancer          log, max_iter [10, 100], max_leaf_nodes [2, 64] log,
                       min_samples_leaf [1, 100] log, l2_regularization
                       [1e-4, 10] log, max_features [0.1, 1]
extratrees-diabetes    ExtraTreesRegressor: n_estimators [5, 80] log, max_depth   5-fold CV RMSE / std(y)
                       [1, 20], min_samples_split [2, 64] log, min_samples_leaf
                       [1, 64] log, max_features [0.05, 1]
svr-diabetes           StandardScaler → SelectKBest(features [1, 10]) → SVR(rbf)  5-fold CV RMSE / std(y)
                       on a standardised target: C [1e-2, 1e2], gamma
                       [1e-4, 10], epsilon [1e-3, 2], all log
sgd-logloss-digits     StandardScaler → SGDClassifier(log_loss, elasticnet,       3-fold CV log-loss
                       invscaling): alpha [1e-6, 1] log, l1_ratio [0, 1], eta0
                       [1e-4, 1] log, power_t [0.05, 1], epochs [2, 30] log
rf-logloss-wine        RandomForestClassifier: n_estimators [5, 100] log,          3-fold CV log-loss
                       max_depth [1, 16], min_samples_leaf [1, 40] log,
                       max_features [0.05, 1], max_samples [0.1, 1]
=====================  =========================================================  ==================

In the first four tasks, ranges that span decades are declared ``auto`` (as a
user who does not know the scale would), the others ``linear``. The last five
are scored continuously (log-loss, RMSE), so optimizers are told apart by more
than a few distinct error rates, and declare ``log`` where a practitioner
would: every peer then searches those ranges in log space. Every evaluation is deterministic: fixed
``random_state``, fixed shuffled folds, one thread (``n_jobs=1`` and BLAS/OpenMP
pools limited to one thread). The elastic net's mean squared error is divided by
the variance of the target, so 1 means "no better than predicting the mean".

Evaluations are cached in one SQLite file, ``<cache_dir>/evaluations.sqlite3``
(WAL mode, safe for concurrent processes), keyed by task name, a version string
(the task's own version and scikit-learn's) and the canonical JSON of the
validated configuration. Two processes computing the same configuration at once
both compute it and store the same value. scikit-learn is imported only when a
value is computed; a cache hit does not need it.

:data:`TASKS` is a plain table: the catalogue (:mod:`fasthpo.benchmark.problems`)
registers each task as a problem family.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fasthpo.benchmark.registry import Problem, canonical_json
from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace

CACHE_ENV = "FASTHPO_BENCH_CACHE"
CACHE_FILE = "evaluations.sqlite3"
_INSTALL = (
    "real tasks need scikit-learn: pip install 'fasthpo[bench]' (from a checkout: pip install '.[bench]')"
)


def default_cache_dir() -> Path:
    """``$FASTHPO_BENCH_CACHE``, else ``~/.cache/fasthpo/bench``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "fasthpo" / "bench"


def sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it."""
    try:
        return importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError("problem", f"scikit-learn is not installed: {_INSTALL}") from None


#: How long opening the cache keeps retrying a lock that SQLite reported at once.
_SETUP_PATIENCE_SECONDS = 60.0


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


class EvaluationCache:
    """A table of (task, version, config) → value in one SQLite file.

    A connection is opened per call, so instances pickle and survive ``fork``;
    writes are single ``INSERT OR IGNORE`` statements, so concurrent writers of
    the same key keep the first value (evaluations are deterministic anyway).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError("cache_dir", f"cannot open the benchmark cache {self.path}: {exc}") from exc
        # SQLite does not call its busy handler for every lock a fresh connection
        # meets (switching to WAL, or opening while the last connection of another
        # process checkpoints the log), so the setup is retried here within the
        # same patience as a locked write.
        deadline = time.monotonic() + _SETUP_PATIENCE_SECONDS
        pause = 0.005
        while True:
            try:
                self._set_up(db)
                return db
            except sqlite3.OperationalError as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    db.close()
                    raise
            except BaseException:
                db.close()
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    @staticmethod
    def _set_up(db: sqlite3.Connection) -> None:
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS evaluations (task TEXT NOT NULL, version TEXT NOT NULL, "
            "config TEXT NOT NULL, value REAL NOT NULL, seconds REAL NOT NULL, "
            "created REAL NOT NULL, PRIMARY KEY (task, version, config))"
        )

    def get(self, task: str, version: str, config: str) -> float | None:
        """The stored value, or None."""
        db = self._connect()
        try:
            row = db.execute(
                "SELECT value FROM evaluations WHERE task = ? AND version = ? AND config = ?",
                (task, version, config),
            ).fetchone()
        finally:
            db.close()
        return None if row is None else float(row[0])

    def put(self, task: str, version: str, config: str, value: float, seconds: float) -> None:
        """Store a value (the first one stored for a key wins)."""
        db = self._connect()
        try:
            db.execute(
                "INSERT OR IGNORE INTO evaluations VALUES (?, ?, ?, ?, ?, ?)",
                (task, version, config, float(value), float(seconds), time.time()),
            )
        finally:
            db.close()

    def count(self, task: str | None = None) -> int:
        """How many values are stored (for one task, or all)."""
        db = self._connect()
        try:
            if task is None:
                return int(db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM evaluations WHERE task = ?", (task,)).fetchone()[0])
        finally:
            db.close()


@dataclass(frozen=True)
class TaskFunction:
    """``config ↦ value`` for a real task: validate, look up the cache, else compute and store."""

    task: str
    version: str
    space: SearchSpace
    compute: Callable[[dict[str, Any]], float]
    cache: EvaluationCache

    def __call__(self, config: Mapping[str, Any]) -> float:
        values = self.space.validate(config)
        key = canonical_json(values)
        cached = self.cache.get(self.task, self.version, key)
        if cached is not None:
            return cached
        started = time.perf_counter()
        try:
            value = float(self.compute(values))
        except ImportError as exc:
            missing = exc.name or "a module"
            raise ConfigError("problem", f"{self.task} cannot import {missing}: {_INSTALL}") from exc
        self.cache.put(self.task, self.version, key, value, time.perf_counter() - started)
        return value


# --- the tasks: each compute function takes a validated config --------------------------------

@functools.cache
def _dataset(name: str) -> tuple[Any, Any]:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _cv_score(model: Any, dataset: str, *, folds: int, stratified: bool, scoring: str | None) -> float:
    """Mean cross-validated score on fixed shuffled folds, one thread, warnings silenced."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    X, y = _dataset(dataset)
    splitter = StratifiedKFold if stratified else KFold
    cv = splitter(n_splits=folds, shuffle=True, random_state=0)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings at extreme settings are expected
        scores = cross_val_score(model, X, y, cv=cv, scoring=scoring, n_jobs=1, error_score="raise")
    return float(scores.mean())


def svm_digits(config: dict[str, Any]) -> float:
    """3-fold CV error of an RBF SVC on the digits (raw pixels 0..16)."""
    from sklearn.svm import SVC

    model = SVC(C=config["C"], gamma=config["gamma"])
    return 1.0 - _cv_score(model, "digits", folds=3, stratified=True, scoring=None)


def gbm_breast_cancer(config: dict[str, Any]) -> float:
    """3-fold CV error of histogram gradient boosting on the breast-cancer data."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**config, early_stopping=False, random_state=0)
    return 1.0 - _cv_score(model, "breast_cancer", folds=3, stratified=True, scoring=None)


def mlp_wine(config: dict[str, Any]) -> float:
    """3-fold CV error of a one-hidden-layer MLP on the standardised wine data."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = MLPClassifier(
        hidden_layer_sizes=(config["hidden_units"],), alpha=config["alpha"],
        learning_rate_init=config["learning_rate_init"], activation=config["activation"],
        max_iter=200, random_state=0,
    )
    return 1.0 - _cv_score(make_pipeline(StandardScaler(), mlp), "wine", folds=3, stratified=True,
                           scoring=None)


def elasticnet_diabetes(config: dict[str, Any]) -> float:
    """5-fold CV mean squared error of a standardised elastic net, divided by var(y)."""
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), ElasticNet(alpha=config["alpha"], l1_ratio=config["l1_ratio"], random_state=0)
    )
    mse = -_cv_score(model, "diabetes", folds=5, stratified=False, scoring="neg_mean_squared_error")
    return mse / float(_dataset("diabetes")[1].var())


def _cv_rmse(model: Any, dataset: str, *, folds: int) -> float:
    """Cross-validated root mean squared error on fixed folds, divided by std(y)."""
    mse = -_cv_score(model, dataset, folds=folds, stratified=False, scoring="neg_mean_squared_error")
    return math.sqrt(mse) / float(_dataset(dataset)[1].std())


def _cv_log_loss(model: Any, dataset: str, *, folds: int) -> float:
    """Cross-validated log-loss (cross-entropy, nats) on fixed stratified folds."""
    return -_cv_score(model, dataset, folds=folds, stratified=True, scoring="neg_log_loss")


def hgb_logloss_breast_cancer(config: dict[str, Any]) -> float:
    """3-fold CV log-loss of histogram gradient boosting on the breast-cancer data."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**config, early_stopping=False, random_state=0)
    return _cv_log_loss(model, "breast_cancer", folds=3)


def extratrees_diabetes(config: dict[str, Any]) -> float:
    """5-fold CV RMSE / std(y) of an extra-trees regressor on the diabetes data."""
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(**config, random_state=0, n_jobs=1)
    return _cv_rmse(model, "diabetes", folds=5)


def svr_diabetes(config: dict[str, Any]) -> float:
    """5-fold CV RMSE / std(y) of scaling → k best features → RBF SVR on a standardised target."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.feature_selection import SelectKBest, f_regression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    pipeline = make_pipeline(
        StandardScaler(), SelectKBest(f_regression, k=config["features"]),
        SVR(C=config["C"], gamma=config["gamma"], epsilon=config["epsilon"]),
    )
    model = TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())
    return _cv_rmse(model, "diabetes", folds=5)


def sgd_logloss_digits(config: dict[str, Any]) -> float:
    """3-fold CV log-loss of a standardised elastic-net logistic SGD classifier on the digits."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sgd = SGDClassifier(
        loss="log_loss", penalty="elasticnet", alpha=config["alpha"], l1_ratio=config["l1_ratio"],
        learning_rate="invscaling", eta0=config["eta0"], power_t=config["power_t"],
        max_iter=config["epochs"], tol=None, random_state=0,
    )
    return _cv_log_loss(make_pipeline(StandardScaler(), sgd), "digits", folds=3)


def rf_logloss_wine(config: dict[str, Any]) -> float:
    """3-fold CV log-loss of a random forest on the wine data."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(**config, random_state=0, n_jobs=1)
    return _cv_log_loss(model, "wine", folds=3)


@dataclass(frozen=True)
class TaskSpec:
    """A real task: what it is, its space, how a value is computed, and its version.

    Bump ``version`` whenever ``compute`` changes what it returns, so stale cached
    values are not reused.
    """

    description: str
    space: Callable[[], SearchSpace]
    compute: Callable[[dict[str, Any]], float]
    version: str = "1"


TASKS: dict[str, TaskSpec] = {
    "svm-digits": TaskSpec(
        "SVC on digits: C, gamma (both spanning decades); 3-fold CV error",
        lambda: SearchSpace([
            Continuous("C", 1e-3, 1e3, scaling="auto"),
            Continuous("gamma", 1e-5, 10.0, scaling="auto"),
        ]),
        svm_digits,
    ),
    "gbm-breast-cancer": TaskSpec(
        "gradient boosting on breast cancer: 5 hyperparameters, 3 integer; 3-fold CV error",
        lambda: SearchSpace([
            Continuous("learning_rate", 1e-3, 1.0, scaling="auto"),
            Integer("max_iter", 10, 200, scaling="linear"),
            Integer("max_leaf_nodes", 4, 64, scaling="linear"),
            Integer("min_samples_leaf", 2, 50, scaling="linear"),
            Continuous("l2_regularization", 1e-6, 10.0, scaling="auto"),
        ]),
        gbm_breast_cancer,
    ),
    "mlp-wine": TaskSpec(
        "MLP on wine: width, alpha, learning rate, activation; 3-fold CV error",
        lambda: SearchSpace([
            Integer("hidden_units", 4, 128, scaling="auto"),
            Continuous("alpha", 1e-6, 1.0, scaling="auto"),
            Continuous("learning_rate_init", 1e-4, 1e-1, scaling="auto"),
            Categorical("activation", ("relu", "tanh")),
        ]),
        mlp_wine,
    ),
    "elasticnet-diabetes": TaskSpec(
        "elastic net on diabetes: alpha, l1_ratio; 5-fold CV MSE / var(y)",
        lambda: SearchSpace([
            Continuous("alpha", 1e-5, 10.0, scaling="auto"),
            Continuous("l1_ratio", 0.0, 1.0, scaling="linear"),
        ]),
        elasticnet_diabetes,
    ),
    "hgb-logloss-breast-cancer": TaskSpec(
        "gradient boosting on breast cancer: 6 hyperparameters, 3 integer, 3 log; 3-fold CV log-loss",
        lambda: SearchSpace([
            Continuous("learning_rate", 1e-3, 1.0, scaling="log"),
            Integer("max_iter", 10, 100, scaling="linear"),
            Integer("max_leaf_nodes", 2, 64, scaling="log"),
            Integer("min_samples_leaf", 1, 100, scaling="log"),
            Continuous("l2_regularization", 1e-4, 10.0, scaling="log"),
            Continuous("max_features", 0.1, 1.0, scaling="linear"),
        ]),
        hgb_logloss_breast_cancer,
    ),
    "extratrees-diabetes": TaskSpec(
        "extra trees on diabetes: 5 hyperparameters, 4 integer; 5-fold CV RMSE / std(y)",
        lambda: SearchSpace([
            Integer("n_estimators", 5, 80, scaling="log"),
            Integer("max_depth", 1, 20, scaling="linear"),
            Integer("min_samples_split", 2, 64, scaling="log"),
            Integer("min_samples_leaf", 1, 64, scaling="log"),
            Continuous("max_features", 0.05, 1.0, scaling="linear"),
        ]),
        extratrees_diabetes,
    ),
    "svr-diabetes": TaskSpec(
        "RBF SVR on diabetes: k best features, C, gamma, epsilon (log); 5-fold CV RMSE / std(y)",
        lambda: SearchSpace([
            Integer("features", 1, 10, scaling="linear"),
            Continuous("C", 1e-2, 1e2, scaling="log"),
            Continuous("gamma", 1e-4, 10.0, scaling="log"),
            Continuous("epsilon", 1e-3, 2.0, scaling="log"),
        ]),
        svr_diabetes,
    ),
    "sgd-logloss-digits": TaskSpec(
        "elastic-net logistic SGD on digits: 5 hyperparameters, 3 log; 3-fold CV log-loss",
        lambda: SearchSpace([
            Continuous("alpha", 1e-6, 1.0, scaling="log"),
            Continuous("l1_ratio", 0.0, 1.0, scaling="linear"),
            Continuous("eta0", 1e-4, 1.0, scaling="log"),
            Continuous("power_t", 0.05, 1.0, scaling="linear"),
            Integer("epochs", 2, 30, scaling="log"),
        ]),
        sgd_logloss_digits,
    ),
    "rf-logloss-wine": TaskSpec(
        "random forest on wine: 5 hyperparameters, 4 integer; 3-fold CV log-loss",
        lambda: SearchSpace([
            Integer("n_estimators", 5, 100, scaling="log"),
            Integer("max_depth", 1, 16, scaling="linear"),
            Integer("min_samples_leaf", 1, 40, scaling="log"),
            Continuous("max_features", 0.05, 1.0, scaling="linear"),
            Continuous("max_samples", 0.1, 1.0, scaling="linear"),
        ]),
        rf_logloss_wine,
    ),
}


def build_task(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Problem:
    """The real task ``name`` as a :class:`Problem` (``optimum=None``), cached under ``cache_dir``."""
    spec = TASKS[name]
    version = f"{spec.version}/scikit-learn-{sklearn_version()}"
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    space = spec.space()
    cache = EvaluationCache(folder.expanduser() / CACHE_FILE)
    return Problem(name, space, TaskFunction(name, version, space, spec.compute, cache))

