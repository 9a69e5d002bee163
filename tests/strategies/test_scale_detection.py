"""Scales of ``auto`` hyperparameters: the candidate maps, the prior scale the search starts
from, and ``BayesianOptimizer.detected_scaling`` on log, reverse-log,
linear and irrelevant hyperparameters (integers too)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
from fasthpo.strategies import scale_detection
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.encoding import SpaceEncoder
from fasthpo.strategies.scale_detection import candidate_maps, prior_scale, scale_map

WIDE = Continuous("lr", 1e-4, 1e2)
MOMENTUM = Continuous("momentum", 0.9, 0.9999)


def test_maps_follow_the_range():
    maps, notes = candidate_maps(WIDE)
    assert set(maps) == {"linear", "log"} and "reverse_log" in notes[0]
    u = np.linspace(0, 1, 101)
    v = 1e-4 + u * (1e2 - 1e-4)
    np.testing.assert_allclose(maps["log"], np.log(v / 1e-4) / np.log(1e6), atol=1e-12)
    maps, _ = candidate_maps(MOMENTUM)
    v = 0.9 + u * (0.9999 - 0.9)
    np.testing.assert_allclose(maps["reverse_log"], np.log(0.1 / (1 - v)) / np.log(0.1 / 1e-4), atol=1e-12)
    # Over a short range (hi/lo = 3) log is nearly linear: not a candidate.
    maps, notes = candidate_maps(Continuous("short", 1.0, 3.0))
    assert set(maps) == {"linear"} and any("within" in n for n in notes)
    # Integers use their half-step-widened range.
    assert set(candidate_maps(Integer("units", 1, 1000))[0]) == {"linear", "log"}
    assert set(candidate_maps(Integer("units", 0, 1000))[0]) == {"linear"}


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (WIDE, "log"),
        (Integer("units", 1, 4096), "log"),
        (MOMENTUM, "reverse_log"),
        (Continuous("c", 1.0, 50.0), "linear"),  # under two decades
        (Continuous("c", 0.0, 1000.0), "linear"),  # log impossible
        (Integer("layers", 1, 8), "linear"),
        (Continuous("p", 0.001, 0.999), "linear"),  # both log and reverse-log qualify: no guess
    ],
)
def test_prior_scale_follows_the_width_of_the_range(param, expected):
    assert prior_scale(param).name == expected


@pytest.mark.parametrize("name", ["linear", "log", "reverse_log"])
def test_scale_maps_invert(name):
    scale = scale_map(MOMENTUM if name == "reverse_log" else WIDE, name)
    u = np.linspace(0, 1, 57)
    np.testing.assert_allclose(scale.inverse(scale.forward(u)), u, atol=1e-12)
    assert scale.forward(np.array([0.0, 1.0])).tolist() == [0.0, 1.0]


def test_the_encoder_sees_auto_in_its_prior_scale():
    space = SearchSpace([WIDE, Integer("units", 1, 4096), Continuous("x", 0.0, 1.0)])
    enc = SpaceEncoder(space)
    z = enc.encode([{"lr": 1e-1, "units": 64, "x": 0.25}])[0]
    assert z[0] == pytest.approx(0.5)  # three of six decades
    assert z[1] == pytest.approx(math.log(64 / 0.5) / math.log(4096.5 / 0.5))
    assert z[2] == 0.25
    back = enc.decode(z[None, :])[0]
    assert back["lr"] == pytest.approx(1e-1) and back["units"] == 64
    # Integers snap to whole values in the prior scale too.
    snapped = enc.project(np.array([[0.5, 0.47, 0.3]]))
    units = enc.decode(snapped)[0]["units"]
    assert enc.encode([{"lr": 1e-1, "units": units, "x": 0.3}])[0][1] == pytest.approx(snapped[0, 1])


def _run(space, objective, n, seed=0):
    opt = BayesianOptimizer(space, seed=seed)
    for _ in range(n):
        config = opt.ask(1)[0]
        opt.tell(config, objective(config))
    return opt


def test_the_initial_design_is_uniform_in_the_prior_scale():
    opt = BayesianOptimizer(SearchSpace([WIDE]), seed=3, n_initial=64)
    values = np.array([c["lr"] for c in opt.ask(64)])
    # Uniform in log10: a sixth of the points per decade (a linear design: 0.1 % below 0.1).
    assert np.mean(values < 1e-1) == pytest.approx(0.5, abs=0.1)
    assert np.mean(values < 1e-3) == pytest.approx(1 / 6, abs=0.1)


def test_detected_scaling_before_and_after_a_fit():
    space = SearchSpace([WIDE, Continuous("x", 0.0, 1.0, scaling="linear"), Categorical("c", ("a", "b"))])
    opt = BayesianOptimizer(space, seed=0)
    assert opt.detected_scaling() == {"lr": ("undetermined", {"reason": "no model fitted yet"})}
    declared = SearchSpace([Continuous("x", 1e-3, 1.0, scaling="log"), Integer("k", 0, 9, scaling="linear")])
    assert BayesianOptimizer(declared, seed=0).detected_scaling() == {}

    def objective(c):  # smooth in log lr, minimum at lr = 1e-2
        return (math.log10(c["lr"]) + 2.0) ** 2 + (c["x"] - 0.3) ** 2 + (c["c"] == "b")

    opt = _run(space, objective, 20)
    found = opt.detected_scaling()
    assert set(found) == {"lr"} and found["lr"][0] == "log"
    evidence = found["lr"][1]
    assert json.loads(json.dumps(evidence)) == evidence
    assert all(isinstance(v, int | float | str) for v in evidence.values())
    assert evidence["loglik_log"] == 0.0 and evidence["loglik_linear"] <= -scale_detection.VERDICT_NATS
    assert evidence["searched_in"] == "log" and evidence["margin"] >= scale_detection.VERDICT_NATS
    evidence["warp_a"] = -1.0  # a copy: the caller cannot change the optimizer's record
    assert opt.detected_scaling()["lr"][1]["warp_a"] > 0


def test_detects_log_on_an_integer_and_reverse_log_and_linear():
    space = SearchSpace([
        Integer("units", 1, 4096),
        MOMENTUM,
        Continuous("w", 1e-3, 1e3),  # truly linear over six decades: searched as log at first
    ])

    def objective(c):
        return ((math.log2(c["units"]) - 5.0) / 3.0) ** 2 + (math.log10(1 - c["momentum"]) + 2.0) ** 2 \
            + ((c["w"] - 400.0) / 300.0) ** 2

    found = {name: v for name, (v, _) in _run(space, objective, 30).detected_scaling().items()}
    assert found == {"units": "log", "momentum": "reverse_log", "w": "linear"}


def test_a_hyperparameter_that_does_not_matter_is_undetermined():
    space = SearchSpace([WIDE, Continuous("x", 0.0, 1.0, scaling="linear")])
    opt = _run(space, lambda c: (c["x"] - 0.3) ** 2, 20)
    verdict, evidence = opt.detected_scaling()["lr"]
    assert verdict == "undetermined" and evidence["margin"] < scale_detection.VERDICT_NATS


def test_a_short_range_is_linear_without_a_comparison():
    space = SearchSpace([Continuous("s", 1.0, 3.0), Continuous("x", 0.0, 1.0)])
    opt = _run(space, lambda c: (c["s"] - 2.2) ** 2 + c["x"], 12)
    verdict, evidence = opt.detected_scaling()["s"]
    assert verdict == "linear" and "within" in evidence["not_candidates"]
