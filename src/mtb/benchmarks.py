"""Benchmark manifests (`questions/<bench>.toml`) and judge-prompt maps (`prompts/<map>.toml`).

A benchmark is data: its files, categories, temperatures and judging rules are
read from its manifest, so adding one means adding a manifest.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.errors import DataError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def resource_dir(name: str) -> Path:
    """The `questions/` or `prompts/` folder: inside the installed wheel, or at the repo root."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / name, package_dir.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise DataError(package_dir / name, "mtb's own data folder is missing; reinstall mtb")


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, f"not valid TOML ({exc})") from None


_REQUIRED: Any = object()


def _get(
    table: dict[str, Any], dotted: str, kind: type | tuple[type, ...], path: Path, default: Any = _REQUIRED
) -> Any:
    value: Any = table
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            if default is not _REQUIRED:
                return default
            raise DataError(path, f"missing key '{dotted}'")
        value = value[part]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise DataError(path, f"key '{dotted}' has the wrong type ({type(value).__name__})")
    return value


@dataclass(frozen=True)
class PromptMap:
    """(mode, category kind, turn) → judge prompt name."""

    names: dict[tuple[str, str, int], str]

    def prompt_name(self, mode: str, reference_based: bool, turn: int) -> str:
        kind = "reference" if reference_based else "general"
        try:
            return self.names[(mode, kind, turn)]
        except KeyError:
            raise UsageError(
                f"no judge prompt is mapped for mode {mode}, {kind} questions, turn {turn}"
            ) from None

    @classmethod
    def load(cls, name: str) -> PromptMap:
        path = resource_dir("prompts") / f"{name}.toml"
        if not path.exists():
            raise DataError(path, "prompt map not found")
        table = _load_toml(path)
        names: dict[tuple[str, str, int], str] = {}
        for mode, kinds in table.items():
            if not isinstance(kinds, dict):
                raise DataError(path, f"'{mode}' must be a table of category kinds")
            for kind, turns in kinds.items():
                if kind not in ("general", "reference") or not isinstance(turns, dict):
                    raise DataError(path, f"'{mode}.{kind}': expected 'general' or 'reference' tables")
                for turn_key, prompt in turns.items():
                    if not turn_key.startswith("turn_") or not turn_key[5:].isdigit():
                        raise DataError(path, f"'{mode}.{kind}.{turn_key}': keys are turn_1, turn_2, ...")
                    if not isinstance(prompt, str):
                        raise DataError(path, f"'{mode}.{kind}.{turn_key}' must be a prompt name")
                    names[(mode, kind, int(turn_key[5:]))] = prompt
        return cls(names)


# How a benchmark is judged and scored:
#   mt-bench    FastChat's llm_judge: single grading or pairwise, judge_prompts.jsonl, a prompt map
#   arena-hard  arena-hard-auto v0.1: five-label pairwise against a baseline, judge_config.yaml,
#               Bradley-Terry scores
PROTOCOLS = ("mt-bench", "arena-hard")


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    protocol: str
    turns: int
    question_file: str
    answer_dir: str
    judgment_dir: str
    max_tokens: int
    default_temperature: float
    temperatures: dict[str, float]
    default_judge: str
    default_baseline: str
    category_order: tuple[str, ...]
    # mt-bench protocol
    judge_prompt_file: str = ""
    reference_dir: str = ""
    default_reference_model: str = ""
    reference_categories: frozenset[str] = frozenset()
    prompt_map: str = ""
    judge_temperature: float = 0.0
    judge_max_tokens: int = 2048
    # arena-hard protocol
    judge_config_file: str = ""
    # Answer records carry token counts and markdown statistics (arena-hard-auto's conv_metadata).
    answer_metadata: bool = False

    def temperature_for(self, category: str) -> float:
        return self.temperatures.get(category, self.default_temperature)

    def needs_reference(self, category: str) -> bool:
        return category in self.reference_categories

    @classmethod
    def load(cls, name: str) -> Benchmark:
        folder = resource_dir("questions")
        path = folder / f"{name}.toml"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.toml")))
            raise UsageError(f"unknown benchmark '{name}' (known: {known})")
        table = _load_toml(path)
        temperatures = _get(table, "generation.temperature", dict, path, {})
        for category, value in temperatures.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(path, f"temperature of '{category}' must be a number")
        protocol = _get(table, "protocol", str, path, "mt-bench")
        if protocol not in PROTOCOLS:
            raise DataError(path, f"protocol must be one of {', '.join(PROTOCOLS)}")
        # Keys every benchmark has, then those of its protocol (required there, absent elsewhere).
        needed = _REQUIRED if protocol == "mt-bench" else ""
        return cls(
            name=_get(table, "name", str, path),
            description=_get(table, "description", str, path),
            protocol=protocol,
            turns=_get(table, "turns", int, path),
            question_file=_get(table, "files.questions", str, path),
            answer_dir=_get(table, "files.answers", str, path),
            judgment_dir=_get(table, "files.judgments", str, path),
            max_tokens=_get(table, "generation.max_tokens", int, path),
            default_temperature=float(_get(table, "generation.default_temperature", (int, float), path)),
            temperatures={k: float(v) for k, v in temperatures.items()},
            default_judge=_get(table, "judging.default_judge", str, path),
            default_baseline=_get(table, "judging.default_baseline", str, path),
            category_order=tuple(_get(table, "categories.order", list, path)),
            judge_prompt_file=_get(table, "files.judge_prompts", str, path, needed),
            reference_dir=_get(table, "files.references", str, path, needed),
            default_reference_model=_get(table, "judging.default_reference_model", str, path, needed),
            reference_categories=frozenset(
                _get(table, "judging.reference_categories", list, path, [] if needed == "" else needed)
            ),
            prompt_map=_get(table, "judging.prompt_map", str, path, needed),
            judge_temperature=float(_get(table, "judging.temperature", (int, float), path, 0.0)),
            judge_max_tokens=_get(table, "judging.max_tokens", int, path, 2048),
            judge_config_file=_get(
                table, "files.judge_config", str, path, _REQUIRED if protocol == "arena-hard" else ""
            ),
            answer_metadata=_get(table, "generation.answer_metadata", bool, path, False),
        )
