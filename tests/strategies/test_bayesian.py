"""BayesianOptimizer: the ask/tell contract, edge cases, and that the model really helps."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fasthpo
from fasthpo.benchmark.problems import get_problem
from fasthpo.errors import ConfigError
from fasthpo.gp.model import Hyperparameters, NegLogPosterior, fit_hyperparameters
from fasthpo.gp.threads import single_threaded_blas
from fasthpo.strategies.base import config_key
from fasthpo.strategies.bayesian import (
    FRESH_FIT,
    FRESH_FIT_MANY_POINTS,
    MANY_POINTS,
    BayesianOptimizer,
)


def _loop(opt, problem, budget, seed=0):
    best = math.inf
    for _ in range(budget):
        (config,) = opt.ask(1)
        opt.tell(config, problem.evaluate(config, seed=seed))
        best = min(best, problem.true_value(config))
    return best - problem.optimum


def test_the_model_beats_random_search_on_branin():
    problem = get_problem("branin")
    bayes = [_loop(BayesianOptimizer(problem.space, seed=s), problem, 25) for s in range(3)]
    random = [_loop(fasthpo.RandomSearch(problem.space, seed=s), problem, 25) for s in range(3)]
    assert max(bayes) < 0.05  # near the optimum 0.397887 within 25 evaluations
    assert np.median(bayes) < np.median(random) / 10


def test_same_seed_same_proposals():
    problem = get_problem("hartmann3")

    def run(seed):
        opt = BayesianOptimizer(problem.space, seed=seed)
        out = []
        for _ in range(12):
            (c,) = opt.ask(1)
            opt.tell(c, problem.evaluate(c))
            out.append(c)
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_batches_and_pending_are_distinct_and_respected():
    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0)
    for c in opt.ask(8):
        opt.tell(c, problem.evaluate(c))
    pending = opt.ask(3)
    batch = opt.ask(4, pending=pending)
    keys = [config_key(problem.space, c) for c in batch + pending]
    assert len(batch) == 4 and len(set(keys)) == 7
    # Fantasies spread the batch: no two proposals on top of each other.
    Z = np.array([[c[n] for n in problem.space.names] for c in batch + pending])
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=-1)[np.triu_indices(7, 1)]
    assert distances.min() > 1e-3


@pytest.mark.parametrize("n_told", [0, 1, 2])
def test_works_with_almost_no_data(n_told):
    problem = get_problem("branin")
    opt = BayesianOptimizer(problem.space, seed=0, n_initial=1)
    for c in fasthpo.RandomSearch(problem.space, seed=1).ask(n_told) if n_told else []:
        opt.tell(c, problem.evaluate(c))
    proposals = opt.ask(2)
    assert len(proposals) == 2
    for c in proposals:
        problem.space.validate(c)


def test_all_equal_values_and_duplicated_points():
    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0)
    configs = fasthpo.RandomSearch(problem.space, seed=2).ask(6)
    for c in configs:
        opt.tell(c, 1.0)
    for _ in range(3):
        opt.tell(configs[0], 1.0)
    opt.tell(configs[1], 2.0)
    opt.tell(configs[1], 0.0)  # the same point, two different results
    (proposal,) = opt.ask(1)
    problem.space.validate(proposal)
    assert config_key(problem.space, proposal) not in {config_key(problem.space, c) for c in configs}


def test_a_categorical_only_space_is_exhausted_without_duplicates():
    space = fasthpo.SearchSpace([fasthpo.Categorical("a", ["x", "y", "z"]), fasthpo.Categorical("b", [1, 2])])
    opt = BayesianOptimizer(space, seed=0, n_initial=2)
    seen = set()
    for step in range(10):
        proposals = opt.ask(1)
        if not proposals:
            break
        (c,) = proposals
        key = config_key(space, c)
        assert key not in seen
        seen.add(key)
        opt.tell(c, float(step))
    assert len(seen) == 6 and opt.ask(1) == []


def test_mixed_space_keeps_types():
    problem = get_problem("ackley-4+mixed")
    opt = BayesianOptimizer(problem.space, seed=0)
    for _ in range(14):
        (c,) = opt.ask(1)
        assert isinstance(c["x0"], int) and isinstance(c["x1"], float)
        assert c["x3"] in {f"c{i}" for i in range(5)}
        opt.tell(c, problem.evaluate(c))


def test_bad_tells_change_nothing():
    problem = get_problem("branin")
    opt = BayesianOptimizer(problem.space, seed=0)
    good = opt.ask(6)
    for c in good:
        opt.tell(c, problem.evaluate(c))
    before = (opt.best(), len(opt._observations), opt._Z.copy())
    for config, value in [
        (good[0], float("nan")), (good[0], float("inf")), ({"x0": 0.0}, 1.0),
        ({**good[0], "nope": 1}, 1.0), ({**good[0], "x0": 99.0}, 1.0), (good[0], "1.0"),
    ]:
        with pytest.raises(ConfigError):
            opt.tell(config, value)
    assert opt.best() == before[0] and len(opt._observations) == before[1]
    np.testing.assert_array_equal(opt._Z, before[2])


def test_a_diverged_run_does_not_derail_the_search():
    # One value of 1e9 among Branin's (0.4 to 300) must not flatten the rest: the search
    # still closes in on the minimum. Over 30 seeds random search's median regret after
    # 25 evaluations is 1.3; the squash with a single logarithm ended at 1.1 on these five
    # seeds, the second bend for diverged values at 0.06 (no diverged run: 0.001-0.017).
    problem = get_problem("branin")
    regrets = []
    for seed in range(5):
        opt = BayesianOptimizer(problem.space, seed=seed)
        best = math.inf
        for step in range(25):
            (c,) = opt.ask(1)
            value = 1e9 if step == 7 else problem.evaluate(c)
            opt.tell(c, value)
            best = min(best, problem.true_value(c))
        regrets.append(best - problem.optimum)
    assert np.median(regrets) < 0.2


def test_maximize():
    # Maximising -f proposes exactly what minimising f does, and reports the largest value.
    problem = get_problem("hartmann3")
    up = BayesianOptimizer(problem.space, seed=0, direction="maximize")
    down = BayesianOptimizer(problem.space, seed=0)
    values = []
    for _ in range(20):
        (c,) = up.ask(1)
        assert down.ask(1) == [c]
        values.append(problem.evaluate(c))
        up.tell(c, -values[-1])
        down.tell(c, values[-1])
    (best_up, value_up), (best_down, value_down) = up.best(), down.best()
    assert best_up == best_down and value_up == -value_down == -min(values)


def test_subset_model_above_max_points():
    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0, max_points=40)
    for c in fasthpo.RandomSearch(problem.space, seed=0).ask(90):
        opt.tell(c, problem.evaluate(c))
    (c,) = opt.ask(1)
    problem.space.validate(c)
    assert len(opt._model) == 40


def test_conditioning_set_refitted_back_to_max_points_as_results_arrive():
    # Past max_points, appends grow the GP until it is 10 % larger; then a refit brings
    # it back, long before n itself has grown by 10 % (which at n = 120 takes 12
    # results, here 5 do). Every-step refits end at 100 results here.
    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0, max_points=40, refit_all_below=100)
    for c in fasthpo.RandomSearch(problem.space, seed=0).ask(120):
        opt.tell(c, problem.evaluate(c))
    sizes = []
    for _ in range(6):
        (c,) = opt.ask(1)
        sizes.append(len(opt._model))
        opt.tell(c, problem.evaluate(c))
    assert sizes == [40, 41, 42, 43, 44, 40]
    assert opt._fitted_n == 125


def test_refits_at_every_result_up_to_300_by_default():
    # Refitting at every step up to 300 results won on eight problems at 200
    # evaluations (docs/benchmarks.md); past that, the 10 % growth rule.
    problem = get_problem("hartmann3")
    configs = fasthpo.RandomSearch(problem.space, seed=0).ask(305)
    for told, expect_refit in ((150, True), (301, False)):
        opt = BayesianOptimizer(problem.space, seed=0)
        for c in configs[:told]:
            opt.tell(c, problem.evaluate(c))
        fitted = []
        for c in configs[told : told + 3]:
            opt.ask(1)
            fitted.append(opt._fitted_n)
            opt.tell(c, problem.evaluate(c))
        assert fitted == ([told, told + 1, told + 2] if expect_refit else [told] * 3), told


def test_hyperparameters_fitted_on_a_subset_and_the_model_conditioned_on_all():
    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0, fit_points=30, refit_all_below=10)
    for c in fasthpo.RandomSearch(problem.space, seed=0).ask(90):
        opt.tell(c, problem.evaluate(c))
    (c,) = opt.ask(1)
    problem.space.validate(c)
    assert len(opt._model) == 90
    # the model keeps working between refits and across the next one
    for _ in range(12):
        (c,) = opt.ask(1)
        opt.tell(c, problem.evaluate(c))
    assert opt._fitted_n > 90


@pytest.mark.parametrize(
    "batch", ["marginal", "believer", "capped", "penalised", "sampled", "liar-mean"]
)
def test_every_batch_mode_spreads_proposals_around_pending_ones(batch):
    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0, batch=batch)
    opt.trace = []
    for c in opt.ask(8):
        opt.tell(c, problem.evaluate(c))
    pending = opt.ask(3)
    batch_configs = opt.ask(3, pending=pending)
    configs = batch_configs + pending
    assert len({config_key(problem.space, c) for c in configs}) == 6
    Z = np.array([[c[n] for n in problem.space.names] for c in configs])
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=-1)[np.triu_indices(6, 1)]
    assert distances.min() > 1e-3
    # The trace says what chose each model-based proposal: the last saw 3 pending + 2 earlier.
    last = opt.trace[-1]
    assert last["busy"] == 5 and len(last["pending"]) == 5 and last["batch_index"] == 2
    assert len(last["lengthscales"]) == 3 and np.isfinite(last["acquisition"])


def test_pending_trials_do_not_start_the_model_before_real_results():
    # With 7 trials pending, the first results alone would make a model of one or two
    # points: the initial design goes on until n_initial real results exist.
    problem = get_problem("hartmann6")
    opt = BayesianOptimizer(problem.space, seed=0, n_initial=7)
    opt.trace = []
    pending = opt.ask(8)
    for step in range(7):
        done = pending.pop(0)
        opt.tell(done, problem.evaluate(done))
        pending += opt.ask(1, pending=pending)
        assert len(opt.trace) == (1 if step == 6 else 0)


def test_an_unknown_batch_mode_is_refused():
    with pytest.raises(ValueError, match="batch must be one of"):
        BayesianOptimizer(get_problem("branin").space, batch="optimist")


def test_sequential_proposals_do_not_depend_on_the_batch_mode():
    # Without pending trials every batch mode takes the sequential path: the same
    # proposals, seed for seed, so the parallel handling cannot cost sequential runs.
    from fasthpo.strategies.bayesian import BATCH_MODES

    problem = get_problem("branin")

    def run(batch):
        opt = BayesianOptimizer(problem.space, seed=5, batch=batch)
        out = []
        for _ in range(9):
            (c,) = opt.ask(1)
            opt.tell(c, problem.evaluate(c))
            out.append(c)
        return out

    reference = run("capped")
    assert all(run(batch) == reference for batch in BATCH_MODES if batch != "capped")


def test_pending_duplicates_of_observed_or_each_other_are_never_proposed_again():
    # "a" is observed and "b" pending (twice): "c" is the only value left to propose.
    space = fasthpo.SearchSpace.from_dict({"k": {"type": "categorical", "values": ["a", "b", "c"]}})
    opt = BayesianOptimizer(space, seed=0, n_initial=1)
    opt.tell({"k": "a"}, 1.0)
    assert opt.ask(2, pending=[{"k": "b"}, {"k": "b"}]) == [{"k": "c"}]
def test_ten_or_more_dimensions_search_inside_a_trust_region_that_shrinks_on_failures():
    problem = get_problem("levy-10")
    opt = BayesianOptimizer(problem.space, seed=0)
    assert opt._trust is not None and opt._trust.failure_tolerance == 10
    for _ in range(12):  # the design and two model proposals
        (config,) = opt.ask(1)
        opt.tell(config, problem.evaluate(config))
    incumbent, value = opt.best()
    center = opt._encoder.encode([incumbent])[0]
    for _ in range(12):
        (config,) = opt.ask(1)
        # Inside the region around the incumbent it was searched in (no warps here).
        lo, hi = opt._trust.box(center, opt._hp.lengthscales, opt._encoder.continuous)
        z = opt._encoder.encode([config])[0]
        assert ((z >= lo - 1e-9) & (z <= hi + 1e-9)).all()
        assert np.prod(hi - lo) < 0.1  # a real restriction, not the whole box
        opt.tell(config, value + 1.0)  # never an improvement
    # Eleven failures in a row counted (each at the next ask): one halving.
    assert opt._trust.length == 0.4


def test_twenty_dimensions_step_near_the_incumbent_instead_of_across_the_box():
    # Under the √D-scaled prior alone, 20 points in 20 dimensions were explained by two
    # short lengthscales and eighteen near ℓ ≈ 4.5, and the trust region (sides along the
    # lengthscales) let proposals jump a fifth of the box from the incumbent (median rms
    # step 0.18–0.24 over seeds 0–2), where in 20 dimensions nearly every step is worse.
    problem = get_problem("ackley-20")
    opt = BayesianOptimizer(problem.space, seed=0)
    for _ in range(20):
        (config,) = opt.ask(1)
        opt.tell(config, problem.evaluate(config))
    steps = []
    for _ in range(6):
        incumbent, _ = opt.best()
        (config,) = opt.ask(1)
        z, z0 = opt._encoder.encode([config, incumbent])
        steps.append(float(np.sqrt(np.mean((z - z0) ** 2))))
        opt.tell(config, problem.evaluate(config))
    assert np.median(steps) < 0.1, steps
    assert 0.3 < np.exp(np.mean(np.log(opt._hp.lengthscales))) < 2.0


def test_fewer_dimensions_search_the_whole_box():
    assert BayesianOptimizer(get_problem("hartmann6").space, seed=0)._trust is None


def test_pending_trials_average_logei_over_hyperparameter_draws_on_small_models(monkeypatch):
    # The default batch mode: capped fantasies on the MAP model and on HYPER_SAMPLES
    # Laplace draws of its hyperparameters, the draws shared by a batch's proposals.
    import fasthpo.strategies.bayesian as bayesian
    from fasthpo.gp.hyperparameter_samples import AveragedLogEI

    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0)
    for c in opt.ask(8):
        opt.tell(c, problem.evaluate(c))
    pending = opt.ask(2)
    first = opt._acquisition(pending, 0)
    assert isinstance(first, AveragedLogEI)
    assert len(first.parts) == bayesian.HYPER_SAMPLES + 1
    assert first.best == min(part.best for part in first.parts)  # the best observed, for all
    scales = np.array([part.gp.hp.log_lengthscales for part in first.parts])
    assert np.ptp(scales, axis=0).max() > 0.05  # the draws differ from the MAP
    assert all(len(part.gp) == 10 for part in first.parts)  # 8 results + 2 fantasies each
    later = opt._acquisition([*pending, opt.ask(1, pending=pending)[0]], 1)
    assert all(a.gp.hp is b.gp.hp for a, b in zip(later.parts[1:], first.parts[1:], strict=True))
    # Beyond MARGINAL_UP_TO results the MAP model alone (as "capped").
    monkeypatch.setattr(bayesian, "MARGINAL_UP_TO", 7)
    opt.tell(pending[0], problem.evaluate(pending[0]))
    assert type(opt._acquisition(pending[1:], 0)).__name__ == "LogExpectedImprovement"


def test_a_share_of_the_running_trials_comes_from_exploiting_slots():
    # An asynchronous loop with 7 trials pending: 2 of every 8 running trials were
    # proposed by LogEI without fantasies, outside a small ball around each pending point.
    import fasthpo.strategies.bayesian as bayesian
    from fasthpo.gp.exploitation import ExcludingAcquisition

    problem = get_problem("hartmann3")
    opt = BayesianOptimizer(problem.space, seed=0)
    opt.trace = []
    running = opt.ask(8)
    for _ in range(16):
        done = running.pop(0)
        opt.tell(done, problem.evaluate(done))
        running += opt.ask(1, pending=running)
        keys = {config_key(problem.space, c) for c in running}
        assert len(keys) == 8
        if len(opt.trace) >= 8:  # the model has proposed every running trial
            assert len(opt._exploiting & keys) == int(bayesian.EXPLOIT_SHARE * 8) == 2
    exploiting = [r for r in opt.trace if r.get("exploiting")]
    assert 3 <= len(exploiting) <= 6 and all(r["fantasies"] == [] for r in exploiting)
    for record in exploiting:
        z, P = np.array(record["proposal"]), np.array(record["pending"])
        assert np.linalg.norm(P - z, axis=1).min() > 0.5 * bayesian.EXPLOIT_RADIUS
    # With fewer than EXPLOIT_FROM running trials, every proposal carries the fantasies.
    assert bayesian.EXPLOIT_FROM == 8 and not opt._exploiting_turn(running[:6])
    busy = running[:7]
    acquisition = opt._exploiting_acquisition(busy)
    assert isinstance(acquisition, ExcludingAcquisition) and len(acquisition.P) == 7
    assert len(acquisition.gp) == len(opt._observations)  # no fantasies in its model


def test_pending_encodings_kept_between_asks_match_fresh_ones():
    # An asynchronous loop on a space with auto scales (warped, so a stale row would
    # show): the kept rows always equal a fresh encoding.
    problem = get_problem("levy-6+log3-auto")
    opt = BayesianOptimizer(problem.space, seed=1, n_initial=5)
    pending = opt.ask(4)
    for _ in range(24):
        done = pending.pop(0)
        opt.tell(done, problem.evaluate(done))
        pending += opt.ask(1, pending=pending)
        np.testing.assert_array_equal(opt._encode_busy(pending), opt._encoder.encode(pending))
    assert len(opt._busy_rows) == len(pending)


@pytest.mark.parametrize("n", [10, 100])
def test_a_first_fit_on_many_results_stops_earlier_near_the_tight_optimum(n):
    # The first fit of a sequential run (n_initial results) keeps the tight tolerance;
    # one on 50+ loaded results stops at the looser one, a few hundredths of a nat short.
    problem = get_problem("levy-10")
    opt = BayesianOptimizer(problem.space, seed=0)
    for c in fasthpo.RandomSearch(problem.space, seed=1).ask(n):
        opt.tell(c, problem.evaluate(c))
    opt.ask(1)
    X = opt._Z
    t = opt._transform.transform(np.asarray(opt._observations.values))
    start = [Hyperparameters.prior_mode(X.shape[1])]
    expected = FRESH_FIT_MANY_POINTS if n >= MANY_POINTS else FRESH_FIT
    with single_threaded_blas():  # as the optimizer fits; no thread spinning on a busy machine
        fitted = fit_hyperparameters(X, t, starts=start, settings=expected)
        tight = fit_hyperparameters(X, t, starts=start, settings=FRESH_FIT)
    assert np.allclose(opt._hp.vector(), fitted.vector(), rtol=0, atol=1e-6)
    objective = NegLogPosterior(X, t, ())
    assert objective(fitted.vector())[0] - objective(tight.vector())[0] < 0.1


def _shifted_history(problem, seed, budget):
    """Run ``budget`` sequential evaluations; the output transform's variant after each."""
    opt = BayesianOptimizer(problem.space, seed=seed)
    history = []
    for _ in range(budget):
        (config,) = opt.ask(1)
        opt.tell(config, problem.evaluate(config, seed=seed))
        history.append(opt._shifted)
    return opt, history


