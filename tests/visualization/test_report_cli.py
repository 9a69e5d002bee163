"""``fasthpo report NAME --html PATH`` and ``Tuner.report_html``, on jobs that really ran."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

import fasthpo
from tests.browser import Browser
from tests.visualization.stores import make_job


def _fasthpo(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-P", "-m", "fasthpo.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_the_report_of_a_job_that_ran_shows_its_curves(write_job, tmp_path, browser: Browser):
    db = tmp_path / "s.db"
    job = write_job(static_hyperparameters={"mode": "report", "sleep": 0.0, "steps": 4}, metrics=[],
                    limits={"max_trials": 3, "max_parallel": 1})
    ran = _fasthpo("run", str(job), "--db", str(db), "-q")
    assert ran.returncode == 0, ran.stderr
    out = tmp_path / "out" / "toy.html"
    made = _fasthpo("report", "toy", "--html", str(out), "--db", str(db))
    assert made.returncode == 0, made.stderr
    assert str(out) in made.stdout and out.is_file()

    browser.open(out.resolve().as_uri())
    browser.wait_drawn()
    browser.screenshot("report-cli-toy")
    # Three trials reported four steps each, all drawn as one trace of line segments.
    steps = browser.evaluate(
        "document.getElementById('fig-curves').data[0].x.filter(x => x !== null).length"
    )
    assert steps == 12
    assert browser.evaluate("document.getElementById('fig-param-0').dataset.xaxisType") == "linear"


def test_report_errors_are_one_line(tmp_path, write_job):
    missing = _fasthpo("report", "toy", "--html", str(tmp_path / "r.html"), "--db", str(tmp_path / "no.db"))
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "no fasthpo store" in missing.stderr
    assert not (tmp_path / "no.db").exists()

    db = tmp_path / "s.db"
    assert _fasthpo("run", str(write_job()), "--db", str(db), "-q").returncode == 0
    unknown = _fasthpo("report", "nope", "--html", str(tmp_path / "r.html"), "--db", str(db))
    assert unknown.returncode == 2 and "no job named 'nope'" in unknown.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("verb", "args"), [("report", ["x", "--html", "r.html"]), ("dashboard", ["--port", "0"])]
)
def test_without_plotly_the_error_names_the_extra(tmp_path, verb, args):
    db = tmp_path / "s.db"
    make_job(db, "x", 1)
    # plotly made unimportable in that process only, as when the extra is not installed.
    code = (
        "import sys; sys.modules['plotly'] = None; from fasthpo.cli import main; "
        f"sys.exit(main({[verb, *args, '--db', str(db)]!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"fasthpo: error: fasthpo {verb}{' --html' if verb == 'report' else ''} needs plotly: "
        "pip install 'fasthpo[report]' (from a checkout: pip install '.[report]')"
    )
    assert not (tmp_path / "r.html").exists()


def test_tuner_report_html_writes_the_page(tmp_path, browser: Browser):
    space = fasthpo.SearchSpace([
        fasthpo.Continuous("lr", 1e-4, 1.0, scaling="log"),
        fasthpo.Categorical("act", ["relu", "tanh"]),
    ])
    tuner = fasthpo.Tuner(space, max_trials=8, seed=1, name="fn", db=tmp_path / "t.db")
    best = tuner.optimize(lambda p: (math.log10(p["lr"]) + 2) ** 2 + (p["act"] == "tanh"))
    page = tuner.report_html(tmp_path / "fn.html")
    browser.open(page.resolve().as_uri())
    # Convergence, timeline, two scatters, importance, parallel coordinates, curves.
    assert browser.wait_drawn() == 7
    browser.screenshot("report-tuner-fn")
    assert browser.evaluate("document.getElementById('best-trial').dataset.trialId") == str(best.trial_id)
    assert browser.evaluate("document.getElementById('fig-param-0').dataset.xaxisType") == "log"
