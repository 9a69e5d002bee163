"""The dashboard's HTTP server: the standard library's ``ThreadingHTTPServer``, read-only by construction.

Routes (``GET`` and ``HEAD`` only; anything else is 405): ``/`` the page,
``/plotly.js``, ``/api/jobs`` (the list) and ``/api/jobs/NAME`` (one job's
view, as the report draws it). Each API request opens the store through
:func:`fasthpo.visualization.store_reader.read_only` (``mode=ro``, one read
snapshot, closed at once), so the dashboard takes no write lock and a running
tuner never waits for it.

Security: it binds to 127.0.0.1 unless told otherwise; any other address
needs a token (``--token`` or ``$FASTHPO_DASHBOARD_TOKEN``), and once a token
is set every request must carry it (``?token=`` or ``Authorization: Bearer``).
Without a token, requests whose ``Host`` is not a loopback name are refused,
so a web page elsewhere cannot reach the store through DNS rebinding.
"""

from __future__ import annotations

import hmac
import html
import json
import os
import socket
import sqlite3
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from fasthpo.errors import ConfigError, StoreError

TOKEN_ENV = "FASTHPO_DASHBOARD_TOKEN"  # noqa: S105 (the variable's name, not a secret)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def serve(db: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 8080,
          token: str | None = None) -> int:
    """Serve the dashboard of store ``db`` until interrupted; return the exit code."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    server = make_server(db, host=host, port=port, token=token)
    bound = server.server_address[1]
    shown_host = f"[{host}]" if ":" in host else host
    query = f"?token={urllib.parse.quote(token)}" if token else ""
    print(f"fasthpo dashboard: http://{shown_host}:{bound}/{query} (read-only; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def make_server(
    db: str | os.PathLike[str], *, host: str, port: int, token: str | None
) -> ThreadingHTTPServer:
    """A bound, not yet serving dashboard server; ``ConfigError`` for a bad address or port, or no token."""
    from fasthpo.visualization.page import plotly_js

    if not 0 <= port <= 65535:
        raise ConfigError("--port", f"must be 0..65535, got {port}")
    if host not in LOOPBACK_HOSTS and not token:
        raise ConfigError(
            "--host", f"binding to {host!r} exposes the store beyond this machine: "
            f"give a token with --token or ${TOKEN_ENV}"
        )
    path = Path(db)
    if not path.exists():
        raise StoreError(f"no fasthpo store at {str(path)!r}")
    handler = type("DashboardHandler", (DashboardHandler,), {
        "store_path": path, "token": token, "plotly": plotly_js("fasthpo dashboard").encode(),
        "views": {}, "cache_lock": threading.Lock(),
    })
    server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
    try:
        server = server_class((host, port), handler)
    except OSError as exc:
        raise ConfigError("--port", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.daemon_threads = True
    return server


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class DashboardHandler(BaseHTTPRequestHandler):
    """Answers the dashboard's few read-only routes."""

    store_path: Path
    token: str | None
    plotly: bytes
    #: Each job's last view with the version it was built from (see :func:`_version`).
    views: dict[str, tuple[tuple[Any, ...], Any]]
    cache_lock: threading.Lock
    server_version = "fasthpo-dashboard"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only: GET and HEAD only\n", "text/plain",
                   extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would drown the terminal at two polls a second."""

    # -- routing ----------------------------------------------------------------------

    def _answer(self, *, head: bool) -> None:
        url = urllib.parse.urlsplit(self.path)
        if not self._allowed(url):
            return
        route = url.path
        if route == "/":
            self._send(HTTPStatus.OK, _page(self.token).encode(), "text/html; charset=utf-8", head=head)
        elif route == "/plotly.js":
            self._send(HTTPStatus.OK, self.plotly, "text/javascript; charset=utf-8", head=head,
                       extra={"Cache-Control": "max-age=3600"})
        elif route == "/api/jobs":
            self._json(lambda db: _job_list(db), head)
        elif route.startswith("/api/jobs/"):
            name = urllib.parse.unquote(route[len("/api/jobs/"):])
            self._json(lambda db: self._cached_view(db, name), head)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head=head)

    def _cached_view(self, db: sqlite3.Connection, name: str) -> Any:
        """The job's view, rebuilt only when the job changed since the last request asked for it."""
        key = _version(db, name)
        with self.cache_lock:
            cached = self.views.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        view = _job_view(db, name)
        with self.cache_lock:
            self.views[name] = (key, view)
        return view

    def _allowed(self, url: urllib.parse.SplitResult) -> bool:
        """The token rule (or, without a token, the loopback Host rule)."""
        if self.token:
            given = urllib.parse.parse_qs(url.query).get("token", [""])[0]
            header = self.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                given = given or header[len("Bearer "):]
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                self._send(HTTPStatus.UNAUTHORIZED, b"a valid token is required\n", "text/plain")
                return False
            return True
        if _host_name(self.headers.get("Host") or "") not in LOOPBACK_NAMES:
            self._send(HTTPStatus.FORBIDDEN, b"without a token only loopback hosts are served\n",
                       "text/plain")
            return False
        return True

    def _json(self, read: Any, head: bool) -> None:
        from fasthpo.visualization.store_reader import read_only

        try:
            with read_only(self.store_path) as db:
                body = json.dumps(read(db), allow_nan=False).encode()
        except LookupError as exc:
            self._send(HTTPStatus.NOT_FOUND, json.dumps({"error": str(exc.args[0])}).encode(),
                       "application/json", head=head)
            return
        except (StoreError, sqlite3.Error) as exc:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, json.dumps({"error": str(exc)}).encode(),
                       "application/json", head=head)
            return
        self._send(HTTPStatus.OK, body, "application/json", head=head)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, *, head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the token may be in the URL
        self.send_header("X-Frame-Options", "DENY")
        for key, value in {"Cache-Control": "no-store", **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass


def _host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8080`` → ``[::1]``)."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def _version(db: sqlite3.Connection, name: str) -> tuple[Any, ...]:
    """What changes whenever a job's view would: its row, its trials, its reports, its tuner's life.

    Polling a 10,000-trial job every two seconds then costs a few index reads,
    not a rebuild of its figures.
    """
    from fasthpo.storage import jobs

    db.execute("BEGIN")
    try:
        job = db.execute("SELECT status, updated_at FROM jobs WHERE name = ?", (name,)).fetchone()
        trials = db.execute(
            "SELECT COUNT(*), SUM(status = 'completed'), SUM(status = 'failed'), SUM(status = 'running'), "
            "MAX(started_at), MAX(ended_at), SUM(attempt) FROM trials WHERE job = ?", (name,)
        ).fetchone()
        reports = db.execute("SELECT MAX(rowid) FROM metrics WHERE job = ?", (name,)).fetchone()
        verdicts = db.execute("SELECT COUNT(*) FROM scalings WHERE job = ?", (name,)).fetchone()
        lease = jobs.lease(db, name)
    finally:
        db.execute("COMMIT")
    return (
        None if job is None else tuple(job), tuple(trials), tuple(reports), tuple(verdicts),
        None if lease is None else (lease.owner, lease.held()),
    )


