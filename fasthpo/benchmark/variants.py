"""Problem variants: the ``+modifier`` part of a problem's name, parsed and applied.

Synthetic families take any modifier, each at most once and at most one of
+log, +revlog, +lin, +mixed; real tasks take only +noise and +as.

``+noiseS``
    ``evaluate`` adds Gaussian noise of standard deviation S (``function`` stays exact).
    The draw is fixed by (seed, configuration): within one seed, evaluating the
    same configuration again returns the same noisy value.
``+deadK``
    K more parameters ``dead0 ..`` in [0, 1] (linear) that change nothing; d + K ≤ 20.
``+log[K]-DECL``, DECL ∈ auto | linear | log
    The first K dims (all without K) take a value v ∈ [1e-4, 1e2] (six decades),
    mapped to the natural coordinate by z = a + (b − a)(log v − log 1e-4)/(log 1e2 − log 1e-4)
    and declared with scaling DECL: ``log`` sees the original function, ``linear``
    sees five sixths of it squashed into the lowest tenth of its range, and ``auto``
    must discover the scale.
``+revlog[K]-DECL``, DECL ∈ auto | linear | reverse_log
    The same with v ∈ [0.9, 0.9999] and z linear in −log(1 − v).
``+as-DECL``, DECL ∈ auto | linear | log
    Re-declares the dimensions whose scale is not the point of the variant. On a
    synthetic problem (DECL auto or linear): the truly linear dims — plain ones,
    ``+mixed`` integer levels and ``+dead`` dims — are declared DECL, so
    ``hartmann6+log3-auto+as-auto`` has three log-scaled and three linear dims, all
    ``auto`` (the linear ones are negative controls for scale detection). On a real
    task: its ``auto`` hyperparameters are declared DECL (``mlp-wine+as-log``), to
    compare ``auto`` with what a user who knew the scale would declare.
``+lin[K]-DECL``, DECL ∈ auto | linear | log
    The control for +log: the first K dims take v ∈ [1e-4, 1e2] as +log does,
    but mapped *linearly* to the natural coordinate, so ``linear`` is their true
    scale; ``lin-auto`` dims are what scale detection must not call log.
``+mixed``
    x0, x3, x6, … become ``Integer`` levels k = 0..10 at a + (b − a)·k/10, and the
    last dim a ``Categorical`` of unordered labels ``c0 .. c4`` at the points
    a + (b − a)·j/4, j = 3, 0, 4, 1, 2 respectively (a fixed shuffle). ``optimum``
    stays the continuous one, a floor the discrete dims may not reach, and
    ``minimizer`` is None.

Every variant keeps the optimum; ``minimizer`` is given in the variant's own space
(dead dims at 0.5).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fasthpo.benchmark.registry import MAX_DIMS, Box, Problem
from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, Parameter, Scaling, SearchSpace

# Variant ranges: +log values span six decades, +revlog values three decades of 1 − v.
LOG_RANGE = (1e-4, 1e2)
REVLOG_RANGE = (0.9, 0.9999)
MIXED_LEVELS = 11
LABELS = ("c0", "c1", "c2", "c3", "c4")
_LABEL_POINTS = (3, 0, 4, 1, 2)  # label c_i sits at point j = _LABEL_POINTS[i] of 0..4


# --- the grammar of modifiers -----------------------------------------------------------------

_MODIFIERS = {
    "noise": "+noiseS (S ≥ 0, e.g. +noise0.1)",
    "as": "+as-DECL with DECL auto|linear|log (e.g. +as-auto, +as-log)",
    "dead": "+deadK (K ≥ 1, e.g. +dead3)",
    "log": "+log[K]-DECL with DECL auto|linear|log (e.g. +log-auto, +log2-linear)",
    "revlog": "+revlog[K]-DECL with DECL auto|linear|reverse_log (e.g. +revlog-auto)",
    "lin": "+lin[K]-DECL with DECL auto|linear|log (e.g. +lin-auto, +lin2-auto)",
    "mixed": "+mixed",
}
_DECLARED = {
    "log": ("auto", "linear", "log"),
    "revlog": ("auto", "linear", "reverse_log"),
    "lin": ("auto", "linear", "log"),
    "as": ("auto", "linear", "log"),
}


def parse_modifiers(modifiers: Sequence[str]) -> dict[str, Any]:
    """Modifier kind → its argument: noise S, dead K, log/revlog (K or None, DECL), mixed True."""
    found: dict[str, Any] = {}
    for text in modifiers:
        match = re.fullmatch(r"([a-z]*)(.*)", text)
        kind, rest = match.groups() if match else ("", text)
        if kind not in _MODIFIERS:
            close = difflib.get_close_matches(kind, list(_MODIFIERS), n=1, cutoff=0.6)
            hint = f" (did you mean '+{close[0]}{rest}'?)" if close else ""
            raise ConfigError(
                "problem", f"unknown modifier '+{text}'{hint}; modifiers: {', '.join(_MODIFIERS.values())}"
            )
        if kind in found:
            raise ConfigError("problem", f"+{kind} is given twice")
        found[kind] = _modifier_argument(kind, rest)
    if sum(k in found for k in ("log", "revlog", "lin", "mixed")) > 1:
        raise ConfigError("problem", "take at most one of +log, +revlog, +lin and +mixed")
    return found


def _modifier_argument(kind: str, rest: str) -> Any:
    usage = f"malformed '+{kind}{rest}': write {_MODIFIERS[kind]}"
    if kind == "mixed":
        if rest:
            raise ConfigError("problem", usage)
        return True
    if kind == "noise":
        if not re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", rest) or not math.isfinite(float(rest)):
            raise ConfigError("problem", usage)
        return float(rest)
    if kind == "dead":
        if not re.fullmatch(r"\d+", rest) or int(rest) < 1:
            raise ConfigError("problem", usage)
        return int(rest)
    match = re.fullmatch(r"(\d*)-(.+)", rest)
    if not match or (match.group(1) and int(match.group(1)) < 1) or (kind == "as" and match.group(1)):
        raise ConfigError("problem", usage)
    count, declared = match.groups()
    if declared not in _DECLARED[kind]:
        close = difflib.get_close_matches(declared, _DECLARED[kind], n=1)
        hint = f" (did you mean '+{kind}{count}-{close[0]}'?)" if close else ""
        raise ConfigError(
            "problem", f"'+{kind}{rest}' declares {declared!r}{hint}; choose {'|'.join(_DECLARED[kind])}"
        )
    return (int(count) if count else None, declared)


# --- real tasks: +as --------------------------------------------------------------------------

def redeclared(name: str, space: SearchSpace, declared: Scaling) -> SearchSpace:
    """A real task's space with every ``auto`` hyperparameter declared ``declared`` instead."""
    params: list[Parameter] = []
    for p in space:
        if isinstance(p, (Continuous, Integer)) and p.scaling == "auto":
            if declared == "log" and p.low <= 0:
                raise ConfigError("problem", f"{name}: {p.name} starts at {p.low}, which log cannot scale")
            p = dataclasses.replace(p, scaling=declared)
        params.append(p)
    return SearchSpace(params)


