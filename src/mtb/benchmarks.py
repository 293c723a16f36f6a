"""Benchmark manifests: `questions/<bench>.toml`, a folder on MTB_BENCH_PATH, or any path.

A benchmark is data: its files, categories and temperatures are read from its
manifest, and its `protocol` names the family that judges and scores it
(`mtb.protocols`). Keys every benchmark has are read here; the protocol reads
its own keys from the same table (`BenchmarkProtocol.load_settings`), so a
manifest needs only what its protocol uses.

`--bench` takes a name or a path:

    --bench mt_bench                  questions/mt_bench.toml, shipped with mtb
    --bench my_bench                  my_bench.toml in a folder of MTB_BENCH_PATH
    --bench ./ja/mt_bench_ja.toml     that file
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb import validate
from mtb.errors import UsageError

# Defined in mtb.resources (`as` re-exports them): older code finds them here.
from mtb.resources import load_toml as load_toml
from mtb.resources import resource_dir as resource_dir

if TYPE_CHECKING:
    from mtb.protocols.base import BenchmarkProtocol

BENCH_PATH_VARIABLE = "MTB_BENCH_PATH"


def manifest_folders() -> list[Path]:
    """Where benchmark names are looked up: MTB_BENCH_PATH's folders first, then mtb's own."""
    extra = [Path(p) for p in os.environ.get(BENCH_PATH_VARIABLE, "").split(os.pathsep) if p]
    return [*extra, resource_dir("questions")]


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name no file system holds (longer than a file name): no such manifest
        return False


def find_manifest(name_or_path: str) -> Path:
    """The manifest file that `--bench` names."""
    given = Path(name_or_path)
    if name_or_path.endswith(".toml") or given.parent != Path("."):
        if _is_file(given):
            return given
        raise UsageError(f"no benchmark manifest at {name_or_path}")
    for folder in manifest_folders():
        candidate = folder / f"{name_or_path}.toml"
        if _is_file(candidate):
            return candidate
    known = sorted(
        {p.stem for folder in manifest_folders() if folder.is_dir() for p in folder.glob("*.toml")}
    )
    raise UsageError(
        f"unknown benchmark '{name_or_path}' (known: {', '.join(known)}); pass a manifest path, "
        f"or add its folder to {BENCH_PATH_VARIABLE}"
    )


# More turns than any multi-turn benchmark has; past it, a manifest's `turns` is a typo.
MAX_TURNS = 100


@dataclass(frozen=True)
class Benchmark:
    name: str
    protocol_name: str
    turns: int  # the turns each question has (the most, where they differ)
    question_file: str  # paths relative to the data directory (or absolute)
    answer_dir: str
    judgment_dir: str
    max_tokens: int
    default_temperature: float
    temperatures: dict[str, float]
    default_judge: str
    default_baseline: str | None
    category_order: tuple[str, ...]
    description: str = ""
    # The language answers should be written in (ISO 639-1, `language = "ko"`), or None: then
    # `mtb results` counts each model's judged turns in another language (mtb.language).
    language: str | None = None
    path: Path = Path()  # the manifest itself
    # What the protocol read from the manifest (`BenchmarkProtocol.load_settings`).
    settings: Any = None
    table: dict[str, Any] = field(default_factory=dict, repr=False)

    def temperature_for(self, category: str) -> float:
        return self.temperatures.get(category, self.default_temperature)

    @property
    def protocol(self) -> BenchmarkProtocol:
        from mtb.protocols import get_protocol

        return get_protocol(self.protocol_name)

    @classmethod
    def load(cls, name_or_path: str) -> Benchmark:
        path = find_manifest(name_or_path)
        table = load_toml(path)
        with validate.in_file(path):
            temperatures = validate.field(table, "generation.temperature", dict, default={})
            for category, value in temperatures.items():
                if not validate.is_kind(value, (int, float)):
                    raise ValueError(f"temperature of '{category}' must be a number")
            protocol_name = validate.field(table, "protocol", str, default="mt-bench")
            from mtb.protocols import get_protocol, protocol_names

            if protocol_name not in protocol_names():
                raise ValueError(f"protocol must be one of {', '.join(protocol_names())}")
            name = validate.field(table, "name", str, non_empty=True)
            bench = cls(
                name=name,
                protocol_name=protocol_name,
                turns=validate.field(table, "turns", int, default=2),
                question_file=validate.field(table, "files.questions", str),
                answer_dir=validate.field(table, "files.answers", str),
                judgment_dir=validate.field(table, "files.judgments", str),
                max_tokens=validate.field(table, "generation.max_tokens", int, default=1024),
                default_temperature=validate.number(table, "generation.default_temperature", 0.7),
                temperatures={k: float(v) for k, v in temperatures.items()},
                default_judge=validate.field(table, "judging.default_judge", str, default="gpt-4"),
                default_baseline=validate.field(table, "judging.default_baseline", str, default=None),
                category_order=tuple(validate.string_list(table, "categories.order", [])),
                description=validate.field(table, "description", str, default=""),
                language=validate.field(table, "language", str, default=None, non_empty=True),
                path=path,
                table=table,
            )
            if bench.turns < 1 or bench.max_tokens < 1:
                raise ValueError("'turns' and 'generation.max_tokens' must be 1 or more")
            # Results make a column per turn: 10**23 turns was a loop that never ended.
            if bench.turns > MAX_TURNS:
                raise ValueError(f"'turns' must be at most {MAX_TURNS}, got {bench.turns}")
            from mtb.protocols.base import checks_language

            if bench.language is not None and not checks_language(bench.protocol):
                # Set and never read, it promised a check of the answers' language that no one made.
                raise ValueError(
                    f"'language' is read by MT-bench's results (protocol mt-bench); protocol "
                    f"{protocol_name} does not check the answers' language: remove the key"
                )
            return replace(bench, settings=get_protocol(protocol_name).load_settings(bench))
