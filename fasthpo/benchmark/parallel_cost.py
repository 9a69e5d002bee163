"""The measured cost of parallel trials, as ``fasthpo describe`` states it for a job.

``COST`` maps the number of trials run at once (q) to two ratios of fasthpo's
Bayesian strategy, regret(q) / regret(1) at the same number of trials: the
median over the problems measured, and the worst of them. They are the
figures of "Lengthscales pooled below 15 dimensions" in docs/benchmarks.md
(the bench's simulation at q = 1, 4 and 8, 50 evaluations, 30 seeds, median
over seeds per problem); regenerate them from there when the method changes.
Plain data, no imports: the CLI reads it without loading NumPy.
"""

from __future__ import annotations

#: q → (median over problems, worst problem) of regret(q) / regret(1) at 50 trials.
#: q = 32 is measured too but left out: at 50 trials such a run is mostly its initial
#: design (32 proposals before the first result; 7,200× median), which says nothing of
#: a job large enough to run 32 at once (docs/benchmarks.md has it at 200 trials).
COST: dict[int, tuple[float, float]] = {4: (1.8, 150.0), 8: (2.9, 2000.0)}
#: What the figures were measured on, for the sentence.
MEASURED_ON = "Branin, Hartmann-6, Levy-10 and Hartmann-6 with noise"
#: Where the worst ratio comes from.
WORST_ON = "a narrow basin such as Hartmann-6's"


def parallel_cost(max_parallel: int) -> str:
    """One sentence on what ``max_parallel`` trials at once cost against sequential ones."""
    if max_parallel <= 1:
        return "sequential: every result is used before the next proposal (the best per trial)"
    qs = sorted(COST)
    if max_parallel in COST:
        factor = f"about {_times(COST[max_parallel][0])}"
        worst = COST[max_parallel][1]
    elif max_parallel < qs[0]:
        factor = f"up to {_times(COST[qs[0]][0])}"
        worst = COST[qs[0]][1]
    elif max_parallel > qs[-1]:
        factor = f"more than {_times(COST[qs[-1]][0])}"
        worst = COST[qs[-1]][1]
    else:
        below = max(q for q in qs if q < max_parallel)
        above = min(q for q in qs if q > max_parallel)
        factor = f"between {_times(COST[below][0])} and {_times(COST[above][0])}"
        worst = COST[above][1]
    return (
        f"at max_parallel {max_parallel} expect {factor} the regret of sequential runs at the "
        f"same number of trials (median over {MEASURED_ON}; up to {_times(worst)} on "
        f"{WORST_ON}; docs/benchmarks.md)"
    )


def _times(ratio: float) -> str:
    return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"
