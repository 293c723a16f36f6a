"""The asyncio engine that generation and judging share.

    Endpoint   one backend and its rate controller (mtb.ratelimit), shared by
               every request to it: a Retry-After holds them all, the number in
               flight adapts to 429s within --parallel, and requests are paced by
               the limits the user gave and the server's rate-limit headers
    Caller     the retry layer: sends one request through an Endpoint and
               retries it by `mtb.retry.decide`; stops the run when the server
               stops answering (two timeouts of silence); with several Endpoints
               (replicas of one model), each request goes to the one with the
               fewest requests in flight, and a replica that fails is left out
               of rotation for a while
    run_job    resumes an output file, runs the missing tasks with bounded
               concurrency, appends each result as it completes, and reports
               what failed; failures are never written, and the replies a
               failed or interrupted item did get are kept for the next run
               (`mtb.replies`)

A task is an async function that returns one record (a dict) to append. What a
run is made of (Task, OutputSpec, Job, RunReport) is defined in `mtb.jobs`, which
the protocols plan with; this module runs it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb.backends import create_backend
from mtb.backends.base import Backend, BackendError, Completion, EndpointConfig, Message, SamplingParams
from mtb.errors import DataError

# Defined in mtb.jobs, below both the protocols and this module; the `as` re-exports keep
# `from mtb.engine import Job, OutputSpec, ...` working for code written before the move.
from mtb.jobs import CallStats as CallStats
from mtb.jobs import Deferred
from mtb.jobs import Job as Job
from mtb.jobs import OutputSpec as OutputSpec
from mtb.jobs import RunReport as RunReport
from mtb.jobs import Task as Task
from mtb.jobs import all_of as all_of
from mtb.jobs import done_keys as done_keys
from mtb.jobs import read_existing as read_existing
from mtb.jsonl import JsonlAppender
from mtb.progress import ProgressSink
from mtb.provenance import Run
from mtb.ratelimit import Outcome, RateController, RateLimits, RequestTooLarge, request_tokens
from mtb.replies import CURRENT_ITEM, KeptReplies
from mtb.retry import Circumstances, RetryPolicy, decide, is_retryable

if TYPE_CHECKING:
    from mtb.cost import Meter


class ItemFailed(Exception):
    """One task failed for good; the run goes on without it."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        # Its retries ran out on failures that say nothing about the item (a timeout, a
        # dropped connection, a 5xx): a server that may be down, not a bad request.
        self.transient = transient


class FatalError(Exception):
    """A failure every further request would repeat (bad key, unknown model); the run stops."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class Endpoint:
    """One backend, and the rate controller every request to it goes through.

    `max_in_flight` is --parallel: the controller's window never passes it. `limits` are
    the rates the user knows (--rpm, --tpm); the server's own headers add to them as they
    come. `timeout` is the backend's whole-request timeout (by default its config's), which
    sets how long the run bears a silent or rate-limiting server (two timeouts).
    """

    def __init__(
        self,
        backend: Backend,
        max_in_flight: int,
        *,
        name: str,
        key_hint: str = "OPENAI_API_KEY",
        secrets: Sequence[str | None] = (),
        limits: RateLimits | None = None,
        timeout: float | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.backend = backend
        self.name = name
        self.key_hint = key_hint
        self.secrets = tuple(secrets)
        self.rate = RateController(max_in_flight, limits)
        config = getattr(backend, "config", None)
        if timeout is None and isinstance(config, EndpointConfig):
            timeout = config.timeout
        self.timeout = timeout
        self.connect_timeout = config.connect_timeout if isinstance(config, EndpointConfig) else None
        self.assigned = 0  # requests sent here and not answered yet, those waiting for a slot included
        self.out_until = 0.0  # a replica that failed is skipped until then

    @property
    def paused_until(self) -> float:
        return self.rate.hold_until

    def pause(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Hold every request to this endpoint for `seconds` (the server asked: Retry-After)."""
        self.rate.hold(seconds, clock(), "the server asked (Retry-After)")


def _replica_trouble(error: BackendError) -> bool:
    """A failure that says more about the replica than the request."""
    return error.kind in ("timeout", "connection") or (error.status or 0) >= 500


