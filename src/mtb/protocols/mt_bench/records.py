"""FastChat's judgment records (single and pair) and judge prompts, with its field names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mtb.records import QuestionId, question_id_of, tstamp_of
from mtb.validate import field


def _judge(obj: dict[str, Any]) -> tuple[str, str]:
    """FastChat's `judge` field: a JSON list [judge model, prompt name]."""
    judge = field(obj, "judge", list, "a list [judge model, prompt name]")
    if len(judge) != 2 or not all(isinstance(j, str) for j in judge):
        raise ValueError("field 'judge' must be a list [judge model, prompt name]")
    return (judge[0], judge[1])


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
    # Which of --samples K judgments of one item this is; 0 (and absent from the
    # file) for the first, so published files and K=1 runs key as before.
    sample: int = 0
    run_id: str | None = None  # the run that made it (mtb.provenance); None in published files

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SingleJudgment:
        question_id = question_id_of(obj)
        model = field(obj, "model", str, "a string")
        judge = _judge(obj)
        score = field(obj, "score", (int, float), "a number")
        turn = field(obj, "turn", int, "an integer")
        if turn < 1:
            raise ValueError("field 'turn' must be 1 or more")
        tstamp = tstamp_of(obj)
        user_prompt = obj.get("user_prompt", "")
        judgment = obj.get("judgment", "")
        if not isinstance(user_prompt, str) or not isinstance(judgment, str):
            raise ValueError("fields 'user_prompt' and 'judgment' must be strings")
        sample = field(obj, "sample", int, "an integer", default=0)
        if sample < 0:
            raise ValueError("field 'sample' must be 0 or more")
        run_id = field(obj, "run_id", str, "a string", default=None)
        return cls(
            question_id,
            model,
            judge,
            user_prompt,
            judgment,
            score,
            turn,
            tstamp,
            sample,
            run_id,
        )

    @property
    def key(self) -> tuple[str, QuestionId, int, str, str, int]:
        return (self.model, self.question_id, self.turn, self.judge[0], self.judge[1], self.sample)

    @property
    def item(self) -> tuple[str, QuestionId, int, str, int]:
        """What one judgment scores, whatever prompt it was made with: its key less the prompt."""
        return (self.model, self.question_id, self.turn, self.judge[0], self.sample)

    def to_json(self) -> dict[str, Any]:
        record = {
            "question_id": self.question_id,
            "model": self.model,
            "judge": list(self.judge),
            "user_prompt": self.user_prompt,
            "judgment": self.judgment,
            "score": self.score,
            "turn": self.turn,
            "tstamp": self.tstamp,
        }
        # Extra fields only when they say something: a K=1 record is FastChat's, byte for byte.
        if self.sample:
            record["sample"] = self.sample
        if self.run_id is not None:
            record["run_id"] = self.run_id
        return record


def pair_key(
    model_1: str, model_2: str, question_id: QuestionId, turn: int, judge: str, prompt: str
) -> tuple[str, str, QuestionId, int, str, str]:
    """A pairwise match's key: (a, b) and (b, a) are one match (both games play either way round),
    so a match stored in either order counts as done, and is counted once."""
    first, second = sorted((model_1, model_2))
    return (first, second, question_id, turn, judge, prompt)


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
    run_id: str | None = None  # the run that made it (mtb.provenance); None in published files

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PairJudgment:
        question_id = question_id_of(obj)
        model_1 = field(obj, "model_1", str, "a string")
        model_2 = field(obj, "model_2", str, "a string")
        winners = []
        for key in ("g1_winner", "g2_winner"):
            winner = field(obj, key, str, "a string")
            if winner not in PAIR_WINNERS:
                raise ValueError(f"field '{key}' must be one of {', '.join(PAIR_WINNERS)}, got {winner!r}")
            winners.append(winner)
        judge = _judge(obj)
        turn = field(obj, "turn", int, "an integer")
        if turn < 1:
            raise ValueError("field 'turn' must be 1 or more")
        texts = []
        for key in ("g1_user_prompt", "g1_judgment", "g2_user_prompt", "g2_judgment"):
            value = obj.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"field '{key}' must be a string")
            texts.append(value)
        tstamp = tstamp_of(obj)
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
            run_id=field(obj, "run_id", str, "a string", default=None),
        )

    @property
    def key(self) -> tuple[str, str, QuestionId, int, str, str]:
        return pair_key(self.model_1, self.model_2, self.question_id, self.turn, *self.judge)

    @property
    def item(self) -> tuple[str, str, QuestionId, int, str]:
        """The match one judgment scores, whatever prompt it was made with: its key less the prompt."""
        return self.key[:5]

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
            **({"run_id": self.run_id} if self.run_id is not None else {}),
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
            values[key] = field(obj, key, str, "a string")
        description = obj.get("description", "")
        category = obj.get("category", "")
        return cls(**values, description=str(description), category=str(category))
