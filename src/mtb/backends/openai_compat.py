"""Backend for any OpenAI-compatible chat-completions endpoint, through the openai SDK."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import httpx
import openai

from mtb.backends.base import (
    BackendError,
    Completion,
    EndpointConfig,
    Message,
    SamplingParams,
    Usage,
    rate_headers,
    within,
)
from mtb.retry import parse_retry_after

# Servers such as `vllm serve` accept any key; the SDK insists on one.
PLACEHOLDER_KEY = "EMPTY"


def client_timeout(config: EndpointConfig) -> httpx.Timeout:
    """The whole-request timeout, with a shorter one of its own for opening the connection."""
    return httpx.Timeout(config.timeout, connect=min(config.connect_timeout, config.timeout))


def _aiohttp_client(timeout: httpx.Timeout) -> Any:
    """The SDK's aiohttp transport (`openai[aiohttp]`), or None for its default.

    With 64 requests in flight the default transport spends about 2 ms of CPU
    per request in its connection pool; aiohttp's C parser roughly halves the
    client's share of each request (bench/judge_throughput.py).
    """
    try:
        return openai.DefaultAioHttpClient(timeout=timeout)
    except (AttributeError, ImportError, RuntimeError):
        return None


def backend_error_from(exc: Exception) -> BackendError:
    """Translate an openai SDK exception (litellm's subclass these) into a BackendError."""
    if isinstance(exc, openai.APIStatusError):
        headers = rate_headers(exc.response.headers)
        return BackendError(
            "status",
            f"HTTP {exc.status_code}: {_server_message(exc)}",
            exc.status_code,
            parse_retry_after(headers),
            _error_code(exc),
            headers=headers,
        )
    if isinstance(exc, openai.APITimeoutError):
        cause = exc.__cause__
        if cause is not None and type(cause).__name__ in ("ConnectTimeout", "ConnectError"):
            if _timed_out(cause.__cause__) and type(cause).__name__ == "ConnectTimeout":
                # No connection within the connect timeout (EndpointConfig.connect_timeout):
                # a host that never accepts is silent, like a server that never replies.
                return BackendError("timeout", f"connect timed out: {str(cause) or 'no connection'}")
            # The aiohttp transport reports a refused connection (a closed port, a server
            # that is not up) as httpx's ConnectTimeout, which the SDK calls "Request timed
            # out": say what happened, with the host.
            return BackendError("connection", f"connection failed: {str(cause) or type(cause).__name__}")
        return BackendError("timeout", "request timed out")
    if isinstance(exc, openai.APIConnectionError):
        local = local_error(exc.__cause__)
        if local is not None:
            return local
        # The SDK's own words are only "Connection error."; the transport's say what failed
        # (a reset, a body cut short, a name that does not resolve).
        detail = str(exc.__cause__ or "") or str(exc)
        return BackendError("connection", f"connection failed: {detail}")
    if isinstance(exc, openai.APIResponseValidationError):
        return BackendError("malformed", f"malformed response: {exc.message}")
    raise exc


def _timed_out(origin: BaseException | None) -> bool:
    """Whether the transport's own error under httpx's ConnectTimeout is a timeout.

    aiohttp's is a TimeoutError (a refused connection is an OSError of another kind);
    httpx's own transport raises httpcore's ConnectTimeout.
    """
    return origin is None or isinstance(origin, TimeoutError) or "Timeout" in type(origin).__name__


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own words from an OpenAI-style error body, else the SDK's summary."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str):
            return message
    if isinstance(body, str) and "<" in body:
        # An HTML error page (a proxy, a load balancer): its text, not its markup. Only its
        # start is read (the message is cut to a line anyway), and `<[^<>]*>` never scans
        # past the next `<`, so no page makes this slow.
        text = " ".join(re.sub(r"<[^<>]*>", " ", body[:100_000]).split())
        return f"Error code: {exc.status_code} - {text[:160]} (an HTML page of {len(body):,} characters)"
    return exc.message


def _error_code(exc: openai.APIStatusError) -> str | None:
    """The error body's "code", else its "type" (e.g. "insufficient_quota")."""
    body = exc.body
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if not isinstance(error, dict):
        return None
    for name in ("code", "type"):
        value = error.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def local_error(cause: BaseException | None) -> BackendError | None:
    """A 'fatal' BackendError if the request failed on this side, before the server saw it.

    A key with a control character or a non-ASCII letter cannot go in a header,
    and a base URL with user:pass@ clashes with the key's Authorization header:
    the HTTP client refuses such a request (a ValueError, httpx's
    LocalProtocolError), and every later one would be refused the same way.
    Messages name the kind of fault only: the header may hold the key.
    """
    if cause is None:
        return None
    if isinstance(cause, UnicodeError):
        return BackendError(
            "fatal", "the request could not be sent: a header (the API key?) holds non-ASCII text"
        )
    try:
        import httpx

        httpx_local: tuple[type[BaseException], ...] = (
            httpx.LocalProtocolError,
            httpx.UnsupportedProtocol,
            httpx.InvalidURL,
        )
    except ImportError:  # pragma: no cover - the openai SDK depends on httpx
        httpx_local = ()
    if isinstance(cause, httpx_local) or (isinstance(cause, ValueError) and not isinstance(cause, OSError)):
        return BackendError(
            "fatal",
            f"the HTTP client refused the request before sending it ({type(cause).__name__}); "
            "check the API key and base URL for control characters or user:pass@",
        )
    return None


def _field(obj: Any, name: str) -> Any:
    # A raw JSON dict from the OpenAI route, a response object from litellm.
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def completion_from(response: Any, headers: dict[str, str] | None = None) -> Completion:
    """Read the first choice's text, or raise a 'malformed' BackendError.

    `headers` are the response's rate-limit headers, kept on the Completion or the error.
    """
    headers = headers or {}
    usage = usage_from(_field(response, "usage"))
    choices = _field(response, "choices")
    if not isinstance(choices, list) or not choices:
        raise BackendError("malformed", "malformed response: no choices", usage=usage, headers=headers)
    first = choices[0]
    text = _field(_field(first, "message"), "content")
    finish_reason = _field(first, "finish_reason")
    if (text is None or (isinstance(text, str) and not text.strip())) and finish_reason in EMPTY_BECAUSE:
        # Not written as an answer or a verdict of "": the reply holds nothing to score.
        raise BackendError(
            "refused", f"no text in the reply: {EMPTY_BECAUSE[finish_reason]}", usage=usage, headers=headers
        )
    if not isinstance(text, str):
        raise BackendError(
            "malformed", "malformed response: the first choice has no text", usage=usage, headers=headers
        )
    model = _field(response, "model")
    return Completion(
        text,
        model if isinstance(model, str) else None,
        finish_reason if isinstance(finish_reason, str) else None,
        usage,
        headers,
    )


# Why a reply came back without text, by its finish_reason; a retry would be paid for and
# most likely end the same way.
EMPTY_BECAUSE = {
    "content_filter": "the server's content filter withheld it (finish_reason content_filter)",
    "length": (
        "the token limit was reached before any text "
        "(finish_reason length; a reasoning model may spend it all thinking)"
    ),
}


def usage_from(usage: Any) -> Usage | None:
    """The reply's token counts; None when absent or not two counts (then mtb counts them itself)."""
    if usage is None:
        return None
    prompt, completion = _field(usage, "prompt_tokens"), _field(usage, "completion_tokens")
    if (
        isinstance(prompt, int)
        and isinstance(completion, int)
        and not isinstance(prompt, bool)
        and not isinstance(completion, bool)
        and prompt >= 0
        and completion >= 0
    ):
        return Usage(prompt, completion)
    return None


def chat_body(model: str, messages: Sequence[Message], params: SamplingParams) -> dict[str, Any]:
    """A chat-completions request body: sent directly, or as one line of a batch."""
    body: dict[str, Any] = {
        "model": model,
        "messages": list(messages),
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "n": 1,
    }
    if params.seed is not None:
        body["seed"] = params.seed
    return body


def async_client(config: EndpointConfig) -> openai.AsyncOpenAI:
    """The SDK's client for an endpoint; no key is a usage error, except for a server of one's own."""
    api_key = config.api_key
    if not api_key:
        if config.api_base is None:
            from mtb.errors import UsageError

            raise UsageError(f"no API key for {config.model}: set {config.key_hint}")
        api_key = PLACEHOLDER_KEY
    timeout = client_timeout(config)
    return openai.AsyncOpenAI(
        base_url=config.api_base,
        api_key=api_key,
        max_retries=0,  # mtb's engine is the only retry layer
        timeout=timeout,
        http_client=_aiohttp_client(timeout),
    )


class OpenAICompatBackend:
    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.client = async_client(config)
        # Absolute, so the SDK parses one URL per request instead of joining two.
        self._chat_url = f"{str(self.client.base_url).rstrip('/')}/chat/completions"

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        body = chat_body(self.config.model, messages, params)
        try:
            # The SDK's documented raw route: its typed `chat.completions.create`
            # walks every message through a TypedDict transform, about 3 ms of CPU
            # per request, which caps a judge run near 300 requests/s on one core.
            # Our messages are plain JSON already; errors, timeouts and the
            # connection pool are the SDK's all the same. The raw response is asked
            # for (the SDK's `cast_to=httpx.Response`) for its rate-limit headers.
            response = await within(
                self.config.timeout, self.client.post(self._chat_url, cast_to=httpx.Response, body=body)
            )
        except openai.OpenAIError as exc:
            raise backend_error_from(exc) from None
        except UnicodeError as exc:  # a header (the key) that is not ASCII
            raise local_error(exc) or BackendError("fatal", str(exc)) from None
        except ValueError as exc:
            # A plain ValueError is the HTTP client refusing our own request (openai 3.x
            # raises it unwrapped), which no retry mends.
            raise local_error(exc) or BackendError("malformed", f"malformed response: {exc}") from None
        headers = rate_headers(response.headers)
        try:
            data = json.loads(response.content)
        except ValueError as exc:  # a body that is not JSON at all (or not UTF-8)
            raise BackendError("malformed", f"malformed response: {exc}", headers=headers) from None
        return completion_from(data, headers)

    async def aclose(self) -> None:
        await self.client.close()
