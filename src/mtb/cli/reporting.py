"""The end-of-run summary that generate and judge print on stderr."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape

from mtb.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from mtb.engine import RunReport


def print_report(report: RunReport, console: Console, noun: str) -> int:
    """Print what happened and return the exit code."""
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    stats = report.stats
    retries = ""
    if stats.retries:
        reasons = ", ".join(f"{n}× {r}" for r, n in stats.retry_reasons.most_common())
        retries = f"; {stats.retries} retries ({reasons})"
    # Replies an earlier run paid for but could not use, taken back instead of requests (mtb.replies).
    reused = f"; {stats.reused} replies kept from an earlier run" if stats.reused else ""
    console.print(
        f"{noun}: {report.completed} new, {report.already_done} already in {report.output}, "
        f"{len(report.failures)} failed; {stats.requests} requests{retries}{reused}",
        highlight=False,
        markup=False,
    )
    if report.fatal:
        console.print(f"[red]stopped:[/red] {escape(report.fatal)}", highlight=False)
    if report.cost_stop:
        console.print(
            f"[red]stopped:[/red] {escape(report.cost_stop)} ({report.not_done} left)", highlight=False
        )
    if report.failures:
        console.print(
            f"[red]{len(report.failures)} {noun} failed[/red] and were not written:",
            highlight=False,
        )
        for reason, count in Counter(reason for _, reason in report.failures).most_common(5):
            console.print(f"  {count}× {reason}", highlight=False, markup=False)
        for label, reason in report.failures[:10]:
            console.print(f"  - {label}: {reason}", highlight=False, markup=False)
        if len(report.failures) > 10:
            console.print(f"  ... and {len(report.failures) - 10} more", highlight=False)
    if report.interrupted:
        console.print(
            f"[yellow]interrupted[/yellow] with {report.not_done} left; run the same command again to finish",
            highlight=False,
        )
        return EXIT_INTERRUPTED
    if not report.ok:
        console.print("run the same command again to retry only what is missing", highlight=False)
        return EXIT_FAILED
    return EXIT_OK
