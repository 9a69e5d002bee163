"""``FastSearchCV``: a scikit-learn search estimator proposing with fasthpo's Bayesian optimizer.

::

    from scipy.stats import loguniform
    from fasthpo.integrations.sklearn import FastSearchCV

    search = FastSearchCV(
        make_pipeline(StandardScaler(), SVC()),
        {"svc__C": loguniform(1e-3, 1e3), "svc__kernel": ["rbf", "poly"]},
        n_iter=30, cv=5, random_state=0,
    )
    search.fit(X, y)
    search.best_params_, search.best_score_, search.cv_results_

It follows scikit-learn's ``BaseSearchCV`` (``cv_results_``,
``best_params_``, ``best_estimator_``, ``best_score_``, ``refit``, multi-metric
``scoring``, ``error_score``): ``_run_search`` asks the optimizer for a batch
of candidates (each batch proposed together, the later ones seeing the earlier
as pending), has scikit-learn cross-validate them in parallel, and tells the
optimizer each candidate's mean test score (the ``refit`` metric when several
are scored). A candidate whose fits failed (a NaN score) is not told.

The search space maps parameter names (``step__param`` for pipelines) to:

* a fasthpo :class:`~fasthpo.space.Continuous`, :class:`~fasthpo.space.Integer`
  or :class:`~fasthpo.space.Categorical` (its own name is ignored);
* a frozen ``scipy.stats`` distribution: ``loguniform``/``reciprocal`` (a log
  range), ``uniform`` (a linear range) or ``randint`` (an integer range);
* a list of values (a categorical of up to 30 values of any type).

Needs the ``sklearn`` extra: ``pip install 'fasthpo[sklearn]'``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    from sklearn.model_selection._search import BaseSearchCV
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fasthpo.integrations.sklearn needs scikit-learn: pip install 'fasthpo[sklearn]' "
        "(from a checkout: pip install '.[sklearn]')"
    ) from exc

import numpy as np

from fasthpo.space import MAX_CATEGORICAL_VALUES, Categorical, Continuous, Integer, Parameter, SearchSpace
from fasthpo.strategies.bayesian import BayesianOptimizer

__all__ = ["FastSearchCV", "search_space_from"]

#: How a fasthpo value becomes the estimator's parameter value.
Decoder = Callable[[Any], Any]


def _from_scipy(key: str, dist: Any, internal: str) -> Parameter:
    name = getattr(getattr(dist, "dist", None), "name", None)
    args = tuple(getattr(dist, "args", ()))
    kwds = dict(getattr(dist, "kwds", {}))
    if name in ("loguniform", "reciprocal"):
        low, high = _args(key, name, args, kwds, ("a", "b"))
        scale = kwds.get("scale", 1.0)
        return Continuous(internal, low * scale, high * scale, scaling="log")
    if name == "uniform":
        loc, scale = (list(args) + [kwds.get("loc", 0.0), kwds.get("scale", 1.0)][len(args):])[:2]
        return Continuous(internal, float(loc), float(loc) + float(scale), scaling="linear")
    if name == "randint":
        low, high = _args(key, name, args, kwds, ("low", "high"))
        loc = kwds.get("loc", 0)
        return Integer(internal, int(low) + loc, int(high) - 1 + loc, scaling="linear")
    raise ValueError(
        f"search_space[{key!r}]: the scipy.stats distribution {name!r} is not supported; use "
        "loguniform, uniform or randint (bounded ranges), a list, or a fasthpo parameter"
    )


def _args(
    key: str, name: str, args: tuple[Any, ...], kwds: Mapping[str, Any], names: tuple[str, str]
) -> tuple[float, float]:
    values = list(args) + [kwds[n] for n in names[len(args):] if n in kwds]
    if len(values) < 2:
        raise ValueError(f"search_space[{key!r}]: {name} needs both bounds, got {args!r} {dict(kwds)!r}")
    return float(values[0]), float(values[1])


def search_space_from(space: Mapping[str, Any]) -> tuple[SearchSpace, dict[str, tuple[str, Decoder]]]:
    """The fasthpo space of a ``search_space`` mapping, and each coordinate's parameter name and decoder.

    Coordinates are named ``p0``, ``p1``, ...: scikit-learn's names need not
    be identifiers fasthpo accepts.
    """
    if not isinstance(space, Mapping) or not space:
        raise ValueError(f"search_space must be a non-empty dict of parameter name to range, got {space!r}")
    params: list[Parameter] = []
    decoders: dict[str, tuple[str, Decoder]] = {}
    for i, (key, spec) in enumerate(space.items()):
        internal = f"p{i}"
        decode: Decoder = _identity
        if isinstance(spec, (Continuous, Integer, Categorical)):
            param: Parameter = dataclasses.replace(spec, name=internal)
            if isinstance(spec, Integer):
                decode = int
        elif hasattr(spec, "rvs") and hasattr(spec, "dist"):
            param = _from_scipy(str(key), spec, internal)
            decode = int if isinstance(param, Integer) else float
        elif isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
            choices = list(spec)
            if not choices or len(choices) > MAX_CATEGORICAL_VALUES:
                raise ValueError(
                    f"search_space[{key!r}]: a list needs 1 to {MAX_CATEGORICAL_VALUES} values, "
                    f"got {len(choices)}"
                )
            param = Categorical(internal, tuple(range(len(choices))))
            decode = _chooser(choices)
        else:
            raise ValueError(
                f"search_space[{key!r}]: {spec!r} is not a range; use a list, a scipy.stats "
                "distribution (loguniform, uniform, randint) or a fasthpo parameter"
            )
        params.append(param)
        decoders[internal] = (str(key), decode)
    return SearchSpace(params, max_tunable=len(params)), decoders


def _identity(value: Any) -> Any:
    return value


def _chooser(choices: list[Any]) -> Decoder:
    return lambda index: choices[int(index)]


class FastSearchCV(BaseSearchCV):
    """Cross-validated search over ``search_space``, proposed by fasthpo's GP optimizer.

    Parameters
    ----------
    estimator
        The estimator (or pipeline) to tune.
    search_space
        Parameter name → fasthpo parameter, scipy.stats distribution or list (see the module).
    n_iter
        Candidates to evaluate.
    batch_size
        Candidates proposed and cross-validated together (default: ``n_jobs``'s
        effective value, at least 1).
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in scikit-learn's ``RandomizedSearchCV``.
    random_state
        Seed of the optimizer (an int, ``None`` or a ``RandomState``).
    """

    def __init__(
        self,
        estimator: Any,
        search_space: Mapping[str, Any],
        *,
        n_iter: int = 20,
        batch_size: int | None = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        pre_dispatch: Any = "2*n_jobs",
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
    ) -> None:
        super().__init__(
            estimator=estimator, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
            pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score,
        )
        self.search_space = search_space
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.random_state = random_state

    def _run_search(self, evaluate_candidates: Callable[..., dict[str, Any]]) -> None:
        """Ask a batch, cross-validate it, tell the scores; until ``n_iter`` candidates ran."""
        from joblib import effective_n_jobs

        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, numbers.Integral) or self.n_iter < 1:
            raise ValueError(f"n_iter must be a positive integer, got {self.n_iter!r}")
        space, decoders = search_space_from(self.search_space)
        optimizer = BayesianOptimizer(space, seed=self._seed(), direction="maximize")
        batch = self.batch_size or max(1, effective_n_jobs(self.n_jobs))
        done = 0
        while done < self.n_iter:
            configs = optimizer.ask(min(batch, self.n_iter - done))
            if not configs:
                break  # a finite space is used up
            candidates = [
                {decoders[k][0]: decoders[k][1](v) for k, v in config.items()} for config in configs
            ]
            results = evaluate_candidates(candidates)
            scores = results[self._score_key(results)][-len(configs):]
            for config, score in zip(configs, scores, strict=True):
                if math.isfinite(float(score)):
                    optimizer.tell(config, float(score))
            done += len(configs)

    def _score_key(self, results: Mapping[str, Any]) -> str:
        if "mean_test_score" in results:
            return "mean_test_score"
        if isinstance(self.refit, str):
            return f"mean_test_{self.refit}"
        # Several metrics and a callable or no refit: follow the first.
        return next(k for k in results if k.startswith("mean_test_"))

    def _seed(self) -> int | None:
        state = self.random_state
        if state is None or isinstance(state, numbers.Integral):
            return None if state is None else int(state)
        if isinstance(state, np.random.RandomState):
            return int(state.randint(2**31))
        raise ValueError(f"random_state must be an int, None or a RandomState, got {state!r}")
