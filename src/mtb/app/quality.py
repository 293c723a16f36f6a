"""Benchmark quality: how well a benchmark's scores separate models and agree with a reference ranking.

    report = quality(QualitySpec(bench="arena-hard-v0.1", reference=Path("arena.json")), reporter)
    report.records    # what `mtb quality --format json` prints

The benchmark's scores and intervals are exactly what `mtb results --format json`
prints with the same flags (its bootstrap rounds and seed included): this calls
`mtb.app.results.results` and reads its records. The reference is what
`mtb results --bench chatbot-arena --format json` prints, read from a file or
computed from a battle log on the way. The measures are `mtb.stats.quality`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mtb import validate
from mtb.app.options import check_fields, flag
from mtb.app.reporter import says_unfinished_lines
from mtb.errors import DataError, UsageError

if TYPE_CHECKING:
    from mtb.app.reporter import Reporter
    from mtb.stats.quality import Rated
    from mtb.tables import Table

MIN_SHARED = 3  # fewer shared models leave too few pairs to say anything


@dataclass
class QualitySpec:
    """`mtb quality`'s flags: the reference, then `mtb results`' own flags for the benchmark."""

    reference: Path | None = None
    reference_battles: Path | None = None
    mode: Literal["single", "pairwise-baseline", "pairwise-all"] | None = None
    model_list: list[str] | None = None
    judge_model: str | None = None
    baseline_model: str | None = None
    input_file: Path | None = None
    rounds: int | None = flag(minimum=10)
    seed: int | None = flag(minimum=0)
    category: str | None = None
    style_control: bool = False
    length_control: bool = False
    markdown_control: bool = False
    bench: str = "mt_bench"
    data_dir: Path = Path("data")
    plot: Path | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if (self.reference is None) == (self.reference_battles is None):
            raise UsageError(
                "give one of --reference RATINGS.json (what `mtb results --bench chatbot-arena --format "
                "json` prints) and --reference-battles LOG (computed from a battle log)"
            )
        if self.plot is not None:
            from mtb.plots import check_path

            check_path(self.plot)


@dataclass
class QualityReport:
    records: dict[str, Any]
    tables: list[Table]
    flat: Table
    notes: list[str] = field(default_factory=list)


def read_reference(path: Path) -> dict[str, Rated]:
    """A ratings file as `mtb results --bench chatbot-arena --format json` prints it (a JSON array,
    or JSON lines): one record per model, with its rating and interval; a bad one is `path:line`."""
    from mtb.jsonl import decode_text, input_errors, refuse_device
    from mtb.jsonstream import iter_values

    refuse_device(path)
    with input_errors(path, "a ratings file (.json)"):
        raw = path.read_bytes()
    text = decode_text(path, raw)  # a byte that is not UTF-8 is path:line
    found: dict[str, Rated] = {}
    lines: dict[str, int] = {}
    for line, record in iter_values(io.StringIO(text), path):
        with validate.in_file(path, line):
            model, rated = _rated_record(record, "rating")
            if model in lines:
                raise ValueError(f"model '{model}' is rated twice (first on line {lines[model]})")
        found[model], lines[model] = rated, line
    if not found:
        raise DataError(path, "holds no ratings; expected a JSON array of {model, rating, ci_low, ci_high}")
    return found


def _rated_record(record: Any, value_key: str) -> tuple[str, Rated]:
    """One model's value and interval; a ValueError says what is wrong (`validate.field`'s words)."""
    from mtb.stats.quality import Rated

    if not isinstance(record, dict):
        raise ValueError(f"expected an object with 'model', '{value_key}', 'ci_low' and 'ci_high'")
    model = validate.field(record, "model", str, non_empty=True)
    try:
        value, low, high = (validate.number(record, key) for key in (value_key, "ci_low", "ci_high"))
    except ValueError as exc:
        raise ValueError(f"{model}: {exc} (intervals are needed: not --no-ci)") from None
    # An interval upside down (hand-edited, columns swapped) turned every separability and agreement
    # figure into a wrong number without a word. (A bootstrap interval need not hold its point
    # estimate, so that is not asked.)
    if low > high:
        raise ValueError(f"{model}: 'ci_low' ({low:g}) is above 'ci_high' ({high:g})")
    return model, Rated(value, low, high)


def _rated(records: list[Any], value_key: str, source: Path | str) -> dict[str, Rated]:
    """Records mtb printed itself (a results step on the way): `source` names them in an error."""
    found: dict[str, Rated] = {}
    for position, record in enumerate(records):
        with validate.in_file(source, where=f"record {position}"):
            model, rated = _rated_record(record, value_key)
        found[model] = rated
    return found


def benchmark_scores(records: list[dict[str, Any]] | dict[str, Any], bench: str) -> dict[str, Rated]:
    """Each model's score and interval from `mtb results --format json` records, whatever the family."""
    from mtb.stats.quality import Rated

    if not isinstance(records, list) or not records:
        raise UsageError(f"{bench}: these results hold no per-model scores to judge the benchmark by")
    first = records[0]
    if "average" in first:  # MT-bench single grading: the average and its interval over questions
        found = {}
        for record in records:
            interval = (record.get("ci") or {}).get("average")
            if record.get("average") is None or not interval:
                continue  # no rated verdict: no score to place
            found[record["model"]] = Rated(float(record["average"]), float(interval[0]), float(interval[1]))
        if not found:
            raise UsageError(f"{bench}: no score with an interval (single grading, with --ci)")
        return found
    if "score" in first and "ci_low" in first:  # Arena-Hard v0.1 and v2.0
        categories = sorted({str(r["category"]) for r in records if "category" in r})
        if len(categories) > 1:
            raise UsageError(
                f"{bench} scores each category apart: choose one with --category ({', '.join(categories)})"
            )
        return _rated(records, "score", bench)
    raise UsageError(
        f"{bench}: `mtb quality` needs per-model scores with intervals (MT-bench --mode single, Arena-Hard); "
        "these results have none"
    )


