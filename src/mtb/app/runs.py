"""Running the engine for a use case, and saying how a run went."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from mtb.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from mtb.app.reporter import Reporter
    from mtb.cost import Meter
    from mtb.data import DataDir
    from mtb.engine import RunReport


def run_until_done(work: Coroutine[Any, Any, Any], reports: Sequence[RunReport]) -> None:
    """Run `work` in a fresh event loop; Ctrl-C (or SIGTERM) marks the reports interrupted.

    The engine keeps everything written and the replies of unfinished items
    before the interrupt reaches here, so the caller only has to say so.
    """
    try:
        asyncio.run(work)
    except KeyboardInterrupt:
        for report in reports:
            report.interrupted = True


def finish_run(report: RunReport, reporter: Reporter, noun: str) -> int:
    """Say what a run did (counts, retries, failures, why it stopped) and return its exit code."""
    for note in report.notes:
        reporter.say(note, level="note")
    stats = report.stats
    retries = ""
    if stats.retries:
        reasons = ", ".join(f"{n}× {r}" for r, n in stats.retry_reasons.most_common())
        retries = f"; {stats.retries} retries ({reasons})"
    # Replies an earlier run paid for but could not use, taken back instead of requests (mtb.replies).
    reused = f"; {stats.reused} replies kept from an earlier run" if stats.reused else ""
    reporter.say(
        f"{noun}: {report.completed} new, {report.already_done} already in {report.output}, "
        f"{len(report.failures)} failed; {stats.requests} requests{retries}{reused}"
    )
    if report.fatal:
        reporter.say(report.fatal, level="error", tag="stopped")
    if report.cost_stop:
        reporter.say(f"{report.cost_stop} ({report.not_done} left)", level="error", tag="stopped")
    if report.failures:
        lines = [f"{len(report.failures)} {noun} failed and were not written:"]
        for reason, count in Counter(reason for _, reason in report.failures).most_common(5):
            lines.append(f"  {count}× {reason}")
        for label, reason in report.failures[:10]:
            lines.append(f"  - {label}: {reason}")
        if len(report.failures) > 10:
            lines.append(f"  ... and {len(report.failures) - 10} more")
        reporter.say("\n".join(lines), level="error", tag="")
    batches = ", ".join(report.batches)
    if report.interrupted:
        reporter.say(
            f"interrupted with {report.not_done} left; run the same command again to finish",
            level="note",
            tag="",
        )
        if report.batches:
            reporter.say(
                f"batch(es) {batches} go on at the provider, already paid for; the same command collects "
                "their results instead of sending the requests again",
                level="note",
            )
        return EXIT_INTERRUPTED
    if report.deferred and not report.failures and report.fatal is None and report.cost_stop is None:
        reporter.say(
            f"{report.deferred} item(s) wait in batch(es) {batches} at the provider; run the same command "
            "again later to collect them (nothing is sent twice)",
            level="note",
        )
        return EXIT_OK
    if not report.ok:
        reporter.say(rerun_advice(report))
        return EXIT_FAILED
    return EXIT_OK


def unreadable_verdicts(report: RunReport, code: int, reporter: Reporter) -> int:
    """A judge run whose every new judgment holds no readable verdict failed (exit 1).

    The calls went through, but nothing can be scored: a wrong judge model, a prompt it
    does not follow. Exit 0 hid it until `results` showed no average.
    """
    if code != EXIT_OK or not report.completed or report.unparsed_new < report.completed:
        return code
    reporter.say(
        f"none of the {report.completed} judgment(s) made holds a readable verdict (a score or a winner): "
        "check that the judge model follows the judge prompt",
        level="error",
        tag="",
    )
    return EXIT_FAILED


def rerun_advice(report: RunReport) -> str:
    """What to do next: a rerun cures failed items and a spent cap, not what stopped the run outright."""
    if report.fatal:
        # A refused key, a model the server does not have: the same command would stop the same way.
        return "what is done is kept; once the cause above is fixed, a rerun sends only what is missing"
    return "run the same command again to retry only what is missing"


def log_spending(
    meter: Meter | None,
    report: RunReport,
    data: DataDir,
    command: str,
    model: str,
    started: float,
    reporter: Reporter,
) -> tuple[str | None, float | None]:
    """Say what a paid run spent and append it to the cost log: (the line said, its dollars)."""
    if meter is None or not (report.stats.requests or meter.responses):
        # Nothing sent and nothing collected (a batch an earlier run paid for is collected here).
        return None, None
    from mtb import cost

    line = meter.line()
    reporter.say(line)
    problem = cost.record_run(
        data,
        command=command,
        model=model,
        output=report.output,
        meter=meter,
        started=started,
        requests=report.stats.requests,
        completed=report.completed,
        run_id=report.run_id,
    )
    if problem:
        reporter.say(problem, level="warning")
    return line, meter.cost()


# Items in flight under --batch: thousands of requests per batch, and idle workers cost little.
BATCH_WORKERS = 4096


async def run_in_batches(
    config: Any,
    make_jobs: Callable[[Any], Sequence[Any]],
    *,
    report: RunReport,
    reporter: Reporter,
    progress: Any,
    meter: Meter | None,
    run: Any,
    wait: bool,
    forget: bool,
    more: Callable[[Any], Any] | None = None,
    on_written: Callable[[Any, dict[str, Any]], None] | None = None,
) -> None:
    """The jobs, their requests sent through the provider's Batch API (mtb.batch) instead of one by one."""
    from mtb.backends.openai_batch import OpenAIBatchClient
    from mtb.backends.openai_compat import chat_body, completion_from
    from mtb.batch import BatchCaller, BatchState
    from mtb.engine import run_jobs

    state = BatchState(report.output, forget=forget)
    caller = BatchCaller(
        OpenAIBatchClient(config),
        state,
        config.model,
        chat_body=chat_body,
        read_reply=completion_from,
        meter=meter,
        stats=report.stats,
        on_status=reporter.say,
        wait=wait,
    )
    # The same list: the run file names the batches (mtb.provenance), the report says them.
    report.batches = caller.used
    try:
        await run_jobs(
            make_jobs(caller),
            # Every item at once, so that what can be asked now goes out in one batch (a judge
            # following generation keeps this many workers waiting for its items).
            workers=BATCH_WORKERS,
            progress=progress,
            report=report,
            run=run,
            more=more(caller) if more is not None else None,
            on_written=on_written,
        )
    finally:
        await caller.aclose()
        report.notes.extend(state.notes)  # from reading the file, and from recording batches in it
