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

import itertools
import time
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.data import DataDir, file_stem_safe, select_questions
from mtb.errors import DataError, MtbError, UsageError
from mtb.jobs import Completer, Job, OutputSpec, Task, all_of, done_keys, read_existing
from mtb.jsonl import iter_json_lines
from mtb.protocols import fastchat
from mtb.protocols.base import JudgeRequest, PlannedRun
from mtb.protocols.mt_bench.prompts import (
    PromptMap,
    Verdicts,
    expected_placeholders,
    placeholders,
    render_pair,
    render_single,
)
from mtb.protocols.mt_bench.records import JudgePrompt, PairJudgment, SingleJudgment, pair_key
from mtb.protocols.mt_bench.settings import MtBenchSettings
from mtb.protocols.mt_bench.verdicts import UNPARSED, parse_pair_verdict, parse_rating
from mtb.records import ModelAnswer, Question, QuestionId, sortable_id

MODES = ("single", "pairwise-baseline", "pairwise-all")


@dataclass(frozen=True)
class SingleMatch:
    question: Question
    model: str
    answer: ModelAnswer
    prompt: JudgePrompt
    turn: int
    reference: ModelAnswer | None
    sample: int = 0  # which of --samples K judgments of this item

    def key(self, judge_model: str) -> Hashable:
        return (self.model, self.question.question_id, self.turn, judge_model, self.prompt.name, self.sample)

    def item(self, judge_model: str) -> Hashable:
        """What the judgment scores, whatever its prompt: `SingleJudgment.item`."""
        return (self.model, self.question.question_id, self.turn, judge_model, self.sample)

    @property
    def label(self) -> str:
        sample = f" sample {self.sample}" if self.sample else ""
        return f"{self.model} question {self.question.question_id} turn {self.turn}{sample}"


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
        return pair_key(
            self.model_1, self.model_2, self.question.question_id, self.turn, judge_model, self.prompt.name
        )

    def item(self, judge_model: str) -> Hashable:
        """The match the judgment scores, whatever its prompt: `PairJudgment.item`."""
        return pair_key(self.model_1, self.model_2, self.question.question_id, self.turn, judge_model, "")[:5]

    @property
    def label(self) -> str:
        return f"{self.model_1} vs {self.model_2} question {self.question.question_id} turn {self.turn}"


Match = SingleMatch | PairMatch


def render_single_match(match: SingleMatch) -> list[Message]:
    return render_single(match.prompt, match.question, match.answer, match.turn, match.reference)


def render_pair_match(match: PairMatch, swapped: bool) -> list[Message]:
    """Game 1 shows model_1 as assistant A; game 2 (`swapped`) shows model_2 as A."""
    first, second = (match.answer_2, match.answer_1) if swapped else (match.answer_1, match.answer_2)
    return render_pair(match.prompt, match.question, first, second, match.turn, match.reference)


# FastChat maps each game's A/B verdict back to the models it showed in those positions.
GAME_1_WINNERS = {"A": "model_1", "B": "model_2"}
GAME_2_WINNERS = {"A": "model_2", "B": "model_1"}


def find_gaps(
    questions: Sequence[Question],
    answers: dict[str, dict[QuestionId, ModelAnswer]],
    references: dict[QuestionId, ModelAnswer] | None,
    bench: MtBenchSettings,
    reference_path: str,
    answer_paths: dict[str, Path] | None = None,
) -> list[str]:
    """Everything missing before judging can start, as readable lines (naming the file when known)."""
    gaps = []
    for model, by_question in answers.items():
        where = f"{answer_paths[model]}: " if answer_paths else ""
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
            gaps.append(f"{where}{model}: no answer to {len(missing)} question(s): {ids}{more}")
        if short:
            ids = ", ".join(str(q.question_id) for q in short[:10])
            gaps.append(f"{where}{model}: answers with too few turns for question(s): {ids}")
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


