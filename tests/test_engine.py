"""The engine against a real HTTP server, through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mtb.backends import EndpointConfig, SamplingParams, create_backend
from mtb.engine import Caller, Endpoint, FatalError, ItemFailed, run_job
from mtb.jobs import CallStats, OutputSpec, RunReport, Task, all_of
from mtb.progress import ProgressSink
from mtb.retry import RetryPolicy
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

PARAMS = SamplingParams(temperature=0.0, max_tokens=16)
HELLO = [{"role": "user", "content": "hello"}]


class RecordedWaits:
    """The engine's sleep, injected: records each backoff and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_caller(
    server: OpenAIServer,
    parallel: int = 4,
    timeout: float = 5.0,
    key: str = "sk-test-key",
    max_attempts: int = 5,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Caller:
    backend = create_backend(
        EndpointConfig("openai", "test-model", server.url, key, "OPENAI_API_KEY", timeout)
    )
    endpoint = Endpoint(backend, parallel, name="test-model", key_hint="OPENAI_API_KEY", secrets=[key])
    return Caller(
        endpoint,
        RetryPolicy(max_attempts=max_attempts, base_delay=1.0, max_delay=4.0),
        CallStats(),
        sleep=sleep or RecordedWaits(),
    )


async def call(caller: Caller) -> str:
    try:
        return (await caller.complete(HELLO, PARAMS)).text
    finally:
        await caller.endpoint.backend.aclose()


@pytest.mark.parametrize(
    "fault",
    [
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(status=429),
        Reply(status=500),
        Reply(status=503),
        Reply(drop=True),
        Reply(body="this is not json"),
        Reply(body='{"id": "x", "object": "chat.completion"}'),
        Reply(status=408),
    ],
    ids=["429-retry-after", "429-bare", "500", "503", "dropped", "not-json", "no-choices", "408"],
)
def test_transient_faults_are_retried_once_each(server: OpenAIServer, fault: Reply) -> None:
    server.script([fault, fault])
    waits = RecordedWaits()
    caller = make_caller(server, sleep=waits)
    assert asyncio.run(call(caller)) == "echo: hello"
    assert len(server.chat_requests()) == 3
    assert (caller.stats.requests, caller.stats.retries) == (3, 2)
    if fault.headers.get("Retry-After") == "0":
        assert waits.waits == [0.0, 0.0]  # the server's word, not the backoff
    else:
        # Equal-jitter backoff from base 1 s: attempt n waits between 2**(n-2) and 2**(n-1) s.
        assert 0.5 <= waits.waits[0] <= 1.0 and 1.0 <= waits.waits[1] <= 2.0


def test_timeout_is_retried(server: OpenAIServer) -> None:
    server.script([Reply(delay=1.0)])
    caller = make_caller(server, timeout=0.2)
    assert asyncio.run(call(caller)) == "echo: hello"
    assert caller.stats.retry_reasons == {"timeout": 1}


def test_retries_run_out_and_the_item_fails(server: OpenAIServer) -> None:
    server.responder = lambda request: Reply(status=502)
    caller = make_caller(server, max_attempts=3)
    with pytest.raises(ItemFailed, match=r"HTTP 502.*after 3 attempts"):
        asyncio.run(call(caller))
    assert len(server.chat_requests()) == 3


def test_bad_request_fails_fast(server: OpenAIServer) -> None:
    server.script([Reply(status=400)])
    with pytest.raises(ItemFailed, match="HTTP 400"):
        asyncio.run(call(make_caller(server)))
    assert len(server.chat_requests()) == 1


def test_401_stops_at_once_names_the_key_variable_and_hides_the_key(server: OpenAIServer) -> None:
    def unauthorized(request: RecordedRequest) -> Reply:
        # Real providers echo part of the key; this server echoes all of it.
        echoed = json.dumps({"error": {"message": f"Incorrect API key: {request.headers['authorization']}"}})
        return Reply(status=401, body=echoed)

    server.responder = unauthorized
    with pytest.raises(FatalError) as info:
        asyncio.run(call(make_caller(server, key="sk-secret-123456")))
    assert "OPENAI_API_KEY" in str(info.value)
    assert "sk-secret-123456" not in str(info.value)
    assert len(server.chat_requests()) == 1


