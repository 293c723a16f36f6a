"""The litellm route, against the HTTP test server (skipped where the extra is not installed)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("litellm", reason="the mtb[litellm] extra is not installed")

from mtb.backends import EndpointConfig, SamplingParams, create_backend
from mtb.engine import Caller, Endpoint, FatalError
from mtb.jobs import CallStats
from mtb.retry import RetryPolicy
from mtb.testing.openai_server import OpenAIServer, Reply

PARAMS = SamplingParams(temperature=0.0, max_tokens=16)


def caller_for(server: OpenAIServer) -> Caller:
    # "openai/<name>" makes litellm speak the OpenAI wire format to our server.
    config = EndpointConfig(
        "litellm", "openai/judge-x", server.url, "sk-lite", "ANTHROPIC_API_KEY", timeout=5
    )
    endpoint = Endpoint(
        create_backend(config), 2, name="judge-x", key_hint="ANTHROPIC_API_KEY", secrets=["sk-lite"]
    )
    return Caller(endpoint, RetryPolicy(max_attempts=4), CallStats(), sleep=no_wait)


async def no_wait(seconds: float) -> None:
    """The backoff, injected: these tests count requests, not seconds."""


def test_litellm_completes_through_the_engine(server: OpenAIServer) -> None:
    server.responder = lambda request: Reply(text="Rating: [[6]]")
    completion = asyncio.run(caller_for(server).complete([{"role": "user", "content": "hi"}], PARAMS))
    assert completion.text == "Rating: [[6]]"
    request = server.chat_requests()[0]
    assert request.body["model"] == "judge-x"
    assert request.headers["authorization"] == "Bearer sk-lite"


def test_engine_is_the_only_retry_layer(server: OpenAIServer) -> None:
    server.script([Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500), Reply(status=503)])
    caller = caller_for(server)
    completion = asyncio.run(caller.complete([{"role": "user", "content": "hi"}], PARAMS))
    assert completion.text.startswith("echo")
    # Exactly one request per engine attempt: litellm and the SDK under it retried nothing.
    assert len(server.chat_requests()) == 4
    assert (caller.stats.requests, caller.stats.retries) == (4, 3)


def test_auth_failure_is_fatal_and_names_the_variable(server: OpenAIServer) -> None:
    server.responder = lambda request: Reply(status=401)
    with pytest.raises(FatalError, match="ANTHROPIC_API_KEY"):
        asyncio.run(caller_for(server).complete([{"role": "user", "content": "hi"}], PARAMS))
    assert len(server.chat_requests()) == 1


def test_the_timeout_bounds_the_whole_request(server: OpenAIServer) -> None:
    """A server dripping its reply a byte at a time is cut off at --timeout, not held per read."""
    import time

    server.responder = lambda request: Reply(text="x" * 200, drip=0.05)
    config = EndpointConfig(
        "litellm", "openai/judge-x", server.url, "sk-lite", "ANTHROPIC_API_KEY", timeout=1
    )
    endpoint = Endpoint(create_backend(config), 2, name="judge-x", secrets=["sk-lite"])
    caller = Caller(endpoint, RetryPolicy(max_attempts=2), CallStats(), sleep=no_wait)
    started = time.monotonic()
    # Two timeouts and nothing answered in between: the server stopped answering.
    with pytest.raises(FatalError, match=r"timed out.*the server stopped answering"):
        asyncio.run(caller.complete([{"role": "user", "content": "hi"}], PARAMS))
    assert time.monotonic() - started < 5  # two attempts of 1 s, not 2 × 200 × 0.05 s
    assert caller.stats.requests == 2
