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
from mtb.data import DataDir, select_questions
from mtb.engine import Caller, OutputSpec, Task, done_keys
from mtb.errors import DataError, UsageError
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


@dataclass(frozen=True)
class SinglePlan:
    """Everything `mtb judge --mode single` will do, worked out before any call."""

    judge_model: str
    reference_model: str | None  # None when no selected question needs references
    models: list[str]
    questions: list[Question]
    matches: list[SingleMatch]
    gaps: list[str]
    spec: OutputSpec
    already_done: int

    def summary(self, bench: str) -> dict[str, Any]:
        return {
            "bench": bench,
            "mode": "single",
            "judge": self.judge_model,
            "reference_model": self.reference_model,
            "models": self.models,
            "questions": len(self.questions),
            "judgments": len(self.matches),
            "already_done": self.already_done,
            "to_make": len(self.matches) - self.already_done,
            "output": str(self.spec.path),
        }


def plan_single(
    data: DataDir,
    *,
    judge_model: str,
    reference_model: str,
    models: Sequence[str] | None,
    first_n: int | None,
    retry_unparsed: bool,
) -> SinglePlan:
    bench = data.bench
    questions = select_questions(data.questions(), first_n)
    models = list(models or data.answer_models())
    if not models:
        raise UsageError(f"no answer files in {data.answer_dir}; run `mtb generate` first")
    answers = {}
    for model in models:
        path = data.answer_path(model)
        if not path.exists():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        answers[model] = data.answers(model)
    needs_reference = any(bench.needs_reference(q.category) for q in questions)
    references = data.reference_answers(reference_model) if needs_reference else None
    reference_file = str(data.root / bench.reference_dir / f"{reference_model}.jsonl")
    gaps = find_gaps(questions, answers, references, bench, reference_file)
    matches: list[SingleMatch] = []
    if not gaps:
        prompt_file = str(data.root / bench.judge_prompt_file)
        prompt_map = PromptMap.load(bench.prompt_map)
        matches = single_matches(
            questions, answers, references, data.judge_prompts(), prompt_map, bench, prompt_file
        )
    spec = single_output(data, judge_model, retry_unparsed)
    done = done_keys(spec)
    return SinglePlan(
        judge_model=judge_model,
        reference_model=reference_model if needs_reference else None,
        models=models,
        questions=questions,
        matches=matches,
        gaps=gaps,
        spec=spec,
        already_done=sum(1 for m in matches if m.key(judge_model) in done),
    )