def check_template(prompt: JudgePrompt, kind: str, needs_ref: bool, turn: int) -> str | None:
    """Why `prompt` cannot be rendered for this mode and turn, or None: checked before any call."""
    expected = expected_placeholders(kind, turn, needs_ref)
    unknown = sorted(placeholders(prompt.prompt_template) - expected)
    used_for = f"{kind} judging of turn {turn}{' with a reference' if needs_ref else ''}"
    if unknown:
        return (
            f"judge prompt '{prompt.name}' has unknown placeholder(s) "
            f"{', '.join('{' + name + '}' for name in unknown)} for {used_for} "
            f"(known: {', '.join(sorted(expected))}; write {{{{ and }}}} for literal braces)"
        )
    try:
        prompt.prompt_template.format(**dict.fromkeys(expected, ""))
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return f"judge prompt '{prompt.name}' is not a valid template for {used_for} ({reason})"
    return None


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


def check_prompts(
    questions: Sequence[Question],
    prompts: dict[str, JudgePrompt],
    lines: dict[str, int],
    prompt_map: PromptMap,
    bench: MtBenchSettings,
    kind: str,
    prompt_file: str,
) -> None:
    """Every template the run will fill, filled once with blanks: a bad one is `file:line` before any call."""
    uses = {
        (bench.needs_reference(q.category), turn) for q in questions for turn in range(1, len(q.turns) + 1)
    }
    for needs_ref, turn in sorted(uses):
        prompt = _prompt(prompts, prompt_map, kind, needs_ref, turn, prompt_file)
        problem = check_template(prompt, kind, needs_ref, turn)
        if problem is not None:
            raise DataError(prompt_file, problem, lines.get(prompt.name))