def test_the_shifted_output_transform_is_chosen_where_the_data_favour_it(monkeypatch):
    # Rosenbrock-10's values span decades down to a floor: once the trust region has
    # found its valley the shifted transform explains them better and is kept. Ackley-20
    # and Levy-20 are explained better by the plain one and never switch.
    import fasthpo.strategies.bayesian as bayesian

    rosenbrock = get_problem("rosenbrock-10")
    ends = [_shifted_history(rosenbrock, seed, 50)[1][-1] for seed in range(4)]
    assert sum(ends) >= 3, ends
    for name in ("ackley-20", "levy-20"):
        _, history = _shifted_history(get_problem(name), 0, 40)
        assert not any(history), name
    # And it pays: eight Rosenbrock-10 runs against the same with the plain transform
    # only. Four were too few: on one CPU (OpenBLAS's kernels round differently) seeds
    # 0-3 all fell among the few the choice does not help, a median ratio of 0.86.
    with_choice = np.array([_loop(BayesianOptimizer(rosenbrock.space, seed=s), rosenbrock, 50, s)
                            for s in range(8)])
    monkeypatch.setattr(bayesian, "TRANSFORM_CHOICE_BELOW", 0)
    plain = np.array([_loop(BayesianOptimizer(rosenbrock.space, seed=s), rosenbrock, 50, s)
                      for s in range(8)])
    assert np.median(with_choice) < np.median(plain) / 1.5, (with_choice, plain)
    assert (with_choice < plain).sum() >= 5, (with_choice, plain)