def test_retry_after_pauses_every_request_to_the_endpoint(server: OpenAIServer) -> None:
    server.script([Reply(status=429, headers={"Retry-After": "0.4"})])
    # Real sleeping: the pause itself, on the wall clock, is what this test measures.
    caller = make_caller(server, parallel=4, sleep=asyncio.sleep)

    async def scenario() -> None:
        first = asyncio.create_task(caller.complete(HELLO, PARAMS))
        while not server.chat_requests():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the 429 has been handled; the pause is on
        others = [caller.complete(HELLO, PARAMS) for _ in range(3)]
        await asyncio.gather(first, *others)
        await caller.endpoint.backend.aclose()

    asyncio.run(scenario())
    requests = server.chat_requests()
    assert len(requests) == 5
    assert all(r.arrived - requests[0].arrived >= 0.4 for r in requests[1:])


def test_concurrency_bound_is_never_exceeded(server: OpenAIServer) -> None:
    server.responder = lambda request: Reply(text="ok", delay=0.05)
    caller = make_caller(server, parallel=4)

    async def many() -> None:
        await asyncio.gather(*(caller.complete(HELLO, PARAMS) for _ in range(40)))
        await caller.endpoint.backend.aclose()

    asyncio.run(many())
    assert server.max_in_flight == 4


class CountingProgress(ProgressSink):
    def __init__(self) -> None:
        self.total = self.done = self.failed = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, *, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        else:
            self.done += 1

    def note_retry(self, reason: str = "") -> None:
        pass

    def stop(self) -> None:
        pass


def spec_for(path: Path) -> OutputSpec:
    return OutputSpec(path=path, parse=lambda obj: obj, key=lambda r: r["id"], sort_key=lambda r: r["id"])


def tasks_for(caller: Caller, ids: range):
    def make_tasks(done: set) -> list[Task]:
        async def one(i: int) -> dict[str, Any]:
            text = (await caller.complete([{"role": "user", "content": f"item {i}"}], PARAMS)).text
            return {"id": i, "text": text}

        return [Task(i, f"item {i}", lambda i=i: one(i)) for i in ids if i not in done]

    return make_tasks


def test_run_job_resumes_and_never_writes_failures(tmp_path: Path, server: OpenAIServer) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": 3, "text": "done before"}\n{"id": 0, "text": "done before"}\n')
    server.responder = lambda request: (
        Reply(status=400) if request.last_user_message == "item 5" else Reply(text="ok")
    )
    caller = make_caller(server)
    progress = CountingProgress()

    async def run() -> RunReport:
        try:
            return await run_job(spec_for(path), tasks_for(caller, range(8)), workers=3, progress=progress)
        finally:
            await caller.endpoint.backend.aclose()

    report = asyncio.run(run())
    asked = sorted(r.last_user_message for r in server.chat_requests())
    assert asked == [f"item {i}" for i in (1, 2, 4, 5, 6, 7)]
    assert (report.total, report.already_done, report.completed) == (6, 2, 5)
    assert report.failures == [("item 5", "HTTP 400: scripted 400")]
    assert not report.ok
    assert (progress.total, progress.done, progress.failed) == (6, 5, 1)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4, 6, 7]  # sorted, no failure written
    assert rows[0]["text"] == "done before"


def test_a_fatal_error_stops_the_run(tmp_path: Path, server: OpenAIServer) -> None:
    server.responder = lambda request: Reply(status=401, delay=0.01)
    caller = make_caller(server, parallel=2)

    async def run() -> RunReport:
        try:
            return await run_job(
                spec_for(tmp_path / "o.jsonl"),
                tasks_for(caller, range(50)),
                workers=2,
                progress=CountingProgress(),
            )
        finally:
            await caller.endpoint.backend.aclose()

    report = asyncio.run(run())
    assert report.fatal and "OPENAI_API_KEY" in report.fatal
    assert len(server.chat_requests()) <= 2
    assert report.completed == 0 and report.not_done == 50


