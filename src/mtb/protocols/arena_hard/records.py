"""arena-hard-auto v0.1's judgment record.

{question_id, model, judge, games: [{user_prompt, judgment, score}], tstamp}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mtb import validate
from mtb.records import QuestionId, question_id_of


def parse_judgment(obj: dict[str, Any]) -> dict[str, Any]:
    question_id_of(obj)
    validate.field(obj, "model", str)
    games = validate.field(obj, "games", list, "a non-empty list", non_empty=True)
    if len(games) != 2:
        # Game 1 shows the baseline as A, game 2 the model: a record with another count cannot be
        # scored as either, and counting what is there would drop or add battles unseen.
        raise ValueError(
            f"field 'games' must hold 2 games (baseline as A, then model as A), got {len(games)}"
        )
    for i, game in enumerate(games):
        if not isinstance(game, dict) or not (
            game.get("score") is None or isinstance(game.get("score"), str)
        ):
            raise ValueError(f"game {i + 1} must be an object whose 'score' is a label or null")
    return obj


@dataclass(frozen=True)
class Game:
    score: str | None  # the verdict label, None when the judge gave none
    judgment: str


@dataclass(frozen=True)
class ArenaJudgment:
    """A judgment record as read for display (the scores are read by `scanning`, faster)."""

    question_id: QuestionId
    model: str
    judge: str
    games: list[Game]

    @classmethod
    def from_json(cls, obj: dict[str, Any], id_key: str = "question_id") -> ArenaJudgment:
        if id_key == "question_id":
            parse_judgment(obj)
        games = validate.field(obj, "games", list, "a non-empty list", non_empty=True)
        judge = validate.field(obj, "judge", str, default="")
        return cls(
            question_id_of(obj, id_key),
            validate.field(obj, "model", str),
            judge,
            [
                Game(g.get("score") if isinstance(g.get("score"), str) else None, str(g.get("judgment", "")))
                for g in games
                if isinstance(g, dict)
            ],
        )
