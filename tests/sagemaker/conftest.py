"""Fixtures of the managed service's request tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sagemaker.examples import example_request


@pytest.fixture
def request_body() -> dict[str, Any]:
    return example_request()