def _timeout_met(endpoint: Endpoint, error: BackendError, took: float) -> float:
    """The timeout a failed attempt ran under: for a timeout, the one that fired (the
    connect timeout or the whole request's, whichever is nearer how long it took); for
    anything else, the whole request's. math.inf where the endpoint has none."""
    if error.kind != "timeout":
        return endpoint.timeout or math.inf
    known = [t for t in (endpoint.timeout, endpoint.connect_timeout) if t]
    if not known:
        return took if took > 0 else math.inf
    return min(known, key=lambda timeout: abs(timeout - took))


def _outcome(error: BackendError) -> Outcome:
    """What a failed request says of the server's limits."""
    if error.status == 429:
        return "limited"
    # A reply that could not be used (no text, not JSON) was still taken by the server.
    return "served" if error.kind in ("malformed", "refused") else "failed"


class Caller:
    """Sends requests to one Endpoint, or spreads them over replicas.

    The single place where requests are retried. It is the `mtb.jobs.Completer`
    that tasks are given.
    """

    def __init__(
        self,
        endpoint: Endpoint | Sequence[Endpoint],
        policy: RetryPolicy,
        stats: CallStats | None = None,
        on_retry: Callable[[str], None] = lambda reason: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        out_of_rotation: float = 30.0,
        meter: Meter | None = None,
        on_pace: Callable[[str], None] = lambda pace: None,
    ) -> None:
        self.endpoints = [endpoint] if isinstance(endpoint, Endpoint) else list(endpoint)
        if not self.endpoints:
            raise ValueError("a Caller needs at least one endpoint")
        self.endpoint = self.endpoints[0]
        self.out_of_rotation = out_of_rotation
        self.policy = policy
        self.stats = stats or CallStats()
        self.on_retry = on_retry
        # Told what holds requests back (a Retry-After, the server's token limit, a window
        # shrunk by 429s), when that changes: for the progress line.
        self.on_pace = on_pace
        self._pace_said = ""
        self._pace_at = -math.inf
        self.sleep = sleep
        self.clock = clock
        # Counts each response's tokens and cost; with --max-cost, admits each request
        # (raising mtb.cost.BudgetExhausted when the next one would pass the cap).
        self.meter = meter
        # The stall rule's clocks: when the endpoints last answered anything, and last served
        # a request; time with no request wanting to be sent counts as neither silence nor
        # refusal, nor does time spent waiting on a rate limit with none on the wire.
        self.active = 0  # requests being sent, retried or waiting their turn
        self.on_wire = 0  # requests sent and not answered
        self._heard = self._served = 0.0

    def _pick(self) -> Endpoint:
        """The replica in rotation with the fewest requests; if none is, the one back soonest."""
        if len(self.endpoints) == 1:
            return self.endpoint
        now = self.clock()
        ready = [e for e in self.endpoints if e.out_until <= now and e.paused_until <= now]
        if not ready:
            return min(self.endpoints, key=lambda e: max(e.out_until, e.paused_until))
        return min(ready, key=lambda e: e.assigned)

    def _say_pace(self, endpoint: Endpoint, now: float, force: bool = False) -> None:
        # At most twice a second, unless something new holds requests back.
        if not force and now - self._pace_at < 0.5:
            return
        self._pace_at = now
        pace = endpoint.rate.describe(now)
        if pace != self._pace_said:
            self._pace_said = pace
            self.on_pace(pace)

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        """One reply: one kept for this item by an earlier run (mtb.replies), else a request."""
        item = CURRENT_ITEM.get()
        if item is None:
            return await self._send(messages, params)
        kept = item.take(messages, params)
        if kept is not None:
            return kept
        completion = await self._send(messages, params)
        item.add(messages, params, completion)
        return completion

    async def _send(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        if self.active == 0:
            now = self.clock()
            self._heard, self._served = max(self._heard, now), max(self._served, now)
        self.active += 1
        try:
            return await self._attempts(messages, params)
        finally:
            self.active -= 1

    async def _attempts(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        failures = Counter[bool]()  # keyed by "was it a timeout?"; 429s the server explains are not counted
        tokens = request_tokens(messages, params.max_tokens)
        while True:
            endpoint = self._pick()
            rate = endpoint.rate
            endpoint.assigned += 1
            try:
                try:
                    held_back = bool(rate.waiting) or rate.wait_before(tokens, self.clock()) != 0
                    if held_back:
                        self._say_pace(endpoint, self.clock(), force=True)
                    permit = await rate.acquire(tokens, self.clock, self.sleep)
                except RequestTooLarge as exc:
                    # This item's request, not the run: a smaller one may still fit the limit.
                    raise ItemFailed(str(exc)) from None
                outcome: Outcome = "unsent"
                headers: Mapping[str, str] = {}
                try:
                    ticket = await self.meter.admit(messages, params.max_tokens) if self.meter else None
                    self.stats.requests += 1
                    outcome = "failed"
                    completion: Completion | None = None
                    sent = self.clock()
                    if held_back and self.on_wire == 0:
                        # Nothing was on the wire while this request waited its turn (paced by
                        # a rate limit): that wait was this side's, not the server's silence.
                        self._heard = max(self._heard, sent)
                    self.on_wire += 1
                    try:
                        completion = await endpoint.backend.complete(messages, params)
                        outcome, headers = "served", completion.headers
                        self._heard = self._served = self.clock()
                        if completion.model:
                            self.stats.served_models[completion.model] += 1
                        return completion
                    except BackendError as exc:
                        error = exc
                        outcome, headers = _outcome(exc), exc.headers
                        if exc.status is not None or exc.kind in ("malformed", "refused"):
                            self._heard = self.clock()  # an answer, if not a useful one
                        if exc.usage is not None:
                            # A reply that could not be used was still paid for: count its tokens.
                            completion = Completion("", usage=exc.usage)
                    finally:
                        self.on_wire -= 1
                        if self.meter is not None and ticket is not None:
                            self.meter.settle(ticket, completion, messages)
                finally:
                    now = self.clock()
                    info = rate.release(permit, now, outcome, headers)
                    self._say_pace(endpoint, now, force=outcome == "limited")
            finally:
                endpoint.assigned -= 1
            if len(self.endpoints) > 1 and _replica_trouble(error):
                endpoint.out_until = now + self.out_of_rotation
            explained = rate.explain(permit, info, now) if error.status == 429 else None
            timed_out = error.kind == "timeout"
            if not (error.status == 429 and (error.retry_after is not None or explained is not None)):
                failures[timed_out] += 1
            stall_after = 2 * _timeout_met(endpoint, error, now - sent)
            context = Circumstances(explained, now - self._heard, now - self._served, stall_after)
            decision = decide(error, max(1, failures[timed_out]), self.policy, context=context)
            if decision.fatal:
                message = f"{endpoint.name}: {redact(error.message, endpoint.secrets)}"
                if error.status == 401:
                    message += f"; check {endpoint.key_hint}"
                if decision.reason:
                    message += f"; {decision.reason}"
                raise FatalError(message)
            if not decision.retry:
                attempts = failures.total()
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                message = f"{redact(error.message, endpoint.secrets)}{tries}"
                raise ItemFailed(message, transient=is_retryable(error))
            self.stats.retries += 1
            self.stats.retry_reasons[error.kind if error.status is None else f"HTTP {error.status}"] += 1
            # The server's last words, for the progress line while the run waits; first, when
            # it asked for a pause, how long (the line is cut short), so a quiet run says why.
            if decision.wait >= 1 and error.retry_after is not None:
                asked = f"waiting {decision.wait:g} s as the server asked (Retry-After): "
            elif explained is not None:
                asked = "waiting for room under the server's rate limit (its headers): "
            else:
                asked = ""
            self.on_retry(asked + redact(error.message, endpoint.secrets))
            if error.retry_after is not None:
                # Every sender waits, not only this one: the server's word is for the endpoint.
                rate.hold(decision.wait, now, "the server asked (Retry-After)")
                self._say_pace(endpoint, now, force=True)
            await self.sleep(decision.wait)


def _latest_per_key(records: Iterable[dict[str, Any]], spec: OutputSpec) -> dict[Hashable, dict[str, Any]]:
    latest: dict[Hashable, dict[str, Any]] = {}
    for record in records:
        latest[spec.key(record)] = record
    return latest


Writer = Callable[[dict[str, Any]], None]
# A task, where its record goes, and the replies kept for unfinished items of that output.
Pending = tuple[Task, Writer, KeptReplies]


async def _run_item(task: Task, kept: KeptReplies, stats: CallStats) -> dict[str, Any]:
    """Run one task, its kept replies at hand; if it ends without a record, keep what it was paid for."""
    item = kept.open_item(task.key)
    token = CURRENT_ITEM.set(item)
    try:
        return await task.run()
    except BaseException:
        # Failed, interrupted or stopped: the item is not written, and its replies would be
        # paid for again; the next run takes them back (mtb.replies).
        kept.keep(task.key, item)
        raise
    finally:
        CURRENT_ITEM.reset(token)
        stats.reused += item.reused


async def _run_tasks(
    tasks: Sequence[Pending],
    workers: int,
    progress: ProgressSink,
    report: RunReport,
    more: AsyncIterator[Sequence[Pending]] | None = None,
) -> None:
    """Run the tasks with `workers` in flight; with `more`, also those it yields, until it ends."""
    # None tells a worker that nothing more will come.
    queue: asyncio.Queue[Pending | None] = asyncio.Queue()
    for item in tasks:
        queue.put_nowait(item)
    size = workers if more is not None else max(1, min(workers, len(tasks)))
    left = len(tasks)  # tasks queued and not taken yet

    from mtb.cost import BudgetExhausted

    # Items in a row whose retries all ran out on transient failures, none answered in
    # between: a server that is down. Without a stop, every item would wait out its own
    # backoff (about 45 s each, in rounds of `workers`: a quarter of an hour for 160
    # judgments), so the run stops once a whole round has failed so.
    streak_limit = max(workers, 3)
    streak = 0

    async def worker() -> None:
        nonlocal streak, left
        while True:
            pending = await queue.get()
            if pending is None:
                return
            left -= 1
            task, write, kept = pending
            try:
                record = await _run_item(task, kept, report.stats)
            except ItemFailed as exc:
                report.failures.append((task.label, str(exc)))
                progress.advance(failed=True)
                streak = streak + 1 if exc.transient else 0
                if streak >= streak_limit and left:
                    raise FatalError(
                        f"{streak} items in a row failed after every retry, none answered in between "
                        f"(last: {exc}); the server seems down or overloaded: run the same command "
                        "again when it answers"
                    ) from None
                continue
            except Deferred:
                # Its request waits in a batch at the provider: the next run collects it.
                report.deferred += 1
                continue
            except BudgetExhausted as exc:
                # Not a failure of the item: no new request starts, and the requests in
                # flight (already paid for) finish and are written by their workers.
                report.cost_stop = str(exc)
                return
            try:
                write(record)
            except DataError as exc:
                # The output cannot take more (a full disk): every later reply would be
                # paid for and lost the same way, so nothing more is sent.
                raise FatalError(f"{exc}; the reply for {task.label} was received but not kept") from None
            report.completed += 1
            streak = 0
            progress.advance()

    async def feed() -> None:
        nonlocal left
        if more is not None:
            async for batch in more:
                report.total += len(batch)
                progress.grow(len(batch))
                left += len(batch)
                for item in batch:
                    queue.put_nowait(item)
        for _ in range(size):
            queue.put_nowait(None)

    pool = [asyncio.create_task(worker()) for _ in range(size)]
    pool.append(asyncio.create_task(feed()))
    try:
        await asyncio.gather(*pool)
    except FatalError as exc:
        report.fatal = str(exc)
    finally:
        for member in pool:
            member.cancel()
        await asyncio.gather(*pool, return_exceptions=True)


@dataclass
class _OpenJob:
    job: Job
    output: JsonlAppender
    existing: list[dict[str, Any]]
    replies: KeptReplies  # paid for by earlier runs, for items not written yet
    run: Run | None = None
    on_written: Callable[[OutputSpec, dict[str, Any]], None] | None = None
    written: list[dict[str, Any]] = field(default_factory=list)
    scheduled: set[Hashable] = field(default_factory=set)  # done before, or handed to a worker

    def write(self, record: dict[str, Any]) -> None:
        if self.run is not None:
            # The run's line goes to the run file before the first record that points to it.
            self.run.begin()
            record = {**record, **self.run.stamp()}
        self.output.write(record)
        self.written.append(record)
        if self.on_written is not None:
            self.on_written(self.job.spec, record)

    def pending(self, job: Job) -> list[Pending]:
        """The tasks of `job` (this file's, perhaps planned anew) not done and not yet handed out."""
        tasks = [task for task in job.make_tasks(self.scheduled) if task.key not in self.scheduled]
        self.scheduled.update(task.key for task in tasks)
        return [(task, self.write, self.replies) for task in tasks]


async def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int,
    progress: ProgressSink,
    report: RunReport,
    run: Run | None = None,
    more: AsyncIterator[Sequence[Job]] | None = None,
    on_written: Callable[[OutputSpec, dict[str, Any]], None] | None = None,
) -> RunReport:
    """Run, in one pool of `workers`, every task the jobs return for keys not yet done in their files.

    `report` is passed in so that the caller still holds the counts if the run
    is interrupted (Ctrl-C cancels this coroutine). With `run`, every record
    written carries its `run_id` (provenance), whatever the protocol that built it.
    With `more`, the jobs it yields while the run goes on join it (a judge that
    follows generation): their files are opened once, and a task already done or
    handed out is never run twice. `on_written` hears of each record written.
    """
    if run is not None:
        report.run_id = run.run_id
    with ExitStack() as stack:
        opened: dict[Path, _OpenJob] = {}

        def open_job(job: Job) -> _OpenJob:
            state = opened.get(job.spec.path)
            if state is not None:
                return state
            output = stack.enter_context(JsonlAppender(job.spec.path))
            report.notes.extend(output.notes)
            state = _OpenJob(
                job, output, read_existing(job.spec), KeptReplies(job.spec.path), run, on_written
            )
            report.notes.extend(state.replies.notes)
            done = done_keys(job.spec, state.existing)
            report.already_done += len(done)
            state.replies.forget(done)
            state.scheduled |= done
            opened[job.spec.path] = state
            return state

        async def pending_of_more() -> AsyncIterator[Sequence[Pending]]:
            assert more is not None
            async for batch in more:
                yield [item for job in batch for item in open_job(job).pending(job)]

        pending = [item for job in jobs for item in open_job(job).pending(job)]
        report.total = len(pending)
        progress.start(len(pending))
        try:
            await _run_tasks(
                pending, workers, progress, report, pending_of_more() if more is not None else None
            )
        except asyncio.CancelledError:
            report.interrupted = True
            raise
        finally:
            progress.stop()
            # Each file's records, old and new, the latest per key: counted from what is in
            # hand (reading a 5,000-judgment file back took a quarter of a second).
            latest = [_latest_per_key([*s.existing, *s.written], s.job.spec) for s in opened.values()]
            for state, records in zip(opened.values(), latest, strict=True):
                report.unparsed += sum(1 for r in records.values() if state.job.spec.unparsed(r))
                report.unparsed_new += sum(1 for r in state.written if state.job.spec.unparsed(r))
                try:
                    state.replies.save()
                except DataError as exc:
                    report.notes.append(f"the replies of unfinished items were not kept: {exc}")
                else:
                    if kept := state.replies.count():
                        report.notes.append(
                            f"{kept} replies paid for by unfinished items kept in {state.replies.path}; "
                            "the next run takes them back instead of asking again"
                        )
            if run is not None:
                try:
                    run.finish(
                        completed=report.completed,
                        failed=len(report.failures),
                        requests=report.stats.requests,
                        served_models=dict(report.stats.served_models),
                        **({"batches": list(report.batches)} if report.batches else {}),
                    )
                except DataError as exc:  # a full disk: the report must still be printed
                    report.notes.append(f"the run's totals were not recorded: {exc}")
        # Only a run that ended by itself tidies its files: sorted, one line per key,
        # the latest kept (as FastChat's reorg_answer_file does).
        for state, records in zip(opened.values(), latest, strict=True):
            spec = state.job.spec
            if state.written or len(state.existing) != len(records):
                try:
                    state.output.rewrite(sorted(records.values(), key=spec.sort_key))
                except DataError as exc:
                    # Its lines are all there, appended as they came; only the order is not tidied.
                    report.notes.append(f"not sorted: {exc}")
    return report


async def run_job(
    spec: OutputSpec,
    make_tasks: Callable[[set[Hashable]], Sequence[Task]],
    *,
    workers: int,
    progress: ProgressSink,
    report: RunReport | None = None,
    run: Run | None = None,
) -> RunReport:
    """`run_jobs` for a single output file."""
    return await run_jobs(
        [Job(spec, make_tasks)],
        workers=workers,
        progress=progress,
        report=report or RunReport(spec.path),
        run=run,
    )


def run_on_endpoint(
    config: EndpointConfig | Sequence[EndpointConfig],
    make_jobs: Callable[[Caller], Sequence[Job]],
    *,
    output: Path,
    parallel: int,
    policy: RetryPolicy,
    progress: ProgressSink,
    meter: Meter | None = None,
    run: Run | None = None,
    limits: RateLimits | None = None,
) -> RunReport:
    """Open the endpoint (or every replica, `parallel` in flight each), run the jobs, close them.

    Ctrl-C ends the run, marked interrupted. `output` names where results go
    (a file, or the folder of several) in the report.
    """
    configs = [config] if isinstance(config, EndpointConfig) else list(config)
    return run_on_endpoints(
        lambda: api_endpoints(configs, parallel, limits),
        make_jobs,
        output=output,
        workers=parallel * len(configs),
        policy=policy,
        progress=progress,
        meter=meter,
        run=run,
    )


def api_endpoints(
    configs: Sequence[EndpointConfig], parallel: int, limits: RateLimits | None = None
) -> list[Endpoint]:
    """An Endpoint per API replica, `parallel` in flight on each; made inside the event loop.

    `limits` (the --rpm and --tpm the user knows) hold for each replica on its own.
    """
    return [
        Endpoint(
            create_backend(c),
            parallel,
            name=c.model if len(configs) == 1 else f"{c.model} at {c.api_base}",
            key_hint=c.key_hint,
            secrets=[c.api_key],
            limits=limits,
        )
        for c in configs
    ]


def run_on_endpoints(
    open_endpoints: Callable[[], Sequence[Endpoint]],
    make_jobs: Callable[[Caller], Sequence[Job]],
    *,
    output: Path,
    workers: int,
    policy: RetryPolicy,
    progress: ProgressSink,
    meter: Meter | None = None,
    run: Run | None = None,
) -> RunReport:
    """Run the jobs through the endpoints `open_endpoints` makes (inside the event loop), then close them."""
    report = RunReport(output)
    try:
        asyncio.run(
            serve_jobs(
                open_endpoints,
                make_jobs,
                report=report,
                workers=workers,
                policy=policy,
                progress=progress,
                meter=meter,
                run=run,
            )
        )
    except KeyboardInterrupt:
        report.interrupted = True
    return report


async def serve_jobs(
    open_endpoints: Callable[[], Sequence[Endpoint]],
    make_jobs: Callable[[Caller], Sequence[Job]],
    *,
    report: RunReport,
    workers: int,
    policy: RetryPolicy,
    progress: ProgressSink,
    meter: Meter | None = None,
    run: Run | None = None,
    more: Callable[[Caller], AsyncIterator[Sequence[Job]]] | None = None,
    on_written: Callable[[OutputSpec, dict[str, Any]], None] | None = None,
) -> RunReport:
    """`run_on_endpoints` inside a running event loop, beside other runs (a pipelined `mtb eval`)."""
    endpoints = open_endpoints()
    # `note_pace` is optional: a ProgressSink without it (start/grow/advance/note_retry/stop) still works.
    note_pace: Callable[[str], None] = getattr(progress, "note_pace", lambda pace: None)
    caller = Caller(
        endpoints, policy, report.stats, on_retry=progress.note_retry, meter=meter, on_pace=note_pace
    )
    try:
        await run_jobs(
            make_jobs(caller),
            workers=workers,
            progress=progress,
            report=report,
            run=run,
            more=more(caller) if more is not None else None,
            on_written=on_written,
        )
    finally:
        for endpoint in endpoints:
            report.notes.extend(endpoint.rate.notes())
            await endpoint.backend.aclose()
    return report
