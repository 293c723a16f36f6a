"""Answering a benchmark's questions with a model, turn by turn."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.benchmarks import Benchmark
from mtb.data import DataDir
from mtb.jobs import Completer, OutputSpec, Task
from mtb.protocols.base import GeneratedAnswer
from mtb.records import Question


@dataclass(frozen=True)
class GenerationSettings:
    model_id: str
    num_choices: int = 1
    max_tokens: int = 1024
    force_temperature: float | None = None
    system_prompt: str | None = None
    # Choice i is sampled with seed + i (FastChat seeds choice i with i); None
    # sends no seed, as API generation does.
    seed: int | None = None
    # Written into every answer record beside FastChat's fields (e.g. the chat
    # template's hash); FastChat's readers ignore them.
    record_extra: dict[str, Any] = field(default_factory=dict)


def temperature_for(question: Question, bench: Benchmark, force: float | None) -> float:
    """FastChat's precedence: --force-temperature, the question's own, then the category table."""
    if force is not None:
        return force
    if question.required_temperature is not None:
        return question.required_temperature
    return bench.temperature_for(question.category)


def conversation(
    system_prompt: str | None, user_turns: Sequence[str], replies: Sequence[str]
) -> list[Message]:
    """Messages for the next turn: every user turn so far, with the model's own earlier replies."""
    messages: list[Message] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    for position, user_turn in enumerate(user_turns):
        messages.append({"role": "user", "content": user_turn})
        if position < len(replies):
            messages.append({"role": "assistant", "content": replies[position]})
    return messages


async def answer_question(
    caller: Completer, question: Question, bench: Benchmark, settings: GenerationSettings
) -> dict[str, Any]:
    """Every choice's replies, turn by turn, as one record in the benchmark's answer schema."""
    temperature = temperature_for(question, bench, settings.force_temperature)
    choices = []
    for index in range(settings.num_choices):
        seed = None if settings.seed is None else settings.seed + index
        choice_params = SamplingParams(temperature=temperature, max_tokens=settings.max_tokens, seed=seed)
        replies: list[str] = []
        for turn in range(len(question.turns)):
            messages = conversation(settings.system_prompt, question.turns[: turn + 1], replies)
            replies.append((await caller.complete(messages, choice_params)).text)
        choices.append(replies)
    answer = GeneratedAnswer(question, choices, settings.model_id, settings.record_extra)
    return bench.protocol.answer_record(bench, answer)


def answer_output(data: DataDir, model_id: str, questions: Sequence[Question] = ()) -> OutputSpec:
    """The model's answer file; an answer with fewer turns than its question (in `questions`) is not done.

    Judging refuses such an answer, so a rerun of generate must answer it again.
    """
    spec = data.bench.protocol.answer_output(data, model_id)
    turns = {q.question_id: len(q.turns) for q in questions}
    if not turns:
        return spec

    def complete(record: dict[str, Any]) -> bool:
        needed = turns.get(spec.key(record))  # type: ignore[call-overload]
        if needed is None:
            return True
        answer = spec.parse(record)
        choices = getattr(answer, "choices", None)
        if choices is None:
            return True
        return bool(choices) and all(len(choice.turns) >= needed for choice in choices)

    return replace(spec, is_done=lambda record: spec.is_done(record) and complete(record))


def generation_tasks(
    questions: Sequence[Question],
    done: set[Hashable],
    caller: Completer,
    bench: Benchmark,
    settings: GenerationSettings,
) -> list[Task]:
    def make(question: Question) -> Task:
        return Task(
            key=question.question_id,
            label=f"question {question.question_id}",
            run=lambda: answer_question(caller, question, bench, settings),
        )

    return [make(q) for q in questions if q.question_id not in done]
