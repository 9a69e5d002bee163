"""The HTML report of a job: read the store (read-only) → plain data → Plotly figures → one page.

``write_report`` is what ``fasthpo report --html`` and ``Tuner.report_html``
call. The dashboard (:mod:`fasthpo.dashboard`) serves the same views live.
"""

from __future__ import annotations

import os
from pathlib import Path

from fasthpo.errors import StoreError


def write_report(db: str | os.PathLike[str], job: str, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained HTML report of ``job`` in store ``db`` to ``path``; return the path."""
    from fasthpo.visualization.job_data import job_data
    from fasthpo.visualization.page import plotly_js, report_page
    from fasthpo.visualization.store_reader import read_only
    from fasthpo.visualization.view import job_view

    plotly_js()  # a missing extra is said before anything is read
    with read_only(db) as connection:
        data = job_data(connection, job)
    page = report_page(job_view(data))
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise StoreError(f"cannot write the report {str(out)!r}: {exc.strerror or exc}") from None
    return out
