"""Arena-Hard-Auto v0.1 judging (lm-sys/arena-hard-auto at efc012e).

Each model's answer meets the baseline's in two games. Game 1 shows the
baseline as assistant A, game 2 shows the model as A. The judge ends with one
of five labels ([[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]]); when its text
holds none, it is asked once more to finish its verdict (the config's
number_of_judgment_attempts). Records go to model_judgment/<judge>/<model>.jsonl.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from mtb.backends.base import Message, SamplingParams
from mtb.data import DataDir, file_stem_safe, select_questions
from mtb.errors import MtbError, UsageError
from mtb.jobs import Completer, Job, OutputSpec, Task, all_of, done_keys
from mtb.jsonl import iter_json_lines
from mtb.protocols.arena_hard.config import JudgeConfig
from mtb.protocols.arena_hard.records import parse_judgment
from mtb.protocols.base import PlannedRun
from mtb.provenance import sha256_text
from mtb.records import ModelAnswer, Question, QuestionId, sortable_id

CONTINUE_PROMPT = "continue your judgment and finish by outputting a final verdict label"


def read_verdict(judgment: str, pattern: re.Pattern[str]) -> tuple[str | None, bool]:
    """(label, ask again?): no label → ask again; one distinct label → it; several → none, final."""
    labels = {m.strip("\n") for m in pattern.findall(judgment) if m != ""}
    if not labels:
        return None, True
    if len(labels) == 1:
        return labels.pop(), False
    return None, False


@dataclass(frozen=True)
class BaselineMatch:
    """One model's answer to a question, to be judged against the baseline's answer to it."""

    question: Question
    model: str
    answer: ModelAnswer
    baseline: ModelAnswer

    @property
    def label(self) -> str:
        return f"{self.model} question {self.question.question_id}"


@dataclass(frozen=True)
class ArenaMatch(BaselineMatch):
    def games(self, config: JudgeConfig) -> tuple[list[Message], list[Message]]:
        """Both games' opening messages: game 1 shows the baseline as A, game 2 the model."""
        return (
            game_messages(config, self.question, self.baseline, self.answer),
            game_messages(config, self.question, self.answer, self.baseline),
        )


def game_messages(
    config: JudgeConfig, question: Question, first: ModelAnswer, second: ModelAnswer
) -> list[Message]:
    """The judge's opening messages with `first` as assistant A, as upstream's gen_judgment.py."""
    values = {f"question_{i}": turn for i, turn in enumerate(question.turns, start=1)}
    a_turns, b_turns = first.choices[0].turns, second.choices[0].turns
    values.update({f"answer_{i}": turn for i, turn in enumerate(a_turns, start=1)})
    values.update({f"answer_{i}": turn for i, turn in enumerate(b_turns, start=len(a_turns) + 1)})
    messages: list[Message] = [{"role": "system", "content": config.system_prompt}]
    messages += [
        {"role": "user", "content": template.format(**values)} for template in config.prompt_templates
    ]
    return messages


async def play_game(
    caller: Completer, config: JudgeConfig, messages: list[Message], params: SamplingParams
) -> dict[str, Any]:
    conversation = list(messages)
    judgment = ""
    label: str | None = None
    for _ in range(config.attempts):
        reply = (await caller.complete(conversation, params)).text
        judgment += "\n" + reply  # upstream joins every attempt this way, leading newline included
        label, ask_again = read_verdict(judgment, config.verdict_pattern)
        conversation.append({"role": "assistant", "content": reply})
        if not ask_again:
            break
        conversation.append({"role": "user", "content": CONTINUE_PROMPT})
    return {"user_prompt": messages[1]["content"], "judgment": judgment, "score": label}


async def judge_match(
    caller: Completer, match: ArenaMatch, config: JudgeConfig, judge_model: str, params: SamplingParams
) -> dict[str, Any]:
    games = await all_of(*(play_game(caller, config, g, params) for g in match.games(config)))
    return {
        "question_id": match.question.question_id,
        "model": match.model,
        "judge": judge_model,
        "games": list(games),
        "tstamp": time.time(),
    }


