"""Arena-Hard-Auto v2.0 judging (lmarena/arena-hard-auto at 196f6b8, gen_judgment.py).

Each answer meets its category's baseline (JUDGE_SETTINGS) in two games: game 1
shows the baseline as assistant A, game 2 the model. The system prompt is the
category's; the user message is the config's prompt_template. A game's verdict
is the last match of the first verdict pattern that matches the upper-cased
judgment; a judgment without one keeps a null score (no second request, as
upstream). Records go to model_judgment/<judge>/<model>.jsonl.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.data import DataDir, file_stem_safe
from mtb.errors import UsageError
from mtb.jobs import Completer, Job, OutputSpec, all_of
from mtb.protocols.arena_hard.judging import (
    BaselineMatch,
    BaselinePlan,
    judgment_files,
    missing_line,
    past_judgments,
)
from mtb.protocols.arena_hard.judging import judgment_output as v0_1_judgment_output
from mtb.protocols.arena_hard_v2.records import answer_text, is_scored, parse_judgment
from mtb.protocols.arena_hard_v2.settings import CategorySetting, JudgeConfig
from mtb.protocols.base import PlannedRun
from mtb.provenance import sha256_text
from mtb.records import ModelAnswer, Question, QuestionId


@dataclass(frozen=True)
class Match(BaselineMatch):
    setting: CategorySetting  # the answer's category: its baseline and system prompt

    def games(self, config: JudgeConfig) -> tuple[list[Message], list[Message]]:
        """Both games' messages: game 1 shows the baseline as A, game 2 the model."""
        return (
            game_messages(config, self.setting, self.question, self.baseline, self.answer),
            game_messages(config, self.setting, self.question, self.answer, self.baseline),
        )


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
    games = await all_of(*(play_game(caller, config, g, params) for g in match.games(config)))
    return {
        "uid": match.question.question_id,
        "category": match.question.category,
        "judge": judge_model,
        "model": match.model,
        "baseline": match.setting.baseline,
        "games": list(games),
    }


def judgment_output(path: Path, retry_unparsed: bool) -> OutputSpec:
    """v0.1's judgment file, with v2.0's key and record rules."""
    return v0_1_judgment_output(path, retry_unparsed, id_field="uid", parse=parse_judgment, scored=is_scored)


@dataclass(frozen=True)
class Plan(BaselinePlan[Match]):
    categories: dict[str, CategorySetting]  # the categories judged

    def summary(self, bench: str, output: Path) -> dict[str, Any]:
        baselines = {c: s.baseline for c, s in self.categories.items()}
        return self.summary_with(bench, {"baselines": baselines}, str(output))

    def jobs(self, caller: Completer, config: JudgeConfig, params: SamplingParams) -> list[Job]:
        # Only a model with matches gets a job, and so an output file (v0.1 opens every one).
        return self.jobs_for(
            [model for model in self.models if self.matches[model]],
            lambda match: judge_match(caller, match, config, self.judge_model, params),
        )


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
    only_questions: frozenset[QuestionId] | None = None,
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
    if only_questions is not None:
        chosen_questions = [q for q in chosen_questions if q.question_id in only_questions]
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
    specs, done = judgment_files(data, judge_model, listed, judgment_output, retry_unparsed)
    return Plan(judge_model, listed, chosen_questions, matches, specs, gaps, done, categories)


# The reply length to assume when no judgment holds any yet (the judge writes its own answer first).
DEFAULT_OUTPUT_TOKENS = 800


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
        requests=lambda: (messages for match in plan.to_judge() for messages in match.games(config)),
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
