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
import re
import time
from collections.abc import Sequence

from fasthpo.config import MetricDefinition
from fasthpo.storage import MetricReport

MAX_LINE_BYTES = 64 * 1024
CHUNK_BYTES = 4 * 1024 * 1024


class LineFollower:
    """Yields complete lines appended to a file since the last call."""

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

    def read(self, *, final: bool = False) -> list[str]:
        """New complete lines (decoded as UTF-8, bad bytes replaced).

        ``final=True`` reads to the end of the file and also returns the last
        line if it lacks a newline; use it once the writer has exited.
        """
        lines: list[str] = []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                while True:
                    data = fh.read(self.chunk)
                    if not data:
                        break
                    self._offset += len(data)
                    self._feed(data, lines)
                    if not final:
                        break
        except FileNotFoundError:
            pass
        if final and (self._partial or self._overflow):
            lines.append(self._partial.decode("utf-8", "replace"))
            self._partial.clear()
            self._overflow = False
        return lines

    def _feed(self, data: bytes, lines: list[str]) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            room = self.max_line - len(self._partial)
            if len(piece) > room:
                piece = piece[: max(room, 0)]
                self._overflow = True
            self._partial += piece
            if end < 0:
                return
            lines.append(self._partial.decode("utf-8", "replace"))
            self._partial.clear()
            self._overflow = False
            start = end + 1


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
        self._patterns: list[tuple[str, re.Pattern[str]]] = [
            (d.name, d.pattern) for d in definitions
        ]

    def parse(self, lines: Sequence[str]) -> list[MetricReport]:
        """Every match in ``lines``, in order; a non-numeric capture keeps its text in ``raw``."""
        now = time.time()
        reports = []
        for line in lines:
            for name, pattern in self._patterns:
                for match in pattern.finditer(line):
                    text = match.group(1)
                    value = parse_number(text) if text is not None else None
                    reports.append(
                        MetricReport(
                            name=name, value=value, raw=None if value is not None else text,
                            source="regex", reported_at=now,
                        )
                    )
        return reports


def parse_report_lines(lines: Sequence[str]) -> list[MetricReport]:
    """Metric reports from ``fasthpo.report`` JSON lines; malformed lines are skipped."""
    reports = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            continue
        step = record.get("step")
        step = step if isinstance(step, int) and not isinstance(step, bool) else None
        when = record.get("time")
        when = float(when) if isinstance(when, (int, float)) and math.isfinite(when) else time.time()
        for name, raw in record["metrics"].items():
            if not isinstance(name, str):
                continue
            number = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
            value = float(number) if number is not None and math.isfinite(number) else None
            reports.append(
                MetricReport(
                    name=name, value=value, step=step,
                    raw=None if value is not None else str(raw)[:200],
                    source="report", reported_at=when,
                )
            )
    return reports
