import json
from pathlib import Path

import pytest

from mtb.jsonl import read_records
from mtb.protocols.mt_bench.records import SingleJudgment
from mtb.records import ModelAnswer, Question, new_answer_id


def test_every_published_answer_file_loads_as_it_is(shared_data: Path) -> None:
    files = sorted((shared_data / "mt_bench" / "model_answer").glob("*.jsonl"))
    assert len(files) == 31
    for path in files:
        answers = read_records(path, ModelAnswer.from_json)
        assert len(answers) == 80, path
        assert all(len(a.choices[0].turns) == 2 for a in answers)


def test_answer_round_trips_exactly(shared_data: Path) -> None:
    line = (shared_data / "mt_bench" / "model_answer" / "vicuna-13b-v1.3.jsonl").read_text().splitlines()[0]
    original = json.loads(line)
    assert ModelAnswer.from_json(original).to_json() == original


def test_extra_fields_survive_a_round_trip() -> None:
    obj = {
        "question_id": 1,
        "answer_id": "x",
        "model_id": "m",
        "choices": [{"index": 0, "turns": ["a"]}],
        "tstamp": 1.0,
        "generation": {"temperature": 0.7},
    }
    assert ModelAnswer.from_json(obj).to_json() == obj


def test_arena_hard_style_turns_are_read_as_text() -> None:
    question = Question.from_json(
        {"question_id": "abc", "category": "arena-hard-v0.1", "turns": [{"content": "hi"}]}
    )
    assert question.turns == ["hi"]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"category": "math", "turns": ["q"]}, "missing field 'question_id'"),
        ({"question_id": True, "category": "math", "turns": ["q"]}, "'question_id' must be"),
        ({"question_id": 1, "category": "math", "turns": []}, "'turns' is empty"),
        ({"question_id": 1, "category": 3, "turns": ["q"]}, "'category' must be a string"),
        ({"question_id": 1, "category": "math", "turns": [1]}, "'turns' must be strings"),
    ],
)
def test_bad_questions_say_what_is_wrong(obj: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Question.from_json(obj)


def test_judgment_schema_matches_fastchat() -> None:
    obj = {
        "question_id": 81,
        "model": "m",
        "judge": ["gpt-4", "single-v1"],
        "user_prompt": "p",
        "judgment": "Rating: [[5]]",
        "score": 5,
        "turn": 1,
        "tstamp": 2.0,
    }
    judgment = SingleJudgment.from_json(obj)
    assert judgment.to_json() == obj
    assert list(judgment.to_json()) == [
        "question_id",
        "model",
        "judge",
        "user_prompt",
        "judgment",
        "score",
        "turn",
        "tstamp",
    ]


def test_answer_ids_look_like_shortuuid() -> None:
    ids = {new_answer_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 22 and i.isalnum() for i in ids)
