"""The catalogue of benchmark problems: every family by name, and the grammar that builds them.

A problem is a search space, a function to **minimise** over it, and (when known)
the minimum and where it is attained. Problems are named by a small grammar::

    family[-d][+modifier...]

    branin   hartmann6   levy-10   ackley-20   styblinski-tang-5
    hartmann6+noise0.05   levy-6+dead3   branin+log-auto   levy-6+log3-linear
    hartmann3+revlog-auto   hartmann6+log3-auto+as-auto   ackley-6+mixed
    svm-digits   mlp-wine+as-log

Modifiers may come in any order; a problem's ``name`` is the string it was built
from. The families are the synthetic functions of :mod:`fasthpo.benchmark.synthetic`
(d from 2 to 20 unless fixed) and the real tasks of :mod:`fasthpo.benchmark.tasks`
(no dimension, no known optimum); the modifiers are described in
:mod:`fasthpo.benchmark.variants`. This module registers both kinds of family in
:mod:`fasthpo.benchmark.registry` when it is imported; no other module does.

Adding a family takes a few lines. A synthetic one gets every modifier::

    from fasthpo.benchmark.registry import Box, register_family

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
import functools
import os
import re
from collections.abc import Mapping

from fasthpo.benchmark.registry import Family, Problem, register_family, registered_families
from fasthpo.benchmark.synthetic import SYNTHETIC_FAMILIES
from fasthpo.benchmark.tasks import TASKS, build_task
from fasthpo.benchmark.variants import box_problem, parse_modifiers, redeclared
from fasthpo.errors import ConfigError


def _register_builtin_families() -> None:
    """Register the synthetic families, then the real tasks (the order help texts list them in)."""
    for family in SYNTHETIC_FAMILIES:
        register_family(family.name, family.description, family.builder, dims=family.dims)
    for name, spec in TASKS.items():
        register_family(name, spec.description, functools.partial(build_task, name))


_register_builtin_families()


def problem_families() -> dict[str, str]:
    """Family name → one-line description, for help texts and docs."""
    return {name: family.description for name, family in registered_families().items()}


def get_problem(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Problem:
    """Build the problem that ``name`` describes (see the module docstring for the grammar).

    ``cache_dir`` is where real tasks keep their evaluations (default
    ``$FASTHPO_BENCH_CACHE``, else ``~/.cache/fasthpo/bench``). Raises
    ``ConfigError("problem", ...)`` for an unknown family or a malformed name.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError("problem", f"a problem name must be a non-empty string, got {name!r}")
    families = registered_families()
    head, *modifiers = name.split("+")
    family, d = _parse_head(head, families)
    mods = parse_modifiers(modifiers)
    spec = families[family]
    if spec.dims is None:
        extra = sorted(set(mods) - {"noise", "as"})
        if extra:
            raise ConfigError("problem", f"{family} takes only +noise and +as, not +{extra[0]}")
        problem = spec.builder(cache_dir)
        space = redeclared(name, problem.space, mods["as"][1]) if "as" in mods else problem.space
        return Problem(name, space, problem.function, problem.optimum,
                       mods.get("noise", problem.noise), problem.minimizer)
    if "as" in mods and mods["as"][1] == "log":
        raise ConfigError("problem", f"{name}: +as-log is for real tasks; write +log[K]-log")
    return box_problem(name, spec.builder(d), mods)


def _parse_head(head: str, families: Mapping[str, Family]) -> tuple[str, int]:
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