def judgment_path(data: DataDir, judge_model: str, model: str) -> Path:
    return data.judgment_dir / file_stem_safe(judge_model) / f"{file_stem_safe(model)}.jsonl"


def judgment_files(
    data: DataDir,
    judge_model: str,
    models: Iterable[str],
    output: Callable[[Path, bool], OutputSpec],
    retry_unparsed: bool,
) -> tuple[dict[str, OutputSpec], dict[str, frozenset[Hashable]]]:
    """Each model's judgment file in the judge's folder, read as `output(path, retry_unparsed)`
    says, and the question ids it already holds."""
    specs = {model: output(judgment_path(data, judge_model, model), retry_unparsed) for model in models}
    return specs, {model: frozenset(done_keys(spec)) for model, spec in specs.items()}


def games_scored(record: dict[str, Any]) -> bool:
    """Every game of a judgment holds a label."""
    return all(game.get("score") is not None for game in record["games"])


def judgment_output(
    path: Path,
    retry_unparsed: bool,
    *,
    id_field: str = "question_id",
    parse: Callable[[dict[str, Any]], Any] = parse_judgment,
    scored: Callable[[dict[str, Any]], bool] = games_scored,
) -> OutputSpec:
    """A judgment file, one record per question (`id_field`: v2.0 calls it "uid"); a record
    whose games are not all `scored` is kept but left out of results, and with
    `retry_unparsed` judged again."""
    return OutputSpec(
        path=path,
        parse=parse,
        key=lambda r: r[id_field],
        sort_key=lambda r: sortable_id(r[id_field]),
        is_done=scored if retry_unparsed else (lambda r: True),
        unparsed=lambda r: not scored(r),
    )


M = TypeVar("M", bound=BaselineMatch)


@dataclass(frozen=True)
class BaselinePlan(Generic[M]):
    """Each model's matches against the baseline, its output file, and what that file holds.

    Both Arena-Hard versions plan this way; v0.1 has one baseline, v2.0 one per category.
    """

    judge_model: str
    models: list[str]
    questions: list[Question]
    matches: dict[str, list[M]]  # per model
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

    def to_judge(self) -> Iterator[M]:
        """The matches whose judgment is not in their output file yet, model by model."""
        for model in self.models:
            yield from (m for m in self.matches[model] if m.question.question_id not in self.done[model])

    def summary_with(self, bench: str, baselines: dict[str, Any], output: str) -> dict[str, Any]:
        """The plan printed before the run; `baselines` names the baseline key and value."""
        total = sum(len(m) for m in self.matches.values())
        return {
            "bench": bench,
            "mode": "pairwise-baseline",
            "judge": self.judge_model,
            **baselines,
            "models": self.models,
            "questions": len(self.questions),
            "judgments": total,
            "already_done": self.already_done,
            "to_make": total - self.already_done,
            "judge_calls": 2 * (total - self.already_done),
            "output": output,
        }

    def jobs_for(self, models: Iterable[str], judge: Callable[[M], Awaitable[dict[str, Any]]]) -> list[Job]:
        """One job per model's output file: `judge` for each of its matches not done yet."""

        def task(match: M) -> Task:
            return Task(match.question.question_id, match.label, lambda: judge(match))

        def tasks_for(model: str) -> Callable[[set[Hashable]], list[Task]]:
            def make(done: set[Hashable]) -> list[Task]:
                return [task(m) for m in self.matches[model] if m.question.question_id not in done]

            return make

        return [Job(self.specs[model], tasks_for(model)) for model in models]


