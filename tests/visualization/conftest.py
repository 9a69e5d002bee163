"""One headless Chromium per test module of the report (starting one costs a second or two)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import Browser, require_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with Browser() as b:
        yield b
