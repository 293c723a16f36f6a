"""The test server's provider limits and failures (mtb.testing.openai_server), through the real SDK."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from mtb.testing.openai_server import OpenAIServer, Reply, TokenBucketLimit, request_cost


async def post(
    server: OpenAIServer, content: str = "x" * 40, max_tokens: int = 100, timeout: float = 5.0
) -> httpx.Response:
    client = openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0, timeout=timeout)
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
        try:
            return await client.post("/chat/completions", cast_to=httpx.Response, body=body)
        except openai.APIStatusError as exc:
            return exc.response
    finally:
        await client.close()


def test_a_token_bucket_reports_itself_as_openai_does_and_refuses_without_retry_after() -> None:
    limit = TokenBucketLimit(tokens_per_minute=600, bucket=150)  # 10 tokens a second
    with OpenAIServer(token_limit=limit) as server:
        first = asyncio.run(post(server))
        second = asyncio.run(post(server))
        assert request_cost(server.chat_requests()[0]) == 110  # 40 characters, and max_tokens
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-tokens"] == "600"
    assert first.headers["x-ratelimit-remaining-tokens"] == "40"
    assert first.headers["x-ratelimit-reset-tokens"] == "11s"
    assert first.headers["x-ratelimit-limit-requests"] == "10000"
    assert second.status_code == 429 and "retry-after" not in second.headers
    assert second.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(second.headers["x-ratelimit-remaining-tokens"]) < 110
    assert (limit.admitted, limit.rejected, limit.charged) == (1, 1, 110)


def test_a_request_rate_limit_answers_429_with_whole_seconds_of_retry_after() -> None:
    with OpenAIServer(rate_limit=1) as server:
        answers = [asyncio.run(post(server)) for _ in range(3)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all(a.headers["retry-after"] in ("1",) for a in refused)


def test_a_hanging_reply_ends_when_the_client_gives_up_or_the_server_stops() -> None:
    with OpenAIServer(responder=lambda request: Reply(hang=True)) as server:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            asyncio.run(post(server, timeout=0.3))
        assert time.monotonic() - started < 2
    # Stopping the server ended the handler that was holding the request (bounded in time).


def test_usage_can_count_more_than_the_messages_hold() -> None:
    with OpenAIServer(usage_scale=2.0) as server:
        reply = asyncio.run(post(server, content="y" * 40))
    usage = reply.json()["usage"]
    assert usage["prompt_tokens"] == 20  # 10 counted, doubled
