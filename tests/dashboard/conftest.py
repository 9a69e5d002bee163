"""A dashboard process over a store, and a headless Chromium, for the dashboard's tests."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser import Browser, require_chromium


@pytest.fixture
def dashboard() -> Iterator[Callable[..., str]]:
    """Start ``fasthpo dashboard --port 0`` with the given arguments; return the URL it prints."""
    started: list[subprocess.Popen[str]] = []

    def start(db: Path, *args: str, env: dict[str, str] | None = None) -> str:
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "fasthpo.cli", "dashboard", "--db", str(db), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        started.append(process)
        line = process.stdout.readline() if process.stdout else ""
        found = re.search(r"http://\S+", line)
        assert found, f"no URL in {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        return found.group(0)

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with Browser() as b:
        yield b
