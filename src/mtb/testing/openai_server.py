"""A scriptable OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It is a real threaded HTTP/1.1 server: the openai SDK talks to it over real
sockets, so retries, timeouts, dropped connections and concurrency are
exercised end to end. Per test it can script status codes, bodies, latency and
Retry-After; it records every request and the peak number in flight.

It can also play a provider's limits and its failures, every one bounded by the
server's own life (stopping it ends every wait):

    rate_limit=20                 N requests in each wall-clock second, 429 + Retry-After beyond
    token_limit=TokenBucketLimit  OpenAI's tokens per minute: a bucket, x-ratelimit-* headers on
                                  every response, a 429 without Retry-After when it is spent
    Reply(drip=0.3)               a reply a byte at a time
    Reply(hang=True)              a request never answered
    usage_scale=1.5               `usage` counting more tokens than the messages hold

    with OpenAIServer(responder=lambda request: Reply(text="[[7]]")) as server:
        client = AsyncOpenAI(base_url=server.url, api_key="test")

From a shell, `python -m mtb.testing.openai_server` serves until Ctrl-C, every model
answering as mtb's fake provider does: a way to try `mtb eval` over real HTTP with
no key and no cost (`--help` says how).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mtb.testing.batches import BatchService


@dataclass(frozen=True)
class Reply:
    status: int = 200
    text: str = "ok"  # the assistant's content in a 200 response
    body: str | None = None  # a raw body instead of a chat completion (for malformed replies)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering
    # Seconds between the bytes of the body: a server that is slow but never
    # silent for long, which a per-read timeout alone never ends.
    drip: float = 0.0
    # The reply's `usage` token counts (prompt, completion); None: counted as a server would,
    # roughly (a token per four characters of the messages and of the reply).
    usage: tuple[int, int] | None = None
    no_usage: bool = False  # a server that reports no usage at all
    hang: bool = False  # never answer (until the server stops)


def rough_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    arrived: float

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages", []))

    @property
    def last_user_message(self) -> str:
        users = [m["content"] for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else ""


Responder = Callable[[RecordedRequest], Reply]


def default_responder(request: RecordedRequest) -> Reply:
    return Reply(text=f"echo: {request.last_user_message[:60]}")


def completion_body(text: str, model: str, usage: tuple[int, int] | None = (1, 1)) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
    }
    if usage is not None:
        prompt, completion = usage
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return json.dumps(body)


class FixedWindowLimit:
    """At most `per_second` requests in each wall-clock second; others get 429 + Retry-After."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._lock = threading.Lock()
        self._window = -1
        self._count = 0
        self.rejected = 0

    def admit(self) -> float | None:
        """None if admitted, else the seconds until the next window opens."""
        now = time.monotonic()
        with self._lock:
            window = math.floor(now)
            if window != self._window:
                self._window, self._count = window, 0
            if self._count < self.per_second:
                self._count += 1
                return None
            self.rejected += 1
            return window + 1 - now


