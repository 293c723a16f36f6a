"""The CLI's reporter: the use cases' messages and progress, on stderr through rich."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from mtb.app.reporter import Level
    from mtb.progress import ProgressSink

_COLORS = {"info": None, "note": "yellow", "warning": "yellow", "error": "red"}


class ConsoleReporter:
    """Messages as `tag: text` lines (the tag coloured by level), plans as JSON, bars while running."""

    def __init__(self, console: Console, progress: bool = True) -> None:
        from mtb.progress import ProgressBoard

        self.console = console
        self.show_progress = progress
        # Generation and the judge following it draw their bars in one live display.
        self.board = ProgressBoard(console) if console.is_terminal else None

    def say(self, text: str, *, level: Level = "info", tag: str | None = None) -> None:
        # Text holds what mtb did not write (paths, names, server replies): never markup.
        label = (None if level == "info" else level) if tag is None else tag
        color = _COLORS[level]
        if label:
            styled = f"[{color}]{escape(label)}:[/{color}]" if color else f"{escape(label)}:"
            self.console.print(f"{styled} {escape(text)}", highlight=False)
        else:
            self.console.print(text, highlight=False, markup=False)

    def data(self, obj: dict[str, Any]) -> None:
        self.console.print_json(json.dumps(obj))

    def section(self, title: str) -> None:
        self.console.rule(f"mtb eval: {escape(title)}", style="dim")

    def progress(self, label: str) -> ProgressSink:
        from mtb.progress import make_progress

        return make_progress(self.console, label, enabled=self.show_progress, board=self.board)
