"""Small helpers for tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtb.testing.openai_server import RecordedRequest, Reply


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge_rating_for(prompt: str) -> int:
    """The rating the test judge gives: a pure function of the prompt it is shown, 1-10."""
    return len(prompt) % 10 + 1


def judge_responder(request: RecordedRequest) -> Reply:
    return Reply(text=f"The answer is fine.\n\nRating: [[{judge_rating_for(request.last_user_message)}]]")


def model_responder(request: RecordedRequest) -> Reply:
    """A model that says which turn it answers and what it was asked."""
    turn = sum(1 for m in request.messages if m["role"] == "user")
    return Reply(text=f"turn {turn} answer to: {request.last_user_message[:30]}")
