"""Benchmark problems: test functions with known minima, their variants, and real tasks.

A problem is a search space, a function to **minimise** over it, and (when known)
the minimum and where it is attained. Problems are named by a small grammar::

    family[-d][+modifier...]

    branin   hartmann6   levy-10   ackley-20   styblinski-tang-5
    hartmann6+noise0.05   levy-6+dead3   branin+log-auto   levy-6+log3-linear
    hartmann3+revlog-auto   hartmann6+log3-auto+as-auto   ackley-6+mixed
    svm-digits   mlp-wine+as-log

Modifiers may come in any order; a problem's ``name`` is the string it was built
from. Below, [a, b] is a dimension's natural domain.

Synthetic families: parameters ``x0 .. x{d-1}``, each ``Continuous(..., scaling="linear")``
on its domain; d from 2 to 20 unless fixed (Styblinski–Tang from 1); minimisation throughout.

branin (d = 2), x₁ ∈ [−5, 10], x₂ ∈ [0, 15]
    (x₂ − 5.1x₁²/(4π²) + 5x₁/π − 6)² + 10(1 − 1/(8π)) cos x₁ + 10;
    minimum 5/(4π) = 0.397887 at (−π, 12.275), (π, 2.275) and (9.42478, 2.475).
hartmann3, hartmann6, [0, 1]^d
    −Σ_{i=1..4} α_i exp(−Σ_j A_ij (x_j − P_ij)²) with the standard α, A, P below;
    minimum −3.86278 (d = 3) and −3.32237 (d = 6).
levy-d, [−10, 10]^d, with w_i = 1 + (x_i − 1)/4
    sin²(πw₁) + Σ_{i<d} (w_i − 1)²(1 + 10 sin²(πw_i + 1)) + (w_d − 1)²(1 + sin²(2πw_d));
    minimum 0 at x = 1.
ackley-d, [−32.768, 32.768]^d
    −20 exp(−0.2 √(mean x_i²)) − exp(mean cos 2πx_i) + 20 + e; minimum 0 at x = 0.
rosenbrock-d, [−5, 10]^d
    Σ_{i<d} 100(x_{i+1} − x_i²)² + (x_i − 1)²; minimum 0 at x = 1.
styblinski-tang-d, [−5, 5]^d
    ½ Σ (x_i⁴ − 16x_i² + 5x_i); minimum −39.16617·d at x = −2.903534 (each coordinate).

Modifiers (synthetic families take any of them, each at most once and at most one
of +log, +revlog, +lin, +mixed; real tasks take only +noise and +as):

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
(dead dims at 0.5). Real tasks (``fasthpo.benchmark.tasks``) have no known optimum.

Adding a family takes a few lines. A synthetic one gets every modifier::

    def sphere(x: np.ndarray) -> float:
        return float(np.sum(x**2))

    register_family("sphere", "sum of squares on [-5, 5]^d, 0 at 0",
                    lambda d: Box.cube(sphere, d, -5.0, 5.0, optimum=0.0, minimizer=0.0),
                    dims=(2, 20))

Any other problem is a builder taking the cache folder: ``register_family("my-task",
"…", lambda cache_dir: Problem("my-task", space, fn))``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fasthpo.errors import ConfigError
from fasthpo.space import Categorical, Continuous, Integer, Parameter, SearchSpace

MAX_DIMS = 20
BRANIN_OPTIMUM = 5.0 / (4.0 * math.pi)
HARTMANN3_OPTIMUM = -3.862779787332663
HARTMANN3_MINIMIZER = (0.114588877, 0.555648895, 0.852546985)
HARTMANN6_OPTIMUM = -3.3223680114155147
HARTMANN6_MINIMIZER = (0.201689511, 0.150010692, 0.476873974, 0.275332431, 0.311651617, 0.657300534)
STYBLINSKI_TANG_X = -2.903534027771177  # the root of 4x³ − 32x + 5 in [−5, 0]
STYBLINSKI_TANG_OPTIMUM_PER_DIM = -39.16616570377141

_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_HARTMANN3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]], dtype=float
)
_HARTMANN6_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14],
])
_HARTMANN6_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381],
], dtype=float)

# Variant ranges: +log values span six decades, +revlog values three decades of 1 − v.
LOG_RANGE = (1e-4, 1e2)
REVLOG_RANGE = (0.9, 0.9999)
MIXED_LEVELS = 11
LABELS = ("c0", "c1", "c2", "c3", "c4")
_LABEL_POINTS = (3, 0, 4, 1, 2)  # label c_i sits at point j = _LABEL_POINTS[i] of 0..4


# --- the functions: x is a 1-D float array ----------------------------------------------------

def branin(x: np.ndarray) -> float:
    """Branin–Hoo on x₁∈[−5, 10], x₂∈[0, 15]; three global minima of 5/(4π)."""
    x1, x2 = x
    b, c, t = 5.1 / (4.0 * math.pi**2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x1) + 10.0)


def hartmann3(x: np.ndarray) -> float:
    """Hartmann-3 on [0, 1]³."""
    return -float(_HARTMANN_ALPHA @ np.exp(-np.sum(_HARTMANN3_A * (x - _HARTMANN3_P) ** 2, axis=1)))


def hartmann6(x: np.ndarray) -> float:
    """Hartmann-6 on [0, 1]⁶."""
    return -float(_HARTMANN_ALPHA @ np.exp(-np.sum(_HARTMANN6_A * (x - _HARTMANN6_P) ** 2, axis=1)))


def levy(x: np.ndarray) -> float:
    """Levy on [−10, 10]^d; 0 at x = 1."""
    w = 1.0 + (x - 1.0) / 4.0
    head = np.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(math.pi * w[:-1] + 1.0) ** 2))
    tail = (w[-1] - 1.0) ** 2 * (1.0 + np.sin(2.0 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


def ackley(x: np.ndarray) -> float:
    """Ackley on [−32.768, 32.768]^d; 0 at x = 0."""
    return float(
        -20.0 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
        - np.exp(np.mean(np.cos(2.0 * math.pi * x))) + 20.0 + math.e
    )


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock on [−5, 10]^d; 0 at x = 1."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1.0) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    """Styblinski–Tang on [−5, 5]^d; −39.16617·d at x = −2.903534."""
    return float(0.5 * np.sum(x**4 - 16.0 * x**2 + 5.0 * x))


# --- problems ---------------------------------------------------------------------------------

def canonical_json(config: Mapping[str, Any]) -> str:
    """The canonical text of a (validated) configuration: sorted keys, exact floats."""
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Problem:
    """A search space and a function of a configuration to minimise.

    ``evaluate`` is what an optimizer sees (``function`` plus seeded noise);
    ``true_value`` is what a benchmark scores it by (``function`` alone).
    ``true_scaling`` (synthetic problems) names, per continuous or integer
    parameter, the scaling under which the function is its own, whatever was
    declared: what scale detection should find.
    """

    name: str
    space: SearchSpace
    function: Callable[[Mapping[str, Any]], float]
    optimum: float | None = None
    noise: float = 0.0
    minimizer: Mapping[str, Any] | None = None
    true_scaling: Mapping[str, str] | None = None

    def evaluate(self, config: Mapping[str, Any], *, seed: int = 0) -> float:
        """``function(config)`` plus ``noise``·N(0, 1), the draw fixed by (seed, config)."""
        value = float(self.function(config))
        if self.noise == 0.0:
            return value
        text = f"{operator.index(seed)}\0{canonical_json(self.space.validate(config))}"
        digest = hashlib.sha256(text.encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:16], "little"))
        return value + self.noise * float(rng.standard_normal())

    def true_value(self, config: Mapping[str, Any]) -> float:
        """The noiseless value ``function(config)``."""
        return float(self.function(config))


@dataclass(frozen=True)
class Box:
    """A d-dimensional function ``f`` on the box ``bounds``, with its minimum when known."""

    f: Callable[[np.ndarray], float]
    bounds: tuple[tuple[float, float], ...]
    optimum: float | None = None
    minimizer: tuple[float, ...] | None = None

    @classmethod
    def cube(
        cls, f: Callable[[np.ndarray], float], d: int, low: float, high: float, *,
        optimum: float | None = None, minimizer: float | Sequence[float] | None = None,
    ) -> Box:
        """The box [low, high]^d; a scalar ``minimizer`` is repeated d times."""
        if isinstance(minimizer, (int, float)):
            minimizer = (float(minimizer),) * d
        return cls(f, ((low, high),) * d, optimum, None if minimizer is None else tuple(minimizer))


@dataclass(frozen=True)
class _Family:
    description: str
    builder: Callable[..., Any]
    dims: tuple[int, int] | None  # None: builder(cache_dir) -> Problem; else builder(d) -> Box


_FAMILIES: dict[str, _Family] = {}
_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")


def register_family(
    name: str, description: str, builder: Callable[..., Any], *,
    dims: int | tuple[int, int] | None = None,
) -> None:
    """Make ``name`` known to :func:`get_problem`.

    With ``dims`` (a fixed d, or a range ``(low, high)``), ``builder(d)`` returns a
    :class:`Box` and every modifier applies; without, ``builder(cache_dir)`` returns a
    :class:`Problem` and only ``+noise`` applies. Names are lowercase words joined by
    ``-``, each starting with a letter (so ``-d`` stays unambiguous).
    """
    if not _FAMILY_NAME.match(name):
        raise ValueError(f"family name {name!r} must be lowercase words joined by '-'")
    if name in _FAMILIES:
        raise ValueError(f"problem family {name!r} is already registered")
    span = (dims, dims) if isinstance(dims, int) else dims
    if span is not None and not 1 <= span[0] <= span[1] <= MAX_DIMS:
        raise ValueError(f"dims must lie in 1..{MAX_DIMS}, got {dims!r}")
    _FAMILIES[name] = _Family(description, builder, span)


def _builtin() -> dict[str, _Family]:
    import fasthpo.benchmark.tasks  # noqa: F401  (registers the real tasks)

    return _FAMILIES


def problem_families() -> dict[str, str]:
    """Family name → one-line description, for help texts and docs."""
    return {name: family.description for name, family in _builtin().items()}


def get_problem(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Problem:
    """Build the problem that ``name`` describes (see the module docstring for the grammar).

    ``cache_dir`` is where real tasks keep their evaluations (default
    ``$FASTHPO_BENCH_CACHE``, else ``~/.cache/fasthpo/bench``). Raises
    ``ConfigError("problem", ...)`` for an unknown family or a malformed name.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError("problem", f"a problem name must be a non-empty string, got {name!r}")
    families = _builtin()
    head, *modifiers = name.split("+")
    family, d = _parse_head(head, families)
    mods = _parse_modifiers(modifiers)
    spec = families[family]
    if spec.dims is None:
        extra = sorted(set(mods) - {"noise", "as"})
        if extra:
            raise ConfigError("problem", f"{family} takes only +noise and +as, not +{extra[0]}")
        problem = spec.builder(cache_dir)
        space = _redeclared(name, problem.space, mods["as"][1]) if "as" in mods else problem.space
        return Problem(name, space, problem.function, problem.optimum,
                       mods.get("noise", problem.noise), problem.minimizer)
    if "as" in mods and mods["as"][1] == "log":
        raise ConfigError("problem", f"{name}: +as-log is for real tasks; write +log[K]-log")
    return _synthetic(name, spec.builder(d), mods)