@dataclass(frozen=True)
class ArenaPlan(BaselinePlan[ArenaMatch]):
    baseline_model: str

    def summary(self, bench: str) -> dict[str, Any]:
        output = str(next(iter(self.specs.values())).path.parent) if self.specs else ""
        return self.summary_with(bench, {"baseline": self.baseline_model}, output)

    def jobs(self, caller: Completer, config: JudgeConfig, params: SamplingParams) -> list[Job]:
        return self.jobs_for(
            self.models, lambda match: judge_match(caller, match, config, self.judge_model, params)
        )


def plan_arena(
    data: DataDir,
    *,
    judge_model: str,
    baseline_model: str,
    models: Sequence[str] | None,
    first_n: int | None,
    retry_unparsed: bool,
    only_questions: frozenset[QuestionId] | None = None,
) -> ArenaPlan:
    questions = select_questions(data.questions(), first_n, only_questions)
    chosen = [m for m in (models or data.answer_models()) if m != baseline_model]
    if not chosen:
        raise UsageError(f"no models to judge against {baseline_model}; list them with --model-list")
    answers = {}
    for model in [*chosen, baseline_model]:
        path = data.answer_path(model)
        if not path.exists():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        answers[model] = data.answers(model)
    gaps = []
    for model, by_question in answers.items():
        missing = [q.question_id for q in questions if q.question_id not in by_question]
        if missing:
            gaps.append(missing_line(model, missing, "answer"))
    baseline = answers[baseline_model]
    matches = {
        model: [
            ArenaMatch(q, model, answers[model][q.question_id], baseline[q.question_id])
            for q in questions
            if q.question_id in answers[model] and q.question_id in baseline
        ]
        for model in chosen
    }
    specs, done = judgment_files(data, judge_model, chosen, judgment_output, retry_unparsed)
    return ArenaPlan(judge_model, chosen, questions, matches, specs, gaps, done, baseline_model)


# The reply length to assume when no judgment holds any yet: upstream's judge answers the
# question itself before comparing, so its replies are long.
DEFAULT_OUTPUT_TOKENS = 700


def missing_line(model: str, ids: list[QuestionId], what: str) -> str:
    """A gap: `model` has no `what` to these questions (the first five named)."""
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return f"{model}: no {what} to {len(ids)} question(s): {', '.join(map(str, ids[:5]))}{more}"


def past_judgments(folder: Path, text_of: Callable[[Any], Any] = lambda judgment: judgment) -> Iterator[str]:
    """Every game's judgment text in the judge's folder; `text_of` finds it in a game's `judgment`."""
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        try:
            for _, obj in iter_json_lines(path):
                games = obj.get("games")
                for game in games if isinstance(games, list) else []:
                    text = text_of(game.get("judgment")) if isinstance(game, dict) else None
                    if isinstance(text, str) and text.strip():
                        yield text
        except MtbError:
            continue  # the results command reports a bad file; the estimate does without it


def planned_run(plan: ArenaPlan, config: JudgeConfig, bench: str) -> PlannedRun:
    params = SamplingParams(temperature=config.temperature, max_tokens=config.max_tokens)

    return PlannedRun(
        summary=plan.summary(bench),
        gaps=plan.gaps,
        # Upstream judges what exists; three published answer files are incomplete.
        gaps_are_fatal=False,
        output=plan.specs[plan.models[0]].path.parent,
        params=params,
        make_jobs=lambda caller: plan.jobs(caller, config, params),
        judge_model=plan.judge_model,
        # Both games' first requests for every match still to judge (a second attempt is not foreseen).
        requests=lambda: (messages for match in plan.to_judge() for messages in match.games(config)),
        past_outputs=lambda: past_judgments(plan.specs[plan.models[0]].path.parent),
        default_output_tokens=DEFAULT_OUTPUT_TOKENS,
        provenance={
            "baseline_model": plan.baseline_model,
            "prompts": {
                "system_prompt": sha256_text(config.system_prompt),
                **{f"prompt_template_{i}": sha256_text(t) for i, t in enumerate(config.prompt_templates)},
            },
        },
    )
