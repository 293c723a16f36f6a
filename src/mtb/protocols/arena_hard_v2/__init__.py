"""Arena-Hard-Auto v2.0 (lmarena/arena-hard-auto at 196f6b8): 750 single-turn prompts in two
categories, each answer judged against its category's baseline in two games, scored per
category as the mean of upstream's label scores with a 90% bootstrap interval.

    records.py    questions, answers and judgments in upstream's v2 schema
    settings.py   config/arena-hard-v2.0.yaml, and JUDGE_SETTINGS read from utils/judge_utils.py as data
    judging.py    games, plans, and the judge calls
    scoring.py    label scores, bootstrap means, style control
    report.py     what `mtb results` prints

Shared with v0.1 (`mtb.protocols.arena_hard`): the markdown counts and token
counting of answers (here with o200k_base, as upstream's v2 answers), the byte
scanner for judgment files, and `mtb.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb import validate
from mtb.errors import UsageError
from mtb.jobs import OutputSpec
from mtb.protocols.arena_hard_v2.records import TOKEN_ENCODING as TOKEN_ENCODING
from mtb.protocols.arena_hard_v2.records import answer_metadata as answer_metadata
from mtb.protocols.base import BenchmarkProtocol
from mtb.records import ModelAnswer, Question, QuestionId, sortable_id

if TYPE_CHECKING:
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.protocols.arena_hard_v2.settings import CategorySetting
    from mtb.protocols.base import GeneratedAnswer, JudgeRequest, PlannedRun, ResultsRequest, ScoreReport


@dataclass(frozen=True)
class ArenaHardV2Settings:
    judge_config_file: str  # relative to the data directory
    judge_settings_file: str


class ArenaHardV2:
    name = "arena-hard-v2"

    def load_settings(self, bench: Benchmark) -> Any:
        return ArenaHardV2Settings(
            validate.field(bench.table, "files.judge_config", str, non_empty=True),
            validate.field(bench.table, "files.judge_settings", str, non_empty=True),
        )

    def read_questions(self, data: DataDir) -> list[Question]:
        from mtb.data import unique_questions
        from mtb.jsonl import read_records
        from mtb.protocols.arena_hard_v2.records import parse_question

        path = data.required(data.bench.question_file)
        return unique_questions(path, read_records(path, parse_question))

    def read_answers(self, path: Path) -> dict[QuestionId, ModelAnswer]:
        from mtb.jsonl import read_records
        from mtb.protocols.arena_hard_v2.records import parse_answer

        return {a.question_id: a for a in read_records(path, parse_answer)}

    def answer_output(self, data: DataDir, model_id: str) -> OutputSpec:
        from mtb.protocols.arena_hard_v2.records import parse_answer

        return OutputSpec(
            path=data.answer_path(model_id),
            parse=parse_answer,
            key=lambda record: record["uid"],
            sort_key=lambda record: sortable_id(record["uid"]),
        )

    def answer_record(self, bench: Benchmark, answer: GeneratedAnswer) -> dict[str, Any]:
        from mtb.protocols.arena_hard_v2.records import answer_record

        if len(answer.choices) != 1 or len(answer.choices[0]) != 1:
            raise UsageError(f"{bench.name} answers hold one reply to one prompt; use --num-choices 1")
        text = answer.choices[0][0]
        return answer_record(answer.question, text, answer.model_id, answer_metadata(text), answer.extra)

    def check_generation(self, bench: Benchmark) -> None:
        from mtb.protocols.arena_hard.answers import token_length

        token_length("", TOKEN_ENCODING)  # MissingExtraError before any request when bpe-openai is absent

    def _judge_inputs(self, data: DataDir) -> dict[str, CategorySetting]:
        from mtb.protocols.arena_hard_v2.settings import read_judge_settings

        settings: ArenaHardV2Settings = data.bench.settings
        return read_judge_settings(data.root / settings.judge_settings_file)

    def plan_judging(self, data: DataDir, request: JudgeRequest) -> PlannedRun:
        from mtb.protocols.arena_hard_v2 import judging
        from mtb.protocols.arena_hard_v2.settings import JudgeConfig

        name = data.bench.name
        if request.samples != 1:
            raise UsageError("--samples applies to MT-bench single grading")
        if request.mode not in (None, "pairwise-baseline"):
            raise UsageError(f"{name} is judged pairwise against a baseline (--mode pairwise-baseline)")
        if request.baseline_model is not None:
            raise UsageError(
                f"{name} takes each category's baseline from JUDGE_SETTINGS in utils/judge_utils.py; "
                "--baseline-model does not apply"
            )
        if request.reference_model is not None:
            raise UsageError(f"{name} is judged without reference answers; --reference-model does not apply")
        settings: ArenaHardV2Settings = data.bench.settings
        config = JudgeConfig.load(data.root / settings.judge_config_file)
        judge_model = request.judge_model or config.judge_model
        plan = judging.plan_judging(
            data,
            config=config,
            judge_settings=self._judge_inputs(data),
            judge_model=judge_model,
            category=request.category,
            models=request.models,
            first_n=request.first_n,
            only_questions=request.only_questions,
            retry_unparsed=request.retry_unparsed,
        )
        return judging.planned_run(plan, config, name, data)

    def score(self, data: DataDir, request: ResultsRequest) -> ScoreReport:
        from mtb.protocols.arena_hard_v2.report import score
        from mtb.protocols.arena_hard_v2.settings import JudgeConfig

        settings: ArenaHardV2Settings = data.bench.settings
        judge_default = data.bench.default_judge
        if request.judge_model is None and request.input_file is None:
            config_path = data.root / settings.judge_config_file
            if config_path.exists():
                judge_default = JudgeConfig.load(config_path).judge_model
        return score(data, request, judge_default, self._judge_inputs(data))


PROTOCOL: BenchmarkProtocol = ArenaHardV2()
