"""The model's encoding of a search space."""

from __future__ import annotations

import numpy as np

import fasthpo
from fasthpo.strategies.encoding import SpaceEncoder

SPACE = fasthpo.SearchSpace([
    fasthpo.Continuous("lr", 1e-4, 1.0, scaling="log"),
    fasthpo.Integer("layers", 1, 6),
    fasthpo.Categorical("act", ["relu", "tanh", "gelu"]),
    fasthpo.Continuous("drop", 0.0, 0.5),
])


def test_layout_and_round_trip():
    enc = SpaceEncoder(SPACE)
    assert enc.dim == 6
    assert enc.continuous.tolist() == [True, True, False, False, False, True]
    configs = [fasthpo.RandomSearch(SPACE, seed=s).ask(1)[0] for s in range(20)]
    Z = enc.encode(configs)
    assert Z.shape == (20, 6) and Z.min() >= 0 and Z.max() <= 1
    assert np.all(Z[:, 2:5].sum(axis=1) == 1)
    back = enc.decode(Z)
    for a, b in zip(configs, back, strict=True):
        assert a["layers"] == b["layers"] and a["act"] == b["act"]
        assert np.isclose(a["lr"], b["lr"], rtol=1e-12) and np.isclose(a["drop"], b["drop"])


def test_project_snaps_to_valid_encodings():
    enc = SpaceEncoder(SPACE)
    raw = np.random.default_rng(0).normal(0.5, 0.6, size=(50, 6))
    P = enc.project(raw)
    assert np.all((P >= 0) & (P <= 1))
    assert np.all(P[:, 2:5].sum(axis=1) == 1) and set(np.unique(P[:, 2:5])) <= {0.0, 1.0}
    np.testing.assert_allclose(enc.project(P), P)  # idempotent
    layers = [c["layers"] for c in enc.decode(P)]
    assert np.allclose(enc.encode(enc.decode(P)), P)
    assert set(layers) <= set(range(1, 7))


def test_from_unit_and_perturb_stay_valid():
    enc = SpaceEncoder(SPACE)
    rng = np.random.default_rng(1)
    Z = enc.from_unit(rng.random((30, 4)))
    assert np.allclose(enc.project(Z), Z)
    moved = enc.perturb(Z, rng, 0.1)
    assert np.allclose(enc.project(moved), moved)
    assert not np.allclose(moved, Z)


def test_keys_identify_configurations():
    enc = SpaceEncoder(SPACE)
    config = {"lr": 0.01, "layers": 3, "act": "tanh", "drop": 0.25}
    z = enc.encode([config, dict(config, drop=0.3)])
    keys = enc.keys(z)
    assert keys[0] != keys[1]
    assert enc.keys(enc.encode([config]))[0] == keys[0]


def test_perturb_moves_a_few_coordinates_at_a_time():
    space = fasthpo.SearchSpace([fasthpo.Continuous(f"x{i}", 0.0, 1.0) for i in range(20)])
    enc = SpaceEncoder(space)
    Z = np.full((400, 20), 0.5)
    moved = enc.perturb(Z, np.random.default_rng(2), 0.05) != 0.5
    per_row = moved.sum(axis=1)
    assert per_row.min() >= 1  # every neighbour differs from its origin
    assert 0.2 < moved.mean() < 0.4  # about PERTURB_SHARE of the coordinates move
