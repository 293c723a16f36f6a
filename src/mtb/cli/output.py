"""Printing a result on stdout in the format asked: a table for people, JSON, CSV or markdown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from mtb.cli.common import OutputFormat, stdout_console, writing_stdout

if TYPE_CHECKING:
    from mtb.app.results import ResultsReport


def emit(report: ResultsReport, output_format: OutputFormat) -> None:
    with writing_stdout():
        _emit(report, output_format)


def _emit(report: ResultsReport, output_format: OutputFormat) -> None:
    from mtb import tables

    if output_format is OutputFormat.json:
        typer.echo(json.dumps(report.records, indent=2, allow_nan=False))
    elif output_format is OutputFormat.csv:
        typer.echo(tables.to_csv(report.flat), nl=False)
    elif output_format is OutputFormat.markdown:
        typer.echo(tables.to_markdown(report.flat), nl=False)
    else:
        # Columns that do not fit the width (80 in a pipe or a CI log) move to a second table.
        stdout = stdout_console()
        for table in report.tables:
            if tables.has_long_cells(table):
                typer.echo(
                    f"{table.title}\n{tables.to_markdown(table)}"
                    if table.title
                    else tables.to_markdown(table)
                )
            else:
                stdout.print(tables.to_rich(table, stdout.width))
