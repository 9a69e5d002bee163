"""The report drawn by a real headless Chromium: what a person must see is in the DOM once the plots drew."""

from __future__ import annotations

from pathlib import Path

import pytest

from fasthpo.storage import Store
from fasthpo.visualization import write_report
from tests.browser import Browser
from tests.visualization.stores import SPACE, add_trial, make_job, spec


def _open(browser: Browser, page: Path, shot: str) -> int:
    browser.open(page.resolve().as_uri())
    drawn = browser.wait_drawn()
    browser.screenshot(shot)
    assert browser.evaluate("document.body.dataset.error || ''") == ""
    return drawn


TICKS = "[...document.querySelectorAll('#fig-param-0 .xtick text')].map(t => t.textContent)"


def _axis_types(browser: Browser) -> dict[str, str]:
    return browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.plot')].map(d => [d.id, d.dataset.xaxisType]))"
    )


def test_a_finished_job_shows_every_view(tmp_path, browser):
    db = tmp_path / "s.db"
    make_job(db, "full", 40, failed=3, stopped=4)
    page = write_report(db, "full", tmp_path / "full.html")
    drawn = _open(browser, page, "report-full")

    axes = _axis_types(browser)
    # One scatter per hyperparameter, each on the scale the job declared or the tuner detected.
    assert {k: v for k, v in axes.items() if k.startswith("fig-param-")} == {
        "fig-param-0": "log",  # lr: declared log
        "fig-param-1": "log",  # C: auto, the stored verdict is log
        "fig-param-2": "linear",  # layers: declared linear
        "fig-param-3": "category",  # kernel
    }
    assert drawn == len(axes) == 9
    captions = browser.evaluate("document.getElementById('section-param-1').textContent")
    assert "verdict is log" in captions and "margin = 4.2" in captions
    # The plots really drew: each has an SVG with its points.
    assert browser.evaluate("document.querySelectorAll('#fig-param-0 .scatterlayer .point').length") >= 40

    with Store(db) as store:
        best = store.best_trial("full", "minimize")
    assert browser.evaluate("document.getElementById('best-trial').dataset.trialId") == str(best.trial_id)
    assert f"Best trial {best.trial_id}" in browser.evaluate("document.body.innerText")
    # Intermediate curves: a line per trial that reported steps, and the stopped ones marked.
    legend = browser.evaluate("document.getElementById('fig-curves').textContent")
    assert "stopped here" in legend and "best (trial" in legend
    curves = browser.evaluate("document.querySelectorAll('#fig-curves .scatterlayer .js-line').length")
    assert curves >= 2
    stopped = browser.evaluate(
        "document.getElementById('fig-curves').data.find(t => t.name === 'stopped here').x.length"
    )
    assert stopped == 4
    # Failed trials are marked on the convergence plot.
    failed = browser.evaluate(
        "document.getElementById('fig-convergence').data.find(t => t.name.startsWith('failed')).x.length"
    )
    assert failed == 3
    # Self-contained: nothing is loaded from elsewhere.
    assert browser.evaluate("document.querySelectorAll('script[src], link[href]').length") == 0
    assert browser.evaluate("performance.getEntriesByType('resource').map(r => r.name)") == []


def test_an_empty_job_draws_empty_plots(tmp_path, browser):
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_job("empty", spec("empty"), seed=0)
    page = write_report(db, "empty", tmp_path / "empty.html")
    assert _open(browser, page, "report-empty") == 9
    body = browser.evaluate("document.body.innerText")
    assert "No best trial yet" in body
    assert "No trial reported intermediate values" in body


def test_a_job_of_failed_trials_only(tmp_path, browser):
    db = tmp_path / "s.db"
    make_job(db, "broken", 0, failed=5, verdict=None)
    page = write_report(db, "broken", tmp_path / "broken.html")
    _open(browser, page, "report-failed-only")
    assert "No best trial yet" in browser.evaluate("document.body.innerText")
    failed = browser.evaluate(
        "document.getElementById('fig-convergence').data.find(t => t.name.startsWith('failed')).x"
    )
    assert failed == [1, 2, 3, 4, 5]
    assert "5 failed" in browser.evaluate("document.querySelector('.describe').innerText")


def test_a_categorical_only_space(tmp_path, browser):
    space = {
        "optimizer": {"type": "categorical", "values": ["adam", "sgd", "rmsprop"]},
        "activation": {"type": "categorical", "values": ["relu", "tanh"]},
    }
    db = tmp_path / "s.db"
    make_job(db, "cats", 12, space=space, verdict=None)
    page = write_report(db, "cats", tmp_path / "cats.html")
    _open(browser, page, "report-categorical")
    axes = _axis_types(browser)
    assert axes["fig-param-0"] == axes["fig-param-1"] == "category"
    ticks = browser.evaluate(TICKS)
    assert ticks == ["adam", "sgd", "rmsprop"]


HOSTILE = "<script>window.__pwned = 1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned = 2">'


def test_html_in_job_text_is_shown_as_text_and_never_runs(tmp_path, browser):
    space = {"kernel": {"type": "categorical", "values": [HOSTILE, HOSTILE_IMG, "rbf"]},
             "lr": SPACE["lr"]}
    db = tmp_path / "s.db"
    name = "evil</script><script>window.__pwned=3</script>"
    with Store(db) as store:
        store.create_job(name, spec(name, space), seed=0)
        for i, value in enumerate([HOSTILE, HOSTILE_IMG, "rbf", HOSTILE]):
            add_trial(store, name, {"kernel": value, "lr": 10.0 ** -(i + 1)}, objective=float(i), steps=2)
    page = write_report(db, name, tmp_path / "evil.html")
    _open(browser, page, "report-hostile-text")
    assert browser.evaluate("window.__pwned === undefined")
    # Shown as text: the best trial's value, the tick labels of the scatter, the title.
    assert HOSTILE in browser.evaluate("document.getElementById('best-trial').innerText")
    ticks = browser.evaluate(TICKS)
    assert HOSTILE in ticks and HOSTILE_IMG in ticks
    assert name in browser.evaluate("document.querySelector('h1').textContent")
    assert browser.evaluate("document.querySelectorAll('img').length") == 0


def test_multi_instance_trials_show_each_instance_final_value(tmp_path, browser):
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_job("multi", spec("multi"), seed=0)
        for i in range(3):
            params = {"lr": 0.01, "C": 1.0, "layers": 2, "kernel": "rbf"}
            add_trial(store, "multi", params, objective=1.0 + i, steps=3, instances=2)
    page = write_report(db, "multi", tmp_path / "multi.html")
    _open(browser, page, "report-multi-instance")
    traces = browser.evaluate(
        "document.getElementById('fig-instances').data.map(t => [t.name, t.x.length])"
    )
    assert traces == [["instance 0", 3], ["instance 1", 3]]
    # Instance 1 reported 0.01 more than instance 0 at its last step.
    y = browser.evaluate("document.getElementById('fig-instances').data.map(t => t.y[0])")
    assert y[1] == pytest.approx(y[0] + 0.01)
