"""Search spaces: hyperparameters, their scalings, validation and the unit-cube encoding.

Every strategy works on the unit cube: each hyperparameter owns one coordinate
``u`` in [0, 1], and its *scaling* says how ``u`` maps to a value:

==============  =======================================  ==========================
scaling         value from u                             rule on the range
==============  =======================================  ==========================
``linear``      low + u (high − low)                     low < high
``log``         exp(log low + u (log high − log low))    0 < low < high
``reverse_log`` 1 − exp(log(1−low) + u (log(1−high) −    0 ≤ low < high < 1
                log(1−low)))
``auto``        as ``linear``; the Bayesian strategy     as ``linear``
                learns a warp of u on top (strategies
                that cannot learn use it as linear)
==============  =======================================  ==========================

``reverse_log`` puts resolution near 1 (momentum 0.9 … 0.999). Integers map
through the range widened by half a step at each end, so every integer gets the
same share of the cube; categoricals split the cube into equal bins. The module
is pure Python: the CLI and job-file validation use it without NumPy.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from fasthpo.errors import ConfigError, did_you_mean

Scaling = Literal["auto", "linear", "log", "reverse_log"]
SCALINGS: tuple[str, ...] = ("auto", "linear", "log", "reverse_log")
CategoricalValue = str | int | float | bool

#: Why a search space is capped, said in the error when it is exceeded.
MAX_TUNABLE_DEFAULT = 20
MAX_CATEGORICAL_VALUES = 30
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_name(name: object, what: str = "hyperparameter") -> str:
    """Return ``name`` if it is a safe identifier (letters, digits, ``_``; ≤ 64 chars)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            str(name) if isinstance(name, str) and name else "",
            f"{what} name {name!r} is not a safe identifier: use letters, digits and "
            "underscores, starting with a letter or underscore, at most 64 characters "
            "(it becomes a command-line flag and a JSON key)",
        )
    return name


def render_value(value: CategoricalValue) -> str:
    """The text a training job receives for ``value`` on its command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(float(value))  # a NumPy float's own repr is "np.float64(...)"
    return str(value)


def _number(name: str, what: str, value: object) -> float:
    # numbers.Real admits NumPy scalars (np.int64, np.float32), which Python APIs often hand us.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(name, f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(name, f"{what} must be finite, got {value!r}")
    return value


def _check_scaling(name: str, scaling: object) -> str:
    if scaling not in SCALINGS:
        hint = did_you_mean(str(scaling), SCALINGS)
        raise ConfigError(
            name, f"unknown scaling {scaling!r}{hint}; choose one of {', '.join(SCALINGS)}"
        )
    return str(scaling)


def _forward(scaling: str, value: float) -> float:
    """Map a value to the coordinate in which the scaling is uniform."""
    if scaling == "log":
        return math.log(value)
    if scaling == "reverse_log":
        return -math.log1p(-value)
    return value


def _backward(scaling: str, z: float) -> float:
    if scaling == "log":
        return math.exp(z)
    if scaling == "reverse_log":
        return -math.expm1(-z)
    return z


def _clip01(u: float) -> float:
    if u != u:
        raise ValueError("unit-cube coordinate is NaN")
    return 0.0 if u < 0.0 else 1.0 if u > 1.0 else u


@dataclass(frozen=True)
class Continuous:
    """A real-valued hyperparameter in ``[low, high]``."""

    name: str
    low: float
    high: float
    scaling: Scaling = "auto"
    kind: ClassVar[str] = "continuous"  # the job-file ``type``; code dispatches on the class

    def __post_init__(self) -> None:
        check_name(self.name)
        low = _number(self.name, "low", self.low)
        high = _number(self.name, "high", self.high)
        scaling = _check_scaling(self.name, self.scaling)
        _check_range(self.name, low, high, scaling)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _edges(self) -> tuple[float, float]:
        return _forward(self.scaling, self.low), _forward(self.scaling, self.high)

    def to_unit(self, value: Any) -> float:
        """Unit-cube coordinate of ``value`` (validated)."""
        value = self.validate(value)
        z0, z1 = self._edges()
        return _clip01((_forward(self.scaling, value) - z0) / (z1 - z0))

    def from_unit(self, u: float) -> float:
        """Value at unit-cube coordinate ``u`` (clipped to [0, 1] and to the range)."""
        u = _clip01(u)
        if u == 0.0 or u == 1.0:  # exact ends: exp(log(x)) need not give x back
            return self.high if u else self.low
        z0, z1 = self._edges()
        value = float(_backward(self.scaling, z0 + u * (z1 - z0)))
        return min(max(value, self.low), self.high)

    def validate(self, value: Any) -> float:
        """Return ``value`` as a float inside the range, or raise ``ConfigError``."""
        value = _number(self.name, "value", value)
        if not self.low <= value <= self.high:
            raise ConfigError(self.name, f"value {value!r} is outside [{self.low!r}, {self.high!r}]")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Job-file form of this hyperparameter."""
        return {"type": "continuous", "min": self.low, "max": self.high, "scaling": self.scaling}


