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
from dataclasses import dataclass

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
        #: Byte offset just past the last line yielded (its newline included): where
        #: a report that gives the file's size at the time it was made falls in the text.
        self.position = 0

    @property
    def read_to(self) -> int:
        """Bytes of the file read so far (complete lines and any unfinished one)."""
        return self._offset

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
        base = self._offset
        self._offset += len(data)
        self.caught_up = len(data) < self.chunk
        return self._split(data, base, flush=final and self.caught_up)

    def read(self, *, final: bool = False) -> list[str]:
        """New complete lines as a list: one chunk's worth, or with ``final`` all that is left."""
        lines = list(self.lines(final=final))
        while final and not self.caught_up:
            lines += self.lines(final=True)
        return lines

    def _split(self, data: bytes, base: int, *, flush: bool) -> Iterator[str]:
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
            self.position = base + start
            yield line
        if flush and (self._partial or self._overflow):
            line = self._partial.decode("utf-8", "replace")
            self._partial.clear()
            self._overflow = False
            self.position = base + len(data)
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

    def parse(
        self, lines: Iterable[str], *, instance: int = 0, at: float | None = None
    ) -> list[MetricReport]:
        """Every match in ``lines``, in order, stamped ``at`` (default: now); a non-numeric
        capture keeps its text in ``raw``."""
        now = time.time() if at is None else at
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


@dataclass
class ReportRecord:
    """One ``fasthpo.report`` call: its values, and where it fell in the trial's stdout and stderr.

    ``stdout_at``/``stderr_at`` are the sizes of those files when the call was
    made (``None`` when unknown, e.g. the output was not a regular file): the
    report comes after every line that ends within them.
    """

    reports: list[MetricReport]
    time: float
    stdout_at: int | None = None
    stderr_at: int | None = None


def parse_report_records(lines: Iterable[str], *, instance: int = 0) -> list[ReportRecord]:
    """The records of ``fasthpo.report`` JSON lines; malformed lines are skipped."""
    records = []
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
        reports = []
        for name, raw in record["metrics"].items():
            value = _finite_float(raw)
            reports.append(
                MetricReport(
                    name=name[:MAX_RAW_CHARS], value=value, step=step,
                    raw=None if value is not None else _shown(raw),
                    source="report", reported_at=when, instance=instance,
                )
            )
        records.append(ReportRecord(
            reports, when, _offset(record.get("stdout")), _offset(record.get("stderr"))
        ))
    return records


def parse_report_lines(lines: Iterable[str], *, instance: int = 0) -> list[MetricReport]:
    """Metric reports from ``fasthpo.report`` JSON lines; malformed lines are skipped."""
    return [r for record in parse_report_records(lines, instance=instance) for r in record.reports]


def _offset(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class _Channel:
    """The lines of one log file from one read, with one line of look-ahead and its end offset."""

    def __init__(self, follower: LineFollower, final: bool) -> None:
        self.follower = follower
        self._lines = follower.lines(final=final)
        self.head: tuple[int, str] | None = None
        self._advance()

    def _advance(self) -> None:
        line = next(self._lines, None)
        self.head = None if line is None else (self.follower.position, line)

    def take(self) -> str:
        assert self.head is not None
        line = self.head[1]
        self._advance()
        return line

    def before(self, offset: int | None) -> bool:
        """Whether the next line ends within ``offset`` bytes (``None``: no bound, always)."""
        return self.head is not None and (offset is None or self.head[0] <= offset)

    def reached(self, offset: int | None) -> bool:
        """Whether everything up to ``offset`` bytes is read, or cannot be waited for."""
        return offset is None or self.head is not None or self.follower.read_to >= offset


class InstanceOutput:
    """What one process of a trial writes, as metric reports in the order it wrote them.

    Two channels carry values: lines on stdout/stderr (matched by the regex
    definitions) and ``fasthpo.report`` records. A record carries the sizes of
    the process's stdout and stderr when it was made, so the reader puts it
    after exactly the lines written before it; a record whose lines are not
    read yet waits for them. A line gets the time it was read, but never later
    than the next record's own time: within a process, times then follow the
    order of writing, and across processes the report time decides.
    """

    def __init__(self, stdout: str | os.PathLike[str], stderr: str | os.PathLike[str],
                 reports: str | os.PathLike[str]) -> None:
        self.stdout = LineFollower(stdout)
        self.stderr = LineFollower(stderr)
        self.reports = LineFollower(reports)
        self._waiting: list[ReportRecord] = []  # records whose preceding lines are not read yet
        #: The writer has exited and everything it wrote has been returned.
        self.drained = False
        #: Some file has more data than one read took: read again soon.
        self.backlog = False

    def read(self, regex: RegexMetrics, *, instance: int, final: bool) -> list[MetricReport]:
        """New reports, in writing order; ``final`` once the process has exited."""
        now = time.time()
        # Records first: a record then never points past what the logs' read sees.
        records = self._waiting + parse_report_records(
            self.reports.lines(final=final), instance=instance
        )
        out, err = _Channel(self.stdout, final), _Channel(self.stderr, final)
        done = final and self.stdout.caught_up and self.stderr.caught_up
        result: list[MetricReport] = []
        emitted = 0
        for record in records:
            if not done and not (out.reached(record.stdout_at) and err.reached(record.stderr_at)):
                break
            stamp = min(now, record.time)
            for channel, bound in ((out, record.stdout_at), (err, record.stderr_at)):
                while channel.before(bound):
                    result += regex.parse([channel.take()], instance=instance, at=stamp)
            result += record.reports
            emitted += 1
        self._waiting = records[emitted:]
        # What is left was written before any waiting record.
        stamp = min(now, self._waiting[0].time) if self._waiting else now
        for channel in (out, err):
            while channel.head is not None:
                result += regex.parse([channel.take()], instance=instance, at=stamp)
        caught_up = self.stdout.caught_up and self.stderr.caught_up and self.reports.caught_up
        self.backlog = not caught_up
        self.drained = final and caught_up and not self._waiting
        return result


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
