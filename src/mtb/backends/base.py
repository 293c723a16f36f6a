"""The one protocol every model provider implements, for generation and judging alike."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

T = TypeVar("T")

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

# "fatal": a failure every later request would repeat (a local model out of
# memory); it stops the run, keeping what is done. "refused": the server answered
# with no text, and said why (its content filter, the token limit reached before
# any text); asking again would be paid for and get the same, so the item fails
# at once and the next run asks again.
ErrorKind = Literal["status", "timeout", "connection", "malformed", "fatal", "refused"]


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    max_tokens: int
    seed: int | None = None


@dataclass(frozen=True)
class Usage:
    """The tokens a server says a request took (OpenAI's `usage`); what --max-cost counts."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    model: str | None = None  # the model the server says answered
    finish_reason: str | None = None
    usage: Usage | None = None  # None when the server reported none (then mtb counts the tokens)
    # The response's rate-limit headers (names in lower case; see `rate_headers`), which the
    # engine's rate controller paces by; empty where the route exposes none.
    headers: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


# The longest error message kept. A proxy's 500 may carry megabytes of HTML, and the
# message is printed once per failed item and kept as the progress line's last error.
MAX_MESSAGE = 300


def short_message(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` on one line, cut to `limit` characters with the length it had."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… ({len(line):,} characters)"


class BackendError(Exception):
    """One failed call, described without the provider's exception classes.

    The engine's retry rules (`mtb.retry.decide`) look only at these fields.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        usage: Usage | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        message = short_message(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        # The machine-readable reason in an OpenAI-style error body ("code", else
        # "type"), e.g. "insufficient_quota"; None when the server gave none.
        self.code = code
        # The tokens a reply that could not be used still took (it was paid for): --max-cost counts them.
        self.usage = usage
        # The error response's rate-limit headers (`rate_headers`): a 429 may explain itself there.
        self.headers: Mapping[str, str] = headers or {}


# The headers that say how a provider limits its clients: Retry-After (and Azure's
# retry-after-ms), OpenAI's x-ratelimit-*, Anthropic's anthropic-ratelimit-*.
RATE_HEADER_PREFIXES = ("retry-after", "x-ratelimit-", "anthropic-ratelimit-")


def rate_headers(headers: object) -> dict[str, str]:
    """The rate-limit headers among `headers` (any mapping, or httpx's Headers), names in lower case.

    Only these are kept on a Completion: a handful of strings, usually none.
    """
    items = getattr(headers, "items", None)
    if items is None:
        return {}
    kept: dict[str, str] = {}
    for name, value in items():
        lowered = str(name).lower()
        if lowered.startswith(RATE_HEADER_PREFIXES):
            kept[lowered] = str(value)
    return kept


class Backend(Protocol):
    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """Return the model's reply, or raise BackendError. Never retries by itself."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to reach one model."""

    provider: str  # a name in the registry: "openai", "litellm"
    model: str
    api_base: str | None = None
    api_key: str | None = None
    # What the user should set when authentication fails, e.g. "OPENAI_API_KEY or --api-key".
    key_hint: str = "OPENAI_API_KEY"
    timeout: float = 600.0  # seconds for a whole request, its reply included
    # Seconds to open a connection, within `timeout`: a host that never accepts is known
    # for what it is in seconds, not after the whole-request timeout.
    connect_timeout: float = 10.0

    def __repr__(self) -> str:
        # Never let the key reach a log or traceback through repr().
        return (
            f"EndpointConfig(provider={self.provider!r}, model={self.model!r}, "
            f"api_base={self.api_base!r}, api_key={'***' if self.api_key else None})"
        )


async def within(seconds: float, call: Awaitable[T]) -> T:
    """Await `call`, bounded as a whole by `seconds`; past that, a BackendError("timeout").

    SDK timeouts bound each read, so a server that drips its reply a byte at a
    time would hold the request for ever; this bounds the whole request.
    """
    try:
        if sys.version_info >= (3, 11):
            # A deadline on the running task: no second task per request, as wait_for makes on 3.11.
            async with asyncio.timeout(seconds):
                return await call
        return await asyncio.wait_for(call, seconds)
    except (TimeoutError, asyncio.TimeoutError):  # distinct classes before 3.11
        raise BackendError("timeout", f"request timed out: no complete reply within {seconds:g} s") from None
