"""The store path is not taken lightly: nothing is created by reading, nothing foreign is written.

Real files, real SQLite, the real command line: a mistyped ``--db``, an empty
file, another program's SQLite database and a store with damaged pages.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fasthpo.storage import Store

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def fasthpo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "fasthpo.cli", *args], capture_output=True, text=True,
        cwd=tempfile.gettempdir(), env=ENV, timeout=300,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("verb", [["list"], ["describe", "toy"], ["trials", "toy"],
                                  ["stop", "toy", "--no-wait"], ["resume", "toy"]])
def test_verbs_that_read_never_create_a_store_or_its_folder(tmp_path, verb):
    db = tmp_path / "typo" / "x.db"
    proc = fasthpo(*verb, "--db", str(db))
    _one_line_error(proc, "no fasthpo store", str(db))
    assert not (tmp_path / "typo").exists()


def test_an_empty_file_is_not_turned_into_a_store(tmp_path, write_job):
    db = tmp_path / "empty.db"
    db.write_bytes(b"")
    _one_line_error(fasthpo("run", str(write_job()), "--db", str(db)), "empty", str(db))
    _one_line_error(fasthpo("list", "--db", str(db)), "empty")
    assert db.stat().st_size == 0 and _siblings(db) == ["empty.db", "toy.json"]


def test_a_foreign_sqlite_database_is_refused_before_anything_is_written(tmp_path, write_job):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('ada')")
    con.commit()
    con.close()
    before = _digest(db)
    for verb in (["run", str(write_job())], ["list"]):
        _one_line_error(fasthpo(*verb, "--db", str(db)), "fasthpo did not create")
    assert _digest(db) == before  # still in rollback-journal mode: not switched to WAL
    assert _siblings(db) == ["other.db", "toy.json"]


def test_a_store_with_damaged_pages_is_refused_by_a_tuner(tmp_path, write_job):
    db = tmp_path / "s.db"
    with Store(db) as store:
        for i in range(40):  # enough rows to fill several pages
            spec = {"objective": {"metric": "loss", "direction": "minimize"},
                    "hyperparameters": {}, "filler": "x" * 2000}
            store.create_job(f"job-{i}", spec, seed=None)
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    size = db.stat().st_size
    assert size > 8 * page
    with open(db, "r+b") as fh:  # garbage over a page in the middle
        fh.seek((size // page // 2) * page)
        fh.write(random.Random(0).randbytes(page))
    before = _digest(db)
    _one_line_error(fasthpo("run", str(write_job()), "--db", str(db)), "damaged", str(db))
    assert _digest(db) == before
    # Reading verbs give one line too, whatever they hit.
    for verb in (["list"], ["describe", "job-1"], ["trials", "job-20"]):
        proc = fasthpo(*verb, "--db", str(db))
        assert "Traceback" not in proc.stderr, proc.stderr
    assert _digest(db) == before
