"""How the use cases talk to whoever runs them: messages and progress, never a print.

The CLI implements `Reporter` with rich on stderr (`mtb.cli.reporting`); the
Python API with the `mtb` logger and, when asked, a progress bar on stderr
(`mtb.api.LoggingReporter`). The use cases never import rich or typer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mtb.progress import ProgressSink

Level = Literal["info", "note", "warning", "error"]


class Reporter(Protocol):
    def say(self, text: str, *, level: Level = "info", tag: str | None = None) -> None:
        """One message; `tag` (default: the level, except for info) is shown before it."""
        ...

    def data(self, obj: dict[str, Any]) -> None:
        """Structured facts for a person (a run's plan): pretty JSON on a console."""
        ...

    def section(self, title: str) -> None:
        """A step of a longer job begins (`mtb eval: generate m1`)."""
        ...

    def progress(self, label: str) -> ProgressSink:
        """A progress display for one stream of items (several may run at once)."""
        ...


class Quiet:
    """A progress sink that shows nothing."""

    def start(self, total: int) -> None:
        pass

    def grow(self, more: int) -> None:
        pass

    def advance(self, *, failed: bool = False) -> None:
        pass

    def note_retry(self, reason: str = "") -> None:
        pass

    def stop(self) -> None:
        pass


class Recorder:
    """A reporter that keeps every message: for tests, and for callers that show them later."""

    def __init__(self) -> None:
        self.messages: list[tuple[Level, str]] = []
        self.sections: list[str] = []
        self.data_shown: list[dict[str, Any]] = []

    def say(self, text: str, *, level: Level = "info", tag: str | None = None) -> None:
        self.messages.append((level, f"{tag}: {text}" if tag else text))

    def data(self, obj: dict[str, Any]) -> None:
        self.data_shown.append(obj)

    def section(self, title: str) -> None:
        self.sections.append(title)

    def progress(self, label: str) -> ProgressSink:
        return Quiet()

    def text(self) -> str:
        return "\n".join(text for _, text in self.messages)
