"""Judge prompts must be byte-identical to what FastChat's gen_judgment.py sends."""

import json
from pathlib import Path

import pytest

from mtb.benchmarks import Benchmark
from mtb.data import DataDir
from mtb.protocols.mt_bench.judging import (
    find_gaps,
    judge_prompts,
    reference_answers,
    render_pair_match,
    render_single_match,
    single_matches,
)
from mtb.protocols.mt_bench.prompts import PromptMap


def raw_records(shared_data: Path, relative: str, key: str) -> dict:
    """A published file read with nothing but json, keyed by `key`: the independent side of each check."""
    lines = (shared_data / relative).read_text(encoding="utf-8").splitlines()
    return {obj[key]: obj for obj in map(json.loads, lines)}


@pytest.fixture
def data(data_dir: Path) -> DataDir:
    return DataDir(data_dir, Benchmark.load("mt_bench"))


def fastchat_single_messages(prompt: dict, question: dict, answer: dict, ref: dict | None, multi_turn: bool):
    """An independent rendition of FastChat's run_judge_single + chatgpt conversation template."""
    kwargs = {}
    if ref is not None:
        kwargs["ref_answer_1"] = ref["choices"][0]["turns"][0]
        if multi_turn:
            kwargs["ref_answer_2"] = ref["choices"][0]["turns"][1]
    if multi_turn:
        user = prompt["prompt_template"].format(
            question_1=question["turns"][0],
            question_2=question["turns"][1],
            answer_1=answer["choices"][0]["turns"][0],
            answer_2=answer["choices"][0]["turns"][1],
            **kwargs,
        )
    else:
        user = prompt["prompt_template"].format(
            question=question["turns"][0], answer=answer["choices"][0]["turns"][0], **kwargs
        )
    return [
        {"role": "system", "content": prompt["system_prompt"]},
        {"role": "user", "content": user},
    ]


def test_every_match_renders_like_fastchat(data: DataDir, shared_data: Path) -> None:
    bench = data.bench
    questions = data.questions()
    answers = {"vicuna-7b-v1.3": data.answers("vicuna-7b-v1.3")}
    refs = reference_answers(data, data.bench.settings, "gpt-4")
    prompts = judge_prompts(data, data.bench.settings)

    raw_prompts = raw_records(shared_data, "judge_prompts.jsonl", "name")
    raw_questions = raw_records(shared_data, "mt_bench/question.jsonl", "question_id")
    raw_answers = raw_records(shared_data, "mt_bench/model_answer/vicuna-7b-v1.3.jsonl", "question_id")
    raw_refs = raw_records(shared_data, "mt_bench/reference_answer/gpt-4.jsonl", "question_id")

    matches = single_matches(
        questions, answers, refs, prompts, PromptMap.load("mt_bench"), bench.settings, "judge_prompts.jsonl"
    )
    assert len(matches) == 160
    used = {m.prompt.name for m in matches}
    assert used == {
        "single-v1",
        "single-math-v1",
        "single-v1-multi-turn",
        "single-math-v1-multi-turn",
    }
    for match in matches:
        qid = match.question.question_id
        category = raw_questions[qid]["category"]
        needs_ref = category in ("math", "reasoning", "coding")
        expected_name = {
            (False, 1): "single-v1",
            (True, 1): "single-math-v1",
            (False, 2): "single-v1-multi-turn",
            (True, 2): "single-math-v1-multi-turn",
        }[(needs_ref, match.turn)]
        assert match.prompt.name == expected_name
        expected = fastchat_single_messages(
            raw_prompts[expected_name],
            raw_questions[qid],
            raw_answers[qid],
            raw_refs[qid] if needs_ref else None,
            match.turn == 2,
        )
        assert render_single_match(match) == expected


def test_turn_two_shows_both_turns_and_the_reference(data: DataDir) -> None:
    questions = [q for q in data.questions() if q.question_id == 111]
    answers = {"gpt-4": data.answers("gpt-4")}
    refs = reference_answers(data, data.bench.settings, "gpt-4")
    matches = single_matches(
        questions,
        answers,
        refs,
        judge_prompts(data, data.bench.settings),
        PromptMap.load("mt_bench"),
        data.bench.settings,
        "judge_prompts.jsonl",
    )
    turn2 = next(m for m in matches if m.turn == 2)
    system, user = render_single_match(turn2)
    assert system["content"].endswith("\n\n")  # FastChat's multi-turn system prompts end this way
    assert user["content"].startswith(
        "<|The Start of Reference Answer|>\n\n### User:\n" + questions[0].turns[0]
    )
    for text in (
        *questions[0].turns,
        *answers["gpt-4"][111].choices[0].turns,
        *refs[111].choices[0].turns,
    ):
        assert text in user["content"]