def _job_list(db: sqlite3.Connection) -> list[dict[str, Any]]:
    from fasthpo.visualization.job_data import job_names

    return job_names(db)


def _job_view(db: sqlite3.Connection, name: str) -> dict[str, Any]:
    from fasthpo.storage import jobs
    from fasthpo.visualization.job_data import job_data
    from fasthpo.visualization.view import job_view

    if jobs.get_job(db, name) is None:
        raise LookupError(f"no job named {name!r}")
    return job_view(job_data(db, name))


def _page(token: str | None) -> str:
    """The dashboard's HTML shell; the job views arrive through the API."""
    from fasthpo.visualization.page import asset

    src = "/plotly.js" + (f"?token={urllib.parse.quote(token)}" if token else "")
    live = resources.files("fasthpo.dashboard").joinpath("live.js").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<title>fasthpo dashboard</title>\n"
        f"<style>{asset('page.css')}</style>\n"
        f"<script src=\"{html.escape(src)}\"></script>\n</head>\n<body>\n"
        "<nav class=\"jobs\" id=\"jobs\"></nav><p class=\"live\" id=\"state\">connecting…</p>\n"
        "<main id=\"report\"></main>\n"
        f"<script>{asset('page.js')}</script>\n<script>{live}</script>\n</body></html>\n"
    )
