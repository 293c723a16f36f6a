"""`mtb results`: score tables from judgment files."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

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
        str | None,
        typer.Option("--judge-model", help="Whose judgments [default: the benchmark's, gpt-4]."),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input-file", help="A judgment file [default: DATA/.../<judge>_single.jsonl]."),
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="table, json, csv or markdown.")] = (
        OutputFormat.table
    ),
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Also draw the per-category radar chart: .png, .svg or .html (mtb[plot])."
        ),
    ] = None,
) -> None:
    """Print each model's turn means, average and per-category means, best first.

    Tables go to stdout; --format json|csv|markdown give the same numbers for machines.
    """
    from rich.console import Console

    from mtb import results as scoring
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.errors import DataError

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    data = DataDir(data_dir, benchmark)
    path = input_file or data.single_judgment_path(judge_model or benchmark.default_judge)
    if not path.exists():
        raise DataError(path, "no judgments here; run `mtb judge` first, or pass --input-file")
    loaded = scoring.load_single_judgments(path)
    if loaded.duplicates:
        console.print(
            f"[yellow]warning:[/yellow] {path} repeats {loaded.duplicates} judgment(s); each is counted once "
            "(the last line wins)",
            highlight=False,
        )
    categories = {q.question_id: q.category for q in data.questions()}
    wanted = split_model_list(model_list)
    scores = scoring.single_scores(
        loaded.judgments,
        categories,
        turns=benchmark.turns,
        category_order=benchmark.category_order,
        model_list=wanted,
    )
    if wanted:
        missing = [m for m in wanted if m not in {s.model for s in scores}]
        if missing:
            console.print(
                f"[yellow]warning:[/yellow] no usable judgments for: {', '.join(missing)}",
                highlight=False,
            )
    excluded = sum(s.excluded for s in scores)
    if excluded:
        console.print(
            f"{excluded} judgment(s) without a rating were left out (see the 'excluded' column)",
            highlight=False,
        )

    if plot is not None:
        from mtb.plots import write_radar

        write_radar(plot, scores, benchmark.category_order, f"{benchmark.name} — {path.name}")
        console.print(f"radar chart written to {plot}", highlight=False)

    if output_format is OutputFormat.json:
        typer.echo(scoring.to_json(scores))
    elif output_format is OutputFormat.csv:
        typer.echo(scoring.to_csv(scores, benchmark.turns), nl=False)
    elif output_format is OutputFormat.markdown:
        typer.echo(scoring.to_markdown(scores, benchmark.turns), nl=False)
    else:
        stdout = Console()
        for table in scoring.to_tables(
            scores, benchmark.turns, f"{benchmark.name} single grading — {path.name}"
        ):
            stdout.print(table)
