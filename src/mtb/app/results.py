"""Results: score the judgments (or rate a battle log) into records, tables and notes.

report = results(ResultsSpec(model_list=["m1", "m2"]), reporter)
report.records        # exactly what `mtb results --format json` prints
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mtb.app.options import check_fields, flag
from mtb.errors import UsageError

if TYPE_CHECKING:
    from mtb.app.reporter import Reporter
    from mtb.data import DataDir
    from mtb.tables import Table

Mode = Literal["single", "pairwise-baseline", "pairwise-all"]


@dataclass
class ResultsSpec:
    """`mtb results`'s flags; None means the benchmark's default."""

    mode: Mode | None = None
    model_list: list[str] | None = None
    judge_model: str | None = None
    baseline_model: str | None = None
    input_file: Path | None = None
    ci: bool = True
    compare: tuple[str, str] | None = None
    strict: bool = False
    rounds: int | None = flag(minimum=10)
    seed: int | None = None
    style_control: bool = False
    length_control: bool = False
    markdown_control: bool = False
    category: str | None = None
    position_bias: bool = False
    language_penalty: Literal["none", "zero"] = "none"
    bench: str = "mt_bench"
    data_dir: Path = Path("data")
    plot: Path | None = None
    # Chatbot Arena: ratings from a battle log of human votes.
    battles: Path | None = None
    rating: Literal["bt", "elo"] | None = None
    anchor: str | None = None
    language: list[str] | None = None
    exclude_ties: bool = False
    min_battles: int | None = None
    dedup: bool = False
    include_non_anonymous: bool = False

    def __post_init__(self) -> None:
        check_fields(self)
        if self.model_list is not None:
            names = [name for value in self.model_list for name in value.replace(",", " ").split()]
            self.model_list = list(dict.fromkeys(names)) or None
        if sum((self.style_control, self.length_control, self.markdown_control)) > 1:
            raise UsageError("use at most one of --style-control, --length-control and --markdown-control")

    @property
    def control(self) -> str | None:
        for name, on in (
            ("style", self.style_control),
            ("length", self.length_control),
            ("markdown", self.markdown_control),
        ):
            if on:
                return name
        return None

    def request(self) -> Any:
        from mtb.protocols.base import BattleLogRequest, ResultsRequest

        return ResultsRequest(
            mode=self.mode,
            models=self.model_list,
            judge_model=self.judge_model,
            baseline_model=self.baseline_model,
            input_file=self.input_file,
            ci=self.ci,
            compare=self.compare,
            rounds=self.rounds,
            seed=self.seed,
            control=self.control,
            plot=self.plot,
            category=self.category,
            position_bias=self.position_bias,
            language_penalty=self.language_penalty,
            strict=self.strict,
            battle_log=BattleLogRequest(
                battles=self.battles,
                rating=self.rating,
                anchor=parse_anchor(self.anchor) if self.anchor is not None else None,
                languages=self.language or None,
                exclude_ties=self.exclude_ties,
                min_battles=self.min_battles,
                dedup=self.dedup,
                include_non_anonymous=self.include_non_anonymous,
            ),
        )


@dataclass
class ResultsReport:
    """What `mtb results` shows: `records` as `--format json` prints them, tables for people."""

    records: list[dict[str, Any]] | dict[str, Any]
    tables: list[Table]
    flat: Table  # --format csv / markdown
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)  # the judgment files (or folders) scored
    cost_note: str | None = None
    bootstrap: dict[str, list[float]] = field(default_factory=dict)  # per model, each round's score

    def json_text(self) -> str:
        return json.dumps(self.records, indent=2, allow_nan=False)


def json_ready(records: Any) -> Any:
    """Records as JSON gives them back: NaN as null, tuples as lists (what --format json prints)."""
    from mtb.jsonl import finite

    return json.loads(json.dumps(finite(records), allow_nan=False))


def results(spec: ResultsSpec, reporter: Reporter, *, say_cost: bool = True) -> ResultsReport:
    """Score the judgments the spec names; warnings, notes and the logged cost go to the reporter.

    `say_cost=False` leaves the cost out (a second scoring of the same judgments, as eval's --compare).
    """
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.jsonl import unfinished_lines
    from mtb.protocols.base import reads_battle_logs

    benchmark = Benchmark.load(spec.bench)
    data = DataDir(spec.data_dir, benchmark)
    request = spec.request()
    battle_flags = request.battle_log.given()
    if battle_flags and not reads_battle_logs(benchmark.protocol):
        raise UsageError(
            f"{', '.join(battle_flags)} appl{'ies' if len(battle_flags) == 1 else 'y'} to Chatbot Arena "
            f"battle logs (--bench chatbot-arena), not {benchmark.name}"
        )
    # A file still being written (`mtb judge` appending) is scored without its unfinished last line.
    with unfinished_lines() as left_out:
        scored = benchmark.protocol.score(data, request)
    notes = [*map(str, left_out), *scored.notes]
    for warning in scored.warnings:
        reporter.say(warning, level="warning")
    for note in notes:
        reporter.say(note)
    cost_note = None
    if say_cost:
        with unfinished_lines() as log_left_out:  # the cost log, while another run logs its line
            cost_note = _logged_cost(data, scored, reporter)
        for line in log_left_out:
            reporter.say(str(line))
    return ResultsReport(
        json_ready(scored.records),
        scored.tables,
        scored.flat,
        scored.warnings,
        notes,
        scored.sources,
        cost_note,
        scored.bootstrap,
    )


def _logged_cost(data: DataDir, scored: Any, reporter: Reporter) -> str | None:
    """The cost of the judgments shown: per model through the runs that made them, else the files'."""
    from mtb import cost
    from mtb.errors import MtbError

    try:
        if scored.scored_runs is not None:
            lines = cost.scored_cost(data, scored.scored_runs).lines()
            if lines:
                for line in lines:
                    reporter.say(line)
                return "\n".join(lines)
        # No judgment shown names a logged run (a log older than run ids, a family that does not
        # tell): what the runs that wrote to these files cost, said as such.
        logged = cost.logged_cost(data, scored.sources)
    except MtbError as exc:  # the log is a side record: a bad line does not hide the scores
        reporter.say(str(exc), level="warning")
        return None
    if logged is None:
        return None
    reporter.say(logged.note())
    return logged.note()


def parse_anchor(text: str) -> tuple[str, float]:
    """`MODEL=RATING`; the last '=' splits, so a model's name may hold one."""
    model, sep, value = text.rpartition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not model or not math.isfinite(number):
        raise UsageError(f"--anchor takes MODEL=RATING, e.g. mixtral-8x7b-instruct-v0.1=1114; got {text!r}")
    return model, number