@dataclass(frozen=True)
class Integer:
    """An integer hyperparameter in ``[low, high]`` (both included)."""

    name: str
    low: int
    high: int
    scaling: Scaling = "auto"
    kind: ClassVar[str] = "integer"  # the job-file ``type``; code dispatches on the class

    def __post_init__(self) -> None:
        check_name(self.name)
        for what in ("low", "high"):
            raw = getattr(self, what)
            number = _number(self.name, what, raw)
            if number != int(number):
                raise ConfigError(self.name, f"integer bound {what} must be a whole number, got {raw!r}")
            object.__setattr__(self, what, int(number))
        scaling = _check_scaling(self.name, self.scaling)
        if scaling == "reverse_log":
            raise ConfigError(
                self.name,
                "reverse_log needs a range inside [0, 1), which holds no two integers; "
                "use a Continuous hyperparameter",
            )
        _check_range(self.name, self.low, self.high, scaling)

    def _edges(self) -> tuple[float, float]:
        # Half a step beyond each end: every integer owns an equal slice of the cube.
        return (
            _forward(self.scaling, self.low - 0.5),
            _forward(self.scaling, self.high + 0.5),
        )

    def to_unit(self, value: Any) -> float:
        """Unit-cube coordinate of the centre of ``value``'s slice."""
        value = self.validate(value)
        z0, z1 = self._edges()
        lo = _forward(self.scaling, value - 0.5)
        hi = _forward(self.scaling, value + 0.5)
        return _clip01((0.5 * (lo + hi) - z0) / (z1 - z0))

    def from_unit(self, u: float) -> int:
        """The integer whose slice holds ``u`` (clipped to the range)."""
        z0, z1 = self._edges()
        value = round(_backward(self.scaling, z0 + _clip01(u) * (z1 - z0)))
        return min(max(int(value), self.low), self.high)

    def validate(self, value: Any) -> int:
        """Return ``value`` as an int inside the range, or raise ``ConfigError``."""
        number = _number(self.name, "value", value)
        if number != int(number):
            raise ConfigError(self.name, f"value {value!r} is not a whole number")
        if not self.low <= number <= self.high:
            raise ConfigError(self.name, f"value {value!r} is outside [{self.low}, {self.high}]")
        return int(number)

    def to_dict(self) -> dict[str, Any]:
        """Job-file form of this hyperparameter."""
        return {"type": "integer", "min": self.low, "max": self.high, "scaling": self.scaling}


