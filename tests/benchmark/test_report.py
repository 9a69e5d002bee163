"""Benchmark reports: regret, ranks and tables from known results."""

from __future__ import annotations

import numpy as np
import pytest

from fasthpo.benchmark.report import (
    RunResult,
    markdown_report,
    mean_ranks,
    plot_report,
    regret_curves,
)
from fasthpo.benchmark.runner import RunKey


def _result(problem, optimizer, seed, values, true_values=None, parallel=1):
    values = np.array(values, dtype=float)
    return RunResult(
        key=RunKey(problem, optimizer, seed, parallel, len(values)),
        values=values,
        true_values=values if true_values is None else np.array(true_values, dtype=float),
        propose_s=np.full(len(values), 0.002),
    )


def test_incumbent_follows_observed_values_but_scores_noiseless_ones():
    # The second point looks best (observed 0.1) but is really 0.9: regret says so.
    r = _result("branin", "a", 0, [0.5, 0.1, 0.3], true_values=[0.5, 0.9, 0.3])
    assert r.incumbent_true_values().tolist() == [0.5, 0.9, 0.9]


def test_regret_uses_known_optimum_or_best_found():
    branin_optimum = 0.397887
    curves = regret_curves([
        _result("branin", "a", 0, [3.0, 1.0, 2.0]),
        _result("svm-digits", "a", 0, [0.20, 0.10]),
        _result("svm-digits", "b", 0, [0.05, 0.30]),
    ])
    assert curves[RunKey("branin", "a", 0, 1, 3)] == pytest.approx(
        [3.0 - branin_optimum, 1.0 - branin_optimum, 1.0 - branin_optimum], abs=1e-5
    )
    # Real task: the reference is the best value any run found (0.05).
    assert curves[RunKey("svm-digits", "a", 0, 1, 2)] == pytest.approx([0.15, 0.05])
    assert curves[RunKey("svm-digits", "b", 0, 1, 2)] == pytest.approx([0.0, 0.0])


def test_mean_ranks_average_over_seeds_and_share_ties():
    results = [
        _result("p", "a", 0, [1.0]), _result("p", "b", 0, [2.0]), _result("p", "c", 0, [2.0]),
        _result("p", "a", 1, [3.0]), _result("p", "b", 1, [1.0]), _result("p", "c", 1, [2.0]),
    ]
    curves = {r.key: r.values for r in results}
    ranks = mean_ranks(curves)
    assert ranks["p"] == {"a": pytest.approx(2.0), "b": pytest.approx(1.75), "c": pytest.approx(2.25)}


def test_mean_ranks_count_only_seeds_every_optimizer_finished():
    # Seed 1 lacks c: ranking a and b alone there would flatter whichever won it.
    results = [
        _result("p", "a", 0, [1.0]), _result("p", "b", 0, [2.0]), _result("p", "c", 0, [3.0]),
        _result("p", "a", 1, [5.0]), _result("p", "b", 1, [1.0]),
        _result("q", "a", 0, [2.0]), _result("q", "b", 0, [1.0]),
    ]
    ranks = mean_ranks({r.key: r.values for r in results})
    assert ranks["p"] == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert ranks["q"] == {"a": 2.0, "b": 1.0}  # c never ran q: it does not hold q back


def test_markdown_report_tables():
    results = []
    for seed, (a, b) in enumerate([(1.0, 2.0), (1.2, 2.5), (0.8, 3.0)]):
        results.append(_result("branin", "alpha", seed, [5.0, 0.397887 + a]))
        results.append(_result("branin", "beta", seed, [5.0, 0.397887 + b]))
        results.append(_result("branin", "alpha", seed, [5.0, 0.397887 + 2 * a], parallel=4))
        results.append(_result("branin", "beta", seed, [5.0, 0.397887 + b], parallel=4))
    text = markdown_report(results, title="T")
    assert text.startswith("# T")
    assert "| branin | **1 [0.9, 1.1]** | 2.5 [2.25, 2.75] |" in text
    assert "| **overall** | **1** | **2** |" in text
    assert "| branin | 2 / 2 | 2 / 2 |" in text  # 2 ms proposals: mean / last
    assert "| branin (q=4) | 2 | 1 |" in text  # parallel regret ratios
    # The runs with four workers get tables of their own, after the sequential ones.
    q4 = text.index("## Final regret (4 trials at a time)")
    assert q4 > text.index("## Final regret (sequential)")
    assert "| branin | **2 [1.8, 2.2]** | 2.5 [2.25, 2.75] |" in text[q4:]
    assert "## Mean rank (1 = best, q = 4)" in text[q4:]
    assert "| branin | 1.17 | 1.83 |" in text[q4:]  # a tie on seed 0 shares ranks 1 and 2


def test_rows_and_columns_follow_the_given_order():
    results = [_result(p, o, 0, [1.0, 0.5]) for p in ("branin", "hartmann3") for o in ("a", "b")]
    text = markdown_report(results, problems=["hartmann3", "branin"], optimizers=["b", "a"])
    assert "| problem | b | a |" in text
    assert text.index("| hartmann3 |") < text.index("| branin |")


def test_failed_runs_are_listed_not_scored():
    bad = _result("branin", "x", 0, [1.0])
    bad.status, bad.error = "error", "RuntimeError: boom"
    text = markdown_report([_result("branin", "a", 0, [1.0]), bad])
    assert "failed: branin x x seed 0: RuntimeError: boom" in text
    assert "| problem | a |" in text


def test_plots_are_png_files(tmp_path):
    pytest.importorskip("matplotlib")
    results = [_result("branin", o, s, np.linspace(3, 0.5, 6) + s) for o in ("a", "b") for s in range(3)]
    paths = plot_report(results, tmp_path)
    assert [p.name for p in paths] == ["curves.png", "proposal_time.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