def test_a_failed_replica_leaves_rotation_and_comes_back_after_its_time() -> None:
    now = [100.0]

    async def no_wait(seconds: float) -> None:
        return None

    with OpenAIServer(script=[Reply(status=503)]) as first, OpenAIServer() as second:
        endpoints = [
            Endpoint(
                create_backend(EndpointConfig("openai", "m", server.url, "k", "OPENAI_API_KEY", 5.0)),
                2,
                name=name,
            )
            for name, server in (("first", first), ("second", second))
        ]
        caller = Caller(
            endpoints, RetryPolicy(base_delay=0.01), sleep=no_wait, clock=lambda: now[0], out_of_rotation=30
        )

        async def run() -> None:
            try:
                await caller.complete(HELLO, PARAMS)  # first answers 503; retried on second
                await caller.complete(HELLO, PARAMS)  # first is out of rotation: second again
                now[0] += 31
                await caller.complete(HELLO, PARAMS)  # first is back, and the least busy
            finally:
                for endpoint in endpoints:
                    await endpoint.backend.aclose()

        asyncio.run(run())
    assert len(first.chat_requests()) == 2 and len(second.chat_requests()) == 2
    assert caller.stats.requests == 4 and caller.stats.retries == 1


QUOTA_BODY = json.dumps(
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
)


def test_insufficient_quota_stops_at_once_with_the_servers_words(server: OpenAIServer) -> None:
    # OpenAI answers an empty account with a 429: no wait will cure it.
    server.responder = lambda request: Reply(status=429, body=QUOTA_BODY)
    with pytest.raises(FatalError, match="HTTP 429: You exceeded your current quota"):
        asyncio.run(call(make_caller(server)))
    assert len(server.chat_requests()) == 1


def test_a_429_without_retry_after_is_bounded_by_max_attempts(server: OpenAIServer) -> None:
    server.responder = lambda request: Reply(status=429)
    caller = make_caller(server, max_attempts=3)
    with pytest.raises(ItemFailed, match=r"HTTP 429.*after 3 attempts"):
        asyncio.run(call(caller))
    assert len(server.chat_requests()) == 3


def test_a_429_with_retry_after_still_draws_on_the_rate_limit_budget(server: OpenAIServer) -> None:
    server.script([Reply(status=429, headers={"Retry-After": "0"})] * 6)
    caller = make_caller(server, max_attempts=3)
    assert asyncio.run(call(caller)) == "echo: hello"
    assert len(server.chat_requests()) == 7


def test_retries_tell_the_progress_the_servers_last_words_redacted(server: OpenAIServer) -> None:
    def echo_key(request: RecordedRequest) -> Reply:
        message = f"overloaded, key {request.headers['authorization']}"
        return Reply(status=503, body=json.dumps({"error": {"message": message}}))

    server.script([echo_key(RecordedRequest("", {"authorization": "Bearer sk-secret-123456"}, {}, 0))])
    reasons: list[str] = []
    caller = make_caller(server, key="sk-secret-123456")
    caller.on_retry = reasons.append
    assert asyncio.run(call(caller)) == "echo: hello"
    assert reasons == ["HTTP 503: overloaded, key Bearer ***"]


def test_a_pause_the_server_asked_for_is_named_on_the_progress_line(server: OpenAIServer) -> None:
    # Was: only "HTTP 503: ..." while the whole run sat quiet for up to 120 s.
    server.script([Reply(status=503, headers={"Retry-After": "1"})])
    reasons: list[str] = []
    caller = make_caller(server, sleep=asyncio.sleep)
    caller.on_retry = reasons.append
    assert asyncio.run(call(caller)) == "echo: hello"
    assert reasons == ["waiting 1 s as the server asked (Retry-After): HTTP 503: scripted 503"]