def test_the_output_transform_choice_is_made_only_in_a_trust_region_on_small_models(
    monkeypatch,
):
    import fasthpo.strategies.bayesian as bayesian

    # Below 10 dimensions the plain transform throughout.
    _, history = _shifted_history(get_problem("branin"), 0, 30)
    assert not any(history)
    # From TRANSFORM_CHOICE_BELOW results one fit, not two: the last choice stands, and a
    # fresh optimizer told that many results starts from the plain transform.
    problem = get_problem("rosenbrock-10")
    opt, history = _shifted_history(problem, 0, 50)
    assert history[-1]
    fresh = BayesianOptimizer(problem.space, seed=0)
    for config, value in zip(opt._observations.configs, opt._observations.values, strict=True):
        fresh.tell(config, value)
    fits = []
    original = bayesian.fit_hyperparameters

    def counting(*args, **kwargs):
        fits.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(bayesian, "fit_hyperparameters", counting)
    monkeypatch.setattr(bayesian, "TRANSFORM_CHOICE_BELOW", 50)
    fresh.ask(1)
    assert len(fits) == 1 and not fresh._shifted and not fresh._transform.shifted
    opt._refit(opt._sign * np.asarray(opt._observations.values))
    assert len(fits) == 2 and opt._shifted and opt._transform.shifted
    # Below it, both transforms are fitted at every refit.
    monkeypatch.setattr(bayesian, "TRANSFORM_CHOICE_BELOW", 51)
    opt._refit(opt._sign * np.asarray(opt._observations.values))
    assert len(fits) == 4
