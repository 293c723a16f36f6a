"""A result table and its renderings: rich (for people), CSV and markdown (for files).

And `record_of`: one result as a JSON record, for `--format json`.
"""

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


def record_of(result: object, names: str) -> dict[str, Any]:
    """`result` as a JSON record (`--format json`): each attribute in `names` (space-separated;
    fields or properties) under its own name, in that order.

    Written as a dict literal, each key stood twice, as a string and as an attribute, free to
    drift apart; here a key is the attribute it reads.
    """
    return {name: getattr(result, name) for name in names.split()}


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# Characters that move the cursor or the line rather than print: C0 and C1 controls (a newline,
# ESC starting a terminal escape sequence, a tab) and Unicode's line and paragraph separators.
_UNPRINTED = frozenset({"Cc", "Zl", "Zp"})


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with each control character not in `keep` as its escape (`\\n`, `\\x1b`).

    Model names, file names and servers' replies come from anyone: a newline split a
    table row in two, and an ESC sequence could recolour, retitle or clear the terminal.
    """
    if text.isprintable():
        return text
    import unicodedata

    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch not in keep and unicodedata.category(ch) in _UNPRINTED
        else ch
        for ch in text
    )


def shown(value: Any) -> str:
    """`cell(value)` for a person to read in a table: every control character escaped."""
    return escape_controls(cell(value))


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([["" if v is None else v for v in row] for row in table.rows])
    return buffer.getvalue()


def markdown_cell(value: Any) -> str:
    """A cell of a markdown table: a '|' in a name would open a column of its own."""
    return shown(value).replace("|", "\\|")


def to_markdown(table: Table) -> str:
    lines = [
        "| " + " | ".join(markdown_cell(c) for c in table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


KEY_COLUMNS = ("model", "model_a", "model_b")


def column_parts(table: Table, width: int) -> list[list[int]]:
    """The columns of `table` split into parts that each fit in `width` characters as a boxed table.

    Column 0 (the model) opens every part; the others keep their order and
    move to the next part when they do not fit, so no name or header is ever
    cut. A boxed column takes its widest cell, a space each side and a rule.
    """

    from rich.cells import cell_len

    # Measured in terminal cells, not characters: a CJK character or an emoji takes two, and
    # a name measured by len() was planned to fit and then wrapped mid-word at 80 columns.
    def cost(i: int) -> int:
        return max([cell_len(shown(table.columns[i])), *(cell_len(shown(row[i])) for row in table.rows)]) + 3

    if len(table.columns) < 2:
        return [list(range(len(table.columns)))]
    budget = width - 1 - cost(0)
    parts: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i in range(1, len(table.columns)):
        if current and used + cost(i) > budget:
            parts.append(current)
            current, used = [], 0
        current.append(i)
        used += cost(i)
    parts.append(current)
    return [[0, *part] for part in parts]


# Past this many characters in one cell (a model name is a few dozen), rich's layout of a
# wrapped cell takes seconds per megabyte: such a table is printed plainly instead.
LONG_CELL = 2_000


def has_long_cells(table: Table) -> bool:
    return any(len(cell(value)) > LONG_CELL for row in table.rows for value in row) or any(
        len(name) > LONG_CELL for name in table.columns
    )


def to_rich(table: Table, width: int | None = None) -> Any:
    """`table` as rich tables: one, or (given the `width` to fit) several sharing the model column.

    Cells wrap ("fold") rather than end in an ellipsis, should even one column not fit.
    """
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text

    # Every cell, header and title as plain Text: names and file names come from the data,
    # and a model called '[bold]m[/bold]' must show as that, not as a bold 'm'.
    parts = column_parts(table, width) if width else [list(range(len(table.columns)))]
    rendered = []
    for n, part in enumerate(parts):
        title = table.title if n == 0 else f"{table.title} (continued)" if table.title else None
        piece = RichTable(title=Text(shown(title)) if title else None)
        for i in part:
            name = table.columns[i]
            piece.add_column(
                Text(shown(name)), justify="left" if name in KEY_COLUMNS else "right", overflow="fold"
            )
        for row in table.rows:
            piece.add_row(*(Text(shown(row[i])) for i in part))
        rendered.append(piece)
    return rendered[0] if len(rendered) == 1 else Group(*rendered)
