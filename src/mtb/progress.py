"""Progress on stderr: a rich bar on a terminal, plain lines everywhere else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from rich.console import Console


class ProgressSink(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, *, failed: bool = False) -> None: ...
    def note_retry(self, reason: str = "") -> None:
        """One request is retried; `reason` is the error it met (already redacted)."""
        ...

    def stop(self) -> None: ...


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
        self._started = self._last = 0.0

    def start(self, total: int) -> None:
        self.total = total
        self._started = self._last = self.clock()

    def line(self) -> str:
        elapsed = max(self.clock() - self._started, 1e-9)
        finished = self.done + self.failed
        rate = finished / elapsed
        eta = (
            f", ETA {_duration((self.total - finished) / rate)}" if rate > 0 and finished < self.total else ""
        )
        last = f"; last error: {self.last_error}" if self.last_error else ""
        return (
            f"{self.label}: {finished}/{self.total} ({self.failed} failed, {self.retries} retries), "
            f"{rate:.1f}/s{eta}{last}"
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

    def stop(self) -> None:
        if self.total:
            self.console.print(self.line(), highlight=False)


class RichProgress:
    """done/total, rate, ETA, failures and retries, redrawn in place."""

    def __init__(self, console: Console, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.label = label
        self.failed = self.retries = 0
        self.last_error = ""
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[retries]} retries"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("[dim]{task.fields[last_error]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None, rate="", failed=0, retries=0, last_error="")

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)
        self._progress.start()

    def _refresh(self) -> None:
        task = self._progress.tasks[0]
        speed = task.finished_speed or task.speed
        self._progress.update(
            self._task,
            rate=f"{speed:.1f}/s" if speed else "",
            failed=self.failed,
            retries=self.retries,
            last_error=self.last_error,
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

    def stop(self) -> None:
        self._progress.stop()


def make_progress(console: Console, label: str, enabled: bool = True) -> ProgressSink:
    if enabled and console.is_terminal:
        return RichProgress(console, label)
    return PlainProgress(console, label, interval=5.0 if enabled else float("inf"))
