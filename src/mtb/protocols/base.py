"""What a benchmark family provides, and the requests the commands hand it.

    generate   questions → (engine) → answer records    read_questions, answer_output, answer_record
    judge      JudgeRequest → PlannedRun → (engine)      plan_judging
    results    ResultsRequest → ScoreReport               score
    browse     questions, answers and judgments as views  read_questions, read_answers

The CLI knows nothing of a family's files, prompts or statistics: it builds a
request from its flags, asks the benchmark's protocol once, and prints what
comes back. A family rejects, as a UsageError, the flags that mean nothing to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mtb.backends.base import Message, SamplingParams
from mtb.jobs import Completer, Job, OutputSpec
from mtb.records import ModelAnswer, Question, QuestionId
from mtb.tables import Table

if TYPE_CHECKING:
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir


@dataclass(frozen=True)
class GeneratedAnswer:
    """What generation got for one question, which the family writes as an answer record."""

    question: Question
    choices: list[list[str]]  # choices[i]: choice i's replies, turn by turn
    model_id: str
    extra: dict[str, Any]  # fields every record carries beside the family's (the chat template's hash)


@dataclass(frozen=True)
class JudgeRequest:
    """`mtb judge`'s flags; None means "the benchmark's default"."""

    mode: str | None = None
    judge_model: str | None = None
    baseline_model: str | None = None
    reference_model: str | None = None
    models: list[str] | None = None
    first_n: int | None = None
    retry_unparsed: bool = False
    category: str | None = None
    samples: int = 1  # single grading: judgments per item (judge variance)
    # Only these of the chosen questions (None: all): what a judge following generation can judge so far.
    only_questions: frozenset[QuestionId] | None = None


@dataclass(frozen=True)
class PlannedRun:
    """A judging run worked out before any call."""

    summary: dict[str, Any]  # the plan printed before the run
    gaps: list[str]  # missing inputs, listed before any call
    gaps_are_fatal: bool
    output: Path  # the output file, or the folder of several
    params: SamplingParams
    make_jobs: Callable[[Completer], Sequence[Job]]
    judge_model: str
    # What the cost estimate needs (mtb.cost turns it into money; protocols know no prices):
    # the messages of every request the run will send (first attempts, done work left out),
    # the judge's replies from earlier runs (their median length estimates the output),
    # and the reply length to assume when there are none.
    requests: Callable[[], Iterable[Sequence[Message]]] = lambda: ()
    past_outputs: Callable[[], Iterable[str]] = lambda: ()
    default_output_tokens: int = 300
    # What the run file records beside the endpoint and sampling (mtb.provenance): the
    # prompts by name with their sha256, the baseline, the reference answers' model, ...
    provenance: dict[str, Any] = field(default_factory=dict)


MAX_ROUNDS = 100_000  # bootstrap rounds: beyond this the resampled indices alone take gigabytes


@dataclass(frozen=True)
class BattleLogRequest:
    """What to rate from a battle log of human votes (Chatbot Arena); only that family reads it."""

    battles: Path | None = None
    rating: str | None = None  # "bt" or "elo"
    anchor: tuple[str, float] | None = None
    languages: list[str] | None = None
    exclude_ties: bool = False
    min_battles: int | None = None
    dedup: bool = False
    include_non_anonymous: bool = False

    def given(self) -> list[str]:
        """The battle-log flags given, as typed: families that score judgments reject them."""
        given = [
            ("--battles", self.battles is not None),
            ("--rating", self.rating is not None),
            ("--anchor", self.anchor is not None),
            ("--language", self.languages is not None),
            ("--exclude-ties", self.exclude_ties),
            ("--min-battles", self.min_battles is not None),
            ("--dedup", self.dedup),
            ("--include-non-anonymous", self.include_non_anonymous),
        ]
        return [name for name, on in given if on]

    def __post_init__(self) -> None:
        from mtb.errors import UsageError

        if self.min_battles is not None and self.min_battles < 0:
            raise UsageError(f"--min-battles must be 0 or more, not {self.min_battles}")


def checks_language(protocol: BenchmarkProtocol) -> bool:
    """Whether a family's results check the answers' language against a manifest's `language`
    (`checks_language = True` on its class)."""
    return bool(getattr(protocol, "checks_language", False))


