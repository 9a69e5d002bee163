"""Reading what a running trial writes, incrementally and with bounded memory.

A training job may print gigabytes, binary bytes or one endless line; the tuner
must neither stall nor run out of memory. :class:`LineFollower` reads a growing
file from where it left off, at most ``chunk`` bytes a call, and caps each line
at ``max_line`` bytes (the rest of an over-long line is dropped). Metrics come
from two places: regex definitions applied to stdout/stderr lines, and the JSON
lines that ``fasthpo.report`` appends to the trial's metrics file.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence

from fasthpo.jobspec import MetricDefinition
from fasthpo.metric_regex import MetricPattern, matched_values
from fasthpo.metric_report import MetricReport

MAX_LINE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
#: Longest text kept in ``MetricReport.raw`` for a value that is not a number.
MAX_RAW_CHARS = 200
_STEP_RANGE = range(-(2**63), 2**63)  # what an SQLite INTEGER holds


class LineFollower:
    """Yields complete lines appended to a file since the last call.

    Memory stays bounded whatever the file holds: one read takes at most
    ``chunk`` bytes, lines are decoded one at a time as they are consumed, and
    an unfinished line keeps at most ``max_line`` bytes.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_line: int = MAX_LINE_BYTES,
        chunk: int = CHUNK_BYTES,
    ) -> None:
        self.path = os.fspath(path)
        self.max_line = max_line
        self.chunk = chunk
        self._offset = 0
        self._partial = bytearray()
        self._overflow = False  # dropping the tail of an over-long line
        #: The last read reached the end of the file (a full chunk may mean more is waiting).
        self.caught_up = True

    def lines(self, *, final: bool = False) -> Iterator[str]:
        """New complete lines from at most one chunk of data, decoded lazily (bad bytes replaced).

        ``final=True`` (once the writer has exited) also yields the last line
        if it lacks a newline, when this read reaches the end of the file.
        Consume the result before the next call.
        """
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(self.chunk)
        except FileNotFoundError:
            data = b""
        self._offset += len(data)
        self.caught_up = len(data) < self.chunk
        return self._split(data, flush=final and self.caught_up)

    def read(self, *, final: bool = False) -> list[str]:
        """New complete lines as a list: one chunk's worth, or with ``final`` all that is left."""
        lines = list(self.lines(final=final))
        while final and not self.caught_up:
            lines += self.lines(final=True)
        return lines

    def _split(self, data: bytes, *, flush: bool) -> Iterator[str]:
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            room = self.max_line - len(self._partial)
            if len(piece) > room:
                piece = piece[: max(room, 0)]
                self._overflow = True
            self._partial += piece
            if end < 0:
                break
            line = self._partial.decode("utf-8", "replace")
            self._partial.clear()
            self._overflow = False
            start = end + 1
            yield line
        if flush and (self._partial or self._overflow):
            line = self._partial.decode("utf-8", "replace")
            self._partial.clear()
            self._overflow = False
            yield line


def parse_number(text: str) -> float | None:
    """A finite float from ``text``, or ``None`` (NaN, infinity and garbage are rejected)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class RegexMetrics:
    """Applies metric definitions (one capture group each) to log lines."""

    def __init__(self, definitions: Sequence[MetricDefinition]) -> None:
        self._patterns: list[tuple[str, MetricPattern]] = [
            (d.name, d.pattern) for d in definitions
        ]

    def parse(self, lines: Iterable[str], *, instance: int = 0) -> list[MetricReport]:
        """Every match in ``lines``, in order; a non-numeric capture keeps its text in ``raw``."""
        now = time.time()
        reports = []
        for line in lines:
            for name, pattern in self._patterns:
                for text in matched_values(pattern, line):
                    value = parse_number(text) if text is not None else None
                    reports.append(
                        MetricReport(
                            name=name, value=value,
                            raw=None if value is not None or text is None else text[:MAX_RAW_CHARS],
                            source="regex", reported_at=now, instance=instance,
                        )
                    )
        return reports


def parse_report_lines(lines: Iterable[str], *, instance: int = 0) -> list[MetricReport]:
    """Metric reports from ``fasthpo.report`` JSON lines; malformed lines are skipped."""
    reports = []
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nesting bombs such as [[[[...
            continue
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            continue
        step = record.get("step")
        step = step if isinstance(step, int) and not isinstance(step, bool) and step in _STEP_RANGE else None
        when = _finite_float(record.get("time"))
        when = when if when is not None else time.time()
        for name, raw in record["metrics"].items():
            value = _finite_float(raw)
            reports.append(
                MetricReport(
                    name=name[:MAX_RAW_CHARS], value=value, step=step,
                    raw=None if value is not None else _shown(raw),
                    source="report", reported_at=when, instance=instance,
                )
            )
    return reports


def _finite_float(value: object) -> float | None:
    """``value`` as a finite float if it is a JSON number that is one (ints too big overflow to None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _shown(raw: object) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) > 10**MAX_RAW_CHARS:
        return "<integer too large>"  # str() of a huge int is slow (and limited) by design
    return str(raw)[:MAX_RAW_CHARS]