@says_unfinished_lines
def quality(spec: QualitySpec, reporter: Reporter) -> QualityReport:
    from mtb.app.results import ResultsSpec, results
    from mtb.stats.quality import quality as measure

    if spec.reference is not None:
        reference = read_reference(spec.reference)
        reference_name = str(spec.reference)
    else:
        assert spec.reference_battles is not None
        rated = results(
            ResultsSpec(bench="chatbot-arena", battles=spec.reference_battles, data_dir=spec.data_dir),
            reporter,
        )
        reference = _rated(rated.records if isinstance(rated.records, list) else [], "rating", "the battles")
        reference_name = str(spec.reference_battles)
    shown = results(
        ResultsSpec(
            mode=spec.mode,
            model_list=spec.model_list,
            judge_model=spec.judge_model,
            baseline_model=spec.baseline_model,
            input_file=spec.input_file,
            rounds=spec.rounds,
            seed=spec.seed,
            category=spec.category,
            style_control=spec.style_control,
            length_control=spec.length_control,
            markdown_control=spec.markdown_control,
            bench=spec.bench,
            data_dir=spec.data_dir,
        ),
        reporter,
    )
    scores = benchmark_scores(shown.records, spec.bench)
    shared = sorted(set(scores) & set(reference))
    if not shared:
        raise UsageError(
            f"the reference ({reference_name}) and the benchmark ({spec.bench}) share no model; "
            f"reference: {', '.join(sorted(reference))}; benchmark: {', '.join(sorted(scores))}"
        )
    if len(shared) < MIN_SHARED:
        raise UsageError(
            f"the reference ({reference_name}) and the benchmark ({spec.bench}) share {len(shared)} model(s) "
            f"({', '.join(shared)}); at least {MIN_SHARED} are needed"
        )
    notes = []
    for side, names in (("the benchmark", set(scores)), ("the reference", set(reference))):
        alone = sorted(names - set(shared))
        if alone:
            notes.append(f"only in {side}, left out: {', '.join(alone)}")
    rounds = shown.bootstrap if all(m in shown.bootstrap for m in shared) else None
    if rounds is None:
        notes.append("brier: these results keep no bootstrap rounds (style control), so it is not given")
    result = measure({m: scores[m] for m in shared}, {m: reference[m] for m in shared}, rounds)
    for note in notes:
        reporter.say(note)
    records = {"bench": spec.bench, "reference": reference_name, **result.to_json()}
    from mtb.tables import Table

    summary = Table(
        f"Benchmark quality: {spec.bench} against {reference_name}, "
        f"{len(shared)} models, {result.pairs} pairs",
        ["separability", "agreement", "spearman", "kendall", "brier", "reference_separated_pairs"],
        [
            [records[c] for c in ("separability", "agreement", "spearman", "kendall", "brier")]
            + [result.reference_separated]
        ],
    )
    points = Table(
        "Scores and ratings",
        ["model", "score", "ci_low", "ci_high", "rating", "rating_ci_low", "rating_ci_high"],
        [
            [
                m,
                scores[m].value,
                scores[m].low,
                scores[m].high,
                reference[m].value,
                reference[m].low,
                reference[m].high,
            ]
            for m in sorted(shared, key=lambda m: -scores[m].value)
        ],
    )
    if spec.plot is not None:
        from mtb.quality_plot import write_quality_plot

        notes += write_quality_plot(
            spec.plot,
            {m: scores[m] for m in shared},
            {m: reference[m] for m in shared},
            f"{spec.bench} against {Path(reference_name).name}",
        )
        reporter.say(f"plot written to {spec.plot}")
    return QualityReport(records, [summary, points], summary, notes)