def single_matches(
    questions: Sequence[Question],
    answers: dict[str, dict[QuestionId, ModelAnswer]],
    references: dict[QuestionId, ModelAnswer] | None,
    prompts: dict[str, JudgePrompt],
    prompt_map: PromptMap,
    bench: MtBenchSettings,
    prompt_file: str,
    samples: int = 1,
) -> list[SingleMatch]:
    matches = []
    for question in questions:
        needs_ref = bench.needs_reference(question.category)
        for model, by_question in answers.items():
            for turn in range(1, len(question.turns) + 1):
                for sample in range(samples):
                    matches.append(
                        SingleMatch(
                            question=question,
                            model=model,
                            answer=by_question[question.question_id],
                            prompt=_prompt(prompts, prompt_map, "single", needs_ref, turn, prompt_file),
                            turn=turn,
                            reference=references[question.question_id] if needs_ref and references else None,
                            sample=sample,
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
    bench: MtBenchSettings,
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
    caller: Completer, match: SingleMatch, judge_model: str, params: SamplingParams, verdicts: Verdicts
) -> dict[str, Any]:
    messages = render_single_match(match)
    completion = await caller.complete(messages, params)
    return SingleJudgment(
        question_id=match.question.question_id,
        model=match.model,
        judge=(judge_model, match.prompt.name),
        user_prompt=messages[-1]["content"],
        judgment=completion.text,
        score=parse_rating(completion.text, verdicts),
        turn=match.turn,
        tstamp=time.time(),
        sample=match.sample,
    ).to_json()


async def judge_pair(
    caller: Completer, match: PairMatch, judge_model: str, params: SamplingParams, verdicts: Verdicts
) -> dict[str, Any]:
    game_1, game_2 = render_pair_match(match, swapped=False), render_pair_match(match, swapped=True)
    # Both games are independent requests; the endpoint's bound still applies to each.
    verdict_1, verdict_2 = await all_of(caller.complete(game_1, params), caller.complete(game_2, params))
    winner_1 = parse_pair_verdict(verdict_1.text, verdicts)
    winner_2 = parse_pair_verdict(verdict_2.text, verdicts)
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


def single_judgment_path(data: DataDir, judge: str) -> Path:
    return data.judgment_dir / f"{file_stem_safe(judge)}_single.jsonl"


def pair_judgment_path(data: DataDir, judge: str) -> Path:
    return data.judgment_dir / f"{file_stem_safe(judge)}_pair.jsonl"


def single_output(data: DataDir, judge_model: str, retry_unparsed: bool) -> OutputSpec:
    return OutputSpec(
        path=single_judgment_path(data, judge_model),
        parse=SingleJudgment.from_json,
        key=lambda r: (r["model"], r["question_id"], r["turn"], *r["judge"], r.get("sample", 0)),
        sort_key=lambda r: (r["model"], sortable_id(r["question_id"]), r["turn"], r.get("sample", 0)),
        is_done=(lambda r: r["score"] != UNPARSED) if retry_unparsed else (lambda r: True),
        unparsed=lambda r: r["score"] == UNPARSED,
    )


def pair_output(data: DataDir, judge_model: str, retry_unparsed: bool) -> OutputSpec:
    def parsed(record: dict[str, Any]) -> bool:
        return "error" not in (record["g1_winner"], record["g2_winner"])

    return OutputSpec(
        path=pair_judgment_path(data, judge_model),
        parse=PairJudgment.from_json,
        key=lambda r: pair_key(r["model_1"], r["model_2"], r["question_id"], r["turn"], *r["judge"]),
        sort_key=lambda r: (r["model_1"], r["model_2"], sortable_id(r["question_id"]), r["turn"]),
        is_done=parsed if retry_unparsed else (lambda r: True),
        unparsed=lambda r: not parsed(r),
    )


def judged_items(spec: OutputSpec, records: Sequence[dict[str, Any]], single: bool) -> dict[Hashable, str]:
    """The items an output already holds, done whatever prompt they were judged under, with the
    prompt of each one's last line: what `mtb results` counts (one judgment per item, the last
    line wins). With --retry-unparsed an item whose last line names no score is not done."""
    parse = SingleJudgment.from_json if single else PairJudgment.from_json
    last: dict[Hashable, tuple[str, bool]] = {}
    for record in records:
        judgment = parse(record)
        last[judgment.item] = (judgment.judge[1], spec.is_done(record))
    return {item: prompt for item, (prompt, done) in last.items() if done}


def judge_tasks(
    matches: Sequence[Match],
    done: set[Hashable],
    caller: Completer,
    judge_model: str,
    params: SamplingParams,
    verdicts: Verdicts,
    done_items: Mapping[Hashable, str] | None = None,
) -> list[Task]:
    def make(match: Match) -> Task:
        if isinstance(match, SingleMatch):
            return Task(
                match.key(judge_model),
                match.label,
                lambda: judge_single(caller, match, judge_model, params, verdicts),
            )
        return Task(
            match.key(judge_model),
            match.label,
            lambda: judge_pair(caller, match, judge_model, params, verdicts),
        )

    items = done_items or {}
    return [make(m) for m in matches if m.key(judge_model) not in done and m.item(judge_model) not in items]


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
    done: frozenset[Hashable] = frozenset()  # keys of the matches already in the output
    samples: int = 1
    # The items already in the output, whatever prompt they were judged under (`judged_items`),
    # with the prompt of each one's last line.
    done_items: Mapping[Hashable, str] = field(default_factory=dict)

    def is_done(self, match: Match) -> bool:
        return match.item(self.judge_model) in self.done_items

    def done_under_another_prompt(self) -> list[Match]:
        """Matches done under a prompt other than the one this plan gives them (a changed prompt map)."""
        return [
            m
            for m in self.matches
            if self.done_items.get(m.item(self.judge_model), m.prompt.name) != m.prompt.name
        ]

    def summary(self, bench: str) -> dict[str, Any]:
        calls_per_match = 1 if self.mode == "single" else 2
        samples = {"samples": self.samples} if self.samples > 1 else {}
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
            **samples,
            **self._other_prompts(),
        }

    def _other_prompts(self) -> dict[str, Any]:
        other = self.done_under_another_prompt()
        if not other:
            return {}
        first = other[0]
        was = self.done_items[first.item(self.judge_model)]
        return {
            "done_under_another_prompt": len(other),
            "prompt_note": (
                f"{len(other)} judgment(s) made under another prompt name count as done, as `mtb results` "
                f"counts them (e.g. {first.label}: {was}, now {first.prompt.name}); to judge them under "
                f"the new prompt, move {self.spec.path} aside first"
            ),
        }

    def prompt_hashes(self) -> dict[str, str]:
        """Each judge prompt this plan uses, by name: the sha256 of its system prompt and template."""
        from mtb.provenance import sha256_text

        used = {m.prompt.name: m.prompt for m in self.matches}
        return {
            name: sha256_text(prompt.system_prompt + "\0" + prompt.prompt_template)
            for name, prompt in sorted(used.items())
        }


