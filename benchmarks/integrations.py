"""fasthpo inside Optuna and scikit-learn, side by side with their own optimizers (short runs).

``python benchmarks/integrations.py optuna``: the same Optuna studies (problems of
``fasthpo bench``, their spaces declared as Optuna distributions) run with
``FastGPSampler``, Optuna's ``GPSampler`` (needs torch) and ``TPESampler``;
reports the median final regret and the sampler's time per trial.

``python benchmarks/integrations.py sklearn``: ``FastSearchCV``, scikit-optimize's
``BayesSearchCV``, Optuna's ``OptunaSearchCV`` (optuna-integration) and
``RandomizedSearchCV`` on two bundled data sets: best CV score, held-out score
and wall time. A peer that is not installed is reported and skipped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from threadpoolctl import threadpool_limits


def _optuna_distributions(space: Any) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from fasthpo.space import Categorical, Integer

    out: dict[str, Any] = {}
    for p in space:
        if isinstance(p, Categorical):
            out[p.name] = CategoricalDistribution(list(p.values))
        elif isinstance(p, Integer):
            out[p.name] = IntDistribution(p.low, p.high, log=p.scaling == "log")
        else:
            out[p.name] = FloatDistribution(p.low, p.high, log=p.scaling == "log")
    return out


def _samplers(seed: int) -> dict[str, Any]:
    import optuna

    from fasthpo.integrations.optuna import FastGPSampler

    samplers: dict[str, Any] = {
        "FastGPSampler": lambda: FastGPSampler(seed=seed),
        "TPESampler": lambda: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    }
    try:
        import torch  # noqa: F401

        samplers["GPSampler"] = lambda: optuna.samplers.GPSampler(seed=seed)
    except ImportError:
        print("GPSampler: unavailable (needs torch)", file=sys.stderr)
    return samplers


def optuna_bench(problems: list[str], budget: int, seeds: int) -> None:
    import optuna

    from fasthpo.benchmark.problems import get_problem

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for name in problems:
        problem = get_problem(name)
        distributions = _optuna_distributions(problem.space)
        for seed in range(seeds):
            for label, make in _samplers(seed).items():
                study = optuna.create_study(sampler=make())
                evaluation = 0.0
                start = time.perf_counter()
                for _ in range(budget):  # ask/tell: the objective's own time is not the sampler's
                    trial = study.ask(distributions)
                    t0 = time.perf_counter()
                    value = problem.evaluate(trial.params, seed=seed)
                    evaluation += time.perf_counter() - t0
                    study.tell(trial, value)
                per_trial = (time.perf_counter() - start - evaluation) / budget
                best = min(problem.true_value(t.params) for t in study.trials)
                regret = best - (problem.optimum or 0.0)
                rows.setdefault((name, label), []).append((regret, per_trial))
                print(f"{name} {label} seed {seed}: regret {regret:.4g}, {per_trial * 1e3:.0f} ms/trial",
                      file=sys.stderr)
    print(f"\n| problem | sampler | median regret ({budget} trials, {seeds} seeds) | ms per trial |")
    print("|---|---|---|---|")
    for (name, label), values in rows.items():
        regret = statistics.median(v[0] for v in values)
        ms = statistics.median(v[1] for v in values) * 1e3
        print(f"| {name} | {label} | {regret:.3g} | {ms:.0f} |")


def sklearn_bench(n_iter: int, seeds: int) -> None:
    from scipy.stats import loguniform, uniform
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RandomizedSearchCV, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from fasthpo.integrations.sklearn import FastSearchCV

    tasks = {
        "digits / SVC(C, gamma)": (
            load_digits(return_X_y=True), SVC(),
            {"C": (1e-3, 1e3), "gamma": (1e-5, 1e-1)},
        ),
        "breast_cancer / LogisticRegression(C, l1_ratio)": (
            load_breast_cancer(return_X_y=True),
            make_pipeline(StandardScaler(), LogisticRegression(solver="saga", max_iter=300)),
            {"logisticregression__C": (1e-4, 1e2), "logisticregression__l1_ratio": (0.0, 1.0)},
        ),
    }

    def searches(estimator: Any, bounds: dict[str, tuple[float, float]], seed: int) -> dict[str, Any]:
        def log(name: str) -> bool:
            return not name.endswith("l1_ratio")

        scipy_space = {
            k: loguniform(*b) if log(k) else uniform(b[0], b[1] - b[0])
            for k, b in bounds.items()
        }
        out: dict[str, Any] = {
            "FastSearchCV": lambda: FastSearchCV(
                estimator, scipy_space, n_iter=n_iter, cv=3, random_state=seed
            ),
            "RandomizedSearchCV": lambda: RandomizedSearchCV(
                estimator, scipy_space, n_iter=n_iter, cv=3, random_state=seed
            ),
        }
        try:
            from skopt import BayesSearchCV
            from skopt.space import Real

            skopt_space = {
                k: Real(*b, prior="log-uniform" if log(k) else "uniform") for k, b in bounds.items()
            }
            out["BayesSearchCV (skopt)"] = lambda: BayesSearchCV(
                estimator, skopt_space, n_iter=n_iter, cv=3, random_state=seed
            )
        except ImportError:
            print("BayesSearchCV: unavailable (pip install scikit-optimize)", file=sys.stderr)
        try:
            from optuna.distributions import FloatDistribution
            from optuna_integration import OptunaSearchCV

            optuna_space = {k: FloatDistribution(*b, log=log(k)) for k, b in bounds.items()}
            out["OptunaSearchCV (TPE)"] = lambda: OptunaSearchCV(
                estimator, optuna_space, n_trials=n_iter, cv=3, random_state=seed, verbose=0
            )
        except ImportError:
            print("OptunaSearchCV: unavailable (pip install optuna-integration)", file=sys.stderr)
        return out

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for task, ((X, y), estimator, bounds) in tasks.items():
        for seed in range(seeds):
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
            for label, make in searches(estimator, bounds, seed).items():
                try:
                    search = make()
                except ImportError as exc:  # a peer's own optional dependency
                    print(f"{label}: unavailable ({exc})", file=sys.stderr)
                    continue
                start = time.perf_counter()
                search.fit(X_train, y_train)
                wall = time.perf_counter() - start
                rows.setdefault((task, label), []).append(
                    (search.best_score_, search.score(X_test, y_test), wall)
                )
                print(f"{task} {label} seed {seed}: cv {search.best_score_:.4f} in {wall:.1f} s",
                      file=sys.stderr)
    print(f"\n| data set / model | search | best CV score | held-out score | wall s "
          f"(median of {seeds} seeds, {n_iter} candidates, cv=3) |")
    print("|---|---|---|---|---|")
    for (task, label), values in rows.items():
        cv, test, wall = (statistics.median(v[i] for v in values) for i in range(3))
        print(f"| {task} | {label} | {cv:.4f} | {test:.4f} | {wall:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("optuna", "sklearn"))
    parser.add_argument("--problems", nargs="+", default=["branin", "hartmann6", "levy-4+mixed"])
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-iter", type=int, default=20)
    args = parser.parse_args()
    with threadpool_limits(limits=1):  # every search single-threaded: a fair, shared-machine-proof comparison
        if args.which == "optuna":
            optuna_bench(args.problems, args.budget, args.seeds)
        else:
            sklearn_bench(args.n_iter, args.seeds)


if __name__ == "__main__":
    main()
