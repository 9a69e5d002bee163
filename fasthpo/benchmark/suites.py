"""Named benchmark suites: ``quick`` (seconds, runs in CI) and ``full`` (the published tables).

The full suite is hours of CPU (15 problems × 6 optimizers × 10 seeds; a BoTorch
run alone takes minutes): run it with ``--workers`` on a quiet machine, or
cut it with ``--problems``/``--seeds`` and combine saved results with ``--from``. The
runs behind the published table are kept in ``benchmarks/full-suite-peers.jsonl.gz``
and ``benchmarks/full-suite-fasthpo.jsonl.gz``, so a change to fasthpo can be
reported beside the peers without running them again.

A suite is only a default plan; every list can be overridden on the command line.
Optimizers whose library is not installed are skipped with one line each, so
the quick suite runs on a bare install with fasthpo's own strategies alone.
"""

from __future__ import annotations

from fasthpo.benchmark.runner import BenchmarkPlan
from fasthpo.errors import ConfigError

PEERS = ("optuna-tpe", "optuna-gp", "skopt-gp")

SUITES: dict[str, BenchmarkPlan] = {
    "quick": BenchmarkPlan(
        problems=(
            "branin",
            "hartmann3",
            "levy-4+dead2",
            "hartmann3+noise0.05",
            "branin+log-auto",
            "ackley-4+mixed",
            "elasticnet-diabetes",
        ),
        optimizers=("fasthpo-bayesian", "fasthpo-random", *PEERS),
        budget=15,
        seeds=3,
    ),
    "full": BenchmarkPlan(
        problems=(
            "branin",
            "hartmann6",
            "levy-10",
            "rosenbrock-10",
            "ackley-20",
            "styblinski-tang-5",
            "hartmann6+noise0.1",
            "levy-6+log3-auto",
            "ackley-6+mixed",
            "gbm-breast-cancer",
            "hgb-logloss-breast-cancer",
            "extratrees-diabetes",
            "svr-diabetes",
            "sgd-logloss-digits",
            "rf-logloss-wine",
        ),
        # BoTorch only here: a run takes minutes, and it is skipped where not installed.
        optimizers=("fasthpo-bayesian", "fasthpo-random", *PEERS, "botorch"),
        budget=50,
        seeds=10,  # five seeds are too few to tell close optimizers apart
    ),
}


def get_suite(name: str) -> BenchmarkPlan:
    """The plan of a named suite."""
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(
            "suite", f"unknown suite {name!r}; choose one of {', '.join(SUITES)}"
        ) from None
