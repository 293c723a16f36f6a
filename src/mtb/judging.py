"""MT-bench judging with FastChat's semantics (fastchat/llm_judge/gen_judgment.py).

Three modes:
    single              a 1-10 rating per (question, model, turn)
    pairwise-baseline   each model against a baseline, per (question, turn)
    pairwise-all        every pair of the listed models, per (question, turn)

The judge gets a system and a user message byte-identical to FastChat's: the
prompt is chosen by mode, category and turn from `prompts/<map>.toml`, and
questions in reference categories get the reference model's answers. A
pairwise match is played twice, with the answers' positions swapped.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.benchmarks import Benchmark, PromptMap
from mtb.data import DataDir, select_questions
from mtb.engine import Caller, Job, OutputSpec, PlannedRun, Task, done_keys
from mtb.errors import DataError, UsageError
from mtb.records import (
    JudgePrompt,
    ModelAnswer,
    PairJudgment,
    Question,
    QuestionId,
    SingleJudgment,
    sortable_id,
)
from mtb.verdicts import UNPARSED, parse_pair_verdict, parse_rating

MODES = ("single", "pairwise-baseline", "pairwise-all")


@dataclass(frozen=True)
class SingleMatch:
    question: Question
    model: str
    answer: ModelAnswer
    prompt: JudgePrompt
    turn: int
    reference: ModelAnswer | None

    def key(self, judge_model: str) -> Hashable:
        return (self.model, self.question.question_id, self.turn, judge_model, self.prompt.name)

    @property
    def label(self) -> str:
        return f"{self.model} question {self.question.question_id} turn {self.turn}"


@dataclass(frozen=True)
class PairMatch:
    question: Question
    model_1: str
    model_2: str
    answer_1: ModelAnswer
    answer_2: ModelAnswer
    prompt: JudgePrompt
    turn: int
    reference: ModelAnswer | None

    def key(self, judge_model: str) -> Hashable:
        return (
            self.model_1,
            self.model_2,
            self.question.question_id,
            self.turn,
            judge_model,
            self.prompt.name,
        )

    @property
    def label(self) -> str:
        return f"{self.model_1} vs {self.model_2} question {self.question.question_id} turn {self.turn}"


Match = SingleMatch | PairMatch


def _messages(prompt: JudgePrompt, values: dict[str, str]) -> list[Message]:
    user_prompt = prompt.prompt_template.format(**values)
    messages: list[Message] = []
    # FastChat's chatgpt conversation template drops an empty system message.
    if prompt.system_prompt:
        messages.append({"role": "system", "content": prompt.system_prompt})
    messages.append({"role": "user", "content": user_prompt})
    return messages


def _reference_values(reference: ModelAnswer | None, turn: int) -> dict[str, str]:
    if reference is None:
        return {}
    turns = reference.choices[0].turns
    values = {"ref_answer_1": turns[0]}
    if turn == 2:
        values["ref_answer_2"] = turns[1]
    return values


def render_single(match: SingleMatch) -> list[Message]:
    """The judge's messages, as FastChat's run_judge_single builds them."""
    answer = match.answer.choices[0].turns
    question = match.question.turns
    values = _reference_values(match.reference, match.turn)
    if match.turn == 1:
        values.update(question=question[0], answer=answer[0])
    else:
        values.update(question_1=question[0], question_2=question[1], answer_1=answer[0], answer_2=answer[1])
    return _messages(match.prompt, values)


def render_pair(match: PairMatch, swapped: bool) -> list[Message]:
    """The messages of one game, as FastChat's run_judge_pair builds them.

    Game 1 shows model_1 as assistant A; game 2 (`swapped`) shows model_2 as A.
    """
    first, second = (match.answer_2, match.answer_1) if swapped else (match.answer_1, match.answer_2)
    a, b = first.choices[0].turns, second.choices[0].turns
    question = match.question.turns
    values = _reference_values(match.reference, match.turn)
    if match.turn == 1:
        values.update(question=question[0], answer_a=a[0], answer_b=b[0])
    else:
        values.update(
            question_1=question[0],
            question_2=question[1],
            answer_a_1=a[0],
            answer_b_1=b[0],
            answer_a_2=a[1],
            answer_b_2=b[1],
        )
    return _messages(match.prompt, values)


# FastChat maps each game's A/B verdict back to the models it showed in those positions.
GAME_1_WINNERS = {"A": "model_1", "B": "model_2"}
GAME_2_WINNERS = {"A": "model_2", "B": "model_1"}


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


def _prompt(
    prompts: dict[str, JudgePrompt],
    prompt_map: PromptMap,
    kind: str,
    needs_ref: bool,
    turn: int,
    prompt_file: str,
) -> JudgePrompt:
    name = prompt_map.prompt_name(kind, needs_ref, turn)
    if name not in prompts:
        raise DataError(prompt_file, f"no judge prompt named '{name}'")
    return prompts[name]


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
        needs_ref = bench.needs_reference(question.category)
        for model, by_question in answers.items():
            for turn in range(1, len(question.turns) + 1):
                matches.append(
                    SingleMatch(
                        question=question,
                        model=model,
                        answer=by_question[question.question_id],
                        prompt=_prompt(prompts, prompt_map, "single", needs_ref, turn, prompt_file),
                        turn=turn,
                        reference=references[question.question_id] if needs_ref and references else None,
                    )
                )
    return matches


def pair_matches(
    questions: Sequence[Question],
    answers: dict[str, dict[QuestionId, ModelAnswer]],
    pairs: Sequence[tuple[str, str]],
    references: dict[QuestionId, ModelAnswer] | None,
    prompts: dict[str, JudgePrompt],
    prompt_map: PromptMap,
    bench: Benchmark,
    prompt_file: str,
) -> list[PairMatch]:
    matches = []
    for question in questions:
        needs_ref = bench.needs_reference(question.category)
        qid = question.question_id
        for model_1, model_2 in pairs:
            for turn in range(1, len(question.turns) + 1):
                matches.append(
                    PairMatch(
                        question=question,
                        model_1=model_1,
                        model_2=model_2,
                        answer_1=answers[model_1][qid],
                        answer_2=answers[model_2][qid],
                        prompt=_prompt(prompts, prompt_map, "pairwise", needs_ref, turn, prompt_file),
                        turn=turn,
                        reference=references[qid] if needs_ref and references else None,
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


async def judge_pair(
    caller: Caller, match: PairMatch, judge_model: str, params: SamplingParams
) -> dict[str, Any]:
    game_1, game_2 = render_pair(match, swapped=False), render_pair(match, swapped=True)
    # Both games are independent requests; the endpoint's bound still applies to each.
    verdict_1, verdict_2 = await asyncio.gather(
        caller.complete(game_1, params), caller.complete(game_2, params)
    )
    winner_1 = parse_pair_verdict(verdict_1.text)
    winner_2 = parse_pair_verdict(verdict_2.text)
    return PairJudgment(
        question_id=match.question.question_id,
        model_1=match.model_1,
        model_2=match.model_2,
        g1_winner=GAME_1_WINNERS.get(winner_1, winner_1),
        g2_winner=GAME_2_WINNERS.get(winner_2, winner_2),
        judge=(judge_model, match.prompt.name),
        g1_user_prompt=game_1[-1]["content"],
        g1_judgment=verdict_1.text,
        g2_user_prompt=game_2[-1]["content"],
        g2_judgment=verdict_2.text,
        turn=match.turn,
        tstamp=time.time(),
    ).to_json()


def single_output(data: DataDir, judge_model: str, retry_unparsed: bool) -> OutputSpec:
    return OutputSpec(
        path=data.single_judgment_path(judge_model),
        parse=SingleJudgment.from_json,
        key=lambda r: (r["model"], r["question_id"], r["turn"], *r["judge"]),
        sort_key=lambda r: (r["model"], sortable_id(r["question_id"]), r["turn"]),
        is_done=(lambda r: r["score"] != UNPARSED) if retry_unparsed else (lambda r: True),
    )


def pair_output(data: DataDir, judge_model: str, retry_unparsed: bool) -> OutputSpec:
    def parsed(record: dict[str, Any]) -> bool:
        return "error" not in (record["g1_winner"], record["g2_winner"])

    return OutputSpec(
        path=data.pair_judgment_path(judge_model),
        parse=PairJudgment.from_json,
        key=lambda r: (r["model_1"], r["model_2"], r["question_id"], r["turn"], *r["judge"]),
        sort_key=lambda r: (r["model_1"], r["model_2"], sortable_id(r["question_id"]), r["turn"]),
        is_done=parsed if retry_unparsed else (lambda r: True),
    )


def judge_tasks(
    matches: Sequence[Match], done: set[Hashable], caller: Caller, judge_model: str, params: SamplingParams
) -> list[Task]:
    def make(match: Match) -> Task:
        if isinstance(match, SingleMatch):
            return Task(
                match.key(judge_model), match.label, lambda: judge_single(caller, match, judge_model, params)
            )
        return Task(
            match.key(judge_model), match.label, lambda: judge_pair(caller, match, judge_model, params)
        )

    return [make(m) for m in matches if m.key(judge_model) not in done]


@dataclass(frozen=True)
class JudgePlan:
    """Everything `mtb judge` will do, worked out before any call."""

    mode: str
    judge_model: str
    reference_model: str | None  # None when no selected question needs references
    baseline_model: str | None
    models: list[str]
    questions: list[Question]
    matches: Sequence[Match]
    gaps: list[str]
    spec: OutputSpec
    already_done: int

    def summary(self, bench: str) -> dict[str, Any]:
        calls_per_match = 1 if self.mode == "single" else 2
        return {
            "bench": bench,
            "mode": self.mode,
            "judge": self.judge_model,
            "baseline": self.baseline_model,
            "reference_model": self.reference_model,
            "models": self.models,
            "questions": len(self.questions),
            "judgments": len(self.matches),
            "already_done": self.already_done,
            "to_make": len(self.matches) - self.already_done,
            "judge_calls": (len(self.matches) - self.already_done) * calls_per_match,
            "output": str(self.spec.path),
        }


def plan_judging(
    data: DataDir,
    *,
    mode: str,
    judge_model: str,
    reference_model: str,
    models: Sequence[str] | None,
    baseline_model: str | None = None,
    first_n: int | None = None,
    retry_unparsed: bool = False,
) -> JudgePlan:
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}' (known: {', '.join(MODES)})")
    bench = data.bench
    questions = select_questions(data.questions(), first_n)
    models = list(models or data.answer_models())
    if mode == "pairwise-baseline":
        if baseline_model is None:
            raise UsageError("pairwise-baseline needs --baseline-model")
        models = [m for m in models if m != baseline_model]
        needed = [*models, baseline_model]
        pairs = [(m, baseline_model) for m in models]
    elif mode == "pairwise-all":
        needed = models
        pairs = list(itertools.combinations(models, 2))
        if not pairs:
            raise UsageError("pairwise-all needs at least two models in --model-list")
    else:
        needed, pairs = models, []
    if not models:
        raise UsageError(
            f"no models to judge: no answer files in {data.answer_dir}; run `mtb generate` first"
        )
    answers = {}
    for model in needed:
        path = data.answer_path(model)
        if not path.exists():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        answers[model] = data.answers(model)
    needs_reference = any(bench.needs_reference(q.category) for q in questions)
    references = data.reference_answers(reference_model) if needs_reference else None
    reference_file = str(data.root / bench.reference_dir / f"{reference_model}.jsonl")
    gaps = find_gaps(questions, answers, references, bench, reference_file)
    matches: Sequence[Match] = []
    if not gaps:
        prompt_file = str(data.root / bench.judge_prompt_file)
        prompt_map = PromptMap.load(bench.prompt_map)
        prompts = data.judge_prompts()
        if mode == "single":
            matches = single_matches(questions, answers, references, prompts, prompt_map, bench, prompt_file)
        else:
            matches = pair_matches(
                questions, answers, pairs, references, prompts, prompt_map, bench, prompt_file
            )
    spec = (single_output if mode == "single" else pair_output)(data, judge_model, retry_unparsed)
    done = done_keys(spec)
    return JudgePlan(
        mode=mode,
        judge_model=judge_model,
        reference_model=reference_model if needs_reference else None,
        baseline_model=baseline_model if mode == "pairwise-baseline" else None,
        models=models,
        questions=questions,
        matches=matches,
        gaps=gaps,
        spec=spec,
        already_done=sum(1 for m in matches if m.key(judge_model) in done),
    )


def planned_run(plan: JudgePlan, bench: Benchmark) -> PlannedRun:
    params = SamplingParams(temperature=bench.judge_temperature, max_tokens=bench.judge_max_tokens)

    def count_unparsed() -> int:
        from mtb.results import count_unparsed

        return count_unparsed(plan.spec.path, plan.mode) if plan.spec.path.exists() else 0

    return PlannedRun(
        summary=plan.summary(bench.name),
        gaps=plan.gaps,
        gaps_are_fatal=True,
        output=plan.spec.path,
        params=params,
        make_jobs=lambda caller: [
            Job(plan.spec, lambda done: judge_tasks(plan.matches, done, caller, plan.judge_model, params))
        ],
        count_unparsed=count_unparsed,
    )
