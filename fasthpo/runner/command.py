"""Turning a job's argv template and a trial's hyperparameters into the argv it runs.

Commands are argv lists, never shell strings: a hyperparameter value holding
spaces, quotes, ``;`` or ``$( )`` arrives as exactly one argument and nothing is
executed. Without placeholders every hyperparameter (static ones first, then
tuned ones in declared order) is appended as ``--name=value``; with ``{name}``
placeholders anywhere in the argv only those are substituted (``{{``/``}}`` are
literal braces), and the rest reach the job through ``FASTHPO_HYPERPARAMETERS``.

An argv that starts with plain ``python`` or ``python3`` runs under the
interpreter that runs fasthpo, so a tuner started from a virtualenv trains in
that virtualenv whether or not it is activated; give a path to use another.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from fasthpo.jobspec import PLACEHOLDER
from fasthpo.space import render_value

_SAME_INTERPRETER = ("python", "python3")


def has_placeholders(command: Sequence[str]) -> bool:
    """True when some argument holds a ``{name}`` placeholder."""
    return any(m.group(1) for arg in command for m in PLACEHOLDER.finditer(arg))


def build_argv(command: Sequence[str], hyperparameters: Mapping[str, Any]) -> list[str]:
    """The argv of one trial (``hyperparameters`` holds static and tuned values)."""

    def substitute(match: Any) -> str:
        text = match.group(0)
        if text == "{{":
            return "{"
        if text == "}}":
            return "}"
        return render_value(hyperparameters[match.group(1)])

    # ``{{``/``}}`` are literal braces whether or not the argv holds placeholders.
    argv = [PLACEHOLDER.sub(substitute, arg) for arg in command]
    if not has_placeholders(command):
        argv += [f"--{name}={render_value(value)}" for name, value in hyperparameters.items()]
    if argv[0] in _SAME_INTERPRETER and sys.executable:
        argv[0] = sys.executable
    return argv
