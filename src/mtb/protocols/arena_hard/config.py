"""arena-hard-auto's judge settings file (config/judge_config.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb import validate
from mtb.errors import DataError
from mtb.jsonl import read_text

# game_messages fills question_<turn> and answer_<n>: the first answer's turns, then the second's.
FILLED = re.compile(r"(question|answer)_[1-9][0-9]*")


class _Blanks(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def template_problem(template: str) -> str | None:
    """Why a judge template cannot be filled by game_messages, or None; checked when the config loads."""
    from mtb.protocols.mt_bench.prompts import placeholders

    unknown = sorted(name for name in placeholders(template) if not FILLED.fullmatch(name))
    if unknown:
        return (
            f"unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)} "
            "(known: {question_1}, {answer_1}, {answer_2}, ...; write {{ and }} for literal braces)"
        )
    try:
        template.format_map(_Blanks())
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        return f"not a valid template ({type(exc).__name__}: {exc})"
    return None


def load_judge_config(path: Path, how_to_get_it: str) -> dict[str, Any]:
    """An arena-hard-auto judge config's YAML mapping (both versions' configs are YAML).

    A missing file says `how_to_get_it`; a YAML error names its line."""
    import yaml

    if not path.exists():
        raise DataError(path, f"judge config not found; {how_to_get_it}")
    text = read_text(path)
    try:
        table = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise DataError(
            path, f"not valid YAML ({getattr(exc, 'problem', exc)})", None if line is None else line + 1
        ) from None
    with validate.in_file(path):
        if not isinstance(table, dict):
            raise ValueError("expected a mapping of settings")
    return table


@dataclass(frozen=True)
class JudgeConfig:
    """The parts of arena-hard-auto's config/judge_config.yaml that define a judgment."""

    system_prompt: str
    prompt_templates: tuple[str, ...]
    verdict_pattern: re.Pattern[str]
    attempts: int
    temperature: float
    max_tokens: int

    @classmethod
    def load(cls, path: Path) -> JudgeConfig:
        table = load_judge_config(path, "point --data-dir at arena-hard-auto's data")
        with validate.in_file(path):
            templates = validate.string_list(table, "prompt_template")
            if not templates:
                raise ValueError("'prompt_template' must be a non-empty list of strings")
            for index, template in enumerate(templates):
                problem = template_problem(template)
                if problem:
                    raise ValueError(f"prompt_template[{index}]: {problem}")
            try:
                pattern = re.compile(validate.field(table, "regex_pattern", str))
            except re.error as exc:
                raise ValueError(f"'regex_pattern' is not a valid regex ({exc})") from None
            return cls(
                system_prompt=validate.field(table, "system_prompt", str),
                prompt_templates=tuple(templates),
                verdict_pattern=pattern,
                attempts=validate.field(table, "number_of_judgment_attempts", int),
                temperature=validate.number(table, "temperature"),
                max_tokens=validate.field(table, "max_tokens", int),
            )