def test_a_closed_port_is_a_connection_failure_naming_the_host_not_a_timeout() -> None:
    # Was: "request timed out" (the aiohttp transport calls a refused connection a
    # ConnectTimeout), at once, sending a user with a wrong port to raise --timeout.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    backend = create_backend(
        EndpointConfig("openai", "test-model", f"http://127.0.0.1:{port}/v1", "sk-test-key", "K", 5.0)
    )
    endpoint = Endpoint(backend, 1, name="test-model")
    caller = Caller(endpoint, RetryPolicy(max_attempts=2), CallStats(), sleep=RecordedWaits())
    with pytest.raises(ItemFailed) as info:
        asyncio.run(call(caller))
    assert str(info.value).startswith("connection failed: ")
    assert "timed out" not in str(info.value) and str(info.value) != "connection failed: Connection error."
    assert caller.stats.retry_reasons == {"connection": 1}


def test_the_timeout_bounds_the_whole_request_not_each_read(server: OpenAIServer) -> None:
    # One byte every 50 ms: each read is quick, the reply (~300 bytes) takes ~15 s.
    server.script([Reply(drip=0.05)])
    caller = make_caller(server, timeout=0.5)
    started = time.monotonic()
    assert asyncio.run(call(caller)) == "echo: hello"
    assert time.monotonic() - started < 3
    assert caller.stats.retry_reasons == {"timeout": 1}


@pytest.mark.parametrize(
    ("key", "base_prefix"),
    [("sk-test-key\r", ""), ("sk-tést-key", ""), ("sk-test-key", "user:pass@")],
    ids=["carriage-return", "non-ascii", "userinfo"],
)
def test_a_request_the_client_refuses_is_fatal_not_malformed(
    server: OpenAIServer, key: str, base_prefix: str
) -> None:
    """Past resolve_endpoint's checks (a config built by hand), the backend still stops at once."""
    url = server.url.replace("http://", f"http://{base_prefix}")
    backend = create_backend(EndpointConfig("openai", "test-model", url, key, "OPENAI_API_KEY", 5.0))
    caller = Caller(
        Endpoint(backend, 2, name="test-model", secrets=[key]), RetryPolicy(), sleep=RecordedWaits()
    )
    with pytest.raises(FatalError) as info:
        asyncio.run(call(caller))
    assert "malformed" not in str(info.value) and key not in str(info.value)
    assert caller.stats.retries == 0 and not server.requests


# ---------------------------------------------------------------- replies kept for unfinished items


def two_game_tasks(caller: Caller, ids: range):
    """Items of two requests played at once, as a pairwise judgment's two games are."""

    def make_tasks(done: set) -> list[Task]:
        async def one(i: int) -> dict[str, Any]:
            games = await all_of(
                *(
                    caller.complete([{"role": "user", "content": f"item {i} game {g}"}], PARAMS)
                    for g in (1, 2)
                )
            )
            return {"id": i, "games": [c.text for c in games]}

        return [Task(i, f"item {i}", lambda i=i: one(i)) for i in ids if i not in done]

    return make_tasks


def run_two_game_job(path: Path, server: OpenAIServer, ids: range) -> RunReport:
    caller = make_caller(server, max_attempts=1)

    async def run() -> RunReport:
        try:
            return await run_job(
                spec_for(path), two_game_tasks(caller, ids), workers=4, progress=CountingProgress()
            )
        finally:
            await caller.endpoint.backend.aclose()

    return asyncio.run(run())


