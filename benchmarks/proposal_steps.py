"""Where sequential proposals go: step from the incumbent, distance to the optimum, the fit.

Drives one optimizer by ask/tell on a benchmark problem with a known minimiser and
prints, for every evaluation, one JSON record: its value and the best so far, the
root-mean-square distance (unit box) of the proposal from the incumbent ("dinc")
and from the minimiser ("dopt"), and the model's lengthscales (geometric mean,
smallest, largest) and noise when the optimizer exposes them. For ``botorch`` the
hyperparameters are read after each of its fits (run it with the Python that has
BoTorch installed). docs/benchmarks.md ("Ackley-20 diagnosed") compares the two.

    python benchmarks/proposal_steps.py ackley-20 fasthpo-bayesian 0 [--budget 50]
    python benchmarks/proposal_steps.py ackley-20 botorch 0
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from fasthpo.benchmark.problems import get_problem


def _botorch_with_fit_log(space: Any, seed: int, log: list[dict[str, float]]) -> Any:
    """BoTorch's peer, with the hyperparameters of each fit appended to ``log``."""
    import botorch.fit

    original = botorch.fit.fit_gpytorch_mll

    def fit_and_log(mll: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(mll, *args, **kwargs)
        kernel = mll.model.covar_module
        kernel = getattr(kernel, "base_kernel", kernel)
        ls = kernel.lengthscale.detach().numpy().ravel()
        log.append({"ls_gm": float(np.exp(np.mean(np.log(ls)))), "ls_min": float(ls.min()),
                    "ls_max": float(ls.max()), "noise": float(mll.model.likelihood.noise.item())})
        return result

    botorch.fit.fit_gpytorch_mll = fit_and_log  # the peer imports it at each ask
    from fasthpo.benchmark.botorch_peer import BoTorchGP

    return BoTorchGP(space, seed)


def steps(problem_name: str, optimizer: str, seed: int, budget: int) -> list[dict[str, Any]]:
    """Run one sequential optimisation; return one record per evaluation."""
    problem = get_problem(problem_name)
    if problem.minimizer is None:
        raise SystemExit(f"{problem_name} has no known minimiser")
    names = [p.name for p in problem.space]
    low = np.array([float(p.low) for p in problem.space])  # type: ignore[attr-defined]
    high = np.array([float(p.high) for p in problem.space])  # type: ignore[attr-defined]

    def unit(config: Any) -> np.ndarray:
        return (np.array([float(config[n]) for n in names]) - low) / (high - low)

    optimum = unit(problem.minimizer)
    fits: list[dict[str, float]] = []
    if optimizer == "botorch":
        opt = _botorch_with_fit_log(problem.space, seed, fits)
    elif optimizer == "fasthpo-bayesian":
        from fasthpo.strategies.bayesian import BayesianOptimizer

        opt = BayesianOptimizer(problem.space, seed=seed)
    else:
        raise SystemExit(f"optimizer must be fasthpo-bayesian or botorch, got {optimizer!r}")
    best, incumbent = np.inf, None
    records = []
    for step in range(budget):
        (config,) = opt.ask(1)
        fit: dict[str, float] = {}
        if optimizer == "fasthpo-bayesian" and opt._hp is not None and step >= opt.n_initial:
            ls = opt._hp.lengthscales
            fit = {"ls_gm": float(np.exp(np.mean(np.log(ls)))), "ls_min": float(ls.min()),
                   "ls_max": float(ls.max()), "noise": opt._hp.noise}
        elif fits:
            fit = fits[-1]
        value = problem.evaluate(config)
        opt.tell(config, value)
        z = unit(config)
        records.append({
            "step": step, "value": value, "best": min(best, value),
            "dinc": float(np.sqrt(np.mean((z - incumbent) ** 2))) if incumbent is not None else None,
            "dopt": float(np.sqrt(np.mean((z - optimum) ** 2))), **fit,
        })
        if value < best:
            best, incumbent = value, z
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problem")
    parser.add_argument("optimizer", choices=["fasthpo-bayesian", "botorch"])
    parser.add_argument("seed", type=int)
    parser.add_argument("--budget", type=int, default=50)
    args = parser.parse_args()
    for record in steps(args.problem, args.optimizer, args.seed, args.budget):
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