def _redeclared(name: str, space: SearchSpace, declared: str) -> SearchSpace:
    """A real task's space with every ``auto`` hyperparameter declared ``declared`` instead."""
    params: list[Parameter] = []
    for p in space:
        if isinstance(p, (Continuous, Integer)) and p.scaling == "auto":
            if declared == "log" and p.low <= 0:
                raise ConfigError("problem", f"{name}: {p.name} starts at {p.low}, which log cannot scale")
            p = type(p)(p.name, p.low, p.high, scaling=declared)
        params.append(p)
    return SearchSpace(params)


def _parse_head(head: str, families: Mapping[str, _Family]) -> tuple[str, int]:
    match = re.fullmatch(r"(.+?)-(\d+)", head)
    family, d_text = (head, None) if head in families or not match else match.groups()
    if family not in families:
        guess = family + d_text if d_text and family + d_text in families else None
        close = difflib.get_close_matches(family.lower(), list(families), n=1, cutoff=0.6)
        guess = guess or (close[0] + (f"-{d_text}" if d_text else "") if close else None)
        hint = f" (did you mean {guess!r}?)" if guess else ""
        raise ConfigError(
            "problem", f"unknown problem family {family!r}{hint}; known: {', '.join(families)}"
        )
    dims = families[family].dims
    if dims is None or dims[0] == dims[1]:
        if d_text is not None:
            fixed = "takes no dimension" if dims is None else f"has a fixed dimension ({dims[0]})"
            raise ConfigError("problem", f"{family} {fixed}: write {family!r}, not {head!r}")
        return family, dims[0] if dims else 0
    if d_text is None:
        raise ConfigError(
            "problem", f"{family} needs a dimension from {dims[0]} to {dims[1]}: e.g. '{family}-6'"
        )
    d = int(d_text)
    if not dims[0] <= d <= dims[1]:
        raise ConfigError("problem", f"{family}-d needs d from {dims[0]} to {dims[1]}, got {d}")
    return family, d


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


