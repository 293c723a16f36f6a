"""arena-hard-auto v0.1's judgment record.

{question_id, model, judge, games: [{user_prompt, judgment, score}], tstamp}
"""

from __future__ import annotations

from typing import Any

from mtb import validate
from mtb.records import question_id_of


def parse_judgment(obj: dict[str, Any]) -> dict[str, Any]:
    question_id_of(obj)
    validate.field(obj, "model", str)
    games = validate.field(obj, "games", list, "a non-empty list", non_empty=True)
    for i, game in enumerate(games):
        if not isinstance(game, dict) or not (
            game.get("score") is None or isinstance(game.get("score"), str)
        ):
            raise ValueError(f"game {i + 1} must be an object whose 'score' is a label or null")
    return obj