def test_a_game_paid_for_is_kept_when_its_item_fails_and_taken_back_next_run(
    tmp_path: Path, server: OpenAIServer
) -> None:
    path = tmp_path / "out.jsonl"
    server.responder = lambda request: (
        Reply(status=500)
        if request.last_user_message.endswith("game 2")
        else Reply(text=f"re {request.last_user_message}")
    )
    first = run_two_game_job(path, server, range(3))
    assert first.completed == 0 and len(first.failures) == 3
    assert not path.exists() or path.read_text() == ""  # failures are never written
    kept = tmp_path / "out.jsonl.partial"
    assert kept.is_file() and len(kept.read_text().splitlines()) == 3  # each item's game 1
    assert any("kept in" in note for note in first.notes)

    server.requests.clear()
    server.responder = lambda request: Reply(text=f"re {request.last_user_message}")
    second = run_two_game_job(path, server, range(3))
    assert second.completed == 3 and not second.failures
    # Only the games that failed were asked again; the others came from the kept replies.
    assert sorted(r.last_user_message for r in server.chat_requests()) == [
        f"item {i} game 2" for i in range(3)
    ]
    assert second.stats.reused == 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"id": i, "games": [f"re item {i} game 1", f"re item {i} game 2"]} for i in range(3)]
    assert not kept.exists()  # nothing left to keep


def test_a_kept_reply_serves_only_its_own_item_and_request(tmp_path: Path, server: OpenAIServer) -> None:
    path = tmp_path / "out.jsonl"
    server.responder = lambda request: (
        Reply(status=500) if request.last_user_message == "item 0 game 2" else Reply(text="first run")
    )
    run_two_game_job(path, server, range(1))
    assert (tmp_path / "out.jsonl.partial").is_file()

    server.requests.clear()
    server.responder = lambda request: Reply(text="second run")
    # Item 1 sends the same requests as no other item: it takes nothing that item 0 kept.
    report = run_two_game_job(path, server, range(2))
    asked = sorted(r.last_user_message for r in server.chat_requests())
    assert asked == ["item 0 game 2", "item 1 game 1", "item 1 game 2"]
    rows = {r["id"]: r["games"] for r in map(json.loads, path.read_text().splitlines())}
    assert rows == {0: ["first run", "second run"], 1: ["second run", "second run"]}
    assert report.stats.reused == 1


def test_an_unreadable_kept_file_is_ignored_with_a_note(tmp_path: Path, server: OpenAIServer) -> None:
    path = tmp_path / "out.jsonl"
    kept = tmp_path / "out.jsonl.partial"
    kept.write_text('{"item": "0", "request": "x", "text": 5}\nnot json\n')
    server.responder = lambda request: Reply(text="ok")
    report = run_two_game_job(path, server, range(2))
    assert report.completed == 2 and len(server.chat_requests()) == 4
    assert any("out.jsonl.partial" in note and "ignored" in note for note in report.notes)
    assert not kept.exists()


def test_an_interrupted_item_keeps_the_game_it_was_paid_for(tmp_path: Path, server: OpenAIServer) -> None:
    """Ctrl-C (here, a cancelled run) while game 2 is in flight: game 1's reply is kept."""
    path = tmp_path / "out.jsonl"
    server.responder = lambda request: Reply(
        text="game 1 reply", delay=0.0 if request.last_user_message.endswith("game 1") else 30.0
    )
    caller = make_caller(server)

    async def run() -> None:
        job = asyncio.ensure_future(
            run_job(spec_for(path), two_game_tasks(caller, range(2)), workers=2, progress=CountingProgress())
        )
        while len(server.chat_requests()) < 4:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the game 1 replies arrive; the game 2 requests hang
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        await caller.endpoint.backend.aclose()

    asyncio.run(run())
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl.partial").read_text().splitlines()]
    assert sorted(k["item"] for k in kept) == ["0", "1"]
    assert {k["text"] for k in kept} == {"game 1 reply"}


