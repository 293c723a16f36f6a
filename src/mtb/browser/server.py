"""The local web server of `mtb browse`, and its one-file export.

Only fixed routes exist: the page, its own script and style (files shipped in
this package), and five JSON endpoints. No URL maps to a file path, so nothing
outside the data directory can be asked for. Answers and judgments are
untrusted text: the page only ever puts them into the DOM as text (see
static/app.js), and a strict Content-Security-Policy forbids any script but
ours and any remote load.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mtb.browser.catalog import Catalog
from mtb.errors import MtbError, UsageError

STATIC = {
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
LOOPBACK = ("127.0.0.1", "::1", "localhost")
SERVER_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def static_text(name: str) -> str:
    return resources.files("mtb.browser").joinpath("static", name).read_text(encoding="utf-8")


def page(head_extra: str, body_end: str) -> str:
    return static_text("index.html").replace("<!--HEAD-->", head_extra).replace("<!--BODY-->", body_end)


def json_for_html(payload: Any) -> str:
    """JSON that cannot end the <script> element it sits in, whatever the answers contain."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class BrowseServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, catalog: Catalog, host: str, port: int) -> None:
        self.catalog = catalog
        if ":" in host:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: BrowseServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", SERVER_CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(
            status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        )

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _host_allowed(self) -> bool:
        """On loopback, answer only requests addressed to loopback.

        A web page elsewhere could point its own domain at 127.0.0.1 (DNS
        rebinding) and read the data through the visitor's browser; its requests
        carry its own name in Host.
        """
        if self.server.server_address[0] not in LOOPBACK:
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
        return name.lower() in ("127.0.0.1", "localhost", "::1")

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._error(403, "this server answers only requests to 127.0.0.1 or localhost")
            return
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        catalog = self.server.catalog
        try:
            if parts.path in ("/", "/index.html"):
                body = page(
                    '<link rel="stylesheet" href="static/app.css">', '<script src="static/app.js"></script>'
                )
                self._send(200, body.encode(), "text/html; charset=utf-8")
            elif parts.path in STATIC:
                name, content_type = STATIC[parts.path]
                self._send(200, static_text(name).encode(), content_type)
            elif parts.path == "/api/index":
                self._json(catalog.index())
            elif parts.path == "/api/question":
                self._json(catalog.question(query.get("bench", ""), query.get("id", "")))
            elif parts.path == "/api/leaderboard":
                self._json(catalog.leaderboard(query.get("bench", "")))
            elif parts.path == "/api/agreement":
                self._json(catalog.agreement(query.get("bench", "")))
            elif parts.path == "/api/arena":
                self._json(catalog.arena(query.get("log", "")))
            else:
                self._error(404, "not found")
        except KeyError:
            self._error(404, "no such benchmark or question")
        except MtbError as exc:
            # A file that cannot be read fails this request only; the server goes on.
            self._error(500, str(exc))


def make_server(data_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> BrowseServer:
    """The server, listening; an address it cannot listen on is a UsageError that says why."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return BrowseServer(Catalog(data_dir), host, port)
    except socket.gaierror as exc:
        raise UsageError(
            f"--host {host}: not an address or name this machine knows ({exc.strerror})"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"{shown} is already in use; pick another --port, or --port 0 for any free one"
            ) from None
        if exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL) and ":" in host:
            raise UsageError(
                f"cannot listen on {shown}: IPv6 is not available here ({exc.strerror}); use --host 127.0.0.1"
            ) from None
        raise UsageError(f"cannot listen on {shown} ({exc.strerror or exc})") from None


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def export_html(
    data_dir: Path,
    benches: list[str] | None = None,
    models: list[str] | None = None,
    *,
    everything: bool = False,
) -> str:
    """One self-contained page: our script, style and the data inline; no request of any kind.

    By default the page holds what the user works on: the answers and judgments of the
    models of the data directory's own runs (and of the models they were matched
    against), with every model's scores on the leaderboard. Every published answer
    (100 MB and more) needs `everything`; `models` names the models instead.
    """
    catalog = Catalog(data_dir)
    index = catalog.index()
    if benches:
        index["benchmarks"] = [b for b in index["benchmarks"] if b["name"] in benches]
        if index["focus"] and index["focus"]["bench"] not in benches:
            index["focus"] = None
    questions: dict[str, dict[str, Any]] = {}
    leaderboards: dict[str, Any] = {}
    agreements: dict[str, Any] = {}
    for bench in index["benchmarks"]:
        name = bench["name"]
        kept = models if models or everything else own_and_opponents(catalog, name)
        if kept is not None:
            bench["models"] = [m for m in bench["models"] if m in kept]
        questions[name] = {q["id"]: catalog.question(name, q["id"], kept) for q in bench["questions"]}
        # Every model's scores, whatever answers are kept: the published baselines to compare with.
        leaderboards[name] = catalog.leaderboard(name, models)
        agreements[name] = catalog.agreement(name, kept)
    # Every battle log is rated now: the exported page makes no request to rate one later.
    arena = {log: catalog.arena(log) for log in index["arena"]}
    if models:
        arena = {log: _only_models(rated, models) for log, rated in arena.items()}
    data = {
        "index": index,
        "question": questions,
        "leaderboard": leaderboards,
        "agreement": agreements,
        "arena": arena,
    }
    script, style = static_text("app.js"), static_text("app.css")
    # The inline script and style are allowed by hash, nothing else runs or loads.
    csp = (
        f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    head = f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n<style>{style}</style>'
    body = f'<script type="application/json" id="mtb-data">{json_for_html(data)}</script>\n'
    body += f"<script>{script}</script>"
    return page(head, body)


def own_and_opponents(catalog: Catalog, bench: str) -> list[str]:
    """The models of the data directory's own runs, and those their pairwise judgments set them against."""
    data = catalog.bench(bench)
    own = set(data.own_models)
    if not own:
        return []
    kept = set(own)
    for matches in data.pair.values():
        for match in matches:
            if match["model_1"] in own or match["model_2"] in own:
                kept.update((match["model_1"], match["model_2"]))
    for games in data.games.values():
        if any(g["model"] in own for g in games) and data.baseline:
            kept.add(data.baseline)
    return sorted(kept)


def _only_models(rated: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """The rows of `models` only; their ratings, intervals and ranks stay those of the whole log."""
    rows = [r for r in rated["rows"] if r["model"] in models]
    note = f"showing {len(rows)} of {len(rated['rows'])} models; rated against all of them"
    return {**rated, "rows": rows, "notes": [*rated["notes"], note]}
