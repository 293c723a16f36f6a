"""Which judge prompt serves a (mode, category kind, turn), how verdicts are read, and the
judge's messages, byte-identical to FastChat's gen_judgment.py.

The map is data: `prompts/<name>.toml` (a name), or a `.toml` file relative to the manifest:

    [single.general]   turn_1 = "single-v1"   turn_2 = "single-v1-multi-turn"
    [verdicts]         rating = ['\\[\\[(\\d+\\.?\\d*)\\]\\]', '\\[(\\d+\\.?\\d*)\\]']

A benchmark with more turns maps turn_3 (and so on) to prompts whose
templates use question_3, answer_3 (single) or answer_a_3, answer_b_3 (pair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mtb import validate
from mtb.backends.base import Message
from mtb.errors import DataError, UsageError
from mtb.protocols.mt_bench.records import JudgePrompt
from mtb.records import ModelAnswer, Question
from mtb.resources import load_toml, resource_dir

# FastChat's common.py: the double-bracket form first, then the single one.
FASTCHAT_RATING_PATTERNS = (r"\[\[(\d+\.?\d*)\]\]", r"\[(\d+\.?\d*)\]")
FASTCHAT_PAIR_LABELS = {"A": "[[A]]", "B": "[[B]]", "tie": "[[C]]"}


@dataclass(frozen=True)
class Verdicts:
    """How a verdict is found in the judge's text."""

    rating_patterns: tuple[re.Pattern[str], ...]
    # Substrings tested in this order, as FastChat does: A, then B, then tie.
    pair_labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PromptMap:
    """(mode, category kind, turn) → judge prompt name, and the verdict rules."""

    names: dict[tuple[str, str, int], str]
    verdicts: Verdicts
    path: Path = Path()

    def prompt_name(self, mode: str, reference_based: bool, turn: int) -> str:
        kind = "reference" if reference_based else "general"
        try:
            return self.names[(mode, kind, turn)]
        except KeyError:
            raise UsageError(
                f"{self.path}: no judge prompt is mapped for mode {mode}, {kind} questions, turn {turn}"
            ) from None

    def max_turn(self, mode: str) -> int:
        return min(
            max((t for (m, k, t) in self.names if m == mode and k == kind), default=0)
            for kind in ("general", "reference")
        )

    @classmethod
    def load(cls, name_or_path: str, manifest: Path | None = None) -> PromptMap:
        path = _find(name_or_path, manifest)
        table = load_toml(path)
        names: dict[tuple[str, str, int], str] = {}
        with validate.in_file(path):
            verdicts = _verdicts(table.get("verdicts", {}))
            for mode, kinds in table.items():
                if mode == "verdicts":
                    continue
                if not isinstance(kinds, dict):
                    raise ValueError(f"'{mode}' must be a table of category kinds")
                for kind, turns in kinds.items():
                    if kind not in ("general", "reference") or not isinstance(turns, dict):
                        raise ValueError(f"'{mode}.{kind}': expected 'general' or 'reference' tables")
                    for turn_key, prompt in turns.items():
                        if not turn_key.startswith("turn_") or not turn_key[5:].isdigit():
                            raise ValueError(f"'{mode}.{kind}.{turn_key}': keys are turn_1, turn_2, ...")
                        if not isinstance(prompt, str):
                            raise ValueError(f"'{mode}.{kind}.{turn_key}' must be a prompt name")
                        names[(mode, kind, int(turn_key[5:]))] = prompt
        return cls(names, verdicts, path)


def _find(name_or_path: str, manifest: Path | None) -> Path:
    """A file name ending in .toml (relative to the manifest's folder), else a name in mtb's prompts/."""
    if name_or_path.endswith(".toml"):
        path = (manifest.parent if manifest is not None else Path()) / name_or_path
    else:
        path = resource_dir("prompts") / f"{name_or_path}.toml"
    if not path.is_file():
        raise DataError(path, "prompt map not found")
    return path


def _verdicts(table: object) -> Verdicts:
    if not isinstance(table, dict):
        raise ValueError("'verdicts' must be a table")
    patterns = validate.string_list(table, "rating", list(FASTCHAT_RATING_PATTERNS))
    compiled = []
    for pattern in patterns:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"verdicts.rating: {pattern!r} is not a valid regex ({exc})") from None
        if regex.groups != 1:
            raise ValueError(f"verdicts.rating: {pattern!r} must have exactly one group, the rating")
        compiled.append(regex)
    labels = tuple(
        (winner, validate.field(table, f"pair_{winner}", str, default=default, non_empty=True))
        for winner, default in FASTCHAT_PAIR_LABELS.items()
    )
    return Verdicts(tuple(compiled), labels)


# ---------------------------------------------------------------- rendering


def _messages(prompt: JudgePrompt, values: dict[str, str]) -> list[Message]:
    user_prompt = prompt.prompt_template.format(**values)
    messages: list[Message] = []
    # FastChat's chatgpt conversation template drops an empty system message.
    if prompt.system_prompt:
        messages.append({"role": "system", "content": prompt.system_prompt})
    messages.append({"role": "user", "content": user_prompt})
    return messages


def _reference_values(reference: ModelAnswer | None, turn: int) -> dict[str, str]:
    """ref_answer_1 .. ref_answer_<turn>: turn 1 sees the first reference, turn 2 both, as FastChat."""
    if reference is None:
        return {}
    turns = reference.choices[0].turns
    return {f"ref_answer_{i}": turns[i - 1] for i in range(1, turn + 1)}


def render_single(
    prompt: JudgePrompt, question: Question, answer: ModelAnswer, turn: int, reference: ModelAnswer | None
) -> list[Message]:
    """The judge's messages, as FastChat's run_judge_single builds them."""
    answers = answer.choices[0].turns
    values = _reference_values(reference, turn)
    if turn == 1:
        values.update(question=question.turns[0], answer=answers[0])
    else:
        for i in range(1, turn + 1):
            values.update({f"question_{i}": question.turns[i - 1], f"answer_{i}": answers[i - 1]})
    return _messages(prompt, values)


def render_pair(
    prompt: JudgePrompt,
    question: Question,
    first: ModelAnswer,
    second: ModelAnswer,
    turn: int,
    reference: ModelAnswer | None,
) -> list[Message]:
    """The messages of one game with `first` as assistant A, as FastChat's run_judge_pair builds them."""
    a, b = first.choices[0].turns, second.choices[0].turns
    values = _reference_values(reference, turn)
    if turn == 1:
        values.update(question=question.turns[0], answer_a=a[0], answer_b=b[0])
    else:
        for i in range(1, turn + 1):
            values.update(
                {f"question_{i}": question.turns[i - 1], f"answer_a_{i}": a[i - 1], f"answer_b_{i}": b[i - 1]}
            )
    return _messages(prompt, values)


TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")


def placeholders(template: str) -> set[str]:
    """The names a judge prompt's template fills (`{question}`, `{answer_a_1}`, ...)."""
    return {m.group(1) for m in TEMPLATE_FIELD.finditer(template.replace("{{", "").replace("}}", ""))}


def expected_placeholders(mode: str, turn: int, reference: bool) -> set[str]:
    """Everything render_single/render_pair can fill for this mode and turn."""
    names = {f"ref_answer_{i}" for i in range(1, turn + 1)} if reference else set()
    if turn == 1:
        return names | ({"question", "answer"} if mode == "single" else {"question", "answer_a", "answer_b"})
    for i in range(1, turn + 1):
        names.add(f"question_{i}")
        names |= {f"answer_{i}"} if mode == "single" else {f"answer_a_{i}", f"answer_b_{i}"}
    return names