def judge_prompts(data: DataDir, settings: MtBenchSettings) -> dict[str, JudgePrompt]:
    return judge_prompts_with_lines(data, settings)[0]


def judge_prompts_with_lines(
    data: DataDir, settings: MtBenchSettings
) -> tuple[dict[str, JudgePrompt], dict[str, int]]:
    """The judge prompts by name, and the line each was read from (the later line wins)."""
    path = data.required(settings.judge_prompt_file)
    prompts: dict[str, JudgePrompt] = {}
    lines: dict[str, int] = {}
    for number, obj in iter_json_lines(path):
        try:
            prompt = JudgePrompt.from_json(obj)
        except ValueError as exc:
            raise DataError(path, str(exc), number) from None
        prompts[prompt.name] = prompt
        lines[prompt.name] = number
    return prompts, lines


def reference_path(data: DataDir, settings: MtBenchSettings, reference_model: str) -> Path:
    return data.root / (settings.reference_dir or "") / f"{file_stem_safe(reference_model)}.jsonl"


def reference_answers(
    data: DataDir, settings: MtBenchSettings, reference_model: str
) -> dict[QuestionId, ModelAnswer]:
    path = reference_path(data, settings, reference_model)
    if not path.exists():
        raise DataError(
            path,
            f"no reference answers from '{reference_model}'; pass --reference-model "
            f"with the name of a file in {path.parent}, or {data.how_to_provide()}",
        )
    return fastchat.read_answers(path)


def plan_judging(data: DataDir, request: JudgeRequest) -> JudgePlan:
    settings: MtBenchSettings = data.bench.settings
    mode = request.mode or "single"
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}' (known: {', '.join(MODES)})")
    if request.category is not None:
        raise UsageError(f"--category applies to Arena-Hard v2.0, not {data.bench.name}")
    if request.samples < 1:
        raise UsageError(f"--samples must be 1 or more, not {request.samples}")
    if request.samples > 1 and mode != "single":
        raise UsageError("--samples applies to single grading (--mode single)")
    judge_model = request.judge_model or data.bench.default_judge
    reference_model = request.reference_model or settings.default_reference_model
    baseline_model = request.baseline_model or data.bench.default_baseline
    questions = select_questions(data.questions(), request.first_n, request.only_questions)
    models = list(request.models or data.answer_models())
    if mode == "pairwise-baseline":
        if baseline_model is None:
            raise UsageError("pairwise-baseline needs --baseline-model")
        models = [m for m in models if m != baseline_model]
        needed = [*models, baseline_model]
        pairs = [(m, baseline_model) for m in models]
    elif mode == "pairwise-all":
        # One order per pair, whatever the order of --model-list: `a b` and `b a` plan the same matches.
        needed = models
        pairs = list(itertools.combinations(sorted(set(models)), 2))
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
    needs_reference = any(settings.needs_reference(q.category) for q in questions)
    references = reference_answers(data, settings, reference_model) if needs_reference else None
    reference_file = str(reference_path(data, settings, reference_model))
    gaps = find_gaps(
        questions, answers, references, settings, reference_file, {m: data.answer_path(m) for m in answers}
    )
    matches: Sequence[Match] = []
    if not gaps:
        prompt_file = str(data.root / settings.judge_prompt_file)
        prompts, lines = judge_prompts_with_lines(data, settings)
        kind = "single" if mode == "single" else "pairwise"
        check_prompts(questions, prompts, lines, settings.prompt_map, settings, kind, prompt_file)
        if mode == "single":
            matches = single_matches(
                questions,
                answers,
                references,
                prompts,
                settings.prompt_map,
                settings,
                prompt_file,
                request.samples,
            )
        else:
            matches = pair_matches(
                questions, answers, pairs, references, prompts, settings.prompt_map, settings, prompt_file
            )
    spec = (single_output if mode == "single" else pair_output)(data, judge_model, request.retry_unparsed)
    existing = read_existing(spec)
    done = done_keys(spec, existing)
    # An item judged under another prompt name is done (docs/reliability.md, "One meaning per flag").
    done_items = judged_items(spec, existing, single=mode == "single")
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
        already_done=sum(1 for m in matches if m.item(judge_model) in done_items),
        done=frozenset(done),
        samples=request.samples,
        done_items=done_items,
    )


