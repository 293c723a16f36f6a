"""The in-process fake provider: its reply conventions, and the engine driven through it, no server."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers import TINY_JUDGE_PROMPTS
from mtb.backends import SamplingParams, create_backend, resolve_endpoint
from mtb.backends.fake import FakeBackend, FakeMode, fake_reply, parse_fake_model, request_digest
from mtb.engine import Caller, Endpoint, run_job
from mtb.errors import UsageError
from mtb.jobs import CallStats, OutputSpec, Task
from mtb.progress import ProgressSink
from mtb.protocols.mt_bench.verdicts import parse_pair_verdict, parse_rating
from mtb.retry import RetryPolicy

PARAMS = SamplingParams(temperature=0.7, max_tokens=16)
ARENA_PATTERN = re.compile(r"\[\[([AB<>=]+)\]\]")  # arena-hard-auto's judge_config regex
ARENA_SYSTEM = "Final verdict, one of: [[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]]."


def single_prompt(answer: str) -> list[dict[str, str]]:
    template = TINY_JUDGE_PROMPTS[0]
    return [
        {"role": "system", "content": template["system_prompt"]},
        {"role": "user", "content": template["prompt_template"].format(question="Q?", answer=answer)},
    ]


def pair_prompt(a: str, b: str) -> list[dict[str, str]]:
    template = TINY_JUDGE_PROMPTS[2]
    user = template["prompt_template"].format(question="Q?", answer_a=a, answer_b=b)
    return [{"role": "system", "content": template["system_prompt"]}, {"role": "user", "content": user}]


def arena_prompt(a: str, b: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": ARENA_SYSTEM}, {"role": "user", "content": f"A: {a}\nB: {b}"}]


def test_model_names_pick_the_behaviour() -> None:
    assert parse_fake_model("fake") == FakeMode()
    assert parse_fake_model("fake/echo") == FakeMode(echo=True)
    assert parse_fake_model("fake/rating-10") == FakeMode(rating=10)
    assert parse_fake_model("fake/always-tie") == FakeMode(always="tie")
    for bad in ("gpt-4", "fake/rating-11", "fake/rating-0", "fake/always-C", "fake/", "fakes"):
        with pytest.raises(UsageError, match="fake/rating-N"):
            parse_fake_model(bad)


def test_single_verdicts_come_from_the_hash_of_the_messages() -> None:
    ratings = []
    for i in range(40):
        messages = single_prompt(f"answer {i}")
        text = fake_reply(messages, FakeMode())
        digest = request_digest(messages)
        assert text == f"Fake judgment {digest[:8]}.\n\nRating: [[{1 + int(digest, 16) % 10}]]"
        assert fake_reply(messages, FakeMode()) == text  # the same request, the same reply
        ratings.append(parse_rating(text))
    assert set(ratings) <= set(range(1, 11)) and len(set(ratings)) > 3  # spread, not one constant


def test_pairwise_and_arena_verdicts_parse_as_the_judges_read_them() -> None:
    pair_winners = {parse_pair_verdict(fake_reply(pair_prompt(f"a{i}", "b"), FakeMode())) for i in range(30)}
    assert pair_winners == {"A", "B", "tie"}
    arena = set()
    for i in range(40):
        labels = ARENA_PATTERN.findall(fake_reply(arena_prompt(f"a{i}", "b"), FakeMode()))
        assert len(labels) == 1
        arena.add(labels[0])
    assert arena == {"A>>B", "A>B", "A=B", "B>A", "B>>A"}


def test_fixed_modes() -> None:
    assert parse_rating(fake_reply(single_prompt("x"), parse_fake_model("fake/rating-3"))) == 3
    always_b = parse_fake_model("fake/always-B")
    assert parse_pair_verdict(fake_reply(pair_prompt("x", "y"), always_b)) == "B"
    assert ARENA_PATTERN.findall(fake_reply(arena_prompt("x", "y"), always_b)) == ["B>>A"]
    tie = parse_fake_model("fake/always-tie")
    assert parse_pair_verdict(fake_reply(pair_prompt("x", "y"), tie)) == "tie"
    assert fake_reply([{"role": "user", "content": "hi there"}], FakeMode(echo=True)) == "echo: hi there"
    # echo adds no verdict of its own: it repeats whatever it is shown
    judge_prompt = single_prompt("x")
    assert fake_reply(judge_prompt, FakeMode(echo=True)) == "echo: " + judge_prompt[-1]["content"]


def test_questions_get_answers_not_verdicts() -> None:
    messages = [{"role": "user", "content": "Write a   haiku\nabout rain."}]
    text = fake_reply(messages, FakeMode())
    assert text == f"Fake answer {request_digest(messages)[:8]} to: Write a haiku about rain."
    assert parse_rating(text) == -1


class Quiet(ProgressSink):
    def start(self, total: int) -> None:
        pass

    def advance(self, *, failed: bool = False) -> None:
        pass

    def note_retry(self, reason: str = "") -> None:
        pass

    def stop(self) -> None:
        pass


def test_the_engine_runs_a_job_on_the_fake(tmp_path: Path) -> None:
    """Resume, ordering and writing through the real engine, with no server and no key."""
    config = resolve_endpoint("generate", "fake", "fake", environ={})
    backend = create_backend(config)
    assert isinstance(backend, FakeBackend)

    async def no_wait(seconds: float) -> None:
        raise AssertionError("the fake never fails, so nothing is retried")

    caller = Caller(
        Endpoint(backend, 3, name="fake"), RetryPolicy(max_attempts=2), CallStats(), sleep=no_wait
    )
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps({"id": 2, "text": "kept"}) + "\n")
    spec = OutputSpec(path=path, parse=lambda obj: obj, key=lambda r: r["id"], sort_key=lambda r: r["id"])

    def make_tasks(done: set[Any]) -> list[Task]:
        async def one(i: int) -> dict[str, Any]:
            reply = await caller.complete([{"role": "user", "content": f"question {i}"}], PARAMS)
            return {"id": i, "text": reply.text}

        return [Task(i, f"item {i}", lambda i=i: one(i)) for i in range(5) if i not in done]

    report = asyncio.run(run_job(spec, make_tasks, workers=3, progress=Quiet()))
    assert report.ok and (report.already_done, report.completed) == (1, 4)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4]
    for row in rows:
        if row["id"] != 2:
            messages = [{"role": "user", "content": f"question {row['id']}"}]
            assert row["text"] == fake_reply(messages, FakeMode())
    assert backend.calls == caller.stats.requests == 4
    assert caller.stats.retries == 0
