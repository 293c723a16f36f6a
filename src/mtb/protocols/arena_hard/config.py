"""arena-hard-auto's judge settings file (config/judge_config.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mtb import validate
from mtb.errors import DataError


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
        import yaml

        if not path.exists():
            raise DataError(path, "judge config not found; point --data-dir at arena-hard-auto's data")
        try:
            table = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise DataError(
                path, f"not valid YAML ({getattr(exc, 'problem', exc)})", None if line is None else line + 1
            ) from None
        with validate.in_file(path):
            if not isinstance(table, dict):
                raise ValueError("expected a mapping of settings")
            templates = validate.string_list(table, "prompt_template")
            if not templates:
                raise ValueError("'prompt_template' must be a non-empty list of strings")
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