# Reply lengths to assume when no judgment file holds any yet: a GPT-4 single-grading verdict is
# a paragraph or two and the rating; a pairwise one compares both answers first.
DEFAULT_OUTPUT_TOKENS = {"single": 200, "pairwise": 250}


def request_messages(plan: JudgePlan) -> Iterator[list[Message]]:
    """The messages of every judge request the plan still has to send."""
    for match in plan.matches:
        if plan.is_done(match):
            continue
        if isinstance(match, SingleMatch):
            yield render_single_match(match)
        else:
            yield render_pair_match(match, swapped=False)
            yield render_pair_match(match, swapped=True)


def past_judgments(plan: JudgePlan) -> Iterator[str]:
    """This judge model's replies already on disk, in its own file of the mode.

    Only its own: another judge's replies (a fake judge's 13-token smoke run) put
    GPT-4's estimate 43% low, labelled as this judge's history.
    """
    single = plan.mode == "single"
    path = plan.spec.path
    if not path.is_file():
        return
    try:
        for _, obj in iter_json_lines(path):
            judge = obj.get("judge")
            if isinstance(judge, list) and judge and judge[0] != plan.judge_model:
                continue  # judge names differing only by '/' share a file
            for name in ("judgment",) if single else ("g1_judgment", "g2_judgment"):
                text = obj.get(name)
                if isinstance(text, str) and text:
                    yield text
    except MtbError:
        return  # an unreadable file is the results command's to report; the estimate does without it


def planned_run(plan: JudgePlan, data: DataDir) -> PlannedRun:
    settings: MtBenchSettings = data.bench.settings
    params = SamplingParams(temperature=settings.judge_temperature, max_tokens=settings.judge_max_tokens)
    verdicts = settings.prompt_map.verdicts

    return PlannedRun(
        summary=plan.summary(data.bench.name),
        gaps=plan.gaps,
        gaps_are_fatal=True,
        output=plan.spec.path,
        params=params,
        make_jobs=lambda caller: [
            Job(
                plan.spec,
                lambda done: judge_tasks(
                    plan.matches, done, caller, plan.judge_model, params, verdicts, plan.done_items
                ),
            )
        ],
        judge_model=plan.judge_model,
        requests=lambda: request_messages(plan),
        past_outputs=lambda: past_judgments(plan),
        default_output_tokens=DEFAULT_OUTPUT_TOKENS["single" if plan.mode == "single" else "pairwise"],
        provenance={
            "mode": plan.mode,
            "prompts": plan.prompt_hashes(),
            "reference_model": plan.reference_model,
            "baseline_model": plan.baseline_model,
            "samples": plan.samples,
        },
    )
