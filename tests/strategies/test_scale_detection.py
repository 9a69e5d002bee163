"""Scale verdicts: the rule on known warps, the hedged initial design, the warp-like starts, and
``BayesianOptimizer.detected_scaling`` on log, reverse-log and linear objectives (integers too)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fasthpo.gp import _reference as ref
from fasthpo.space import Categorical, Continuous, Integer, SearchSpace
from fasthpo.strategies import scale_detection
from fasthpo.strategies.bayesian import BayesianOptimizer
from fasthpo.strategies.scale_detection import candidate_maps, design_coordinate, verdict, warp_like

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


def test_verdict_of_known_warps():
    assert verdict(WIDE, 1.0, 1.0)[0] == "linear"
    a, b = warp_like(WIDE, "log")
    assert a < 0.2 and verdict(WIDE, a, b)[0] == "log"
    a, b = warp_like(MOMENTUM, "reverse_log")
    assert b < 0.4 and verdict(MOMENTUM, a, b)[0] == "reverse_log"
    assert verdict(WIDE, 0.4, 1.2)[0] == "undetermined"  # half-way between linear and log
    assert verdict(Continuous("short", 1.0, 3.0), 0.8, 1.2)[0] == "linear"  # log not a candidate
    assert warp_like(Continuous("z", 0.0, 1.0), "log") is None


def test_evidence_is_small_json_of_floats_and_strings():
    _, evidence = verdict(WIDE, 0.1, 1.1)
    assert json.loads(json.dumps(evidence)) == evidence
    assert all(isinstance(v, float | str) for v in evidence.values())
    assert evidence["distance_log"] < 0.02 < 0.4 < evidence["distance_linear"]


def test_design_is_the_mixture_of_candidate_scales():
    t = np.linspace(0, 1, 10001)
    u = design_coordinate(WIDE, t)
    assert np.all(np.diff(u) >= 0) and u[0] == 0 and u[-1] == 1
    # Half the mass uniform in u, half uniform in log v: u < 1e-3 (v below about 0.1) holds
    # 0.1 % of the linear half and the lowest three of six decades of the log half.
    share_low = np.mean(u < 1e-3)
    assert share_low == pytest.approx(0.5 * math.log(1e-3 * 1e2 / 1e-4 + 1) / math.log(1e6), abs=0.01)
    np.testing.assert_array_equal(design_coordinate(Continuous("z", 0.0, 1.0), t), t)


def _run(space, objective, n, seed=0):
    opt = BayesianOptimizer(space, seed=seed)
    for _ in range(n):
        config = opt.ask(1)[0]
        opt.tell(config, objective(config))
    return opt


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
    found["lr"][1]["warp_a"] = -1.0  # a copy: the caller cannot change the optimizer's record
    assert opt.detected_scaling()["lr"][1]["warp_a"] > 0


def test_detects_log_on_an_integer_and_reverse_log_and_linear():
    space = SearchSpace([
        Integer("units", 1, 4096),
        MOMENTUM,
        Continuous("w", 1e-3, 1e3),  # truly linear over three decades
    ])

    def objective(c):
        return ((math.log2(c["units"]) - 5.0) / 3.0) ** 2 + (math.log10(1 - c["momentum"]) + 2.0) ** 2 \
            + ((c["w"] - 400.0) / 300.0) ** 2

    found = {name: v for name, (v, _) in _run(space, objective, 30).detected_scaling().items()}
    assert found == {"units": "log", "momentum": "reverse_log", "w": "linear"}


def test_candidates_follow_the_warp():
    """With a log-shaped warp, most candidates (uniform in warped space) sit at small values."""
    space = SearchSpace([WIDE])
    opt = _run(space, lambda c: (math.log10(c["lr"]) + 3.0) ** 2, 15)
    assert opt.detected_scaling()["lr"][0] == "log"
    W = np.random.default_rng(0).random((1000, 1))
    Z = opt._warp.inverse(W)
    values = np.array([space["lr"].from_unit(float(u)) for u in Z[:, 0]])
    assert np.mean(values < 1.0) > 0.5  # a linear design would put 1 % there
    np.testing.assert_allclose(opt._warp.apply(Z), W, atol=1e-8)
    np.testing.assert_allclose(ref.kumaraswamy_cdf(Z[:, 0], opt._warp.a[0], opt._warp.b[0]), W[:, 0],
                               atol=1e-8)


def test_a_log_verdict_needs_the_warp_nearer_log_than_linear():
    """The margin rule: a warp as near to linear as to log is never called either."""
    for a in np.exp(np.linspace(np.log(0.05), np.log(1.5), 40)):
        decided, evidence = verdict(WIDE, float(a), 1.0)
        if decided != "undetermined":
            near, far = sorted([evidence["distance_linear"], evidence["distance_log"]])
            assert near <= scale_detection.MATCH and near <= scale_detection.MARGIN * far
