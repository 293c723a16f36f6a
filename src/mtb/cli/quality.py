"""`mtb quality`: how well a benchmark separates models and agrees with a reference ranking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    CategoryOption,
    DataDirOption,
    InputFileOption,
    Mode,
    ModelListOption,
    OutputFormat,
    OutputFormatOption,
    cli_errors,
    stderr_console,
    stdout_console,
    writing_stdout,
)


@cli_errors
def quality(
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="Reference ratings: what `mtb results --bench chatbot-arena --format json` prints "
            "(model, rating, ci_low, ci_high).",
        ),
    ] = None,
    reference_battles: Annotated[
        Path | None,
        typer.Option(
            "--reference-battles",
            help="A Chatbot Arena battle log to compute the reference ratings from (as `mtb results "
            "--bench chatbot-arena --battles LOG`).",
        ),
    ] = None,
    mode: Annotated[
        Mode | None, typer.Option("--mode", help="As `mtb results`: which judgments to score.")
    ] = None,
    model_list: ModelListOption = None,
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="Whose judgments \\[default: the benchmark's judge].")
    ] = None,
    baseline_model: Annotated[str | None, typer.Option("--baseline-model", help="As `mtb results`.")] = None,
    input_file: InputFileOption = None,
    rounds: Annotated[
        int | None, typer.Option("--rounds", min=10, help="Bootstrap rounds, as `mtb results`.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Bootstrap seed, as `mtb results`.")
    ] = None,
    category: CategoryOption = None,
    style_control: Annotated[bool, typer.Option("--style-control", help="As `mtb results`.")] = False,
    length_control: Annotated[bool, typer.Option("--length-control", help="As `mtb results`.")] = False,
    markdown_control: Annotated[bool, typer.Option("--markdown-control", help="As `mtb results`.")] = False,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Also draw score against rating with both intervals: .png, .svg or .html."
        ),
    ] = None,
    output_format: OutputFormatOption = OutputFormat.table,
) -> None:
    """Separability, agreement with the reference (intervals counted), Spearman, Kendall and Brier.

    The benchmark's scores and intervals are those `mtb results --format json` prints
    with the same flags. Over every pair of the models both sides rate: separability is
    the share whose benchmark intervals do not overlap; agreement, over the pairs the
    reference separates, the mean of +1 (separated the same way), -1 (the other way)
    and 0 (not separated); brier, over those pairs, the mean of (p - y)^2, p the share of
    bootstrap rounds with the first model above the second.
    """
    from mtb import tables
    from mtb.app.quality import QualitySpec
    from mtb.app.quality import quality as run
    from mtb.cli.reporting import ConsoleReporter

    spec = QualitySpec(
        reference=reference,
        reference_battles=reference_battles,
        mode=mode.value if mode else None,
        model_list=model_list,
        judge_model=judge_model,
        baseline_model=baseline_model,
        input_file=input_file,
        rounds=rounds,
        seed=seed,
        category=category,
        style_control=style_control,
        length_control=length_control,
        markdown_control=markdown_control,
        bench=bench,
        data_dir=data_dir,
        plot=plot,
    )
    report = run(spec, ConsoleReporter(stderr_console()))
    with writing_stdout():
        if output_format is OutputFormat.json:
            typer.echo(json.dumps(report.records, indent=2, allow_nan=False))
        elif output_format is OutputFormat.csv:
            typer.echo(tables.to_csv(report.flat), nl=False)
        elif output_format is OutputFormat.markdown:
            typer.echo(tables.to_markdown(report.flat), nl=False)
        else:
            stdout = stdout_console()
            for table in report.tables:
                stdout.print(tables.to_rich(table, stdout.width))
