"""arena-hard-auto v2.0's records, read into mtb's shared types and written in upstream's schema.

question.jsonl            {uid, category, subcategory, prompt}
model_answer/<m>.jsonl    {uid, ans_id, model, messages: [{role: user, content: prompt},
                           {role: assistant, content: {answer, (thought)}}], tstamp,
                           metadata: {token_len, header_count, list_count, bold_count}}
model_judgment/<judge>/<m>.jsonl
                          {uid, category, judge, model, baseline,
                           games: [{score, judgment: {answer}, prompt: [messages]} | null, ...]}
"""

from __future__ import annotations

import time
from typing import Any

from mtb import validate
from mtb.records import Choice, ModelAnswer, Question, new_answer_id, tstamp_of

ANSWER_KEYS = ("uid", "ans_id", "model", "messages", "tstamp")
# Upstream's v2 answers count tokens with tiktoken's gpt-4o encoding; the
# published o3-mini answers' token_len all agree with it (not with cl100k).
TOKEN_ENCODING = "o200k_base"


def parse_question(obj: dict[str, Any]) -> Question:
    uid = validate.field(obj, "uid", str, non_empty=True)
    category = validate.field(obj, "category", str, non_empty=True)
    validate.field(obj, "subcategory", str, default=None)
    prompt = validate.field(obj, "prompt", str)
    return Question(question_id=uid, category=category, turns=[prompt])


def _assistant_content(obj: dict[str, Any]) -> dict[str, Any]:
    messages = validate.field(obj, "messages", list, "a list of messages", non_empty=True)
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValueError(f"message {position} must be an object with a 'role' string")
    last = messages[-1]
    content = last.get("content")
    if (
        last["role"] != "assistant"
        or not isinstance(content, dict)
        or not isinstance(content.get("answer"), str)
    ):
        raise ValueError(
            "the last message must be the assistant's, its 'content' an object with an 'answer' string"
        )
    return content


def parse_answer(obj: dict[str, Any]) -> ModelAnswer:
    """One v2 answer as a ModelAnswer; what FastChat has no field for stays in `extra`."""
    uid = validate.field(obj, "uid", str, non_empty=True)
    ans_id = validate.field(obj, "ans_id", str, default="")
    model = validate.field(obj, "model", str, default="")
    content = _assistant_content(obj)
    metadata = validate.field(obj, "metadata", dict, default=None)
    if metadata is not None:
        validate.field(metadata, "token_len", int)
    extra = {k: v for k, v in obj.items() if k not in ANSWER_KEYS}
    extra["messages"] = obj["messages"]
    return ModelAnswer(uid, ans_id, model, [Choice(0, [content["answer"]])], tstamp_of(obj), extra)


def answer_json(answer: ModelAnswer) -> dict[str, Any]:
    """A ModelAnswer read by `parse_answer` as upstream's record again (key order included)."""
    rest = {k: v for k, v in answer.extra.items() if k != "messages"}
    return {
        "uid": answer.question_id,
        "ans_id": answer.answer_id,
        "model": answer.model_id,
        "messages": answer.extra["messages"],
        "tstamp": answer.tstamp,
        **rest,
    }


def answer_text(answer: ModelAnswer) -> str:
    return answer.choices[0].turns[0]


def answer_metadata(text: str) -> dict[str, Any]:
    """The `metadata` of a v2 answer: token_len (o200k) and markdown counts outside fenced code."""
    from mtb.protocols.arena_hard.answers import markdown_counts, token_length

    return {"token_len": token_length(text, TOKEN_ENCODING), **markdown_counts(text)}


def answer_record(
    question: Question, text: str, model: str, metadata: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """An answer in upstream's v2 schema, as its gen_answer.py writes one."""
    return {
        "uid": question.question_id,
        "ans_id": new_answer_id(),
        "model": model,
        "messages": [
            {"role": "user", "content": question.turns[0]},
            {"role": "assistant", "content": {"answer": text}},
        ],
        "tstamp": time.time(),
        "metadata": metadata,
        **extra,
    }


def parse_judgment(obj: dict[str, Any]) -> dict[str, Any]:
    validate.field(obj, "uid", str, non_empty=True)
    validate.field(obj, "model", str)
    games = validate.field(obj, "games", list, "a non-empty list", non_empty=True)
    for i, game in enumerate(games):
        # A null game is upstream's failed judge call; scoring drops its record.
        if game is not None and not (
            isinstance(game, dict) and (game.get("score") is None or isinstance(game.get("score"), str))
        ):
            raise ValueError(f"game {i + 1} must be null or an object whose 'score' is a label or null")
    return obj


def is_scored(record: dict[str, Any]) -> bool:
    """Both games hold a label (upstream's scoring drops any other record)."""
    games = record["games"]
    return len(games) == 2 and all(isinstance(g, dict) and g.get("score") is not None for g in games)
