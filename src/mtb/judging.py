"""Single-answer grading with FastChat's semantics (fastchat/llm_judge/gen_judgment.py).

For each (question, model, turn) the judge gets a system and a user message
that are byte-identical to FastChat's: the prompt is chosen by category and
turn from `prompts/<map>.toml`, and questions in reference categories get the
reference model's answers.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.benchmarks import Benchmark, PromptMap
from mtb.data import DataDir
from mtb.engine import Caller, OutputSpec, Task
from mtb.errors import DataError
from mtb.records import JudgePrompt, ModelAnswer, Question, QuestionId, SingleJudgment, sortable_id
from mtb.verdicts import UNPARSED, parse_rating


@dataclass(frozen=True)
class SingleMatch:
    question: Question
    model: str
    answer: ModelAnswer
    prompt: JudgePrompt
    turn: int
    reference: ModelAnswer | None

    def key(self, judge_model: str) -> tuple[str, QuestionId, int, str, str]:
        return (self.model, self.question.question_id, self.turn, judge_model, self.prompt.name)


def render_single(match: SingleMatch) -> list[Message]:
    """The judge's messages, as FastChat's run_judge_single builds them."""
    answer_turns = match.answer.choices[0].turns
    values: dict[str, str] = {}
    if match.reference is not None:
        values["ref_answer_1"] = match.reference.choices[0].turns[0]
    if match.turn == 1:
        values.update(question=match.question.turns[0], answer=answer_turns[0])
    else:
        if match.reference is not None:
            values["ref_answer_2"] = match.reference.choices[0].turns[1]
        values.update(
            question_1=match.question.turns[0],
            question_2=match.question.turns[1],
            answer_1=answer_turns[0],
            answer_2=answer_turns[1],
        )
    user_prompt = match.prompt.prompt_template.format(**values)
    messages: list[Message] = []
    # FastChat's chatgpt template drops an empty system message.
    if match.prompt.system_prompt:
        messages.append({"role": "system", "content": match.prompt.system_prompt})
    messages.append({"role": "user", "content": user_prompt})
    return messages


def find_gaps(
    questions: Sequence[Question],
    answers: dict[str, dict[QuestionId, ModelAnswer]],
    references: dict[QuestionId, ModelAnswer] | None,
    bench: Benchmark,
    reference_path: str,
) -> list[str]:
    """Everything missing before judging can start, as readable lines."""
    gaps = []
    for model, by_question in answers.items():
        missing = [q for q in questions if q.question_id not in by_question]
        short = [
            q
            for q in questions
            if q.question_id in by_question
            and len(by_question[q.question_id].choices[0].turns) < len(q.turns)
        ]
        if missing:
            ids = ", ".join(str(q.question_id) for q in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            gaps.append(f"{model}: no answer to {len(missing)} question(s): {ids}{more}")
        if short:
            ids = ", ".join(str(q.question_id) for q in short[:10])
            gaps.append(f"{model}: answers with too few turns for question(s): {ids}")
    needing = [q for q in questions if bench.needs_reference(q.category)]
    if needing and references is not None:
        missing_refs = [
            q
            for q in needing
            if q.question_id not in references
            or len(references[q.question_id].choices[0].turns) < len(q.turns)
        ]
        if missing_refs:
            ids = ", ".join(str(q.question_id) for q in missing_refs[:10])
            gaps.append(f"{reference_path}: no complete reference answer for question(s): {ids}")
    return gaps


def single_matches(
    questions: Sequence[Question],
    answers: dict[str, dict[QuestionId, ModelAnswer]],
    references: dict[QuestionId, ModelAnswer] | None,
    prompts: dict[str, JudgePrompt],
    prompt_map: PromptMap,
    bench: Benchmark,
    prompt_file: str,
) -> list[SingleMatch]:
    matches = []
    for question in questions:
        needs_reference = bench.needs_reference(question.category)
        for model, by_question in answers.items():
            for turn in range(1, len(question.turns) + 1):
                name = prompt_map.prompt_name("single", needs_reference, turn)
                if name not in prompts:
                    raise DataError(prompt_file, f"no judge prompt named '{name}'")
                matches.append(
                    SingleMatch(
                        question=question,
                        model=model,
                        answer=by_question[question.question_id],
                        prompt=prompts[name],
                        turn=turn,
                        reference=references[question.question_id]
                        if needs_reference and references
                        else None,
                    )
                )
    return matches


async def judge_single(
    caller: Caller, match: SingleMatch, judge_model: str, params: SamplingParams
) -> dict[str, Any]:
    messages = render_single(match)
    completion = await caller.complete(messages, params)
    return SingleJudgment(
        question_id=match.question.question_id,
        model=match.model,
        judge=(judge_model, match.prompt.name),
        user_prompt=messages[-1]["content"],
        judgment=completion.text,
        score=parse_rating(completion.text),
        turn=match.turn,
        tstamp=time.time(),
    ).to_json()


def single_output(data: DataDir, judge_model: str, retry_unparsed: bool) -> OutputSpec:
    def key(record: dict[str, Any]) -> Hashable:
        return (record["model"], record["question_id"], record["turn"], *record["judge"])

    return OutputSpec(
        path=data.single_judgment_path(judge_model),
        parse=SingleJudgment.from_json,
        key=key,
        sort_key=lambda r: (r["model"], sortable_id(r["question_id"]), r["turn"]),
        is_done=(lambda r: r["score"] != UNPARSED) if retry_unparsed else (lambda r: True),
    )


def single_tasks(
    matches: Sequence[SingleMatch],
    done: set[Hashable],
    caller: Caller,
    judge_model: str,
    params: SamplingParams,
) -> list[Task]:
    def make(match: SingleMatch) -> Task:
        return Task(
            key=match.key(judge_model),
            label=f"{match.model} question {match.question.question_id} turn {match.turn}",
            run=lambda: judge_single(caller, match, judge_model, params),
        )

    return [make(m) for m in matches if m.key(judge_model) not in done]