def reads_battle_logs(protocol: BenchmarkProtocol) -> bool:
    """Whether a family rates models from battle logs (`reads_battle_logs = True` on its class)."""
    return bool(getattr(protocol, "reads_battle_logs", False))


@dataclass(frozen=True)
class ResultsRequest:
    """`mtb results`'s flags; None means "the benchmark's default"."""

    mode: str | None = None
    models: list[str] | None = None
    judge_model: str | None = None
    baseline_model: str | None = None
    input_file: Path | None = None
    ci: bool = True
    compare: tuple[str, str] | None = None
    rounds: int | None = None
    seed: int | None = None
    control: str | None = None  # "style", "length" or "markdown"
    plot: Path | None = None
    category: str | None = None
    position_bias: bool = False  # pairwise: the position-bias table per judge and prompt
    strict: bool = False  # refuse to score judgments made under different settings
    # MT-bench single: "zero" scores 0 the turns answered in another language than the manifest's.
    language_penalty: str = "none"
    # Chatbot Arena ratings from battle logs: only a family that reads them gets one (`reads_battle_logs`).
    battle_log: BattleLogRequest = field(default_factory=BattleLogRequest)

    def __post_init__(self) -> None:
        # Checked here, where every family's scoring starts: a negative seed or a bootstrap
        # too large for memory would otherwise fail deep inside numpy.
        from mtb.errors import UsageError

        if self.seed is not None and self.seed < 0:
            raise UsageError(f"--seed must be 0 or more, not {self.seed}")
        if self.rounds is not None and not 1 <= self.rounds <= MAX_ROUNDS:
            raise UsageError(f"--rounds must be between 1 and {MAX_ROUNDS:,}, not {self.rounds:,}")


@dataclass
class ScoredRuns:
    """Which runs made the judgments scored (by the `run_id` each carries; None: none recorded).

    `results` turns it into what the judgments shown cost: a run's logged cost over what it wrote.
    """

    judgments: Counter[str | None] = field(default_factory=Counter)  # each judgment once
    per_model: dict[str, Counter[str | None]] = field(default_factory=dict)  # a match counts for both

    def add(self, run_id: str | None, models: Iterable[str]) -> None:
        self.judgments[run_id] += 1
        for model in models:
            self.per_model.setdefault(model, Counter())[run_id] += 1


@dataclass
class ScoreReport:
    """What `mtb results` prints: records for --format json, tables for people, one flat table for files."""

    records: list[dict[str, Any]] | dict[str, Any]
    tables: list[Table]
    flat: Table  # --format csv / markdown
    warnings: list[str] = field(default_factory=list)  # shown as "warning: ..." on stderr
    notes: list[str] = field(default_factory=list)  # shown as they are on stderr
    # The judgment files (or folders) scored: `results` adds the logged cost of the runs that made them.
    sources: list[Path] = field(default_factory=list)
    # Each model's score in each bootstrap round, where the family keeps them (round r of one
    # model beside round r of another): what `mtb quality` needs for its Brier score.
    bootstrap: dict[str, list[float]] = field(default_factory=dict)
    # The runs behind the judgments scored, per model; None: the family does not tell (cost: the files').
    scored_runs: ScoredRuns | None = None


class BenchmarkProtocol(Protocol):
    """One benchmark family: its record schemas, judging and scoring."""

    name: str

    def load_settings(self, bench: Benchmark) -> Any:
        """Read (and check) the family's own keys from `bench.table`; raise ValueError on a bad one."""
        ...

    def read_questions(self, data: DataDir) -> list[Question]: ...

    def read_answers(self, path: Path) -> dict[QuestionId, ModelAnswer]:
        """One model's answers by question; a later line for the same question wins."""
        ...

    def answer_output(self, data: DataDir, model_id: str) -> OutputSpec: ...

    def answer_record(self, bench: Benchmark, answer: GeneratedAnswer) -> dict[str, Any]:
        """One answer record in the family's schema."""
        ...

    def check_generation(self, bench: Benchmark) -> None:
        """Fail before the first request when answers could not be written (a missing extra)."""
        ...

    def plan_judging(self, data: DataDir, request: JudgeRequest) -> PlannedRun: ...

    def score(self, data: DataDir, request: ResultsRequest) -> ScoreReport: ...
