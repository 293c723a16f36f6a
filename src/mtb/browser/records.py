"""Which record reader a line of a browsed file needs: FastChat's schema (MT-bench, Arena-Hard
v0.1) or arena-hard-auto v2.0's (uid, prompt, messages). Either way the line goes through
the same typed records and validator as every command's."""

from __future__ import annotations

from typing import Any

from mtb.protocols.arena_hard.records import ArenaJudgment
from mtb.records import ModelAnswer, Question


def read_any_question(obj: dict[str, Any]) -> Question:
    if "question_id" not in obj and "uid" in obj:
        from mtb.protocols.arena_hard_v2.records import parse_question

        question: Question = parse_question(obj)
        return question
    return Question.from_json(obj)


def read_any_answer(obj: dict[str, Any]) -> ModelAnswer:
    if "question_id" not in obj and "uid" in obj:
        from mtb.protocols.arena_hard_v2.records import parse_answer

        answer: ModelAnswer = parse_answer(obj)
        return answer
    return ModelAnswer.from_json(obj)


def read_any_games(obj: dict[str, Any]) -> ArenaJudgment:
    if "question_id" not in obj and "uid" in obj:
        return ArenaJudgment.from_json(obj, id_key="uid")
    return ArenaJudgment.from_json(obj)
