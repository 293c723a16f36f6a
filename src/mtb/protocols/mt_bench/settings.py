"""The MT-bench family's keys in a benchmark manifest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mtb import validate
from mtb.protocols.mt_bench.prompts import PromptMap

if TYPE_CHECKING:
    from mtb.benchmarks import Benchmark


@dataclass(frozen=True)
class MtBenchSettings:
    judge_prompt_file: str  # relative to the data directory
    reference_dir: str | None  # None: no category needs references
    default_reference_model: str
    reference_categories: frozenset[str]
    prompt_map: PromptMap
    judge_temperature: float
    judge_max_tokens: int

    def needs_reference(self, category: str) -> bool:
        return category in self.reference_categories

    @classmethod
    def from_manifest(cls, bench: Benchmark) -> MtBenchSettings:
        table = bench.table
        categories = frozenset(validate.string_list(table, "judging.reference_categories", []))
        reference_dir = validate.field(table, "files.references", str, default=None)
        if categories and reference_dir is None:
            raise ValueError("judging.reference_categories needs files.references (the reference answers)")
        return cls(
            judge_prompt_file=validate.field(
                table, "files.judge_prompts", str, default="judge_prompts.jsonl"
            ),
            reference_dir=reference_dir,
            default_reference_model=validate.field(
                table, "judging.default_reference_model", str, default="gpt-4"
            ),
            reference_categories=categories,
            prompt_map=PromptMap.load(
                validate.field(table, "judging.prompt_map", str, default="mt_bench"), bench.path
            ),
            judge_temperature=validate.number(table, "judging.temperature", 0.0),
            judge_max_tokens=validate.field(table, "judging.max_tokens", int, default=2048),
        )
