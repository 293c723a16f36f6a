"""A real HTTP server on 127.0.0.1 that serves folders, for download tests.

It answers three ways at once, by URL prefix (`routes`): as a plain mirror, as
raw.githubusercontent.com (`/<owner>/<repo>/<commit>/<path>`) and as the
Hugging Face Hub (`/spaces/<owner>/<repo>/resolve/<revision>/<path>`, HEAD and
GET with the headers huggingface_hub reads). Faults are injected per file:
`corrupt` serves other bytes, `truncate` closes the connection half way.
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
    # Seconds between single bytes of every body: a mirror too slow to wait for.
    drip: float | None = None


class FileServer:
    def __init__(self, routes: dict[str, Path]) -> None:
        self.routes = dict(sorted(routes.items(), key=lambda kv: -len(kv[0])))
        self.faults = Faults()
        self.requests: list[tuple[str, str]] = []
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
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", FAKE_COMMIT)
                self.end_headers()
                if not with_body:
                    return
                if server._take(server.faults.truncate, path):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if server.faults.drip is not None:
                    try:
                        for at in range(len(data)):
                            self.wfile.write(data[at : at + 1])
                            self.wfile.flush()
                            time.sleep(server.faults.drip)
                    except OSError:  # the client went away, as it should when interrupted
                        self.close_connection = True
                    return
                self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._serve(with_body=False)

            def do_GET(self) -> None:
                self._serve(with_body=True)

        return Handler
