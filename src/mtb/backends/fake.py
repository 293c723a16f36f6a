"""An in-process provider with deterministic replies: no HTTP, no key, no cost.

`--provider fake` / `--judge-provider fake` makes a smoke run of the whole flow
(generate, judge, results) possible anywhere, and gives engine tests a backend
that needs no server. The reply depends only on the messages (a SHA-256 of
them, `h` below), never on time, temperature or seed: the same request always
gets the same reply, in any process.

What it says depends on what it is asked:

    single-grading prompt ("[[rating]]" in it)    "Fake judgment <h8>.\\n\\nRating: [[N]]"
    pairwise prompt ("[[A]]" and "[[B]]")         "Fake judgment <h8>.\\n\\n[[A]]"  (or [[B]], [[C]])
    Arena-Hard prompt ("[[A>>B]]" in it)          "Fake judgment <h8>.\\n\\nMy final verdict is [[A>B]]"
    anything else (a question to answer)          "Fake answer <h8> to: <the question's start>"

with N = 1 + h mod 10, the pairwise winner ["A", "B", "C"][h mod 3] and the
Arena-Hard label the (h mod 5)-th of A>>B, A>B, A=B, B>A, B>>A. The model name
picks the behaviour; it must be `fake` or start with `fake/`, so fake verdicts
never land in a real judge's judgment file:

    fake                 the hashed replies above
    fake/echo            "echo: <last user message>", no verdict of its own
    fake/rating-N        every single-grading verdict is [[N]] (N from 1 to 10)
    fake/always-A        every pairwise verdict is [[A]]; Arena-Hard [[A>>B]]
    fake/always-B        every pairwise verdict is [[B]]; Arena-Hard [[B>>A]]
    fake/always-tie      every pairwise verdict is [[C]]; Arena-Hard [[A=B]]
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mtb.backends.base import Completion, EndpointConfig, Message, SamplingParams
from mtb.errors import UsageError

ARENA_LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
PAIR_LABELS = ("A", "B", "C")
# What each fixed pairwise mode answers: (FastChat pairwise, Arena-Hard).
ALWAYS = {"A": ("A", "A>>B"), "B": ("B", "B>>A"), "tie": ("C", "A=B")}
MODES_HELP = "fake, fake/echo, fake/rating-N (N 1-10), fake/always-A, fake/always-B, fake/always-tie"


@dataclass(frozen=True)
class FakeMode:
    echo: bool = False
    rating: int | None = None  # a fixed single-grading verdict
    always: str | None = None  # a key of ALWAYS: a fixed pairwise verdict


def parse_fake_model(model: str) -> FakeMode:
    """The behaviour a fake model name asks for, or a UsageError that lists the names."""
    if model == "fake":
        return FakeMode()
    prefix, _, mode = model.partition("/")
    if prefix == "fake":
        if mode == "echo":
            return FakeMode(echo=True)
        rating = re.fullmatch(r"rating-(\d+)", mode)
        if rating and 1 <= int(rating.group(1)) <= 10:
            return FakeMode(rating=int(rating.group(1)))
        if mode.startswith("always-") and mode.removeprefix("always-") in ALWAYS:
            return FakeMode(always=mode.removeprefix("always-"))
    raise UsageError(f"the fake provider has no model '{model}' (its models: {MODES_HELP})")


def request_digest(messages: Sequence[Message]) -> str:
    canonical = json.dumps(list(messages), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fake_reply(messages: Sequence[Message], mode: FakeMode) -> str:
    """The fake's reply to `messages` (the conventions are in the module docstring)."""
    users = [m["content"] for m in messages if m.get("role") == "user"]
    last = users[-1] if users else ""
    if mode.echo:
        return f"echo: {last}"
    digest = request_digest(messages)
    number = int(digest, 16)
    head = f"Fake judgment {digest[:8]}."
    text = "\n".join(m.get("content", "") for m in messages)
    # Arena-Hard's labels first: its prompt also shows "[[A" and "[[B" forms.
    if "[[A>>B]]" in text:
        label = ALWAYS[mode.always][1] if mode.always else ARENA_LABELS[number % len(ARENA_LABELS)]
        return f"{head}\n\nMy final verdict is [[{label}]]"
    if "[[rating]]" in text:
        rating = mode.rating if mode.rating is not None else 1 + number % 10
        return f"{head}\n\nRating: [[{rating}]]"
    if "[[A]]" in text and "[[B]]" in text:
        winner = ALWAYS[mode.always][0] if mode.always else PAIR_LABELS[number % len(PAIR_LABELS)]
        return f"{head}\n\n[[{winner}]]"
    snippet = " ".join(last.split())[:60]
    return f"Fake answer {digest[:8]} to: {snippet}"


class FakeBackend:
    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.mode = parse_fake_model(config.model)
        self.calls = 0  # requests answered, for tests and smoke runs

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        self.calls += 1
        return Completion(fake_reply(messages, self.mode), model=self.config.model, finish_reason="stop")

    async def aclose(self) -> None:
        return None