# --- synthetic variants -----------------------------------------------------------------------

def _log_coordinate(v: float) -> float:
    return math.log(v)


def _revlog_coordinate(v: float) -> float:
    return -math.log1p(-v)


@dataclass(frozen=True)
class _Coordinate:
    """How one parameter's value v maps to the natural coordinate z ∈ [a, b] of the function."""

    name: str
    kind: str  # linear | log | revlog | lin | level | label
    a: float
    b: float
    declared: Scaling = "linear"

    @property
    def true_scaling(self) -> str:
        """The scaling under which this parameter's coordinate is the function's own."""
        return {"log": "log", "revlog": "reverse_log"}.get(self.kind, "linear")

    def parameter(self) -> Parameter:
        if self.kind in ("log", "lin"):
            return Continuous(self.name, *LOG_RANGE, scaling=self.declared)
        if self.kind == "revlog":
            return Continuous(self.name, *REVLOG_RANGE, scaling=self.declared)
        if self.kind == "level":
            return Integer(self.name, 0, MIXED_LEVELS - 1, scaling=self.declared)
        if self.kind == "label":
            return Categorical(self.name, LABELS)
        return Continuous(self.name, self.a, self.b, scaling=self.declared)

    def _warp(self) -> tuple[Callable[[float], float], tuple[float, float]]:
        if self.kind == "log":
            return _log_coordinate, LOG_RANGE
        if self.kind == "lin":
            return float, LOG_RANGE
        return _revlog_coordinate, REVLOG_RANGE

    def natural(self, v: Any) -> float:
        """z for the (validated) value v."""
        if self.kind == "linear":
            return float(v)
        if self.kind == "level":
            s = v / (MIXED_LEVELS - 1)
        elif self.kind == "label":
            s = _LABEL_POINTS[LABELS.index(v)] / (len(LABELS) - 1)
        else:
            warp, (lo, hi) = self._warp()
            s = min(max((warp(v) - warp(lo)) / (warp(hi) - warp(lo)), 0.0), 1.0)
        return self.a + (self.b - self.a) * s

    def value(self, z: float) -> float:
        """The value v whose natural coordinate is z (log, revlog and lin kinds; linear is itself)."""
        if self.kind == "linear":
            return float(z)
        warp, (lo, hi) = self._warp()
        t = warp(lo) + (z - self.a) / (self.b - self.a) * (warp(hi) - warp(lo))
        v = math.exp(t) if self.kind == "log" else t if self.kind == "lin" else -math.expm1(-t)
        return min(max(v, lo), hi)


