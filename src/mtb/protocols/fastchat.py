"""FastChat's question and answer files, shared by MT-bench and Arena-Hard v0.1.

question.jsonl            {question_id, category, turns: [...], reference?}
model_answer/<m>.jsonl    {question_id, answer_id, model_id, choices: [{index, turns}], tstamp}
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb.data import unique_questions
from mtb.jobs import OutputSpec
from mtb.jsonl import read_records
from mtb.records import ModelAnswer, Question, QuestionId, new_answer_id, sortable_id

if TYPE_CHECKING:
    from mtb.data import DataDir


def read_questions(data: DataDir) -> list[Question]:
    path = data.required(data.bench.question_file)
    return unique_questions(path, read_records(path, Question.from_json))


def read_answers(path: Path) -> dict[QuestionId, ModelAnswer]:
    """Answers keyed by question id; a later line for the same question wins, as in FastChat."""
    return {a.question_id: a for a in read_records(path, ModelAnswer.from_json)}


def answer_output(path: Path) -> OutputSpec:
    """FastChat's answer files: one record per question_id, sorted by it."""
    return OutputSpec(
        path=path,
        parse=ModelAnswer.from_json,
        key=lambda record: record["question_id"],
        sort_key=lambda record: sortable_id(record["question_id"]),
    )


def answer_record(
    question: Question, turns_per_choice: list[list[Any]], model_id: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """An answer record in FastChat's schema (gen_model_answer.py / gen_api_answer.py)."""
    return {
        "question_id": question.question_id,
        "answer_id": new_answer_id(),
        "model_id": model_id,
        "choices": [{"index": i, "turns": turns} for i, turns in enumerate(turns_per_choice)],
        "tstamp": time.time(),
        **extra,
    }


class FastChatFiles:
    """The question and answer parts of the protocol for families that use FastChat's files."""

    def read_questions(self, data: DataDir) -> list[Question]:
        return read_questions(data)

    def read_answers(self, path: Path) -> dict[QuestionId, ModelAnswer]:
        return read_answers(path)

    def answer_output(self, data: DataDir, model_id: str) -> OutputSpec:
        return answer_output(data.answer_path(model_id))
