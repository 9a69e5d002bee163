"""Reading trial output: LineFollower, regex metrics and fasthpo.report lines."""

from __future__ import annotations

import json

import pytest

from fasthpo.jobspec import MetricDefinition
from fasthpo.metric_report import MetricReport
from fasthpo.runner.logs import LineFollower, RegexMetrics, parse_number, parse_report_lines


def _append(path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


# ---------------------------------------------------------------------------
# LineFollower
# ---------------------------------------------------------------------------


def test_reads_appended_lines_incrementally(tmp_path):
    path = tmp_path / "stdout.log"
    follower = LineFollower(path)
    assert follower.read() == []  # missing file
    _append(path, b"one\ntwo\n")
    assert follower.read() == ["one", "two"]
    assert follower.read() == []
    _append(path, b"three\n")
    assert follower.read() == ["three"]
    assert follower.read(final=True) == []


def test_partial_last_line_only_with_final(tmp_path):
    path = tmp_path / "stdout.log"
    follower = LineFollower(path)
    _append(path, b"a\nb")
    assert follower.read() == ["a"]
    assert follower.read() == []
    _append(path, b"c")
    assert follower.read() == []
    _append(path, b"d\ne")
    assert follower.read() == ["bcd"]
    assert follower.read(final=True) == ["e"]
    assert follower.read(final=True) == []


def test_a_line_split_across_chunks_is_joined(tmp_path):
    path = tmp_path / "stdout.log"
    _append(path, b"hello world\nsecond line\n")
    follower = LineFollower(path, chunk=4)
    lines: list[str] = []
    for _ in range(10):
        lines += follower.read()
    assert lines == ["hello world", "second line"]


def test_final_reads_everything_regardless_of_chunk(tmp_path):
    path = tmp_path / "stdout.log"
    _append(path, b"".join(b"line %d\n" % i for i in range(100)) + b"tail")
    follower = LineFollower(path, chunk=16)
    assert follower.read(final=True) == [f"line {i}" for i in range(100)] + ["tail"]


def test_one_read_is_bounded_by_chunk(tmp_path):
    path = tmp_path / "stdout.log"
    _append(path, b"x\n" * 1000)
    follower = LineFollower(path, chunk=100)
    assert follower.read() == ["x"] * 50
    assert len(follower.read(final=True)) == 950


@pytest.mark.parametrize("chunk", [4 * 1024 * 1024, 65537, 999])
def test_a_huge_line_is_capped_and_the_next_line_is_intact(tmp_path, chunk):
    path = tmp_path / "stdout.log"
    _append(path, b"a" * 1_000_000 + b"\nnext=1\n")
    follower = LineFollower(path, max_line=1000, chunk=chunk)
    lines: list[str] = []
    for _ in range(1_000_100 // chunk + 2):
        lines += follower.read()
    assert lines == ["a" * 1000, "next=1"]
    assert follower.read(final=True) == []


def test_a_huge_unterminated_line_is_capped_at_final(tmp_path):
    path = tmp_path / "stdout.log"
    _append(path, b"ok\n" + b"b" * 1_000_000)
    follower = LineFollower(path, max_line=500, chunk=65536)
    assert follower.read(final=True) == ["ok", "b" * 500]


def test_default_cap_is_64_kib(tmp_path):
    path = tmp_path / "stdout.log"
    _append(path, b"c" * 1_000_000 + b"\nend\n")
    lines = LineFollower(path).read()
    assert lines == ["c" * 64 * 1024, "end"]


def test_invalid_utf8_is_replaced_not_raised(tmp_path):
    path = tmp_path / "stdout.log"
    _append(path, b"\xff\xfe loss=0.5 \x00\x80\n" + "é".encode() + b"\n\xc3")
    follower = LineFollower(path)
    lines = follower.read(final=True)
    assert lines == ["\ufffd\ufffd loss=0.5 \x00\ufffd", "é", "\ufffd"]


def test_multibyte_character_split_across_reads_survives(tmp_path):
    path = tmp_path / "stdout.log"
    data = "héllo\n".encode()
    follower = LineFollower(path)
    _append(path, data[:2])  # splits the two bytes of 'é'
    assert follower.read() == []
    _append(path, data[2:])
    assert follower.read() == ["héllo"]


def test_missing_file_yields_nothing(tmp_path):
    follower = LineFollower(tmp_path / "never-written.log")
    assert follower.read() == []
    assert follower.read(final=True) == []


# ---------------------------------------------------------------------------
# RegexMetrics
# ---------------------------------------------------------------------------


def test_regex_metrics_one_report_per_match():
    metrics = RegexMetrics(
        [
            MetricDefinition("loss", r"loss=(\S+)"),
            MetricDefinition("acc", r"acc: ([0-9.]+)"),
        ]
    )
    reports = metrics.parse(["epoch 1 loss=0.5 acc: 0.9", "nothing here", "loss=0.25 loss=0.125"])
    assert [(r.name, r.value, r.raw, r.source, r.step) for r in reports] == [
        ("loss", 0.5, None, "regex", None),
        ("acc", 0.9, None, "regex", None),
        ("loss", 0.25, None, "regex", None),
        ("loss", 0.125, None, "regex", None),
    ]
    assert all(isinstance(r, MetricReport) and r.reported_at > 0 for r in reports)


@pytest.mark.parametrize("text", ["abc", "nan", "NaN", "inf", "-inf", "1e999", "0.5.1"])
def test_regex_non_numeric_or_non_finite_captures_keep_their_text(text):
    (report,) = RegexMetrics([MetricDefinition("loss", r"loss=(\S+)")]).parse([f"loss={text}"])
    assert report.value is None
    assert report.raw == text


def test_regex_group_that_did_not_participate():
    (report,) = RegexMetrics([MetricDefinition("loss", r"loss=(\d+)?")]).parse(["loss=x"])
    assert report.value is None and report.raw is None


def test_regex_metrics_without_definitions():
    assert RegexMetrics([]).parse(["loss=1"]) == []


def test_parse_number():
    assert parse_number("1e-3") == 0.001
    assert parse_number(" 2 ") == 2.0
    for text in ("nan", "inf", "-Infinity", "x", ""):
        assert parse_number(text) is None


# ---------------------------------------------------------------------------
# parse_report_lines
# ---------------------------------------------------------------------------


def test_report_lines_are_parsed_with_step_and_time():
    lines = [
        json.dumps({"time": 1700000000.5, "step": 3, "metrics": {"loss": 0.25, "acc": 1}}),
        json.dumps({"time": 1700000001.0, "step": None, "metrics": {"loss": 0.2}}),
    ]
    reports = parse_report_lines(lines)
    assert reports == [
        MetricReport("loss", 0.25, step=3, raw=None, source="report", reported_at=1700000000.5),
        MetricReport("acc", 1.0, step=3, raw=None, source="report", reported_at=1700000000.5),
        MetricReport("loss", 0.2, step=None, raw=None, source="report", reported_at=1700000001.0),
    ]


def test_lines_written_by_report_are_read_back(tmp_path, monkeypatch):
    import fasthpo

    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("FASTHPO_METRICS_FILE", str(path))
    fasthpo.report(step=2, loss=0.5, diverged=float("nan"))
    reports = parse_report_lines(LineFollower(path).read())
    assert [(r.name, r.value, r.raw, r.step) for r in reports] == [
        ("loss", 0.5, None, 2),
        ("diverged", None, "nan", 2),
    ]


def test_malformed_report_lines_are_skipped():
    good = json.dumps({"time": 5.0, "step": 1, "metrics": {"loss": 1.5}})
    lines = [
        "not json",
        '{"time": 1, "metrics": {"loss": 1}',  # truncated
        "[1, 2, 3]",
        '"a string"',
        "42",
        json.dumps({"time": 1.0, "step": 1}),  # no metrics
        json.dumps({"time": 1.0, "metrics": [1, 2]}),  # metrics not a dict
        "",
        good,
    ]
    assert parse_report_lines(lines) == [
        MetricReport("loss", 1.5, step=1, raw=None, source="report", reported_at=5.0)
    ]


def test_bad_values_are_kept_as_none_with_their_text():
    line = json.dumps(
        {
            "time": 2.0,
            "step": 0,
            "metrics": {"ok": 3, "b": True, "s": "nan", "n": None, "l": [1], "x": "x" * 500},
        }
    )
    reports = {r.name: r for r in parse_report_lines([line])}
    assert reports["ok"].value == 3.0 and reports["ok"].raw is None
    assert reports["b"].value is None and reports["b"].raw == "True"
    assert reports["s"].value is None and reports["s"].raw == "nan"
    assert reports["n"].value is None and reports["n"].raw == "None"
    assert reports["l"].value is None and reports["l"].raw == "[1]"
    assert reports["x"].value is None and reports["x"].raw == "x" * 200  # capped


def test_bare_nan_and_infinity_tokens_become_none():
    reports = parse_report_lines(['{"time": 1.0, "step": 1, "metrics": {"a": NaN, "b": Infinity}}'])
    assert [(r.name, r.value, r.raw) for r in reports] == [("a", None, "nan"), ("b", None, "inf")]


@pytest.mark.parametrize("step", [True, 1.5, "3", [1]])
def test_non_int_steps_become_none(step):
    (report,) = parse_report_lines([json.dumps({"time": 1.0, "step": step, "metrics": {"loss": 1}})])
    assert report.step is None and report.value == 1.0


@pytest.mark.parametrize("when", [None, "yesterday", [1], float("nan")])
def test_missing_or_bad_time_falls_back_to_now(when):
    record = {"step": 1, "metrics": {"loss": 1}}
    if when is not None:
        record["time"] = when
    (report,) = parse_report_lines([json.dumps(record)])
    assert isinstance(report.reported_at, float) and report.reported_at > 1e9