def openai_duration(seconds: float) -> str:
    """A duration as OpenAI writes it in x-ratelimit-reset-*: "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s"


def request_cost(request: RecordedRequest, count_max_tokens: bool = True) -> int:
    """The tokens a request takes from the limit: its messages (roughly) and, as OpenAI counts, max_tokens."""
    prompt = sum(rough_tokens(str(m.get("content", ""))) for m in request.messages)
    max_tokens = request.body.get("max_tokens") if count_max_tokens else 0
    return prompt + (max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 0)


class TokenBucketLimit:
    """A tokens-per-minute limit as OpenAI reports it.

    Tokens refill at `tokens_per_minute / 60` a second into a bucket of `bucket`; a
    request takes its cost (`request_cost`) when it arrives, or is turned away with a
    429 that carries no Retry-After, only the headers. Every response carries
    x-ratelimit-{limit,remaining,reset}-{requests,tokens}; the requests limit is a
    bucket a minute deep.
    """

    def __init__(
        self,
        tokens_per_minute: int,
        bucket: int,
        requests_per_minute: int = 10_000,
        count_max_tokens: bool = True,
    ) -> None:
        self.tokens_per_minute = tokens_per_minute
        self.requests_per_minute = requests_per_minute
        self.capacity = float(bucket)
        self.count_max_tokens = count_max_tokens
        self._lock = threading.Lock()
        self._tokens = float(bucket)
        self._requests = float(requests_per_minute)
        self._at: float | None = None
        self.rejected = 0
        self.admitted = 0
        self.charged = 0  # tokens taken by the requests admitted

    def admit(self, request: RecordedRequest) -> tuple[bool, dict[str, str]]:
        """Whether the request goes through, and the headers for its response."""
        cost = request_cost(request, self.count_max_tokens)
        token_rate = self.tokens_per_minute / 60
        request_rate = self.requests_per_minute / 60
        with self._lock:
            now = time.monotonic()
            if self._at is not None:
                elapsed = now - self._at
                self._tokens = min(self.capacity, self._tokens + token_rate * elapsed)
                self._requests = min(float(self.requests_per_minute), self._requests + request_rate * elapsed)
            self._at = now
            admitted = self._tokens >= cost and self._requests >= 1
            if admitted:
                self._tokens -= cost
                self._requests -= 1
                self.admitted += 1
                self.charged += cost
            else:
                self.rejected += 1
            headers = {
                "x-ratelimit-limit-requests": str(self.requests_per_minute),
                "x-ratelimit-remaining-requests": str(int(self._requests)),
                "x-ratelimit-reset-requests": openai_duration(
                    (self.requests_per_minute - self._requests) / request_rate
                ),
                "x-ratelimit-limit-tokens": str(self.tokens_per_minute),
                "x-ratelimit-remaining-tokens": str(int(self._tokens)),
                "x-ratelimit-reset-tokens": openai_duration((self.capacity - self._tokens) / token_rate),
            }
        return admitted, headers

    def refusal(self, request: RecordedRequest, headers: dict[str, str]) -> Reply:
        cost = request_cost(request, self.count_max_tokens)
        message = (
            f"Rate limit reached for {request.body.get('model', '')} on tokens per min (TPM): "
            f"Limit {self.tokens_per_minute}, Remaining {headers['x-ratelimit-remaining-tokens']}, "
            f"Requested {cost}."
        )
        body = {"error": {"message": message, "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}
        return Reply(status=429, body=json.dumps(body), headers=headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Clients open dozens of connections at once; the default backlog of 5
    # makes the kernel refuse some of them.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a run that stopped, a request timed out) is not the server's
        # error: socketserver printed its traceback into the stderr of the command under test.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class OpenAIServer:
    def __init__(
        self,
        responder: Responder = default_responder,
        script: Iterable[Reply] = (),
        rate_limit: int | None = None,
        address: tuple[str, int] = ("127.0.0.1", 0),  # port 0: any free port
        token_limit: TokenBucketLimit | None = None,
        usage_scale: float = 1.0,
    ) -> None:
        self.responder = responder
        self._script: deque[Reply] = deque(script)
        self.limit = FixedWindowLimit(rate_limit) if rate_limit else None
        self.token_limit = token_limit
        # Counted usage (not a Reply's own `usage`) times this: a server counting more than mtb does.
        self.usage_scale = usage_scale
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.last_reply_at = 0.0  # time.monotonic() when the latest reply was sent
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(address, self._handler_class())
        self._thread: threading.Thread | None = None
        # OpenAI's Batch API (files and batches), each line answered by the responder.
        self.batches = BatchService(self._answer_batch_line)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, replies: Iterable[Reply]) -> None:
        """Answer the next requests with `replies`, in order, then fall back to the responder."""
        with self._lock:
            self._script.extend(replies)

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.batches.stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            return scripted
        if self.limit is not None:
            wait = self.limit.admit()
            if wait is not None:
                return Reply(
                    status=429,
                    body='{"error": {"message": "rate limited"}}',
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
        if self.token_limit is not None:
            admitted, headers = self.token_limit.admit(request)
            if not admitted:
                return self.token_limit.refusal(request, headers)
            reply = self.responder(request)
            return replace(reply, headers={**headers, **reply.headers})
        return self.responder(request)

    def _answer_batch_line(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One line of a batch: the responder's reply as a chat completion (or an error) body."""
        request = RecordedRequest("/v1/chat/completions", {}, body, time.monotonic())
        reply = self.responder(request)
        if reply.status != 200:
            return reply.status, {"error": {"message": f"scripted {reply.status}", "type": "test"}}
        usage = reply.usage or (
            sum(rough_tokens(str(m.get("content", ""))) for m in request.messages),
            rough_tokens(reply.text),
        )
        text = completion_body(reply.text, str(body.get("model", "")), None if reply.no_usage else usage)
        return 200, json.loads(text)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without this, Nagle plus
            # delayed ACKs add ~40 ms to every response.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(
                self, status: int, body: str | bytes, headers: dict[str, str] | None = None, drip: float = 0.0
            ) -> None:
                payload = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if not drip:
                    self.wfile.write(payload)
                    return
                for index in range(len(payload)):
                    if server._stopping.wait(drip):
                        return
                    self.wfile.write(payload[index : index + 1])
                    self.wfile.flush()

            def _batch_api(self, method: str, raw: bytes = b"") -> bool:
                headers = {name.lower(): value for name, value in self.headers.items()}
                handled = server.batches.handle(method, self.path, headers, raw)
                if handled is None:
                    return False
                status, body, extra = handled
                self._send(status, body, extra)
                return True

            def do_GET(self) -> None:
                if self._batch_api("GET"):
                    return
                self._send(
                    200,
                    json.dumps({"object": "list", "data": [{"id": "test-model", "object": "model"}]}),
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self._batch_api("POST", raw):
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = RecordedRequest(self.path, headers, body, time.monotonic())
                with server._lock:
                    server.requests.append(request)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server._next_reply(request)
                    if reply.hang:
                        server._stopping.wait()
                        self.close_connection = True
                        return
                    if reply.delay:
                        server._stopping.wait(reply.delay)
                    if reply.drop:
                        self.close_connection = True
                        self.connection.close()
                        return
                    if reply.body is not None:
                        self._send(reply.status, reply.body, reply.headers, reply.drip)
                    elif reply.status == 200:
                        usage = reply.usage or (
                            math.ceil(
                                server.usage_scale
                                * sum(rough_tokens(str(m.get("content", ""))) for m in request.messages)
                            ),
                            math.ceil(server.usage_scale * rough_tokens(reply.text)),
                        )
                        self._send(
                            200,
                            completion_body(
                                reply.text, str(body.get("model", "")), None if reply.no_usage else usage
                            ),
                            reply.headers,
                            reply.drip,
                        )
                    else:
                        error = {
                            "error": {
                                "message": f"scripted {reply.status}",
                                "type": "test",
                                "code": None,
                            }
                        }
                        self._send(reply.status, json.dumps(error), reply.headers)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout test); nothing to answer
                finally:
                    with server._lock:
                        server.in_flight -= 1
                        server.last_reply_at = time.monotonic()

        return Handler


