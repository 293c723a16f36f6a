"""Arena-Hard-Auto v0.1: hard single-turn prompts, each answer judged against a baseline's in
two games with five-label verdicts, scored by a Bradley–Terry fit anchored at the baseline.

    answers.py    token counts and markdown statistics carried by answer records
    config.py     judge_config.yaml
    records.py    the judgment record
    judging.py    games, plans, and the judge calls
    scanning.py   byte-level reading of large judgment files over worker processes
    scoring.py    battle counts, Bradley–Terry scores with bootstrap intervals
    style.py      style, length and markdown control
    report.py     what `mtb results` prints

Answer and question files are FastChat's schema (shared with MT-bench); v2.0
(`mtb.protocols.arena_hard_v2`) reuses the answer extras, scanning and statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mtb import validate
from mtb.protocols import fastchat
from mtb.protocols.base import BenchmarkProtocol

if TYPE_CHECKING:
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.protocols.base import GeneratedAnswer, JudgeRequest, PlannedRun, ResultsRequest, ScoreReport


@dataclass(frozen=True)
class ArenaHardSettings:
    judge_config_file: str  # relative to the data directory


class ArenaHard(fastchat.FastChatFiles):
    name = "arena-hard"

    def load_settings(self, bench: Benchmark) -> Any:
        if bench.default_baseline is None:
            raise ValueError("missing field 'judging.default_baseline'")
        return ArenaHardSettings(validate.field(bench.table, "files.judge_config", str))

    def answer_record(self, bench: Benchmark, answer: GeneratedAnswer) -> dict[str, Any]:
        from mtb.protocols.arena_hard.answers import answer_turn, conv_metadata

        # Arena-hard-auto stores each turn as {"content", "token_len"} ...
        turns = [[answer_turn(text) for text in replies] for replies in answer.choices]
        record = fastchat.answer_record(answer.question, turns, answer.model_id, answer.extra)
        # ... and adds conv_metadata for style control, for one choice of one turn.
        if len(answer.choices) == 1 and len(answer.choices[0]) == 1:
            record["conv_metadata"] = conv_metadata(answer.choices[0][0])
        return record

    def check_generation(self, bench: Benchmark) -> None:
        from mtb.protocols.arena_hard.answers import token_length

        token_length("")  # raises MissingExtraError before any request when bpe-openai is absent

    def plan_judging(self, data: DataDir, request: JudgeRequest) -> PlannedRun:
        from mtb.errors import UsageError
        from mtb.protocols.arena_hard import judging
        from mtb.protocols.arena_hard.config import JudgeConfig

        if request.samples != 1:
            raise UsageError("--samples applies to MT-bench single grading")
        if request.mode not in (None, "pairwise-baseline"):
            raise UsageError(
                f"{data.bench.name} is judged pairwise against a baseline (--mode pairwise-baseline)"
            )
        if request.category is not None:
            raise UsageError(f"--category applies to Arena-Hard v2.0, not {data.bench.name}")
        settings: ArenaHardSettings = data.bench.settings
        config = JudgeConfig.load(data.root / settings.judge_config_file)
        plan = judging.plan_arena(
            data,
            judge_model=request.judge_model or data.bench.default_judge,
            baseline_model=request.baseline_model or data.bench.default_baseline or "",
            models=request.models,
            first_n=request.first_n,
            only_questions=request.only_questions,
            retry_unparsed=request.retry_unparsed,
        )
        return judging.planned_run(plan, config, data.bench.name)

    def score(self, data: DataDir, request: ResultsRequest) -> ScoreReport:
        from mtb.protocols.arena_hard.report import score

        return score(data, request)


PROTOCOL: BenchmarkProtocol = ArenaHard()
