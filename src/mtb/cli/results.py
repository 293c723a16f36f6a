"""`mtb results`: score tables from judgment files."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    DataDirOption,
    ModelListOption,
    cli_errors,
    split_model_list,
    stderr_console,
)


class ResultsMode(str, Enum):
    single = "single"
    pairwise_baseline = "pairwise-baseline"
    pairwise_all = "pairwise-all"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


@cli_errors
def results(
    mode: Annotated[
        ResultsMode, typer.Option("--mode", help="Which judgments to score.")
    ] = ResultsMode.single,
    model_list: ModelListOption = None,
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="Whose judgments \\[default: the benchmark's judge].")
    ] = None,
    baseline_model: Annotated[
        str | None,
        typer.Option(
            "--baseline-model", help="pairwise-baseline: the baseline \\[default: the benchmark's]."
        ),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input-file", help="A judgment file \\[default: the judge's file in DATA]."),
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="table, json, csv or markdown.")] = (
        OutputFormat.table
    ),
    ci: Annotated[
        bool, typer.Option("--ci/--no-ci", help="single: bootstrap 95% intervals over questions.")
    ] = True,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare", help="single: the difference of two models' averages, with its 95% interval."
        ),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", min=10, help="Bootstrap rounds \\[default: 1000; Arena-Hard: 100]."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Bootstrap seed: the same seed, the same intervals \\[default: 0; Arena-Hard: 42]."
        ),
    ] = None,
    style_control: Annotated[
        bool, typer.Option("--style-control", help="Arena-Hard: hold length and markdown style equal.")
    ] = False,
    length_control: Annotated[
        bool, typer.Option("--length-control", help="Arena-Hard: hold answer length equal.")
    ] = False,
    markdown_control: Annotated[
        bool,
        typer.Option("--markdown-control", help="Arena-Hard: hold markdown headers, lists and bold equal."),
    ] = False,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Also draw the per-category radar chart: .png, .svg or .html (mtb[plot])."
        ),
    ] = None,
) -> None:
    """Print each model's scores, best first: tables to stdout, warnings to stderr.

    single: turn means, the average (FastChat's pooled mean) and per-category
    means, with bootstrap intervals. pairwise: FastChat's win/loss/tie numbers,
    plus how often verdicts flip with position, the judge's first-position
    preference, and how often the longer answer wins.
    """
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.errors import DataError, UsageError

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    data = DataDir(data_dir, benchmark)
    judge = judge_model or benchmark.default_judge
    wanted = split_model_list(model_list)
    controls = [
        name
        for name, on in (("style", style_control), ("length", length_control), ("markdown", markdown_control))
        if on
    ]
    if len(controls) > 1:
        raise UsageError("use at most one of --style-control, --length-control and --markdown-control")
    if plot is not None and benchmark.protocol == "arena-hard":
        raise UsageError("--plot draws MT-bench scores by category; Arena-Hard has a single category")
    if controls and benchmark.protocol != "arena-hard":
        raise UsageError(f"--{controls[0]}-control applies to Arena-Hard results (--bench arena-hard-v0.1)")
    if benchmark.protocol == "arena-hard":
        folder = input_file or data.judgment_dir / judge.replace("/", "_")
        arena_baseline = baseline_model or benchmark.default_baseline
        # Upstream's defaults: 100 rounds, numpy seeded with 42.
        arena_seed = 42 if seed is None else seed
        control = controls[0] if controls else None
        output = _arena(data, folder, arena_baseline, wanted, rounds or 100, arena_seed, control, console)
        _emit(output, output_format)
        return
    rounds = rounds or 1000
    seed = seed or 0
    single = mode is ResultsMode.single
    path = input_file or (data.single_judgment_path(judge) if single else data.pair_judgment_path(judge))
    if not path.exists():
        raise DataError(path, "no judgments here; run `mtb judge` first, or pass --input-file")
    if compare and not single:
        raise UsageError("--compare works with --mode single")

    if plot is not None and (not single or compare):
        raise UsageError("--plot draws single-grading scores by category (--mode single, without --compare)")
    if single:
        output = _single(data, path, wanted, ci, compare, rounds, seed, console, plot)
    else:
        pair_baseline = (
            (baseline_model or benchmark.default_baseline) if mode is ResultsMode.pairwise_baseline else None
        )
        output = _pairwise(data, path, wanted, pair_baseline, console)
    _emit(output, output_format)


def _single(
    data: Any,
    path: Path,
    wanted: list[str] | None,
    ci: bool,
    compare: tuple[str, str] | None,
    rounds: int,
    seed: int,
    console: Console,
    plot: Path | None = None,
) -> dict[str, Any]:
    from mtb import results as scoring
    from mtb.tables import Table

    loaded = scoring.load_single_judgments(path)
    _warn_duplicates(loaded.duplicates, path, console)
    turns = data.bench.turns
    if compare:
        result = scoring.compare_models(loaded.judgments, *compare, turns=turns, rounds=rounds, seed=seed)
        verdict = "an interval that excludes 0" if result.significant else "an interval that includes 0: not"
        console.print(
            f"{result.model_a} − {result.model_b}: {result.difference:+.3f} "
            f"over {result.questions} questions, "
            f"{verdict} a significant difference at 95% ({rounds} paired bootstrap rounds)",
            highlight=False,
        )
        row = [
            result.model_a,
            result.model_b,
            result.difference,
            result.ci_low,
            result.ci_high,
            result.questions,
        ]
        table = Table(
            "Paired comparison", ["model_a", "model_b", "difference", "ci_low", "ci_high", "questions"], [row]
        )
        return {"records": result.to_json(), "tables": [table], "csv": table}
    categories = {q.question_id: q.category for q in data.questions()}
    scores = scoring.single_scores(
        loaded.judgments, categories, turns=turns, category_order=data.bench.category_order, model_list=wanted
    )
    if ci:
        scores = scoring.with_intervals(scores, loaded.judgments, turns=turns, rounds=rounds, seed=seed)
    _warn_missing(wanted, [s.model for s in scores], console)
    excluded = sum(s.excluded for s in scores)
    if excluded:
        console.print(
            f"{excluded} judgment(s) without a rating were left out (see the 'excluded' column)",
            highlight=False,
        )
    title = f"{data.bench.name} single grading — {path.name}"
    if plot is not None:
        from mtb.plots import write_radar

        write_radar(plot, scores, data.bench.category_order, title)
        console.print(f"radar chart written to {plot}", highlight=False)
    return {
        "records": [s.to_json() for s in scores],
        "tables": [
            scoring.single_table(scores, turns, categories=False, title=title),
            scoring.category_table(scores),
        ],
        "csv": scoring.single_table(scores, turns, categories=True),
    }


def _pairwise(
    data: Any, path: Path, wanted: list[str] | None, baseline: str | None, console: Console
) -> dict[str, Any]:
    from mtb import results as scoring

    loaded = scoring.load_pair_judgments(path)
    _warn_duplicates(loaded.duplicates, path, console)
    lengths: dict[str, dict[Any, Any]] = {}

    def answer_length(model: str, qid: Any, turn: int) -> int | None:
        if model not in lengths:
            answer_path = data.answer_path(model)
            lengths[model] = data.answers(model) if answer_path.exists() else {}
        answer = lengths[model].get(qid)
        turns = answer.choices[0].turns if answer else []
        return len(turns[turn - 1]) if len(turns) >= turn else None

    scores = scoring.pair_scores(
        loaded.judgments, baseline=baseline, model_list=wanted, answer_length=answer_length
    )
    _warn_missing(wanted, [s.model for s in scores], console)
    excluded = sum(s.excluded for s in scores)
    if excluded:
        console.print(f"{excluded} match(es) with a game naming no winner were left out", highlight=False)
    against = f" against {baseline}" if baseline else ""
    table = scoring.pair_table(scores, f"{data.bench.name} pairwise{against} — {path.name}")
    return {"records": [s.to_json() for s in scores], "tables": [table], "csv": table}


def _arena(
    data: Any,
    folder: Path,
    baseline: str,
    wanted: list[str] | None,
    rounds: int,
    seed: int,
    control: str | None,
    console: Console,
) -> dict[str, Any]:
    from mtb import arena
    from mtb.errors import DataError
    from mtb.tables import Table

    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise DataError(folder, "no judgment files here; run `mtb judge --bench arena-hard-v0.1` first")
    chosen = [p for p in files if wanted is None or p.stem in wanted]
    avg_tokens = arena.avg_tokens_by_model(
        {m: data.answer_path(m) for m in [*(p.stem for p in chosen), baseline]}
    )
    if control is None:
        counts = arena.battles_by_model(chosen)
        unscored = sum(c.unscored_games for c in counts.values())
        if unscored:
            console.print(f"{unscored} game(s) without a verdict label were left out", highlight=False)
        scores = arena.arena_scores(counts, baseline, rounds=rounds, seed=seed, avg_tokens=avg_tokens)
    else:
        games = arena.games_by_model(chosen)
        answer_paths = {m: data.answer_path(m) for m in [*games, baseline]}
        missing = [str(p) for p in answer_paths.values() if not p.exists()]
        if missing:
            raise DataError(missing[0], "style control needs the answers of every model and of the baseline")
        style = arena.style_totals_by_model(answer_paths)
        result = arena.style_controlled_scores(
            games, style, baseline, control, rounds=rounds, seed=seed, avg_tokens=avg_tokens
        )
        scores = result.scores
        coefficients = ", ".join(f"{name} {value:+.3f}" for name, value in result.coefficients.items())
        console.print(f"style coefficients ({control} control): {coefficients}", highlight=False)
    rows = [
        [s.model, s.score, f"({s.ci_low - s.score:+.1f}, {s.ci_high - s.score:+.1f})", s.avg_tokens]
        for s in scores
    ]
    held = f", {control} controlled" if control else ""
    title = f"{data.bench.name}: win rate against {baseline}{held}, 95% CI from {rounds} bootstrap rounds"
    table = Table(title, ["model", "score", "95% CI", "avg_tokens"], rows)
    csv_rows = [[s.model, s.score, s.ci_low, s.ci_high, s.avg_tokens] for s in scores]
    return {
        "records": [s.to_json() for s in scores],
        "tables": [table],
        "csv": Table(title, ["model", "score", "ci_low", "ci_high", "avg_tokens"], csv_rows),
    }


def _warn_duplicates(duplicates: int, path: Path, console: Console) -> None:
    if duplicates:
        console.print(
            f"[yellow]warning:[/yellow] {path} repeats {duplicates} judgment(s); each is counted once "
            "(the last line wins)",
            highlight=False,
        )


def _warn_missing(wanted: list[str] | None, found: list[str], console: Console) -> None:
    missing = [m for m in wanted or [] if m not in found]
    if missing:
        console.print(
            f"[yellow]warning:[/yellow] no usable judgments for: {', '.join(missing)}", highlight=False
        )


def _emit(output: dict[str, Any], output_format: OutputFormat) -> None:
    from mtb import tables

    if output_format is OutputFormat.json:
        typer.echo(json.dumps(output["records"], indent=2))
    elif output_format is OutputFormat.csv:
        typer.echo(tables.to_csv(output["csv"]), nl=False)
    elif output_format is OutputFormat.markdown:
        typer.echo(tables.to_markdown(output["csv"]), nl=False)
    else:
        stdout = Console()
        for table in output["tables"]:
            stdout.print(tables.to_rich(table))
