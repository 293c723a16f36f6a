"""Chatbot Arena: ratings from human votes in FastChat's clean_battle logs.

    battles.py    clean_battle JSON arrays and JSONL into compact arrays; the record validator
    scanning.py   the fast reader: plain records decoded from their bytes (msgspec), the rest in full
    ratings.py    Bradley–Terry (FastChat 0.2.36's objective, on counts), online Elo, bootstraps
    report.py     what `mtb results --bench chatbot-arena --battles FILE` prints
    plot.py       ratings with intervals and the pairwise win-fraction heatmap (--plot)

There are no questions to answer or judge: generation and judging are usage errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mtb import validate
from mtb.errors import UsageError
from mtb.jobs import OutputSpec
from mtb.protocols.base import BenchmarkProtocol
from mtb.records import ModelAnswer, Question, QuestionId

if TYPE_CHECKING:
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.protocols.base import GeneratedAnswer, JudgeRequest, PlannedRun, ResultsRequest, ScoreReport


@dataclass(frozen=True)
class ChatbotArenaSettings:
    battles: str  # the default battle log, relative to the data directory


def _no_questions(bench_name: str, what: str) -> NoReturn:
    raise UsageError(
        f"{bench_name} has no questions to {what}: it rates models from human votes; "
        f"run `mtb results --bench {bench_name} --battles FILE`"
    )


class ChatbotArena:
    name = "chatbot-arena"
    reads_battle_logs = True

    def load_settings(self, bench: Benchmark) -> Any:
        return ChatbotArenaSettings(validate.field(bench.table, "files.battles", str, non_empty=True))

    def read_questions(self, data: DataDir) -> list[Question]:
        return []  # nothing to browse or answer

    def read_answers(self, path: Path) -> dict[QuestionId, ModelAnswer]:
        return {}

    def answer_output(self, data: DataDir, model_id: str) -> OutputSpec:
        _no_questions(data.bench.name, "answer")

    def answer_record(self, bench: Benchmark, answer: GeneratedAnswer) -> dict[str, Any]:
        _no_questions(bench.name, "answer")

    def check_generation(self, bench: Benchmark) -> None:
        _no_questions(bench.name, "answer")

    def plan_judging(self, data: DataDir, request: JudgeRequest) -> PlannedRun:
        _no_questions(data.bench.name, "judge")

    def score(self, data: DataDir, request: ResultsRequest) -> ScoreReport:
        from mtb.protocols.chatbot_arena.report import score

        return score(data, request)


PROTOCOL: BenchmarkProtocol = ChatbotArena()
