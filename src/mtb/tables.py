"""A result table and its renderings: rich (for people), CSV and markdown (for files)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([["" if v is None else v for v in row] for row in table.rows])
    return buffer.getvalue()


def to_markdown(table: Table) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def to_rich(table: Table) -> Any:
    from rich.table import Table as RichTable

    rendered = RichTable(title=table.title or None)
    for name in table.columns:
        rendered.add_column(name, justify="left" if name in ("model", "model_a", "model_b") else "right")
    for row in table.rows:
        rendered.add_row(*(cell(v) for v in row))
    return rendered