def _parse_modifiers(modifiers: Sequence[str]) -> dict[str, Any]:
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
    declared: str = "linear"

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


def _synthetic(name: str, box: Box, mods: Mapping[str, Any]) -> Problem:
    d = len(box.bounds)
    dead = mods.get("dead", 0)
    if d + dead > MAX_DIMS:
        raise ConfigError("problem", f"{name} has {d + dead} dimensions; at most {MAX_DIMS}")
    plain = mods["as"][1] if "as" in mods else "linear"  # how the truly linear dims are declared
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


def _branin(d: int) -> Box:
    return Box(branin, ((-5.0, 10.0), (0.0, 15.0)), BRANIN_OPTIMUM, (math.pi, 2.275))


def _hartmann3(d: int) -> Box:
    return Box.cube(hartmann3, 3, 0.0, 1.0, optimum=HARTMANN3_OPTIMUM, minimizer=HARTMANN3_MINIMIZER)


def _hartmann6(d: int) -> Box:
    return Box.cube(hartmann6, 6, 0.0, 1.0, optimum=HARTMANN6_OPTIMUM, minimizer=HARTMANN6_MINIMIZER)


def _levy(d: int) -> Box:
    return Box.cube(levy, d, -10.0, 10.0, optimum=0.0, minimizer=1.0)