# --- from a shell -------------------------------------------------------------------

USAGE_EPILOG = """\
Then, in another shell (the judge must be named fake or fake/..., so that its
verdicts never land in a real judge's file):

  mtb eval --model my-model --api-base URL --judge-api-base URL --judge-model fake --first-n 5
"""


def fake_responder(request: RecordedRequest) -> Reply:
    """Every model answers as mtb's fake provider; only a judge named fake (or fake/...) gives verdicts."""
    from mtb.backends.fake import FakeMode, fake_reply, parse_fake_model
    from mtb.errors import UsageError

    model = str(request.body.get("model", ""))
    try:
        mode: FakeMode | None = parse_fake_model(model)
    except UsageError:
        mode = None
    text = fake_reply(request.messages, mode or FakeMode())
    if mode is None and text.startswith("Fake judgment"):
        text = f"This test server gives verdicts only as a judge named fake or fake/..., not '{model}'."
    return Reply(text=text)


def main(argv: list[str] | None = None) -> int:
    """`python -m mtb.testing.openai_server`: serve on this machine until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m mtb.testing.openai_server",
        description=(
            "An OpenAI-compatible server on this machine, for trying mtb with no key and no cost.\n"
            "It answers /v1/chat/completions as mtb's fake provider does (a hashed answer to\n"
            "each question, a verdict to each judge prompt) and /v1/models with a list."
        ),
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free port)")
    parser.add_argument(
        "--echo", action="store_true", help="answer every request with 'echo: <last user message>'"
    )
    args = parser.parse_args(argv)
    responder = default_responder if args.echo else fake_responder
    try:
        server = OpenAIServer(responder=responder, address=(args.host, args.port))
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})")
    sys.stdout.write(f"serving at {server.url} (Ctrl-C to stop)\n")
    sys.stdout.flush()
    server.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