@dataclass(frozen=True)
class _BoxFunction:
    """``config ↦ f(z)``: validates the config, maps each value to its natural coordinate."""

    f: Callable[[np.ndarray], float]
    coordinates: tuple[_Coordinate, ...]
    space: SearchSpace

    def __call__(self, config: Mapping[str, Any]) -> float:
        values = self.space.validate(config)
        return float(self.f(np.array([c.natural(values[c.name]) for c in self.coordinates])))


def box_problem(name: str, box: Box, mods: Mapping[str, Any]) -> Problem:
    """The problem ``name``: the function on ``box`` with the parsed modifiers ``mods`` applied."""
    d = len(box.bounds)
    dead = mods.get("dead", 0)
    if d + dead > MAX_DIMS:
        raise ConfigError("problem", f"{name} has {d + dead} dimensions; at most {MAX_DIMS}")
    plain: Scaling = mods["as"][1] if "as" in mods else "linear"  # how the truly linear dims are declared
    coords = [_Coordinate(f"x{i}", "linear", lo, hi, plain) for i, (lo, hi) in enumerate(box.bounds)]
    minimizer: list[Any] | None = list(box.minimizer) if box.minimizer is not None else None
    for kind in ("log", "revlog", "lin"):
        if kind in mods:
            count, declared = mods[kind]
            count = d if count is None else count
            if count > d:
                raise ConfigError("problem", f"+{kind}{count} needs at most {d} dims, {name} has {d}")
            for i in range(count):
                coords[i] = _Coordinate(coords[i].name, kind, coords[i].a, coords[i].b, declared)
                if minimizer is not None:
                    minimizer[i] = coords[i].value(minimizer[i])
    if "mixed" in mods:
        minimizer = None
        for i, c in enumerate(coords):
            kind = "label" if i == d - 1 else "level" if i % 3 == 0 else "linear"
            coords[i] = _Coordinate(c.name, kind, c.a, c.b, plain)
    params = [c.parameter() for c in coords] + [
        Continuous(f"dead{j}", 0.0, 1.0, scaling=plain) for j in range(dead)
    ]
    space = SearchSpace(params)
    if minimizer is not None:
        minimizer += [0.5] * dead
    return Problem(
        name=name,
        space=space,
        function=_BoxFunction(box.f, tuple(coords), space),
        optimum=box.optimum,
        noise=mods.get("noise", 0.0),
        minimizer=None if minimizer is None else dict(zip(space.names, minimizer, strict=True)),
        true_scaling={
            **{c.name: c.true_scaling for c in coords if c.kind != "label"},
            **{f"dead{j}": "linear" for j in range(dead)},
        },
    )
