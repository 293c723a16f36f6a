"""arena-hard-auto v2.0's judge settings: config/arena-hard-v2.0.yaml and utils/judge_utils.py.

judge_utils.py is Python source; mtb never imports or executes it. It reads
the module's syntax tree and takes JUDGE_SETTINGS from its literal
assignments (strings, numbers, lists, dicts, and names bound to such values
earlier in the module). Anything else inside JUDGE_SETTINGS (a call, an
f-string, an attribute) is reported as path:line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb import validate
from mtb.errors import DataError
from mtb.protocols.arena_hard.config import load_judge_config

PLACEHOLDERS = ("QUESTION", "ANSWER_A", "ANSWER_B")


@dataclass(frozen=True)
class JudgeConfig:
    """The parts of config/arena-hard-v2.0.yaml that define a judgment."""

    judge_model: str
    temperature: float
    max_tokens: int
    verdict_patterns: tuple[re.Pattern[str], ...]
    prompt_template: str

    @classmethod
    def load(cls, path: Path) -> JudgeConfig:
        table = load_judge_config(path, "run `mtb download-baselines --bench arena-hard-v2.0`")
        with validate.in_file(path):
            if table.get("reference"):
                raise ValueError(
                    "'reference' answers are not supported; mtb judges as the published config (null)"
                )
            patterns = validate.string_list(table, "regex_patterns")
            if not patterns:
                raise ValueError("'regex_patterns' must be a non-empty list of regexes")
            try:
                compiled = tuple(re.compile(p) for p in patterns)
            except re.error as exc:
                raise ValueError(f"'regex_patterns' holds an invalid regex ({exc})") from None
            template = validate.field(table, "prompt_template", str, non_empty=True)
            try:
                template.format(**{name: "" for name in PLACEHOLDERS})
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"'prompt_template' must use only {{QUESTION}}, {{ANSWER_A}} and {{ANSWER_B}} ({exc!r})"
                ) from None
            return cls(
                judge_model=validate.field(table, "judge_model", str, non_empty=True),
                temperature=validate.number(table, "temperature"),
                max_tokens=validate.field(table, "max_tokens", int),
                verdict_patterns=compiled,
                prompt_template=template,
            )

    def user_prompt(self, question: str, answer_a: str, answer_b: str) -> str:
        return self.prompt_template.format(QUESTION=question, ANSWER_A=answer_a, ANSWER_B=answer_b)

    def verdict(self, judgment: str) -> str | None:
        """The last match of the first pattern that matches anything in the upper-cased text, as upstream."""
        upper = judgment.upper()
        for pattern in self.verdict_patterns:
            matches = [m for m in pattern.findall(upper) if m != ""]
            if matches:
                last = matches[-1]
                return str(last).strip("\n")
        return None


@dataclass(frozen=True)
class CategorySetting:
    baseline: str
    system_prompt: str


class _NotData(Exception):
    def __init__(self, node: ast.AST, what: str) -> None:
        super().__init__(what)
        self.line = getattr(node, "lineno", None)


def _literal(node: ast.AST, names: dict[str, ast.expr], seen: frozenset[str]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise _NotData(node, "a ** expansion")
        return {
            _literal(k, names, seen): _literal(v, names, seen)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item, names, seen) for item in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, names, seen), _literal(node.right, names, seen)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        raise _NotData(node, "an addition of non-strings")
    if isinstance(node, ast.Name):
        if node.id in seen or node.id not in names:
            raise _NotData(node, f"the name '{node.id}', which is not a literal assigned earlier")
        return _literal(names[node.id], names, seen | {node.id})
    kind = type(node).__name__
    described = {"Call": "a function call", "JoinedStr": "an f-string", "Attribute": "an attribute"}
    raise _NotData(node, described.get(kind, f"code ({kind})"))


def read_judge_settings(path: Path) -> dict[str, CategorySetting]:
    """JUDGE_SETTINGS from judge_utils.py, read from its syntax tree; the file is never run."""
    if not path.exists():
        raise DataError(path, "not found; run `mtb download-baselines --bench arena-hard-v2.0`")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise DataError(path, f"not valid Python ({exc.msg})", exc.lineno) from None
    except UnicodeDecodeError:
        raise DataError(path, "not valid UTF-8") from None
    names: dict[str, ast.expr] = {}
    settings_node: ast.expr | None = None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                names[target.id] = statement.value
                if target.id == "JUDGE_SETTINGS":
                    settings_node = statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.value is not None
        ):
            names[statement.target.id] = statement.value
            if statement.target.id == "JUDGE_SETTINGS":
                settings_node = statement.value
    if settings_node is None:
        raise DataError(path, "assigns no JUDGE_SETTINGS at module level")
    try:
        raw = _literal(settings_node, names, frozenset({"JUDGE_SETTINGS"}))
    except _NotData as exc:
        raise DataError(path, f"JUDGE_SETTINGS must be literal data, found {exc}", exc.line) from None
    line = settings_node.lineno
    if not isinstance(raw, dict) or not raw:
        raise DataError(path, "JUDGE_SETTINGS must be a non-empty dict of categories", line)
    settings = {}
    for category, entry in raw.items():
        with validate.in_file(path, line, where=f"JUDGE_SETTINGS[{category!r}]"):
            if not isinstance(category, str) or not isinstance(entry, dict):
                raise ValueError("must map a category name to a dict")
            settings[category] = CategorySetting(
                baseline=validate.field(entry, "baseline", str, non_empty=True),
                system_prompt=validate.field(entry, "system_prompt", str, non_empty=True),
            )
    return settings
