"""The rate controller (mtb.ratelimit): its rules on their own, then through the real openai
SDK against the test server playing a provider's limits."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from pathlib import Path
from typing import Any

import pytest

from mtb.app.reporter import Quiet
from mtb.backends import EndpointConfig, SamplingParams, create_backend
from mtb.engine import Caller, Endpoint, FatalError, run_on_endpoint
from mtb.jobs import Job, OutputSpec, Task
from mtb.ratelimit import (
    Bucket,
    RateController,
    RateLimits,
    RequestTooLarge,
    approximate_tokens,
    read_headers,
    request_tokens,
)
from mtb.retry import RetryPolicy
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply, TokenBucketLimit, openai_duration

PARAMS = SamplingParams(temperature=0.0, max_tokens=16)
HELLO = [{"role": "user", "content": "hello"}]
WALL = 1_800_000_000.0  # a wall-clock time for headers that carry dates


def openai_headers(**values: str) -> dict[str, str]:
    names = {
        "limit_requests": "x-ratelimit-limit-requests",
        "remaining_requests": "x-ratelimit-remaining-requests",
        "reset_requests": "x-ratelimit-reset-requests",
        "limit_tokens": "x-ratelimit-limit-tokens",
        "remaining_tokens": "x-ratelimit-remaining-tokens",
        "reset_tokens": "x-ratelimit-reset-tokens",
    }
    return {names[key]: value for key, value in values.items()}


# -- the headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("20ms", 0.02), ("1s", 1.0), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("1m30.5s", 90.5), ("0.25", 0.25)],
)
def test_openai_durations(written: str, seconds: float) -> None:
    info = read_headers(openai_headers(limit_requests="60", remaining_requests="0", reset_requests=written))
    assert info.requests is not None and info.requests.reset == pytest.approx(seconds)


def test_the_test_server_writes_durations_as_openai_does() -> None:
    assert [openai_duration(s) for s in (0.02, 0.25, 1.0, 4.8, 360.0, 90.5)] == [
        "20ms",
        "250ms",
        "1s",
        "4.8s",
        "6m0s",
        "1m30s",
    ]


def test_openai_headers_read_as_limits_per_minute() -> None:
    info = read_headers(
        openai_headers(
            limit_requests="10000",
            remaining_requests="9999",
            reset_requests="6ms",
            limit_tokens="600000",
            remaining_tokens="12000",
            reset_tokens="4.8s",
        )
    )
    assert info.requests is not None and info.tokens is not None and not info.bad
    assert (info.tokens.limit, info.tokens.remaining, info.tokens.reset) == (600_000, 12_000, 4.8)
    assert info.retry_after is None


def test_anthropic_headers_and_their_times() -> None:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(WALL + 30))
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
        # Only the input tokens said apart: they stand for the tokens limit.
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-remaining": "39000",
        "anthropic-ratelimit-input-tokens-reset": reset,
        "retry-after": "30",
    }
    info = read_headers(headers, now=WALL)
    assert info.requests is not None and info.requests.reset == pytest.approx(30)
    assert info.tokens is not None and info.tokens.remaining == 39_000
    assert info.retry_after == 30 and not info.bad


PAST = email.utils.formatdate(WALL - 3600, usegmt=True)


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("x-ratelimit-remaining-tokens", "abc", "not a number"),
        ("x-ratelimit-remaining-tokens", "nan", "not a number"),
        ("x-ratelimit-remaining-tokens", "-5", "negative"),
        ("x-ratelimit-limit-tokens", "1e300", "too large to be a limit"),
        ("x-ratelimit-remaining-tokens", "900000", "more than the limit (600000)"),
        ("x-ratelimit-reset-tokens", "99999h", "further off than a day"),
        ("x-ratelimit-reset-tokens", "-1", "negative"),
        ("anthropic-ratelimit-tokens-reset", "2020-01-01T00:00:00Z", "a time in the past"),
        ("retry-after", "-3", "negative"),
        ("retry-after", "soon", "not a number of seconds or an HTTP date"),
        ("retry-after", PAST, "a date in the past"),
        ("retry-after-ms", "lots", "not a number"),
        # Paced by it, the next request waited 60 / 0.001 s (17 hours), nothing in flight, nothing said.
        ("x-ratelimit-limit-tokens", "0.001", "below 1 a minute"),
        ("anthropic-ratelimit-tokens-limit", "1e-300", "below 1 a minute"),
    ],
)
def test_garbage_values_are_left_out_and_named(name: str, value: str, why: str) -> None:
    headers = openai_headers(limit_tokens="600000", remaining_tokens="1000", reset_tokens="1s")
    if name.startswith("anthropic"):
        headers = {
            "anthropic-ratelimit-tokens-limit": "1000",
            "anthropic-ratelimit-tokens-remaining": "10",
        }
    headers[name] = value
    info = read_headers(headers, now=WALL)
    assert info.bad == ((name, value, why),)
    if name.startswith("retry-after"):
        assert info.retry_after is None and info.tokens is not None  # the rest still counts
    else:
        assert info.tokens is None


def test_a_long_retry_after_is_not_garbage() -> None:
    # The engine stops the run on it, saying so (mtb.retry): the server's word, not a broken header.
    future = email.utils.formatdate(WALL + 3600, usegmt=True)
    assert read_headers({"retry-after": future}, now=WALL).retry_after == pytest.approx(3600)
    assert read_headers({"retry-after": "1e9"}, now=WALL).retry_after == 1e9


def test_a_request_counts_its_prompt_as_the_cost_estimate_does_and_all_its_max_tokens() -> None:
    from mtb.cost import TokenCounter

    messages = [{"role": "system", "content": "x" * 10}, {"role": "user", "content": "hello there"}]
    assert approximate_tokens(messages) == TokenCounter(exact=False).messages(messages)
    assert request_tokens(messages, 2048) == approximate_tokens(messages) + 2048


# -- the controller's rules, with the clock in hand ------------------------------------------------


def test_a_bucket_refills_at_its_rate_and_lets_a_large_request_go_into_debt() -> None:
    bucket = Bucket(rate=10.0, capacity=20.0, level=20.0, at=0.0, source="test")
    assert bucket.wait(20, 0.0) == 0
    bucket.take(20, 0.0)
    assert bucket.wait(5, 0.0) == pytest.approx(0.5)
    assert bucket.wait(50, 1.0) == pytest.approx(1.0)  # larger than the bucket: a full one will do
    bucket.take(50, 2.0)  # 20 there, 50 taken
    assert bucket.level == -30 and bucket.wait(1, 2.0) == pytest.approx(3.1)


def test_the_window_halves_once_per_round_of_429s_and_grows_by_one_per_window_of_replies() -> None:
    rate = RateController(8)
    permits = [rate.take(1, 0.0) for _ in range(8)]
    assert rate.wait_before(1, 0.0) is None  # eight in flight: the next waits for one to end
    rate.release(permits[0], 0.1, "limited")
    assert rate.window == 4
    rate.release(permits[1], 0.1, "limited")  # sent before the halving: says nothing new
    assert rate.window == 4
    later = rate.take(1, 0.2)
    rate.release(later, 0.3, "limited")
    assert rate.window == 2
    for permit in permits[2:]:
        rate.release(permit, 0.4, "served")
    assert 2 < rate.window < 5  # +1/2, +1/2.5, ...: about one per window's worth
    for _ in range(200):
        rate.release(rate.take(1, 1.0), 1.0, "served")
    assert rate.window == 8  # never above --parallel


def test_a_retry_after_ends_a_period_and_its_budget_is_sent_at_once_then_one_by_one() -> None:
    rate = RateController(16)
    first = [rate.take(1, 0.0) for _ in range(4)]
    for permit in first[:3]:
        rate.release(permit, 0.01, "served")
    rate.release(first[3], 0.02, "limited", {"retry-after": "1"})
    assert rate.budget == 3
    rate.hold(1.0, 0.02, "the server asked (Retry-After)")
    assert rate.wait_before(1, 0.5) == pytest.approx(0.52)
    burst = [rate.take(1, 1.02) for _ in range(3)]  # the budget, at once
    assert rate.wait_before(1, 1.02) is None  # past it: one at a time
    for permit in burst:
        rate.release(permit, 1.03, "served")
    probe = rate.take(1, 1.03)
    assert probe.probe
    window = rate.window
    rate.release(probe, 1.04, "limited", {"retry-after": "1"})
    assert rate.window == window  # a probe's 429 was looked for: no halving
    assert rate.budget == 3
    # A period whose probes were taken too (it ran into the server's next window) raises
    # the budget by one, not to all it took.
    for permit in [rate.take(1, 2.04) for _ in range(3)]:
        rate.release(permit, 2.05, "served")
    for _ in range(4):
        rate.release(rate.take(1, 2.05), 2.06, "served")
    rate.release(rate.take(1, 2.06), 2.07, "limited", {"retry-after": "1"})
    assert rate.budget == 4


def test_the_servers_headers_set_the_pace_less_what_was_sent_since() -> None:
    rate = RateController(16)
    a, b, c = (rate.take(1000, 0.0) for _ in range(3))
    headers = openai_headers(
        limit_requests="10000",
        remaining_requests="9000",
        reset_requests="1s",
        limit_tokens="60000",  # 1,000 tokens a second
        remaining_tokens="2500",
        reset_tokens="57.5s",
    )
    rate.release(a, 0.0, "served", headers)
    # The server counted a, and maybe not b and c: 2,500 less the 2,000 still in flight.
    assert rate.seen_tokens is not None and rate.seen_tokens.level == 500
    assert rate.seen_tokens.capacity == 60_000 and rate.seen_tokens.rate == 1000
    assert rate.wait_before(1000, 0.0) == pytest.approx(0.5)
    rate.release(c, 0.1, "served", headers | {"x-ratelimit-remaining-tokens": "3000"})  # b in flight
    assert rate.seen_tokens.level_at(0.1) == pytest.approx(2000)
    rate.release(b, 0.2, "served", headers | {"x-ratelimit-remaining-tokens": "0"})  # older: stale
    assert rate.seen_tokens.level_at(0.2) == pytest.approx(2100)
    assert "paced to 1.0 requests/s (1,000 tokens/s) by the server's token limit" in rate.describe(0.2)


def test_known_limits_pace_from_the_first_request() -> None:
    rate = RateController(64, RateLimits(rpm=120, tpm=6000))  # 2 requests and 100 tokens a second
    assert rate.wait_before(50, 0.0) == 0
    rate.take(50, 0.0)
    assert rate.wait_before(50, 0.0) == 0  # a second's worth: 2 requests, 100 tokens
    rate.take(50, 0.0)
    assert rate.wait_before(50, 0.0) == pytest.approx(0.5)
    assert "by --rpm" in rate.describe(0.0) or "by --tpm" in rate.describe(0.0)
    with pytest.raises(ValueError, match="rpm must be a number above 0"):
        RateLimits(rpm=0)


def test_a_request_larger_than_a_minute_of_a_token_limit_fits_no_pace() -> None:
    # Paced anyway, it went out into debt and the next request waited the debt out: a server that
    # says 60 tokens a minute, and requests of 2,000 tokens, made each wait half an hour.
    known = RateController(4, RateLimits(tpm=600))
    with pytest.raises(
        RequestTooLarge, match=r"takes 1,000 tokens .*more than --tpm allows in a minute \(600\)"
    ):
        known.wait_before(1000, 0.0)
    assert known.wait_before(600, 0.0) == 0  # a whole minute's worth still goes
    seen = RateController(4)
    headers = openai_headers(limit_tokens="60", remaining_tokens="60", reset_tokens="1s")
    seen.release(seen.take(10, 0.0), 0.0, "served", headers)
    with pytest.raises(
        RequestTooLarge, match="more than the server's token limit allows in a minute \\(60\\)"
    ):
        seen.wait_before(2000, 0.0)


def test_garbage_headers_make_one_note_each() -> None:
    rate = RateController(4)
    for _ in range(3):
        rate.release(rate.take(1, 0.0), 0.0, "served", {"x-ratelimit-remaining-requests": "-1"})
    rate.release(rate.take(1, 0.0), 0.0, "limited", {"retry-after": "soon"})
    assert rate.notes() == [
        "ignored the server's x-ratelimit-remaining-requests header ('-1': negative), "
        "and 2 more bad value(s) of it",
        "ignored the server's retry-after header ('soon': not a number of seconds or an HTTP date)",
    ]


def test_waiters_go_in_the_order_they_came_when_a_hold_ends() -> None:
    async def scenario() -> list[int]:
        rate = RateController(2)
        rate.hold(0.05, time.monotonic(), "test")
        order: list[int] = []

        async def one(index: int) -> None:
            permit = await rate.acquire(1, time.monotonic, asyncio.sleep)
            order.append(index)
            await asyncio.sleep(0.01)
            rate.release(permit, time.monotonic(), "served")

        await asyncio.gather(*(one(i) for i in range(6)))
        return order

    assert asyncio.run(scenario()) == list(range(6))


# -- through the real SDK against the test server ----------------------------------------------------


def endpoint_for(
    server: OpenAIServer, parallel: int, limits: RateLimits | None = None, timeout: float = 5.0
) -> Endpoint:
    config = EndpointConfig("openai", "test-model", server.url, "sk-test", "OPENAI_API_KEY", timeout)
    return Endpoint(create_backend(config), parallel, name="test-model", limits=limits)


def send_all(caller: Caller, count: int, max_tokens: int = 16) -> float:
    """Send `count` requests at once through the caller; the seconds it took."""
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens)

    async def run() -> float:
        started = time.monotonic()
        try:
            await asyncio.gather(
                *(caller.complete([{"role": "user", "content": f"item {i}"}], params) for i in range(count))
            )
        finally:
            await caller.endpoint.backend.aclose()
        return time.monotonic() - started

    return asyncio.run(run())


def test_a_request_rate_limit_with_retry_after_fails_nothing_and_turns_few_away() -> None:
    # Was: each request woke exactly when Retry-After said, all at once, and one won: 15.6
    # requests a judgment; 2 judgments of 320 failed after 100 tries each.
    with OpenAIServer(rate_limit=25) as server:
        paces: list[str] = []
        caller = Caller(endpoint_for(server, 8), RetryPolicy(max_attempts=2), on_pace=paces.append)
        took = send_all(caller, 60)  # two windows and a bit
    assert caller.stats.requests == len(server.chat_requests())
    # The first window's requests in flight are turned away (8 at most), then one a window.
    assert len(server.chat_requests()) <= 60 + 8 + 3
    assert took < 3.5
    assert any("all held" in pace and "Retry-After" in pace for pace in paces)


def test_openai_token_headers_pace_requests_before_the_limit() -> None:
    # 2,000 tokens a second from a bucket of 2,000; a request takes about 104 (16 max_tokens
    # + its prompt... here 100 max_tokens): 40 of them need 2 s past the first bucket.
    limit = TokenBucketLimit(tokens_per_minute=120_000, bucket=2_000)
    with OpenAIServer(token_limit=limit) as server:
        paces: list[str] = []
        caller = Caller(endpoint_for(server, 16), RetryPolicy(max_attempts=1), on_pace=paces.append)
        took = send_all(caller, 40, max_tokens=100)
    floor = (limit.charged - 2_000) / 2_000
    assert limit.admitted == 40
    assert limit.rejected <= 4  # at most 10% turned away, and none failed (max_attempts=1)
    assert floor * 0.9 <= took <= floor * 1.3 + 0.5
    assert any("by the server's token limit" in pace for pace in paces)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_429_its_headers_explain_is_retried_however_often(provider: str) -> None:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    if provider == "openai":
        headers = openai_headers(limit_requests="6000", remaining_requests="0", reset_requests="10ms")
    else:
        headers = {
            "anthropic-ratelimit-requests-limit": "6000",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset,
        }
    with OpenAIServer(script=[Reply(status=429, headers=headers)] * 4) as server:
        caller = Caller(endpoint_for(server, 2), RetryPolicy(max_attempts=1, base_delay=0.01))
        send_all(caller, 1)
    assert len(server.chat_requests()) == 5  # no Retry-After, and max_attempts=1: the headers explain it


def test_a_bare_429_shrinks_the_window_and_the_run_settles_under_the_servers_bound() -> None:
    """A server that turns away a fourth concurrent request (a concurrency limit, no headers)."""
    server = OpenAIServer()

    def at_most_three(request: RecordedRequest) -> Reply:
        if server.in_flight > 3:
            return Reply(status=429)
        return Reply(text="ok", delay=0.05)

    server.responder = at_most_three
    with server:
        endpoint = endpoint_for(server, 12)
        caller = Caller(endpoint, RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05))
        send_all(caller, 60)
    refused = len(server.chat_requests()) - 60
    assert endpoint.rate.window <= 6
    assert refused < 30  # without the window: every wave of 12 had 9 turned away


def test_known_limits_space_the_requests_out() -> None:
    with OpenAIServer() as server:
        caller = Caller(endpoint_for(server, 16, RateLimits(rpm=1200)), RetryPolicy())  # 20 a second
        send_all(caller, 30)
    arrivals = sorted(r.arrived for r in server.chat_requests())
    assert arrivals[-1] - arrivals[0] >= 0.45  # 20 at once, then 10 at 20 a second
    assert arrivals[-1] - arrivals[20] >= 0.4


def test_a_server_that_turns_everything_away_for_two_timeouts_stops_the_run() -> None:
    refusal = Reply(status=429, headers={"retry-after-ms": "50"})
    with OpenAIServer(responder=lambda request: refusal) as server:
        caller = Caller(endpoint_for(server, 2, timeout=0.3), RetryPolicy())
        started = time.monotonic()
        with pytest.raises(FatalError, match=r"turned every request away \(rate limited\) for 0.6"):
            send_all(caller, 2)
    assert time.monotonic() - started < 2


def spec_for(path: Path) -> OutputSpec:
    return OutputSpec(path=path, parse=lambda obj: obj, key=lambda r: r["id"], sort_key=lambda r: r["id"])


def test_garbage_headers_are_ignored_with_one_note_in_the_report(tmp_path: Path) -> None:
    garbage = {
        "x-ratelimit-limit-tokens": "600000",
        "x-ratelimit-remaining-tokens": "lots",
        "retry-after": "-1",
    }
    output = tmp_path / "out.jsonl"

    def make(caller: Caller) -> list[Job]:
        async def one(i: int) -> dict[str, Any]:
            text = (await caller.complete([{"role": "user", "content": f"item {i}"}], PARAMS)).text
            return {"id": i, "text": text}

        tasks = [Task(i, f"item {i}", lambda i=i: one(i)) for i in range(6)]
        return [Job(spec_for(output), lambda done: [t for t in tasks if t.key not in done])]

    with OpenAIServer(responder=lambda request: Reply(text="ok", headers=garbage)) as server:
        config = EndpointConfig("openai", "test-model", server.url, "sk-test", "OPENAI_API_KEY", 5.0)
        report = run_on_endpoint(
            config,
            make,
            output=output,
            parallel=2,
            policy=RetryPolicy(),
            progress=Quiet(),
        )
    assert report.ok and report.completed == 6
    assert [n for n in report.notes if "ignored the server's" in n] == [
        "ignored the server's x-ratelimit-remaining-tokens header ('lots': not a number), "
        "and 5 more bad value(s) of it",
        "ignored the server's retry-after header ('-1': negative), and 5 more bad value(s) of it",
    ]
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == list(range(6))
