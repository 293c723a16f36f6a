"""The records every benchmark shares: questions and model answers.

They are read from FastChat's schema here; a protocol with another schema
(Arena-Hard v2.0's uid/prompt/messages) reads its files into the same types.
Each `from_json` validates one decoded JSONL object through `mtb.validate`
and raises `ValueError`; the JSONL reader adds the file and line. Each
`to_json` returns the object exactly as FastChat's tools expect it.
Judgment records belong to their protocol (`mtb.protocols.*.records`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from mtb import validate

QuestionId = int | str


def sortable_id(question_id: QuestionId) -> tuple[int, int | str]:
    """A sort key: MT-bench ids are ints, Arena-Hard's hex strings; never compare the two."""
    return (0, question_id) if isinstance(question_id, int) else (1, str(question_id))


def tstamp_of(obj: dict[str, Any]) -> float:
    return validate.number(obj, "tstamp", 0.0)


def turn_text(turn: Any, where: str) -> str:
    # MT-bench stores turns as strings, Arena-Hard as {"content": ...} objects.
    if isinstance(turn, str):
        return turn
    if isinstance(turn, dict) and isinstance(turn.get("content"), str):
        return str(turn["content"])
    raise ValueError(f"{where} must be strings or objects with a 'content' string")


def question_id_of(obj: dict[str, Any], key: str = "question_id") -> QuestionId:
    return validate.field(obj, key, (int, str))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Question:
    question_id: QuestionId
    category: str
    turns: list[str]
    reference: list[str] | None = None
    required_temperature: float | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Question:
        question_id = question_id_of(obj)
        category = validate.field(obj, "category", str, "a string")
        raw_turns = validate.field(obj, "turns", list, "a list")
        if not raw_turns:
            raise ValueError("field 'turns' is empty")
        turns = [turn_text(t, "'turns'") for t in raw_turns]
        reference = obj.get("reference")
        if reference is not None and not (
            isinstance(reference, list) and all(isinstance(r, str) for r in reference)
        ):
            raise ValueError("field 'reference' must be a list of strings")
        required = validate.number(obj, "required_temperature", None)
        return cls(question_id, category, turns, reference, required)


@dataclass(frozen=True)
class Choice:
    index: int
    turns: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "turns": list(self.turns)}


def new_answer_id() -> str:
    """A 22-character id in the alphabet of FastChat's `shortuuid.uuid()`."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = uuid.uuid4().int
    digits = []
    for _ in range(22):
        number, remainder = divmod(number, len(alphabet))
        digits.append(alphabet[remainder])
    return "".join(digits)


@dataclass(frozen=True)
class ModelAnswer:
    question_id: QuestionId
    answer_id: str
    model_id: str
    choices: list[Choice]
    tstamp: float
    # Fields FastChat does not define (for example generation settings) are kept
    # as they are, so a file read and written again loses nothing.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ModelAnswer:
        question_id = question_id_of(obj)
        answer_id = obj.get("answer_id", "")
        model_id = obj.get("model_id", "")
        if not isinstance(answer_id, str) or not isinstance(model_id, str):
            raise ValueError("fields 'answer_id' and 'model_id' must be strings")
        raw_choices = validate.field(obj, "choices", list, "a list")
        if not raw_choices:
            raise ValueError("field 'choices' is empty")
        choices = []
        for position, raw in enumerate(raw_choices):
            if not isinstance(raw, dict) or not isinstance(raw.get("turns"), list):
                raise ValueError(f"choice {position} must be an object with a 'turns' list")
            index = raw.get("index", position)
            if isinstance(index, bool) or not isinstance(index, int):
                raise ValueError(f"choice {position}: 'index' must be an integer")
            turns = [turn_text(t, f"choice {position} turns") for t in raw["turns"]]
            choices.append(Choice(index, turns))
        tstamp = tstamp_of(obj)
        known = {"question_id", "answer_id", "model_id", "choices", "tstamp"}
        extra = {k: v for k, v in obj.items() if k not in known}
        return cls(question_id, answer_id, model_id, choices, tstamp, extra)

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "answer_id": self.answer_id,
            "model_id": self.model_id,
            "choices": [c.to_json() for c in self.choices],
            "tstamp": self.tstamp,
            **self.extra,
        }
