"""The measured cost of parallel trials, as ``fasthpo describe`` states it for a job.

``COST`` maps the number of trials run at once (q) to what fasthpo's Bayesian
strategy pays for it, measured two ways in the bench's simulation on four
problems, 30 seeds (median over seeds per problem, then the median and the
worst over the problems):

* **trials**: how many trials the q-at-once runs need before their median
  regret reaches the sequential runs' median regret after 20, 30 and 50
  trials, as a multiple of those (``benchmarks/parallel_trials.py``): what
  buying the same result costs. The median over the problems is kept as a
  range over the three lengths, the worst as the largest of them;
* **regret**: regret(q) / regret(1) after 50 trials each (``fasthpo bench
  --parallel``): how far behind a run of the same length ends. On a problem
  whose sequential runs home in on a narrow basin this ratio is in the
  thousands although the parallel runs are only a few dozen trials behind,
  which is why the trials are stated first.

The figures are those of docs/benchmarks.md ("Lengthscales pooled below 15
dimensions" and "Parallel trials counted in trials"); regenerate them from
there when the method changes. Plain data, no imports: the CLI reads it
without loading NumPy.
"""

from __future__ import annotations

from typing import NamedTuple


class Cost(NamedTuple):
    """The cost of one q. ``trials``: the median multiple over the problems, lowest and
    highest over the sequential lengths; ``worst_trials``: the largest multiple of any
    problem. ``regret`` and ``worst_regret``: median and worst ratio at 50 trials, or
    ``None`` where 50 trials are too few to say (see ``COST``)."""

    trials: tuple[float, float]
    worst_trials: float
    regret: float | None = None
    worst_regret: float | None = None


#: q → the cost of q trials at once. q = 32 has no regret ratio: 50 trials at q = 32 are
#: mostly its initial design (32 proposals before the first result), which says nothing
#: of a job large enough to run 32 at once; the trials it needs do.
COST: dict[int, Cost] = {
    4: Cost(trials=(1.28, 1.34), worst_trials=1.44, regret=1.8, worst_regret=150.0),
    8: Cost(trials=(1.32, 1.73), worst_trials=2.0, regret=2.9, worst_regret=2000.0),
    32: Cost(trials=(2.65, 3.58), worst_trials=4.8),
}
#: What the figures were measured on, for the sentence.
MEASURED_ON = "Branin, Hartmann-6, Levy-10 and Hartmann-6 with noise"


def parallel_cost(max_parallel: int) -> str:
    """One sentence on what ``max_parallel`` trials at once cost against sequential ones."""
    if max_parallel <= 1:
        return "sequential: every result is used before the next proposal (the best per trial)"
    q = max_parallel
    trials = {m: c.trials for m, c in COST.items()}
    worst_trials = {m: c.worst_trials for m, c in COST.items()}
    text = (f"at max_parallel {q} expect to need {_bracket(q, trials)} the trials of a "
            f"sequential run of 20–50 for its result ({_worst(q, worst_trials)})")
    regret = {m: (c.regret, c.regret) for m, c in COST.items() if c.regret is not None}
    worst_regret = {m: c.worst_regret for m, c in COST.items() if c.worst_regret is not None}
    if regret:
        text += (f", or {_bracket(q, regret)} its regret at the same number of trials "
                 f"({_worst(q, worst_regret)})")
    return f"{text}; median and worst over {MEASURED_ON} (docs/benchmarks.md)"


def _bracket(q: int, ranges: dict[int, tuple[float, float]]) -> str:
    """The measured range for ``q`` ("about 1.3×", "1.3–1.7×"), or the measured ones around
    it joined ("between 1.3× and 3.6×"); ends that read alike are one figure."""
    qs = sorted(ranges)
    if q < qs[0]:
        return f"up to {_times(ranges[qs[0]][1])}"
    if q > qs[-1]:
        return f"more than {_times(ranges[qs[-1]][0])}"
    if q in ranges:
        low, high = ranges[q]
        span = f"{_times(low)[:-1]}–{_times(high)}"
    else:
        low = ranges[max(m for m in qs if m < q)][0]
        high = ranges[min(m for m in qs if m > q)][1]
        span = f"between {_times(low)} and {_times(high)}"
    return f"about {_times(high)}" if _times(low) == _times(high) else span


def _worst(q: int, worst: dict[int, float]) -> str:
    """The worst ratio of the nearest measured q at or above ``q``; beyond the largest
    measured q, that one's as a floor."""
    at_or_above = [m for m in sorted(worst) if m >= q]
    if not at_or_above:
        return f"{_times(worst[max(worst)])} or more"
    return f"up to {_times(worst[at_or_above[0]])}"


def _times(ratio: float) -> str:
    return f"{ratio:.2g}×" if ratio < 10 else f"{ratio:,.0f}×"
