"""A real HTTP server on 127.0.0.1 that serves folders, for download tests.

It answers three ways at once, by URL prefix (`routes`): as a plain mirror, as
raw.githubusercontent.com (`/<owner>/<repo>/<commit>/<path>`) and as the
Hugging Face Hub (`/spaces/<owner>/<repo>/resolve/<revision>/<path>`, HEAD and
GET with the headers huggingface_hub reads). GET honours `Range: bytes=N-` with
206 and Content-Range (and If-Range against the ETag, the body's sha256), unless
`ignore_range` makes it answer 200 with the whole file as servers without Range
support do. Faults are injected per file:
`corrupt` serves other bytes, `truncate` closes the connection half way, `cut`
closes it after a given number of body bytes. `ranges` and `served` record what
each GET asked for and how many body bytes it was sent.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Faults:
    corrupt: Counter[str] = field(default_factory=Counter)  # URL path -> times to serve wrong bytes
    truncate: Counter[str] = field(default_factory=Counter)  # URL path -> times to cut the transfer
    # URL path -> body bytes to send before closing the connection, one entry per GET, in order.
    cut: dict[str, list[int]] = field(default_factory=dict)
    # Seconds between single bytes of every body: a mirror too slow to wait for.
    drip: float | None = None
    # Answer 200 with the whole file to a Range request, as a server without Range support does.
    ignore_range: bool = False


class FileServer:
    def __init__(self, routes: dict[str, Path]) -> None:
        self.routes = dict(sorted(routes.items(), key=lambda kv: -len(kv[0])))
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []
        self.ranges: list[tuple[str, str | None]] = []  # (URL path, Range header) per GET
        self.served: Counter[str] = Counter()  # URL path -> body bytes written
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def count(self, method: str, suffix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.endswith(suffix))

    def _resolve(self, url_path: str) -> Path | None:
        for prefix, folder in self.routes.items():
            if url_path.startswith(prefix):
                relative = url_path[len(prefix) :].lstrip("/")
                candidate = (folder / relative).resolve()
                if candidate.is_file() and candidate.is_relative_to(folder.resolve()):
                    return candidate
        return None

    def _take_cut(self, path: str) -> int | None:
        with self._lock:
            queue = self.faults.cut.get(path)
            return queue.pop(0) if queue else None

    def _take(self, counter: Counter[str], path: str) -> bool:
        with self._lock:
            if counter[path] > 0:
                counter[path] -= 1
                return True
            return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self, with_body: bool) -> None:
                path = unquote(self.path.split("?", 1)[0])
                with server._lock:
                    server.requests.append((self.command, path))
                file = server._resolve(path)
                if file is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    # huggingface_hub tells a missing file from a missing repo by this header.
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                data = file.read_bytes()
                if with_body and server._take(server.faults.corrupt, path):
                    data = data[:-10] + b"corrupted!"
                etag = hashlib.sha256(data).hexdigest()
                requested = self.headers.get("Range") if self.command == "GET" else None
                if self.command == "GET":
                    with server._lock:
                        server.ranges.append((path, requested))
                start = _range_start(requested) if requested and not server.faults.ignore_range else None
                if start is not None and self.headers.get("If-Range") not in (None, f'"{etag}"'):
                    start = None  # the client's part is of another version: the whole file
                if start is not None and start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                size = len(data)
                if start is not None:
                    data = data[start:]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Repo-Commit", FAKE_COMMIT)
                self.end_headers()
                if not with_body:
                    return
                if server._take(server.faults.truncate, path):
                    data, cut = data[: len(data) // 2], True
                elif (limit := server._take_cut(path)) is not None:
                    data, cut = data[:limit], True
                else:
                    cut = False
                if cut:
                    self.wfile.write(data)
                    self.wfile.flush()
                    self._count(path, len(data))
                    self.close_connection = True
                    return
                if server.faults.drip is not None:
                    try:
                        for at in range(len(data)):
                            self.wfile.write(data[at : at + 1])
                            self.wfile.flush()
                            self._count(path, 1)
                            time.sleep(server.faults.drip)
                    except OSError:  # the client went away, as it should when interrupted
                        self.close_connection = True
                    return
                self.wfile.write(data)
                self._count(path, len(data))

            def _count(self, path: str, n: int) -> None:
                with server._lock:
                    server.served[path] += n

            def do_HEAD(self) -> None:
                self._serve(with_body=False)

            def do_GET(self) -> None:
                self._serve(with_body=True)

        return Handler


def _range_start(header: str) -> int | None:
    """N from `bytes=N-` (the only form a resuming client sends); None for anything else."""
    unit, _, spec = header.partition("=")
    start, dash, end = spec.strip().partition("-")
    if unit.strip() != "bytes" or not dash or end or not start.isdigit():
        return None
    return int(start)
