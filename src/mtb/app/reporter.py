"""How the use cases talk to whoever runs them: messages and progress, never a print.

The CLI implements `Reporter` with rich on stderr (`mtb.cli.reporting`); the
Python API with the `mtb` logger and, when asked, a progress bar on stderr
(`mtb.api.LoggingReporter`). The use cases never import rich or typer.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from mtb.jsonl import UnfinishedLine
    from mtb.progress import ProgressSink

Level = Literal["info", "note", "warning", "error"]
Spec = TypeVar("Spec")
Result = TypeVar("Result")
Rest = ParamSpec("Rest")


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


@contextlib.contextmanager
def saying_unfinished_lines(reporter: Reporter) -> Iterator[None]:
    """Say, when the block ends (even by an error), each unfinished last line its readers left out.

    Said at the end, not as read: a writer that then cuts the line from its own output
    says that instead (`mtb.jsonl.repair_tail`), so a file is named once.
    """
    from mtb.jsonl import unfinished_lines

    left_out: list[UnfinishedLine] = []
    try:
        with unfinished_lines() as left_out:
            yield
    finally:
        for line in left_out:
            reporter.say(str(line), level="note")


def says_unfinished_lines(
    use_case: Callable[Concatenate[Spec, Reporter, Rest], Result],
) -> Callable[Concatenate[Spec, Reporter, Rest], Result]:
    """A use case `f(spec, reporter, ...)` that says, as it ends, the unfinished last lines it left out."""

    @functools.wraps(use_case)
    def run(spec: Spec, reporter: Reporter, /, *args: Rest.args, **kwargs: Rest.kwargs) -> Result:
        with saying_unfinished_lines(reporter):
            return use_case(spec, reporter, *args, **kwargs)

    return run
