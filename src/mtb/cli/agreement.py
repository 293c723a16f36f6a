"""`mtb agreement`: how often two judges (or a judge and the human experts) agree, per turn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mtb.cli.common import (
    OutputFormat,
    OutputFormatOption,
    cli_errors,
    stderr_console,
    stdout_console,
    writing_stdout,
)


@cli_errors
def agreement(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Vote files: human_judgments.json, gpt4_pair_judgments.json (JSON arrays or JSONL), "
            "the Hub dataset's Parquet files (lmsys/mt_bench_human_judgments, needs mtb[parquet]), "
            "and/or mtb pair files (<judge>_pair.jsonl).",
            show_default=False,
        ),
    ],
    judges: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--judges",
            help="The two judges to compare (e.g. gpt4-pair human) \\[default: each judge against human, "
            "human against human, then each pair of judges].",
        ),
    ] = None,
    win_rates: Annotated[
        bool,
        typer.Option(
            "--win-rates",
            help="Instead: for each judge, each model's wins, losses and win rate without ties, side by "
            "side (self-enhancement: does a judge favour its own model?).",
        ),
    ] = False,
    output_format: OutputFormatOption = OutputFormat.table,
) -> None:
    """Agreement per turn, with ties (S1) and without (S2), as FastChat's compute_agreement.py.

    Judges are named as FastChat names them: gpt4-pair (GPT-4 pair judgments),
    human (expert*); author* votes are read and left out. An mtb pair file's judge is
    its judge model, and each match's two games count as one vote (differing verdicts
    are a tie).
    """
    from mtb import tables
    from mtb.protocols.mt_bench.agreement import compute

    if win_rates:
        _win_rates(files, judges, output_format)
        return
    report = compute(files, judges)
    console = stderr_console()
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    read = ", ".join(f"{judge} {count:,}" for judge, count in sorted(report.judges.items()))
    console.print(f"votes read: {read}", highlight=False, markup=False)
    table = tables.Table(
        "Agreement (S1: with ties, S2: without ties)",
        ["judge_1", "judge_2", "turn", "ties", "agree", "total", "ratio"],
        [[r.judge_1, r.judge_2, r.turn, r.ties, r.agree, r.total, r.ratio] for r in report.rows],
    )
    with writing_stdout():
        if output_format is OutputFormat.json:
            typer.echo(json.dumps([r.to_json() for r in report.rows], indent=2, allow_nan=False))
        elif output_format is OutputFormat.csv:
            typer.echo(tables.to_csv(table), nl=False)
        elif output_format is OutputFormat.markdown:
            typer.echo(tables.to_markdown(table), nl=False)
        else:
            stdout = stdout_console()
            stdout.print(tables.to_rich(table, stdout.width))


def _win_rates(files: list[Path], judges: tuple[str, str] | None, output_format: OutputFormat) -> None:
    from mtb import tables
    from mtb.protocols.mt_bench.win_rates import compute, side_by_side

    rows, warnings = compute(files, judges)
    console = stderr_console()
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    flat = tables.Table(
        "Win rate without ties",
        ["judge", "model", "wins", "losses", "win_rate"],
        [[r.judge, r.model, r.wins, r.losses, r.win_rate] for r in rows],
    )
    with writing_stdout():
        if output_format is OutputFormat.json:
            typer.echo(json.dumps([r.to_json() for r in rows], indent=2, allow_nan=False))
        elif output_format is OutputFormat.csv:
            typer.echo(tables.to_csv(flat), nl=False)
        elif output_format is OutputFormat.markdown:
            typer.echo(tables.to_markdown(flat), nl=False)
        else:
            stdout = stdout_console()
            stdout.print(tables.to_rich(side_by_side(rows), stdout.width))
