"""Progress on stderr: a rich bar on a terminal, plain lines everywhere else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console


class ProgressSink(Protocol):
    def start(self, total: int) -> None: ...
    def grow(self, more: int) -> None:
        """More items joined a run already started (a judge following generation)."""
        ...

    def advance(self, *, failed: bool = False) -> None: ...
    def note_retry(self, reason: str = "") -> None:
        """One request is retried; `reason` is the error it met (already redacted)."""
        ...

    def stop(self) -> None: ...


# A sink may also have `note_pace(pace: str) -> None`: what holds requests back now (a
# Retry-After every request waits out, the server's token limit, a window shrunk by 429s),
# or "" once nothing does. The engine calls it where it exists, so sinks written without
# it still work. PlainProgress and RichProgress show it.

LAST_ERROR_WIDTH = 80


def last_words(reason: str, width: int = LAST_ERROR_WIDTH) -> str:
    """An error message on one line, cut to `width` characters."""
    line = " ".join(reason.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class PlainProgress:
    """One line every `interval` seconds, and one at the end; for logs and CI."""

    def __init__(
        self,
        console: Console,
        label: str,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.label = label
        self.interval = interval
        self.clock = clock
        self.total = self.done = self.failed = self.retries = 0
        self.last_error = ""
        self.pace = ""
        self._started = self._last = 0.0

    def start(self, total: int) -> None:
        self.total = total
        self._started = self._last = self.clock()

    def grow(self, more: int) -> None:
        self.total += more

    def line(self) -> str:
        elapsed = max(self.clock() - self._started, 1e-9)
        finished = self.done + self.failed
        rate = finished / elapsed
        eta = (
            f", ETA {_duration((self.total - finished) / rate)}" if rate > 0 and finished < self.total else ""
        )
        pace = f"; {self.pace}" if self.pace else ""
        last = f"; last error: {self.last_error}" if self.last_error else ""
        return (
            f"{self.label}: {finished}/{self.total} ({self.failed} failed, {self.retries} retries), "
            f"{rate:.1f}/s{eta}{pace}{last}"
        )

    def advance(self, *, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        else:
            self.done += 1
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self.console.print(self.line(), highlight=False)

    def note_retry(self, reason: str = "") -> None:
        self.retries += 1
        if reason:
            self.last_error = last_words(reason)
        # A run that only waits on retries completes nothing; say so anyway.
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self.console.print(self.line(), highlight=False)

    def note_pace(self, pace: str) -> None:
        self.pace = last_words(pace)
        # A run held back completes little: say why, on the usual schedule.
        now = self.clock()
        if pace and now - self._last >= self.interval:
            self._last = now
            self.console.print(self.line(), highlight=False)

    def stop(self) -> None:
        if self.total:
            self.console.print(self.line(), highlight=False)


class RichProgress:
    """done/total, rate, ETA, failures and retries, redrawn in place."""

    def __init__(self, console: Console, label: str, board: ProgressBoard | None = None) -> None:
        self.label = label
        self.failed = self.retries = 0
        self.last_error = ""
        # Several streams (generation and the judge following it) share one live display:
        # a console can show only one at a time.
        self._board = board or ProgressBoard(console)
        self._progress = self._board.progress
        self._task = self._progress.add_task(
            label, total=None, rate="", failed=0, retries=0, last_error="", pace=""
        )
        self.pace = ""

    def _own_task(self) -> Any:
        return next(task for task in self._progress.tasks if task.id == self._task)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)
        self._board.open()

    def grow(self, more: int) -> None:
        task = self._own_task()
        self._progress.update(self._task, total=(task.total or 0) + more)

    def _refresh(self) -> None:
        task = self._own_task()
        speed = task.finished_speed or task.speed
        self._progress.update(
            self._task,
            rate=f"{speed:.1f}/s" if speed else "",
            failed=self.failed,
            retries=self.retries,
            last_error=self.last_error,
            pace=self.pace,
        )

    def advance(self, *, failed: bool = False) -> None:
        if failed:
            self.failed += 1
        self._progress.advance(self._task)
        self._refresh()

    def note_retry(self, reason: str = "") -> None:
        self.retries += 1
        if reason:
            self.last_error = last_words(reason, 60)
        self._refresh()

    def note_pace(self, pace: str) -> None:
        self.pace = last_words(pace, 60)
        self._refresh()

    def stop(self) -> None:
        self._board.close()


class ProgressBoard:
    """One live rich display for the bars of every stream on a console; drawn while any is running."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.running = 0
        self.progress: Any = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[retries]} retries"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("[cyan]{task.fields[pace]}"),
            TextColumn("[dim]{task.fields[last_error]}"),
            console=console,
            transient=False,
        )

    def open(self) -> None:
        if self.running == 0:
            self.progress.start()
        self.running += 1

    def close(self) -> None:
        self.running = max(0, self.running - 1)
        if self.running == 0:
            self.progress.stop()


def make_progress(
    console: Console, label: str, enabled: bool = True, board: ProgressBoard | None = None
) -> ProgressSink:
    if enabled and console.is_terminal:
        return RichProgress(console, label, board)
    return PlainProgress(console, label, interval=5.0 if enabled else float("inf"))
