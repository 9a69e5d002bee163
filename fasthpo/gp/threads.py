"""Keep BLAS single-threaded while a proposal is computed.

The GP's matrices are small (n ≤ a few thousand): OpenBLAS's threads cost more
to wake than they save, and on a busy machine they spin against the training
jobs. Measured on the 2-core development machine while it ran other work, one
log-posterior evaluation at n = 50, D = 10 took 25 ms with OpenBLAS's default
threads and 0.44 ms with one. The limit holds only inside the ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_controller: Any = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS libraries loaded in this process to one thread for the block."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield
