"""Arena-Hard-Auto v2.0 judging (lmarena/arena-hard-auto at 196f6b8, gen_judgment.py).

Each answer meets its category's baseline (JUDGE_SETTINGS) in two games: game 1
shows the baseline as assistant A, game 2 the model. The system prompt is the
category's; the user message is the config's prompt_template. A game's verdict
is the last match of the first verdict pattern that matches the upper-cased
judgment; a judgment without one keeps a null score (no second request, as
upstream). Records go to model_judgment/<judge>/<model>.jsonl.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.data import DataDir, file_stem_safe
from mtb.errors import UsageError
from mtb.jobs import Completer, Job, OutputSpec, Task, all_of, done_keys
from mtb.protocols.arena_hard.judging import missing_line, past_judgments
from mtb.protocols.arena_hard_v2.records import answer_text, is_scored, parse_judgment
from mtb.protocols.arena_hard_v2.settings import CategorySetting, JudgeConfig
from mtb.protocols.base import PlannedRun
from mtb.provenance import sha256_text
from mtb.records import ModelAnswer, Question, QuestionId, sortable_id


@dataclass(frozen=True)
class Match:
    question: Question
    model: str
    answer: ModelAnswer
    baseline: ModelAnswer
    setting: CategorySetting

    @property
    def label(self) -> str:
        return f"{self.model} question {self.question.question_id}"


def game_messages(
    config: JudgeConfig, setting: CategorySetting, question: Question, first: ModelAnswer, second: ModelAnswer
) -> list[Message]:
    """The judge's messages with `first` as assistant A."""
    user = config.user_prompt(question.turns[0], answer_text(first), answer_text(second))
    return [{"role": "system", "content": setting.system_prompt}, {"role": "user", "content": user}]


async def play_game(
    caller: Completer, config: JudgeConfig, messages: list[Message], params: SamplingParams
) -> dict[str, Any]:
    text = (await caller.complete(messages, params)).text
    return {"score": config.verdict(text), "judgment": {"answer": text}, "prompt": messages}


async def judge_match(
    caller: Completer, match: Match, config: JudgeConfig, judge_model: str, params: SamplingParams
) -> dict[str, Any]:
    game_1 = game_messages(config, match.setting, match.question, match.baseline, match.answer)
    game_2 = game_messages(config, match.setting, match.question, match.answer, match.baseline)
    games = await all_of(*(play_game(caller, config, g, params) for g in (game_1, game_2)))
    return {
        "uid": match.question.question_id,
        "category": match.question.category,
        "judge": judge_model,
        "model": match.model,
        "baseline": match.setting.baseline,
        "games": list(games),
    }


def judgment_path(data: DataDir, judge_model: str, model: str) -> Path:
    return data.judgment_dir / file_stem_safe(judge_model) / f"{file_stem_safe(model)}.jsonl"


def judgment_output(path: Path, retry_unparsed: bool) -> OutputSpec:
    return OutputSpec(
        path=path,
        parse=parse_judgment,
        key=lambda r: r["uid"],
        sort_key=lambda r: sortable_id(r["uid"]),
        is_done=is_scored if retry_unparsed else (lambda r: True),
        unparsed=lambda r: not is_scored(r),
    )


@dataclass(frozen=True)
class Plan:
    judge_model: str
    categories: dict[str, CategorySetting]  # the categories judged
    models: list[str]
    questions: list[Question]
    matches: dict[str, list[Match]]  # per model
    specs: dict[str, OutputSpec]
    gaps: list[str]
    done: dict[str, frozenset[Hashable]]  # per model, the question ids its output file already holds

    @property
    def already_done(self) -> int:
        return sum(
            1
            for model, matches in self.matches.items()
            for m in matches
            if m.question.question_id in self.done[model]
        )

    def summary(self, bench: str, output: Path) -> dict[str, Any]:
        total = sum(len(m) for m in self.matches.values())
        return {
            "bench": bench,
            "mode": "pairwise-baseline",
            "judge": self.judge_model,
            "baselines": {c: s.baseline for c, s in self.categories.items()},
            "models": self.models,
            "questions": len(self.questions),
            "judgments": total,
            "already_done": self.already_done,
            "to_make": total - self.already_done,
            "judge_calls": 2 * (total - self.already_done),
            "output": str(output),
        }

    def jobs(self, caller: Completer, config: JudgeConfig, params: SamplingParams) -> list[Job]:
        def task(match: Match) -> Task:
            return Task(
                match.question.question_id,
                match.label,
                lambda: judge_match(caller, match, config, self.judge_model, params),
            )

        def tasks_for(model: str) -> Any:
            def make(done: set[Hashable]) -> list[Task]:
                return [task(m) for m in self.matches[model] if m.question.question_id not in done]

            return make

        return [Job(self.specs[model], tasks_for(model)) for model in self.models if self.matches[model]]