@dataclass(frozen=True)
class Categorical:
    """A hyperparameter taking one of a few unordered values (strings, numbers, booleans)."""

    name: str
    values: tuple[CategoricalValue, ...]
    kind: ClassVar[str] = "categorical"  # the job-file ``type``; code dispatches on the class

    def __post_init__(self) -> None:
        check_name(self.name)
        if isinstance(self.values, (str, bytes, Mapping)) or not isinstance(
            self.values, Sequence
        ):
            raise ConfigError(self.name, f"values must be a list, got {self.values!r}")
        values = tuple(self.values)
        if not values:
            raise ConfigError(self.name, "values is empty: a categorical needs at least one value")
        if len(values) > MAX_CATEGORICAL_VALUES:
            raise ConfigError(
                self.name,
                f"{len(values)} values is more than the {MAX_CATEGORICAL_VALUES} allowed; "
                "a model learns little about each of so many unordered choices — use an "
                "Integer or Continuous range if the values are ordered",
            )
        seen: dict[str, CategoricalValue] = {}
        for value in values:
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(self.name, f"value {value!r} is not finite")
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(
                    self.name, f"value {value!r} must be a string, number or boolean"
                )
            text = render_value(value)
            if text in seen:
                raise ConfigError(
                    self.name,
                    f"duplicated value {value!r} (a training job would receive {seen[text]!r} "
                    f"and {value!r} as the same argument {text!r})",
                )
            seen[text] = value
        object.__setattr__(self, "values", values)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the values, or ``ConfigError``."""
        for i, candidate in enumerate(self.values):
            if type(candidate) is type(value) and candidate == value:
                return i
        # A value read back from text (a CSV, a command line) matches by its rendering.
        text = render_value(value) if isinstance(value, (str, int, float, bool)) else None
        for i, candidate in enumerate(self.values):
            if render_value(candidate) == text or _same_number(candidate, value):
                return i
        raise ConfigError(self.name, f"value {value!r} is not one of {list(self.values)!r}")

    def to_unit(self, value: Any) -> float:
        """Centre of ``value``'s bin in [0, 1]."""
        return (self.index(value) + 0.5) / len(self.values)

    def from_unit(self, u: float) -> CategoricalValue:
        """The value whose bin holds ``u``."""
        return self.values[min(int(_clip01(u) * len(self.values)), len(self.values) - 1)]

    def validate(self, value: Any) -> CategoricalValue:
        """Return the declared value equal to ``value``, or raise ``ConfigError``."""
        return self.values[self.index(value)]

    def to_dict(self) -> dict[str, Any]:
        """Job-file form of this hyperparameter."""
        return {"type": "categorical", "values": list(self.values)}


Parameter = Continuous | Integer | Categorical


def _same_number(a: object, b: object) -> bool:
    return (
        isinstance(a, numbers.Real) and isinstance(b, numbers.Real)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )


def _check_range(name: str, low: float, high: float, scaling: str) -> None:
    if not low < high:
        raise ConfigError(name, f"low must be less than high, got low={low!r}, high={high!r}")
    if not math.isfinite(high - low):
        raise ConfigError(name, f"the range [{low!r}, {high!r}] is too wide: high - low overflows")
    if scaling == "log" and low <= 0:
        raise ConfigError(name, f"log scaling needs low > 0, got low={low!r}")
    if scaling == "reverse_log" and not (0 <= low and high < 1):
        raise ConfigError(
            name, f"reverse_log scaling needs 0 <= low < high < 1, got [{low!r}, {high!r}]"
        )
    if _forward(scaling, low) == _forward(scaling, high):
        raise ConfigError(
            name, f"the range [{low!r}, {high!r}] is too narrow to divide on a {scaling} scale"
        )


