"""FastGPSampler through Optuna's public API: create_study, optimize (n_jobs), ask/tell, an SQLite storage."""

from __future__ import annotations

import math

import pytest

optuna = pytest.importorskip("optuna")

from fasthpo.integrations.optuna import FastGPSampler  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x: float, y: float) -> float:
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10
    )


def mixed(trial):
    x = trial.suggest_float("x", -5, 10)
    y = trial.suggest_float("y", 0, 15)
    kind = trial.suggest_categorical("kind", ["good", "bad", None])
    n = trial.suggest_int("n", 1, 100, log=True)
    s = trial.suggest_float("s", 0.0, 1.0, step=0.1)
    k = trial.suggest_int("k", 0, 20, step=5)
    return branin(x, y) + (kind != "good") + abs(math.log(n) - 2) + s + k / 20


def _model(sampler):
    (model,) = sampler._models.values()
    return model


def test_a_study_over_every_distribution_type_beats_random_search():
    study = optuna.create_study(sampler=FastGPSampler(seed=0))
    study.optimize(mixed, n_trials=30)
    baseline = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    baseline.optimize(mixed, n_trials=30)
    assert study.best_value < baseline.best_value
    for trial in study.trials:
        assert trial.params["s"] in [round(0.1 * i, 10) for i in range(11)] or \
            any(abs(trial.params["s"] - 0.1 * i) < 1e-9 for i in range(11))
        assert trial.params["k"] in (0, 5, 10, 15, 20) and 1 <= trial.params["n"] <= 100
        assert trial.params["kind"] in ("good", "bad", None)


def test_maximize():
    study = optuna.create_study(direction="maximize", sampler=FastGPSampler(seed=1))
    study.optimize(lambda t: -branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)), n_trials=25)
    assert study.best_value > -2.0  # the maximum is -0.398; random search's 25 trials rarely pass -2
    assert _model(study.sampler).optimizer.direction == "maximize"


def test_the_model_is_kept_and_told_each_trial_once():
    sampler = FastGPSampler(seed=2)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)), n_trials=12)
    model = _model(sampler)
    optimizer = model.optimizer
    study.optimize(lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)), n_trials=8)
    assert _model(sampler).optimizer is optimizer  # one model for the study, not one per trial
    # Told each completed trial once, except the last (its result comes after the last proposal).
    assert len(optimizer._observations) == 19
    assert sorted(model.told) == list(range(19))


def test_failed_and_pruned_trials_are_not_told_unless_asked():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 4 == 1:
            raise RuntimeError("diverged")
        if trial.number % 4 == 2:
            trial.report(5.0 + x, step=1)
            raise optuna.TrialPruned()
        return (x - 0.3) ** 2

    # The last trial's proposal sees trials 0..22: 11 completed (numbers 0 and 3 mod 4), 6 pruned.
    for consider, pruned_told in ((False, 0), (True, 6)):
        sampler = FastGPSampler(seed=3, consider_pruned_trials=consider)
        study = optuna.create_study(sampler=sampler)
        study.optimize(objective, n_trials=24, catch=(RuntimeError,))
        states = [t.state for t in study.trials]
        assert states.count(optuna.trial.TrialState.FAIL) == 6
        assert states.count(optuna.trial.TrialState.PRUNED) == 6
        values = _model(sampler).optimizer._observations.values
        assert len([v for v in values if v < 5.0]) == 11  # the completed trials
        assert len([v for v in values if v >= 5.0]) == pruned_told  # pruned: last intermediate value


def test_parallel_workers_get_distinct_proposals():
    study = optuna.create_study(sampler=FastGPSampler(seed=4))
    study.optimize(lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)),
                   n_trials=24, n_jobs=4)
    assert len(study.trials) == 24
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    points = {(t.params["x"], t.params["y"]) for t in study.trials}
    assert len(points) == 24


def test_ask_and_tell_pass_running_trials_as_pending():
    study = optuna.create_study(sampler=FastGPSampler(seed=5))
    distributions = {"x": optuna.distributions.FloatDistribution(-5, 10),
                     "y": optuna.distributions.FloatDistribution(0, 15)}
    for _ in range(8):
        trial = study.ask(distributions)
        study.tell(trial, branin(trial.params["x"], trial.params["y"]))
    asked = [study.ask(distributions) for _ in range(3)]  # three running at once
    points = [(t.params["x"], t.params["y"]) for t in asked]
    assert len(set(points)) == 3
    for trial in asked:
        study.tell(trial, branin(trial.params["x"], trial.params["y"]))
    assert len(study.trials) == 11


def test_an_sqlite_study_is_continued_by_a_new_sampler(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage, sampler=FastGPSampler(seed=6))
    objective = lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15))  # noqa: E731
    study.optimize(objective, n_trials=10)
    sampler = FastGPSampler(seed=7)
    again = optuna.load_study(study_name="s", storage=storage, sampler=sampler)
    again.optimize(objective, n_trials=3)
    assert len(again.trials) == 13
    assert len(_model(sampler).optimizer._observations) == 12  # all earlier results, once
    assert again.best_value <= min(t.value for t in again.trials[:10])


def test_conditional_parameters_are_sampled_independently():
    def objective(trial):
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float("x", 0, 1)
        if kind == "a":
            return x + trial.suggest_float("only_a", 10, 20)
        return x

    sampler = FastGPSampler(seed=8)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=15)
    assert set(_model(sampler).dimensions[i].name for i in range(2)) == {"kind", "x"}
    for trial in study.trials:
        if trial.params["kind"] == "a":
            assert 10 <= trial.params["only_a"] <= 20


def test_multi_objective_studies_are_refused():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=FastGPSampler(seed=9))
    with pytest.raises(ValueError, match="multi-objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)


def test_a_started_trial_without_stored_parameters_is_pending_with_its_proposal():
    # Another thread may start a trial whose parameters are not stored yet: its
    # proposal must still count as pending, or the next one may repeat it.
    sampler = FastGPSampler(seed=6)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: branin(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)),
                   n_trials=8)
    optimizer = _model(sampler).optimizer
    optimizer.trace = []
    # Two trials started; the sampler proposes for each before either stores a parameter
    # (as with n_jobs, where another thread proposes while this one starts its trial).
    first, second = study.ask(), study.ask()
    for trial in (first, second):
        frozen = study.get_trials(deepcopy=False)[trial.number]
        sampler.sample_relative(study, frozen, sampler.infer_relative_search_space(study, frozen))
    assert first.number in _model(sampler).proposed
    assert optimizer.trace[-1]["busy"] == 1  # the second proposal saw the first as pending
    for trial in (first, second):
        study.tell(trial, branin(trial.suggest_float("x", -5, 10), trial.suggest_float("y", 0, 15)))
    study.ask().suggest_float("x", -5, 10)
    assert first.number not in _model(sampler).proposed  # finished: forgotten
