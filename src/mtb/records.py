"""The records mtb reads and writes, with FastChat's field names.

Each `from_json` validates one decoded JSONL object and raises `ValueError`
with a short description; the JSONL reader adds the file and line.
Each `to_json` returns the object exactly as FastChat's tools expect it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

QuestionId = int | str


def sortable_id(question_id: QuestionId) -> tuple[int, int | str]:
    """A sort key: MT-bench ids are ints, Arena-Hard's hex strings; never compare the two."""
    return (0, question_id) if isinstance(question_id, int) else (1, str(question_id))


def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if key not in obj:
        raise ValueError(f"missing field '{key}'")
    value = obj[key]
    # bool is an int subclass; a question id of `true` is a typo, not a number.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"field '{key}' must be {what}, got {type(value).__name__}")
    return value


def _tstamp(obj: dict[str, Any]) -> float:
    tstamp = obj.get("tstamp", 0.0)
    if isinstance(tstamp, bool) or not isinstance(tstamp, (int, float)):
        raise ValueError("field 'tstamp' must be a number")
    return float(tstamp)


def _judge(obj: dict[str, Any]) -> tuple[str, str]:
    """FastChat's `judge` field: a JSON list [judge model, prompt name]."""
    judge = _require(obj, "judge", list, "a list [judge model, prompt name]")
    if len(judge) != 2 or not all(isinstance(j, str) for j in judge):
        raise ValueError("field 'judge' must be a list [judge model, prompt name]")
    return (judge[0], judge[1])


def _turn_text(turn: Any, where: str) -> str:
    # MT-bench stores turns as strings, Arena-Hard as {"content": ...} objects.
    if isinstance(turn, str):
        return turn
    if isinstance(turn, dict) and isinstance(turn.get("content"), str):
        return str(turn["content"])
    raise ValueError(f"{where} must be strings or objects with a 'content' string")


def _question_id(obj: dict[str, Any]) -> QuestionId:
    return _require(obj, "question_id", (int, str), "an integer or a string")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Question:
    question_id: QuestionId
    category: str
    turns: list[str]
    reference: list[str] | None = None
    required_temperature: float | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Question:
        question_id = _question_id(obj)
        category = _require(obj, "category", str, "a string")
        raw_turns = _require(obj, "turns", list, "a list")
        if not raw_turns:
            raise ValueError("field 'turns' is empty")
        turns = [_turn_text(t, "'turns'") for t in raw_turns]
        reference = obj.get("reference")
        if reference is not None and not (
            isinstance(reference, list) and all(isinstance(r, str) for r in reference)
        ):
            raise ValueError("field 'reference' must be a list of strings")
        required = obj.get("required_temperature")
        if required is not None and (isinstance(required, bool) or not isinstance(required, (int, float))):
            raise ValueError("field 'required_temperature' must be a number")
        return cls(question_id, category, turns, reference, None if required is None else float(required))


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
        question_id = _question_id(obj)
        answer_id = obj.get("answer_id", "")
        model_id = obj.get("model_id", "")
        if not isinstance(answer_id, str) or not isinstance(model_id, str):
            raise ValueError("fields 'answer_id' and 'model_id' must be strings")
        raw_choices = _require(obj, "choices", list, "a list")
        if not raw_choices:
            raise ValueError("field 'choices' is empty")
        choices = []
        for position, raw in enumerate(raw_choices):
            if not isinstance(raw, dict) or not isinstance(raw.get("turns"), list):
                raise ValueError(f"choice {position} must be an object with a 'turns' list")
            index = raw.get("index", position)
            if isinstance(index, bool) or not isinstance(index, int):
                raise ValueError(f"choice {position}: 'index' must be an integer")
            turns = [_turn_text(t, f"choice {position} turns") for t in raw["turns"]]
            choices.append(Choice(index, turns))
        tstamp = _tstamp(obj)
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


