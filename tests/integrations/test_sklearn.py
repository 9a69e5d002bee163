"""FastSearchCV under scikit-learn's conventions: results, refit, pipelines, scipy distributions."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from joblib import parallel_backend
from scipy.stats import loguniform, norm, randint, uniform
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from fasthpo.integrations.sklearn import FastSearchCV, search_space_from
from fasthpo.space import Categorical, Continuous, Integer

X, y = load_iris(return_X_y=True)


def test_a_pipeline_search_has_scikit_learns_results():
    search = FastSearchCV(
        make_pipeline(StandardScaler(), SVC()),
        {"svc__C": loguniform(1e-3, 1e3), "svc__gamma": loguniform(1e-4, 1e1),
         "svc__kernel": ["rbf", "linear"]},
        n_iter=12, cv=3, random_state=0,
    )
    search.fit(X, y)
    results = search.cv_results_
    assert len(results["params"]) == 12
    assert set(search.best_params_) == {"svc__C", "svc__gamma", "svc__kernel"}
    assert search.best_score_ == pytest.approx(np.nanmax(results["mean_test_score"]))
    assert results["rank_test_score"][search.best_index_] == 1
    assert search.best_estimator_.named_steps["svc"].C == search.best_params_["svc__C"]
    assert search.score(X, y) > 0.9 and search.predict(X).shape == y.shape
    for params in results["params"]:
        assert 1e-3 <= params["svc__C"] <= 1e3 and params["svc__kernel"] in ("rbf", "linear")


def test_scipy_distributions_lists_and_fasthpo_parameters_map_onto_the_space():
    space, decoders = search_space_from({
        "C": loguniform(1e-3, 1e3), "tol": uniform(0.1, 0.4), "depth": randint(2, 9),
        "kind": ["a", None, 3], "alpha": Continuous("ignored", 0.0, 1.0, scaling="linear"),
        "n": Integer("x", 1, 5), "flag": Categorical("y", (True, False)),
    })
    p = space.parameters
    assert (p[0].low, p[0].high, p[0].scaling) == (pytest.approx(1e-3), pytest.approx(1e3), "log")
    assert (p[1].low, p[1].high, p[1].scaling) == (0.1, pytest.approx(0.5), "linear")
    assert (p[2].low, p[2].high) == (2, 8)  # randint's high is excluded
    assert decoders["p3"][0] == "kind" and decoders["p3"][1](1) is None
    assert [d[0] for d in decoders.values()] == ["C", "tol", "depth", "kind", "alpha", "n", "flag"]
    with pytest.raises(ValueError, match=r"search_space\['w'\]: the scipy.stats distribution 'norm"):
        search_space_from({"w": norm(0, 1)})
    with pytest.raises(ValueError, match=r"search_space\['w'\]: 'oops' is not a range"):
        search_space_from({"w": "oops"})


def test_multi_metric_scoring_follows_the_refit_metric():
    search = FastSearchCV(
        LogisticRegression(max_iter=200), {"C": loguniform(1e-4, 1e2)}, n_iter=6, cv=3,
        scoring={"accuracy": "accuracy", "f1": "f1_macro"}, refit="f1", random_state=1,
    )
    search.fit(X, y)
    assert "mean_test_accuracy" in search.cv_results_ and "mean_test_f1" in search.cv_results_
    assert search.best_score_ == pytest.approx(max(search.cv_results_["mean_test_f1"]))


def test_batches_run_in_parallel_with_distinct_candidates():
    search = FastSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": randint(1, 20), "min_samples_leaf": randint(1, 30)},
        n_iter=12, cv=3, n_jobs=2, batch_size=4, random_state=2,
    )
    with parallel_backend("threading"):  # n_jobs as scikit-learn runs it, without spawning processes
        search.fit(X, y)
    pairs = {(p["max_depth"], p["min_samples_leaf"]) for p in search.cv_results_["params"]}
    assert len(pairs) == 12  # each batch's later proposals saw the earlier ones as pending
    assert all(isinstance(p["max_depth"], int) for p in search.cv_results_["params"])


def test_the_same_random_state_gives_the_same_search():
    def run():
        search = FastSearchCV(LogisticRegression(max_iter=200), {"C": loguniform(1e-4, 1e2)},
                              n_iter=8, cv=3, random_state=3)
        return [p["C"] for p in search.fit(X, y).cv_results_["params"]]

    assert run() == run()


class _Fragile(BaseEstimator, ClassifierMixin):
    """A classifier whose fit fails above a threshold of its one parameter (a diverging setting)."""

    def __init__(self, x=0.5):
        self.x = x

    def fit(self, X, y):
        if self.x > 0.7:
            raise FloatingPointError("diverged")
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y):
        return 1.0 - abs(self.x - 0.3)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_failed_fits_score_nan_and_the_search_goes_on():
    search = FastSearchCV(_Fragile(), {"x": uniform(0, 1)}, n_iter=10, cv=2, batch_size=5,
                          random_state=4, error_score=np.nan)
    with pytest.warns(FitFailedWarning, match="fits failed"):
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    xs = [p["x"] for p in search.cv_results_["params"]]
    assert any(np.isnan(scores)) and not all(np.isnan(scores))
    assert all(np.isnan(s) == (x > 0.7) for s, x in zip(scores, xs, strict=True))
    assert search.best_params_["x"] <= 0.7


def test_estimator_conventions():
    search = FastSearchCV(SVC(), {"C": loguniform(1e-2, 1e2)}, n_iter=3, cv=2)
    twin = clone(search)
    assert twin.get_params()["n_iter"] == 3 and twin.search_space is not None
    twin.set_params(n_iter=4, estimator__kernel="linear")
    assert twin.n_iter == 4 and twin.estimator.kernel == "linear"
    with pytest.raises(NotFittedError):
        search.predict(X)
    with pytest.raises(ValueError, match="n_iter must be a positive integer"):
        FastSearchCV(SVC(), {"C": [1, 2]}, n_iter=0).fit(X, y)


def test_it_finds_a_better_model_than_random_search_on_a_bundled_data_set():
    Xb, yb = load_breast_cancer(return_X_y=True)
    space = {"logisticregression__C": loguniform(1e-5, 1e3)}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    fast = FastSearchCV(model, space, n_iter=10, cv=3, random_state=0).fit(Xb, yb)
    rand = RandomizedSearchCV(model, space, n_iter=10, cv=3, random_state=0).fit(Xb, yb)
    assert fast.best_score_ >= rand.best_score_ - 0.005