def test_all_of_waits_for_every_game_before_raising(server: OpenAIServer) -> None:
    """A game that fails at once does not leave the other running, unawaited and its reply lost."""
    server.responder = lambda request: (
        Reply(status=400) if request.last_user_message == "fails" else Reply(text="late", delay=0.3)
    )
    caller = make_caller(server, max_attempts=1)
    seen: list[str] = []

    async def game(content: str) -> str:
        text = (await caller.complete([{"role": "user", "content": content}], PARAMS)).text
        seen.append(text)
        return text

    async def run() -> None:
        try:
            with pytest.raises(ItemFailed):
                await all_of(game("slow"), game("fails"))
            assert seen == ["late"]  # the slow game ended before the failure was raised
        finally:
            await caller.endpoint.backend.aclose()

    asyncio.run(run())


# -- servers that go silent, and 429s that say when ----------------------------------------------


def test_a_silent_server_stops_the_run_after_two_timeouts(tmp_path: Path, server: OpenAIServer) -> None:
    # Was: each item waited out 8 attempts of --timeout plus backoff (about 70 s at --timeout 3).
    server.responder = lambda request: Reply(hang=True)
    caller = make_caller(server, parallel=4, timeout=0.3, max_attempts=8, sleep=asyncio.sleep)

    async def run() -> RunReport:
        try:
            return await run_job(
                spec_for(tmp_path / "o.jsonl"),
                tasks_for(caller, range(6)),
                workers=4,
                progress=CountingProgress(),
            )
        finally:
            await caller.endpoint.backend.aclose()

    started = time.monotonic()
    report = asyncio.run(run())
    assert time.monotonic() - started < 3
    assert report.fatal is not None
    assert "request timed out: no complete reply within 0.3 s" in report.fatal
    assert "the server stopped answering: nothing came back for " in report.fatal
    assert "(two timeouts of 0.3 s)" in report.fatal
    assert report.completed == 0 and report.not_done == 6 and not report.failures
    assert 4 < len(server.chat_requests()) <= 8  # the four in flight, each tried twice at most


def test_a_reply_in_between_keeps_a_slow_server_going(server: OpenAIServer) -> None:
    # Two timeouts of one request, but another request answered in between: not a silent server.
    server.script([Reply(hang=True), Reply(text="quick"), Reply(hang=True)])
    caller = make_caller(server, parallel=2, timeout=0.4)

    async def both() -> list[str]:
        try:
            first = asyncio.ensure_future(caller.complete(HELLO, PARAMS))
            await asyncio.sleep(0.25)
            second = asyncio.ensure_future(caller.complete(HELLO, PARAMS))
            return [c.text for c in await asyncio.gather(first, second)]
        finally:
            await caller.endpoint.backend.aclose()

    assert asyncio.run(both()) == ["echo: hello", "quick"]
    assert caller.stats.retry_reasons == {"timeout": 2}


def test_a_host_that_never_accepts_is_a_connect_timeout_of_its_own() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    # Fill the accept queue: the kernel then lets further connections wait, unanswered.
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    try:
        config = EndpointConfig(
            "openai", "m", f"http://127.0.0.1:{port}/v1", "k", "K", timeout=30.0, connect_timeout=0.3
        )
        endpoint = Endpoint(create_backend(config), 1, name="m")
        caller = Caller(endpoint, RetryPolicy(max_attempts=8), CallStats(), sleep=RecordedWaits())
        started = time.monotonic()
        with pytest.raises(FatalError) as info:
            asyncio.run(call(caller))
        took = time.monotonic() - started
    finally:
        for sock in (*fillers, listener):
            sock.close()
    assert took < 3  # two connect timeouts of 0.3 s, not two of --timeout's 30 s
    assert "connect timed out" in str(info.value)
    assert "the server stopped answering" in str(info.value) and "(two timeouts of 0.3 s)" in str(info.value)


def test_a_429_that_says_when_never_fails_the_item(server: OpenAIServer) -> None:
    # Was: failed after 100 of them ("after 100 attempts").
    server.script([Reply(status=429, headers={"Retry-After": "0"})] * 120)
    caller = make_caller(server, max_attempts=2)
    assert asyncio.run(call(caller)) == "echo: hello"
    assert len(server.chat_requests()) == 121