def _ackley(d: int) -> Box:
    return Box.cube(ackley, d, -32.768, 32.768, optimum=0.0, minimizer=0.0)


def _rosenbrock(d: int) -> Box:
    return Box.cube(rosenbrock, d, -5.0, 10.0, optimum=0.0, minimizer=1.0)


def _styblinski_tang(d: int) -> Box:
    return Box.cube(styblinski_tang, d, -5.0, 5.0, optimum=STYBLINSKI_TANG_OPTIMUM_PER_DIM * d,
                    minimizer=STYBLINSKI_TANG_X)


register_family("branin", "Branin-Hoo, d=2: three equal minima, a smooth valley", _branin, dims=2)
register_family("hartmann3", "Hartmann-3 on [0,1]^3: four local minima", _hartmann3, dims=3)
register_family("hartmann6", "Hartmann-6 on [0,1]^6: the classic BO benchmark", _hartmann6, dims=6)
register_family("levy", "Levy-d on [-10,10]^d: many local minima, 0 at 1", _levy, dims=(2, MAX_DIMS))
register_family("ackley", "Ackley-d on [-32.768,32.768]^d: flat plateau, narrow hole at 0",
                _ackley, dims=(2, MAX_DIMS))
register_family("rosenbrock", "Rosenbrock-d on [-5,10]^d: curved narrow valley, 0 at 1",
                _rosenbrock, dims=(2, MAX_DIMS))
register_family("styblinski-tang", "Styblinski-Tang-d on [-5,5]^d: 2^d local minima",
                _styblinski_tang, dims=(1, MAX_DIMS))
