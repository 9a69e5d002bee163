"""The report as one self-contained HTML page: plotly.js, the job's view as JSON, and the code that draws it.

Nothing is fetched when the page opens (plotly.js is embedded from the
installed ``plotly`` package), so it works offline and can be mailed. The
view is embedded as JSON in a ``<script type="application/json">`` with
``<``, ``>`` and ``&`` escaped, so no job text can close that element, and
the page sets every text through ``textContent``.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from fasthpo.errors import ConfigError


def plotly_js(needed_by: str = "fasthpo report --html") -> str:
    """The source of plotly.js from the installed ``plotly`` package (``ConfigError`` naming the extra)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ConfigError(
            "", f"{needed_by} needs plotly: pip install 'fasthpo[report]' "
            "(from a checkout: pip install '.[report]')"
        ) from None
    return str(get_plotlyjs())


def asset(name: str) -> str:
    """One of the page's own files (``page.js``, ``page.css``)."""
    return resources.files("fasthpo.visualization").joinpath(name).read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def report_page(view: dict[str, Any]) -> str:
    """The whole HTML page of one job's report."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<title>{html.escape(view['title'])}</title>\n"
        f"<style>{asset('page.css')}</style>\n"
        f"<script>{plotly_js()}</script>\n</head>\n<body>\n<main id=\"report\"></main>\n"
        f"<script type=\"application/json\" id=\"job-view\">{script_json(view)}</script>\n"
        f"<script>{asset('page.js')}</script>\n</body></html>\n"
    )