def test_gaps_are_listed_before_any_call(data: DataDir) -> None:
    questions = data.questions()
    answers = {"gpt-4": data.answers("gpt-4")}
    del answers["gpt-4"][81], answers["gpt-4"][160]
    refs = reference_answers(data, data.bench.settings, "gpt-4")
    del refs[101]
    gaps = find_gaps(questions, answers, refs, data.bench.settings, "reference_answer/gpt-4.jsonl")
    assert gaps == [
        "gpt-4: no answer to 2 question(s): 81, 160",
        "reference_answer/gpt-4.jsonl: no complete reference answer for question(s): 101",
    ]


def fastchat_pair_messages(
    prompt: dict, question: dict, answer_a: dict, answer_b: dict, ref: dict | None, multi_turn: bool
) -> list[dict]:
    """An independent rendition of FastChat's run_judge_pair."""
    kwargs = {}
    if ref is not None:
        kwargs["ref_answer_1"] = ref["choices"][0]["turns"][0]
        if multi_turn:
            kwargs["ref_answer_2"] = ref["choices"][0]["turns"][1]
    if multi_turn:
        user = prompt["prompt_template"].format(
            question_1=question["turns"][0],
            question_2=question["turns"][1],
            answer_a_1=answer_a["choices"][0]["turns"][0],
            answer_b_1=answer_b["choices"][0]["turns"][0],
            answer_a_2=answer_a["choices"][0]["turns"][1],
            answer_b_2=answer_b["choices"][0]["turns"][1],
            **kwargs,
        )
    else:
        user = prompt["prompt_template"].format(
            question=question["turns"][0],
            answer_a=answer_a["choices"][0]["turns"][0],
            answer_b=answer_b["choices"][0]["turns"][0],
            **kwargs,
        )
    return [{"role": "system", "content": prompt["system_prompt"]}, {"role": "user", "content": user}]


def test_pair_games_render_like_fastchat_with_positions_swapped(data: DataDir, shared_data: Path) -> None:
    from mtb.protocols.mt_bench.judging import pair_matches

    prompts = raw_records(shared_data, "judge_prompts.jsonl", "name")
    questions = raw_records(shared_data, "mt_bench/question.jsonl", "question_id")
    one = raw_records(shared_data, "mt_bench/model_answer/vicuna-7b-v1.3.jsonl", "question_id")
    two = raw_records(shared_data, "mt_bench/model_answer/gpt-3.5-turbo.jsonl", "question_id")
    refs = raw_records(shared_data, "mt_bench/reference_answer/gpt-4.jsonl", "question_id")
    answers = {
        "vicuna-7b-v1.3": data.answers("vicuna-7b-v1.3"),
        "gpt-3.5-turbo": data.answers("gpt-3.5-turbo"),
    }
    matches = pair_matches(
        data.questions(),
        answers,
        [("vicuna-7b-v1.3", "gpt-3.5-turbo")],
        reference_answers(data, data.bench.settings, "gpt-4"),
        judge_prompts(data, data.bench.settings),
        PromptMap.load("mt_bench"),
        data.bench.settings,
        "judge_prompts.jsonl",
    )
    assert len(matches) == 160
    assert {m.prompt.name for m in matches} == {
        "pair-v2",
        "pair-math-v1",
        "pair-v2-multi-turn",
        "pair-math-v1-multi-turn",
    }
    for match in matches:
        qid = match.question.question_id
        needs_ref = questions[qid]["category"] in ("math", "reasoning", "coding")
        name = {
            (False, 1): "pair-v2",
            (True, 1): "pair-math-v1",
            (False, 2): "pair-v2-multi-turn",
            (True, 2): "pair-math-v1-multi-turn",
        }[(needs_ref, match.turn)]
        assert match.prompt.name == name
        ref = refs[qid] if needs_ref else None
        multi = match.turn == 2
        assert render_pair_match(match, swapped=False) == fastchat_pair_messages(
            prompts[name], questions[qid], one[qid], two[qid], ref, multi
        )
        assert render_pair_match(match, swapped=True) == fastchat_pair_messages(
            prompts[name], questions[qid], two[qid], one[qid], ref, multi
        )
