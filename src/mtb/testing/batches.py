"""OpenAI's Batch API (`/v1/files`, `/v1/batches`) for the test server, so `--batch` is tested offline.

A batch is answered line by line by the server's own responder, after
`delay` seconds, as a provider would within its window: the lines it fails
(every `fail_every`-th, or those the responder fails) go to an error file, the
rest to an output file, each line naming its `custom_id`. Batch lines are kept
apart from the server's direct requests (`OpenAIServer.requests`), so a test
can tell what went through a batch from what was sent directly.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# (status, body, headers) for the HTTP handler to send.
Response = tuple[int, str | bytes, dict[str, str]]


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    created_at: int
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }


class BatchService:
    """Files and batches in memory; `answer(body)` gives one line's (status, response body)."""

    def __init__(self, answer: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]) -> None:
        self.answer = answer
        self.delay = 0.05  # seconds between a batch's creation and its result
        self.fail_every = 0  # every n-th line of each batch fails (0: none)
        self.expire = False  # batches end "expired", every line unanswered
        # A provider's damaged result files, for tests: given "output" or "error" and a file's
        # lines (JSON text), the lines the file is stored with (reordered, repeated, cut, foreign).
        self.damage: Callable[[str, list[str]], list[str]] | None = None
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.lines: list[dict[str, Any]] = []  # every line answered through a batch
        self.created: list[str] = []  # batch ids, in order of creation
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Response | None:
        """The response to a Files or Batch API request; None for any other path."""
        route = path.split("?", 1)[0].removeprefix("/v1")
        if method == "POST" and route == "/files":
            return self._upload(headers, raw)
        if method == "GET" and route.startswith("/files/") and route.endswith("/content"):
            content = self.files.get(route.split("/")[2])
            if content is None:
                return _missing()
            return 200, content, {"Content-Type": "application/jsonl"}
        if method == "POST" and route == "/batches":
            return self._create(json.loads(raw or b"{}"))
        if method == "GET" and route.startswith("/batches/"):
            with self._lock:
                batch = self.batches.get(route.split("/")[2])
                return (200, json.dumps(batch.to_json()), {}) if batch else _missing()
        if method == "POST" and route.startswith("/batches/") and route.endswith("/cancel"):
            with self._lock:
                batch = self.batches.get(route.split("/")[2])
                if batch is None:
                    return _missing()
                batch.status = "cancelled"
                return 200, json.dumps(batch.to_json()), {}
        return None

    def _upload(self, headers: dict[str, str], raw: bytes) -> Response:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + headers.get("content-type", "").encode() + b"\r\n\r\n" + raw
        )
        content = b""
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                content = payload if isinstance(payload, bytes) else b""
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = content
        body = {"id": file_id, "object": "file", "bytes": len(content), "purpose": "batch", "created_at": 0}
        return 200, json.dumps(body), {}

    def _create(self, body: dict[str, Any]) -> Response:
        input_file_id = str(body.get("input_file_id"))
        if input_file_id not in self.files:
            return _missing()
        batch = _Batch(
            f"batch_{next(self._ids)}",
            input_file_id,
            str(body.get("endpoint")),
            int(time.time()),
            metadata=body.get("metadata") or {},
        )
        with self._lock:
            self.batches[batch.id] = batch
            self.created.append(batch.id)
        threading.Thread(target=self._run, args=(batch,), daemon=True).start()
        return 200, json.dumps(batch.to_json()), {}

    def _run(self, batch: _Batch) -> None:
        lines = [json.loads(line) for line in self.files[batch.input_file_id].decode().splitlines() if line]
        with self._lock:
            batch.status, batch.total = "in_progress", len(lines)
        if self._stopping.wait(self.delay):
            return
        if self.expire:
            with self._lock:
                batch.status = "expired"
            return
        outputs, errors = [], []
        for number, line in enumerate(lines, start=1):
            self.lines.append(line)
            status, response = self.answer(line["body"])
            failed = status != 200 or (self.fail_every and number % self.fail_every == 0)
            entry = {"id": f"batch_req_{number}", "custom_id": line["custom_id"]}
            if failed:
                error = {"code": "server_error", "message": "the test server failed this line"}
                errors.append({**entry, "response": None, "error": error})
            else:
                outputs.append({**entry, "response": {"status_code": 200, "body": response}, "error": None})
        with self._lock:
            if outputs:
                batch.output_file_id = self._store("output", outputs)
            if errors:
                batch.error_file_id = self._store("error", errors)
            batch.completed, batch.failed = len(outputs), len(errors)
            batch.status = "completed"

    def _store(self, kind: str, lines: list[dict[str, Any]]) -> str:
        file_id = f"file-{next(self._ids)}"
        texts = [json.dumps(line) for line in lines]
        if self.damage is not None:
            texts = self.damage(kind, texts)
        self.files[file_id] = "".join(text + "\n" for text in texts).encode()
        return file_id


def _missing() -> Response:
    return 404, json.dumps({"error": {"message": "no such object", "type": "invalid_request_error"}}), {}
