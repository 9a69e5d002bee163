"""Metric regexes, compiled by RE2: matching time linear in the line, whatever the pattern.

Python's backtracking ``re`` can spend exponential time on a pattern such as
``(a+)+$`` against ``'a' * 40 + 'b'``, and one such line would stall the whole
tuner (no trial watched, no lease renewed). RE2 guarantees time linear in the
text, at the price of backreferences and lookarounds, which a metric pattern
does not need (SageMaker's metric definitions fit its syntax). A pattern is
checked when the job file is loaded; each line is matched on its first
:data:`MAX_MATCHED_CHARS` characters only, taking at most
:data:`MAX_MATCHES_PER_LINE` matches, so a pathological line costs a bounded,
small amount of work.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2  # type: ignore[import-untyped]

#: Characters of a log line a metric regex sees (the reader already caps lines at 64 KiB);
#: metrics printed past this point of one line are not read.
MAX_MATCHED_CHARS = 16 * 1024
#: Matches of one pattern taken from one line; more are ignored.
MAX_MATCHES_PER_LINE = 100


class MetricPattern(Protocol):
    """What the runner uses of a compiled metric regex."""

    def finditer(self, text: str) -> Any: ...


class RegexError(ValueError):
    """A metric regex that RE2 cannot compile, or without exactly one capture group."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are raised, not also printed to stderr
    return options


def compile_metric_regex(regex: str) -> MetricPattern:
    """Compile ``regex`` with RE2; :class:`RegexError` (one readable line) if it does not fit.

    The pattern must have exactly one capture group: the value.
    """
    try:
        pattern = re2.compile(regex, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(
            f"invalid regular expression {regex!r} ({reason}); metric regexes are matched by "
            "RE2 in linear time, which has no backreferences or lookarounds"
        ) from None
    if pattern.groups != 1:
        raise RegexError(
            f"must have exactly one capture group (the value), {regex!r} has {pattern.groups}; "
            "use (?:...) for groups that are not the value"
        )
    return pattern


def matched_values(pattern: MetricPattern, line: str) -> list[str | None]:
    """The capture of each match of ``pattern`` in ``line`` (bounded as the module says)."""
    values: list[str | None] = []
    for match in pattern.finditer(line[:MAX_MATCHED_CHARS]):
        values.append(match.group(1))
        if len(values) >= MAX_MATCHES_PER_LINE:
            break
    return values