class SearchSpace:
    """An ordered set of hyperparameters with a unit-cube encoding.

    Parameters
    ----------
    parameters
        The hyperparameters, in the order of the unit-cube coordinates.
    max_tunable
        Refuse spaces with more hyperparameters than this (default 20). Each
        extra dimension multiplies the trials a tuner needs before it can tell
        which settings matter; fix what you are sure of as a static value.
    """

    def __init__(
        self, parameters: Sequence[Parameter], *, max_tunable: int = MAX_TUNABLE_DEFAULT
    ) -> None:
        params = list(parameters)
        if not params:
            raise ConfigError("", "a search space needs at least one hyperparameter")
        for p in params:
            if not isinstance(p, (Continuous, Integer, Categorical)):
                raise ConfigError(
                    "", f"{p!r} is not a hyperparameter (Continuous, Integer or Categorical)"
                )
        names = [p.name for p in params]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(duplicated[0], "duplicated hyperparameter name")
        if len(params) > max_tunable:
            raise ConfigError(
                "",
                f"{len(params)} tunable hyperparameters is more than the limit of {max_tunable} "
                f"(max_tunable={max_tunable}): every extra dimension needs more trials before "
                "the tuner learns which settings matter, so fix the ones you are sure of as "
                "static hyperparameters (or raise max_tunable knowingly)",
            )
        self._params = tuple(params)
        self._by_name = {p.name: p for p in params}

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self._params

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._params)

    def __getitem__(self, name: str) -> Parameter:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self._params == other._params

    def __hash__(self) -> int:
        return hash(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._params)!r})"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return a normalised copy of ``config`` (ints as int, categoricals as declared).

        Raises ``ConfigError`` naming the first unknown, missing or out-of-range field.
        """
        if not isinstance(config, Mapping):
            raise ConfigError("", f"a configuration must be a mapping, got {config!r}")
        unknown = [k for k in config if k not in self._by_name]
        if unknown:
            hint = did_you_mean(str(unknown[0]), self.names)
            raise ConfigError(str(unknown[0]), f"unknown hyperparameter{hint}")
        missing = [n for n in self.names if n not in config]
        if missing:
            raise ConfigError(missing[0], "missing from the configuration")
        return {p.name: p.validate(config[p.name]) for p in self._params}

    def to_unit(self, config: Mapping[str, Any]) -> list[float]:
        """Unit-cube coordinates of ``config``, one per hyperparameter, in order."""
        config = self.validate(config)
        return [p.to_unit(config[p.name]) for p in self._params]

    def from_unit(self, u: Sequence[float]) -> dict[str, Any]:
        """The configuration at unit-cube point ``u`` (coordinates are clipped)."""
        if len(u) != len(self._params):
            raise ValueError(f"expected {len(self._params)} coordinates, got {len(u)}")
        return {p.name: p.from_unit(float(x)) for p, x in zip(self._params, u, strict=True)}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Job-file form: ``{name: {type, min, max, scaling} | {type, values}}``."""
        return {p.name: p.to_dict() for p in self._params}

    @classmethod
    def from_dict(
        cls, spec: Mapping[str, Any], *, max_tunable: int = MAX_TUNABLE_DEFAULT
    ) -> SearchSpace:
        """Build a space from its job-file form; errors name ``<name>.<key>``."""
        if not isinstance(spec, Mapping):
            raise ConfigError("", f"must be a mapping of name to range, got {spec!r}")
        return cls(
            [_parameter_from_dict(name, body) for name, body in spec.items()],
            max_tunable=max_tunable,
        )


_KEYS = {
    "continuous": {"type", "min", "max", "scaling"},
    "integer": {"type", "min", "max", "scaling"},
    "categorical": {"type", "values"},
}


def _parameter_from_dict(name: Any, body: Any) -> Parameter:
    check_name(name)
    if not isinstance(body, Mapping):
        raise ConfigError(
            name, f"must be a mapping such as {{type: continuous, min: 0, max: 1}}, got {body!r}"
        )
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:  # an unhashable value is not a type either
        hint = did_you_mean(str(kind), list(_KEYS))
        raise ConfigError(
            f"{name}.type", f"unknown type {kind!r}{hint}; choose continuous, integer or categorical"
        )
    allowed = _KEYS[kind]
    for key in body:
        if key not in allowed:
            hint = did_you_mean(str(key), sorted(allowed))
            raise ConfigError(
                f"{name}.{key}",
                f"unknown key for a {kind} hyperparameter{hint}; allowed: {', '.join(sorted(allowed))}",
            )
    if kind == "categorical":
        if "values" not in body:
            raise ConfigError(f"{name}.values", "required for a categorical hyperparameter")
        return Categorical(name, body["values"])
    for key in ("min", "max"):
        if key not in body:
            raise ConfigError(f"{name}.{key}", f"required for a {kind} hyperparameter")
    cls = Continuous if kind == "continuous" else Integer
    return cls(name, body["min"], body["max"], scaling=body.get("scaling", "auto"))
