"""Throwaway stores for ``Tuner(db=":memory:")``, the Python API's default.

A tuner needs two connections to its store (the loop's and the lease
heartbeat's), and two connections to SQLite's ``:memory:`` are two different
databases. So an in-memory run keeps an ordinary store file in a private
temporary folder instead: everything works as with a file (leases, fencing,
``trials()`` afterwards), and the folder is deleted when the tuner is
garbage-collected or the interpreter exits. Nothing lands in the current folder.
"""

from __future__ import annotations

import os
import tempfile

#: The ``db`` value that asks for a throwaway store (SQLite's own spelling).
MEMORY = ":memory:"


class ScratchStore:
    """A store file in a temporary folder that lives as long as this object."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="fasthpo-memory-")
        #: The store file's path (created by the first tuner that opens it).
        self.path = os.path.join(self._folder.name, "fasthpo.db")

    def cleanup(self) -> None:
        """Delete the folder and the store now (it is also deleted on garbage collection)."""
        self._folder.cleanup()
