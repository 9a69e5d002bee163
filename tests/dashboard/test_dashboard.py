"""``fasthpo dashboard``: live while a job runs, read-only, loopback unless a token guards it."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.browser import Browser
from tests.conftest import wait_for
from tests.visualization.stores import make_job


def _get(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_page_follows_a_running_job_which_finishes_normally(write_job, tmp_path, dashboard, browser):
    db = tmp_path / "s.db"
    make_job(db, "other", 0)  # the store exists before the job: the page waits for it
    job = write_job(
        static_hyperparameters={"mode": "report", "sleep": 3.0, "steps": 4}, metrics=[],
        limits={"max_trials": 8, "max_parallel": 2},
    )
    browser.open(dashboard(db) + "?job=toy")
    tuner = subprocess.Popen(
        [sys.executable, "-P", "-m", "fasthpo.cli", "run", str(job), "--db", str(db), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The page redraws by itself as trials finish, while the tuner runs.
        seen = set()

        def redrawn_while_running() -> bool:
            finished = browser.evaluate("document.body.dataset.finished")
            if tuner.poll() is None and finished is not None:
                seen.add(int(finished))
            return len(seen) >= 2
        wait_for(redrawn_while_running, timeout=240)
        _, err = tuner.communicate(timeout=300)
    finally:
        if tuner.poll() is None:
            tuner.kill()
            tuner.wait()
    assert tuner.returncode == 0, err
    # It shows the finished job: every trial, and the one the store names best.
    browser.wait_for("document.body.dataset.status === 'completed'", timeout=60)
    assert browser.evaluate("document.body.dataset.finished") == "8"
    assert "toy (completed)" in browser.evaluate("document.querySelector('.describe').innerText")
    browser.screenshot("dashboard-live")
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = [r[0] for r in connection.execute("SELECT status FROM trials")]
        best = connection.execute(
            "SELECT trial_id FROM trials WHERE objective IS NOT NULL ORDER BY objective, trial_id LIMIT 1"
        ).fetchone()[0]
    assert statuses == ["completed"] * 8
    assert browser.evaluate("document.getElementById('best-trial').dataset.trialId") == str(best)
    assert browser.evaluate("document.querySelectorAll('#fig-curves .scatterlayer .js-line').length") >= 1


def test_nothing_the_server_answers_changes_the_store(tmp_path, dashboard):
    db = tmp_path / "s.db"
    make_job(db, "j", 5)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    url = dashboard(db)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, _ = _get(url + "api/jobs/j", method=method)
        assert status == 405
    status, body = _get(url + "api/jobs")
    assert status == 200 and [j["name"] for j in json.loads(body)] == ["j"]
    status, body = _get(url + "api/jobs/j")
    assert status == 200 and json.loads(body)["trials"] == 5
    assert _get(url + "api/jobs/nope")[0] == 404
    # A page elsewhere that rebinds its own name to 127.0.0.1 is refused.
    assert _get(url + "api/jobs", headers={"Host": "attacker.example:80"})[0] == 403
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_another_address_needs_a_token(tmp_path):
    db = tmp_path / "s.db"
    make_job(db, "j", 1)
    env = {k: v for k, v in os.environ.items() if k != "FASTHPO_DASHBOARD_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", "dashboard", "--db", str(db),
         "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "--host" in done.stderr and "--token" in done.stderr and "FASTHPO_DASHBOARD_TOKEN" in done.stderr


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_with_a_token_every_request_must_carry_it(tmp_path, dashboard, browser: Browser, how):
    db = tmp_path / "s.db"
    make_job(db, "j", 6)
    secret = "s3cret-token"
    if how == "flag":
        url = dashboard(db, "--token", secret)
    else:
        url = dashboard(db, env={**os.environ, "FASTHPO_DASHBOARD_TOKEN": secret})
    base = url.split("?")[0]
    assert url.endswith(f"?token={secret}")
    for path in ("", "plotly.js", "api/jobs", "api/jobs/j"):
        assert _get(base + path)[0] == 401
        assert _get(base + path + "?token=wrong")[0] == 401
        assert _get(base + path + f"?token={secret}")[0] == 200
    assert _get(base + "api/jobs", headers={"Authorization": f"Bearer {secret}"})[0] == 200
    # The page passes the token on to its own requests.
    browser.open(url)
    assert browser.wait_drawn() == 9
    browser.screenshot(f"dashboard-token-{how}")
