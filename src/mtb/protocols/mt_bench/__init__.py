"""MT-bench, as FastChat's llm_judge runs it: single grading (1–10) or pairwise, with a
judge prompt chosen by mode, category and turn, and reference answers for some categories.

    settings.py   the family's manifest keys
    prompts.py    the prompt map, verdict rules, and the judge's messages
    records.py    FastChat's judgment and judge-prompt records
    judging.py    matches, plans, and the judge calls
    scoring.py    show_result's numbers, intervals, comparisons, pairwise diagnostics
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtb.protocols import fastchat
from mtb.protocols.base import BenchmarkProtocol

if TYPE_CHECKING:
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.protocols.base import GeneratedAnswer, JudgeRequest, PlannedRun, ResultsRequest, ScoreReport


class MtBench(fastchat.FastChatFiles):
    name = "mt-bench"
    checks_language = True  # a manifest's `language`: wrong_language and --language-penalty

    def load_settings(self, bench: Benchmark) -> Any:
        from mtb.protocols.mt_bench.settings import MtBenchSettings

        return MtBenchSettings.from_manifest(bench)

    def answer_record(self, bench: Benchmark, answer: GeneratedAnswer) -> dict[str, Any]:
        replies = [list(choice) for choice in answer.choices]
        return fastchat.answer_record(answer.question, replies, answer.model_id, answer.extra)

    def check_generation(self, bench: Benchmark) -> None:
        return None

    def plan_judging(self, data: DataDir, request: JudgeRequest) -> PlannedRun:
        from mtb.protocols.mt_bench.judging import plan_judging, planned_run

        return planned_run(plan_judging(data, request), data)

    def score(self, data: DataDir, request: ResultsRequest) -> ScoreReport:
        from mtb.protocols.mt_bench.report import score

        return score(data, request)


PROTOCOL: BenchmarkProtocol = MtBench()