def plan_judging(
    data: DataDir,
    *,
    config: JudgeConfig,
    judge_settings: dict[str, CategorySetting],
    judge_model: str,
    category: str | None,
    models: list[str] | None,
    first_n: int | None,
    retry_unparsed: bool,
) -> Plan:
    questions = data.questions()
    known = list(dict.fromkeys(q.category for q in questions))
    if category is not None and category not in known:
        raise UsageError(f"unknown category '{category}' (known: {', '.join(known)})")
    gaps: list[str] = []
    categories: dict[str, CategorySetting] = {}
    for name in [category] if category else known:
        setting = judge_settings.get(name)
        if setting is None:
            gaps.append(f"{name}: JUDGE_SETTINGS in utils/judge_utils.py names no baseline for it")
            continue
        path = data.answer_path(setting.baseline)
        if not path.exists():
            gaps.append(
                f"{name}: the baseline's answers ({setting.baseline}) are not at {path}; "
                f"category {name} is not judged"
            )
            continue
        categories[name] = setting
    chosen_questions = [q for q in questions if q.category in categories]
    if first_n is not None:
        chosen_questions = chosen_questions[:first_n]
    baselines = {s.baseline for s in categories.values()}
    listed = models or [m for m in data.answer_models() if m not in baselines]
    if not listed:
        raise UsageError("no models to judge against the baselines; list them with --model-list")
    answers: dict[str, dict[QuestionId, ModelAnswer]] = {}
    for model in [*listed, *sorted(baselines)]:
        path = data.answer_path(model)
        if not path.exists():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        answers[model] = data.answers(model)
    for baseline in sorted(baselines):
        missing = [
            q.question_id
            for q in chosen_questions
            if categories[q.category].baseline == baseline and q.question_id not in answers[baseline]
        ]
        if missing:
            gaps.append(missing_line(baseline, missing, "baseline answer"))
    matches: dict[str, list[Match]] = {}
    specs: dict[str, OutputSpec] = {}
    done: dict[str, frozenset[Hashable]] = {}
    for model in listed:
        own = [q for q in chosen_questions if categories[q.category].baseline != model]
        missing = [q.question_id for q in own if q.question_id not in answers[model]]
        if missing:
            gaps.append(missing_line(model, missing, "answer"))
        matches[model] = [
            Match(
                q,
                model,
                answers[model][q.question_id],
                answers[categories[q.category].baseline][q.question_id],
                categories[q.category],
            )
            for q in own
            if q.question_id in answers[model] and q.question_id in answers[categories[q.category].baseline]
        ]
        specs[model] = judgment_output(judgment_path(data, judge_model, model), retry_unparsed)
        done[model] = frozenset(done_keys(specs[model]))
    return Plan(judge_model, categories, listed, chosen_questions, matches, specs, gaps, done)


# The reply length to assume when no judgment holds any yet (the judge writes its own answer first).
DEFAULT_OUTPUT_TOKENS = 800


def request_messages(plan: Plan, config: JudgeConfig) -> Iterator[list[Message]]:
    """Both games' requests for every match still to judge."""
    for model in plan.models:
        for match in plan.matches[model]:
            if match.question.question_id in plan.done[model]:
                continue
            yield game_messages(config, match.setting, match.question, match.baseline, match.answer)
            yield game_messages(config, match.setting, match.question, match.answer, match.baseline)


def planned_run(plan: Plan, config: JudgeConfig, bench: str, data: DataDir) -> PlannedRun:
    params = SamplingParams(temperature=config.temperature, max_tokens=config.max_tokens)
    output = data.judgment_dir / file_stem_safe(plan.judge_model)

    return PlannedRun(
        summary=plan.summary(bench, output),
        gaps=plan.gaps,
        # Upstream judges what exists; only a run with no category left to judge stops.
        gaps_are_fatal=not plan.categories,
        output=output,
        params=params,
        make_jobs=lambda caller: plan.jobs(caller, config, params),
        judge_model=plan.judge_model,
        requests=lambda: request_messages(plan, config),
        # v2 keeps a game's text in `judgment.answer`.
        past_outputs=lambda: past_judgments(
            output, lambda judgment: judgment.get("answer") if isinstance(judgment, dict) else None
        ),
        default_output_tokens=DEFAULT_OUTPUT_TOKENS,
        provenance={
            "baseline_model": {name: c.baseline for name, c in sorted(plan.categories.items())},
            "prompts": {
                "prompt_template": sha256_text(config.prompt_template),
                **{
                    f"system_prompt_{name}": sha256_text(c.system_prompt)
                    for name, c in plan.categories.items()
                },
            },
        },
    )
