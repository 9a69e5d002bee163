"""One BLAS thread in these tests: small fits on a shared 2-core machine are 10x slower with a pool."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_threaded_blas():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