@dataclass(frozen=True)
class SingleJudgment:
    question_id: QuestionId
    model: str
    judge: tuple[str, str]  # (judge model, prompt name), a JSON list in the file
    user_prompt: str
    judgment: str
    score: float  # -1 when the judge's text holds no rating, as in FastChat
    turn: int
    tstamp: float

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SingleJudgment:
        question_id = _question_id(obj)
        model = _require(obj, "model", str, "a string")
        judge = _judge(obj)
        score = _require(obj, "score", (int, float), "a number")
        turn = _require(obj, "turn", int, "an integer")
        if turn < 1:
            raise ValueError("field 'turn' must be 1 or more")
        tstamp = _tstamp(obj)
        user_prompt = obj.get("user_prompt", "")
        judgment = obj.get("judgment", "")
        if not isinstance(user_prompt, str) or not isinstance(judgment, str):
            raise ValueError("fields 'user_prompt' and 'judgment' must be strings")
        return cls(
            question_id,
            model,
            judge,
            user_prompt,
            judgment,
            score,
            turn,
            tstamp,
        )

    @property
    def key(self) -> tuple[str, QuestionId, int, str, str]:
        return (self.model, self.question_id, self.turn, self.judge[0], self.judge[1])

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "model": self.model,
            "judge": list(self.judge),
            "user_prompt": self.user_prompt,
            "judgment": self.judgment,
            "score": self.score,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }


PAIR_WINNERS = ("model_1", "model_2", "tie", "error")


@dataclass(frozen=True)
class PairJudgment:
    """FastChat's pairwise record: game 1 shows model_1 as A, game 2 shows model_2 as A."""

    question_id: QuestionId
    model_1: str
    model_2: str
    g1_winner: str  # one of PAIR_WINNERS, already mapped from A/B to model_1/model_2
    g2_winner: str
    judge: tuple[str, str]
    g1_user_prompt: str
    g1_judgment: str
    g2_user_prompt: str
    g2_judgment: str
    turn: int
    tstamp: float

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PairJudgment:
        question_id = _question_id(obj)
        model_1 = _require(obj, "model_1", str, "a string")
        model_2 = _require(obj, "model_2", str, "a string")
        winners = []
        for key in ("g1_winner", "g2_winner"):
            winner = _require(obj, key, str, "a string")
            if winner not in PAIR_WINNERS:
                raise ValueError(f"field '{key}' must be one of {', '.join(PAIR_WINNERS)}, got {winner!r}")
            winners.append(winner)
        judge = _judge(obj)
        turn = _require(obj, "turn", int, "an integer")
        texts = []
        for key in ("g1_user_prompt", "g1_judgment", "g2_user_prompt", "g2_judgment"):
            value = obj.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"field '{key}' must be a string")
            texts.append(value)
        tstamp = _tstamp(obj)
        return cls(
            question_id,
            model_1,
            model_2,
            winners[0],
            winners[1],
            judge,
            g1_user_prompt=texts[0],
            g1_judgment=texts[1],
            g2_user_prompt=texts[2],
            g2_judgment=texts[3],
            turn=turn,
            tstamp=tstamp,
        )

    @property
    def key(self) -> tuple[str, str, QuestionId, int, str, str]:
        return (self.model_1, self.model_2, self.question_id, self.turn, self.judge[0], self.judge[1])

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "model_1": self.model_1,
            "model_2": self.model_2,
            "g1_winner": self.g1_winner,
            "g2_winner": self.g2_winner,
            "judge": list(self.judge),
            "g1_user_prompt": self.g1_user_prompt,
            "g1_judgment": self.g1_judgment,
            "g2_user_prompt": self.g2_user_prompt,
            "g2_judgment": self.g2_judgment,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    type: str
    system_prompt: str
    prompt_template: str
    output_format: str
    description: str = ""
    category: str = ""

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> JudgePrompt:
        values = {}
        for key in ("name", "type", "system_prompt", "prompt_template", "output_format"):
            values[key] = _require(obj, key, str, "a string")
        description = obj.get("description", "")
        category = obj.get("category", "")
        return cls(**values, description=str(description), category=str(category))
