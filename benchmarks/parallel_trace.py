"""Trace of asynchronous proposals: what the Bayesian optimizer saw and chose at each step.

Simulates q workers on a benchmark problem as ``fasthpo bench --parallel`` does
(``--arrival fifo``: the oldest trial ends first; ``random``: exponential
durations from the seed) and prints, for every model-based proposal: real
observations n, pending count, the regret of the incumbent so far, the
incumbent and the fantasies (in the model's standardised units), the lengthscales,
the LogEI of the chosen point, its distance to the incumbent and to the nearest
pending point (unit cube), and the regret of its result once it came back.
``--json FILE`` also writes every record.

    python benchmarks/parallel_trace.py --problem hartmann6 --seed 3 --parallel 8 \\
        [--batch marginal|capped|believer|liar-min|liar-mean|liar-max|sampled|penalised] [--budget 50]
"""

from __future__ import annotations

import argparse
import heapq
import json

import numpy as np

from fasthpo.benchmark.problems import get_problem
from fasthpo.strategies.bayesian import BATCH_MODES, BayesianOptimizer


def trace(problem_name: str, seed: int, q: int, budget: int, batch: str,
          arrival: str) -> list[dict]:
    """Run one simulated asynchronous optimisation; return one record per proposal."""
    problem = get_problem(problem_name)
    opt = BayesianOptimizer(problem.space, seed=seed, direction="minimize", batch=batch)
    opt.trace = []
    durations = np.random.default_rng([seed, 0x5EED])
    pending: list[tuple[float, int, dict]] = []
    clock, asked, records = 0.0, 0, []
    best_true = np.inf
    best_seen = np.inf

    def ask(k: int) -> None:
        nonlocal asked
        before = len(opt.trace)
        configs = opt.ask(k, pending=[c for _, _, c in pending])
        for i, config in enumerate(configs):
            lasts = float(durations.exponential()) if arrival == "random" else 1.0
            heapq.heappush(pending, (clock + lasts, asked, config))
            asked += 1
            entry = opt.trace[before + i] if len(opt.trace) > before + i else None
            records.append({"asked": asked, "regret_so_far": best_true - problem.optimum,
                            **(entry or {"initial": True})})

    ask(min(q, budget))
    incumbent_z = None
    for _ in range(budget):
        clock, order, config = heapq.heappop(pending)
        value = problem.evaluate(config, seed=seed)
        opt.tell(config, value)
        true = problem.true_value(config) if problem.noise else value
        records[order]["result_regret"] = true - problem.optimum
        if value < best_seen:
            best_seen = value
            best_true = problem.true_value(config) if problem.noise else value
            incumbent_z = opt._encoder.encode([config])[0]
        if asked < budget:
            ask(1)
            rec = records[-1]
            if "proposal" in rec and incumbent_z is not None:
                z = np.asarray(rec["proposal"])
                rec["to_incumbent"] = float(np.linalg.norm(z - incumbent_z))
                P = np.asarray(rec["pending"])
                rec["to_pending"] = float(np.min(np.linalg.norm(P - z, axis=1))) if len(P) else None
    records.append({"final_regret": best_true - problem.optimum})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="hartmann6")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--batch", choices=BATCH_MODES, default="marginal")
    parser.add_argument("--arrival", choices=["fifo", "random"], default="fifo")
    parser.add_argument("--json", default=None, help="also write every record to this file")
    args = parser.parse_args()
    records = trace(args.problem, args.seed, args.parallel, args.budget, args.batch, args.arrival)
    print(f"{'ask':>3} {'n':>3} {'pend':>4} {'regret':>8} {'best':>6} {'incumb':>7} {'fant min/max':>13} "
          f"{'logEI':>8} {'d_inc':>5} {'d_pend':>6} {'its regret':>10}  lengthscales")
    for r in records[:-1]:
        if "initial" in r:
            print(f"{r['asked']:>3} initial design{'':>72}{r.get('result_regret', 0):10.3g}")
            continue
        fant = r["fantasies"]
        span = f"{min(fant):6.2f}/{max(fant):6.2f}" if fant else "-"
        d_inc, d_pend = r.get("to_incumbent"), r.get("to_pending")
        print(f"{r['asked']:>3} {r['n']:>3} {r['busy']:>4} {r['regret_so_far']:8.3g} "
              f"{r['best']:6.2f} {r['incumbent']:7.2f} {span:>13} {r.get('acquisition', float('nan')):8.2f} "
              f"{'' if d_inc is None else f'{d_inc:.2f}':>5} "
              f"{'' if d_pend is None else f'{d_pend:.2f}':>6} "
              f"{r.get('result_regret', float('nan')):10.3g}  "
              + " ".join(f"{v:.2f}" for v in r["lengthscales"]))
    print(f"final regret {records[-1]['final_regret']:.4g}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(records, fh)


if __name__ == "__main__":
    main()
