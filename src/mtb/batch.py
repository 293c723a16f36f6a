"""`--batch`: the requests of a run go to the provider's Batch API, at its batch price.

The tasks are the same as for direct requests (the same prompts, the same
parsing); only the caller they talk to differs. `BatchCaller.complete` puts
each request into the batch being gathered and waits for its line: every task
runs at once, so the requests a run can make now (every question's first turn,
both games of every judgment) go out together; a question's second turn,
which needs the first's reply, goes in the next batch.

Nothing paid for is lost and nothing is sent twice:
- each request is a line whose `custom_id` names the item and the request
  (the same on every run);
- once the provider has a batch, its id, input file and custom_id → item map
  are appended to `<output>.batches` (JSON lines) beside the output, before waiting;
- a rerun (after Ctrl-C, kill -9, or `--no-wait`) finds each request's line
  there and waits for that batch, or reads its results, instead of sending it
  again; the provider keeps results for days, so they can be read again;
- lines the provider failed (its error file, an expired batch) go into a new batch.

The state file is append-only JSONL: an unfinished last line (a kill while it
was written) is left out with a note, any other bad line is `path:line: what
is wrong`, with the way out (`--forget-batches`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mtb.backends.base import BackendError, Completion, Message, SamplingParams
from mtb.errors import DataError
from mtb.jobs import CallStats, Deferred
from mtb.jsonl import complete_lines, repair_tail
from mtb.replies import CURRENT_ITEM, fingerprint, item_name

if TYPE_CHECKING:
    from mtb.cost import Meter

# JSON lines, but not `.jsonl`: readers that glob a judgment folder's *.jsonl must never see it.
SUFFIX = ".batches"
# A batch is final in one of these; OpenAI's others are validating, in_progress, finalizing, cancelling.
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
FORGET = "--forget-batches"
# How many batches one request may go through before its item fails (the provider failed its line).
MAX_BATCH_ROUNDS = 3
# Seconds between polls of a batch in flight: often enough to notice a fast batch, rarely
# enough for a provider that takes hours (MTB_BATCH_POLL_SECONDS overrides it; tests use less).
DEFAULT_POLL = 20.0
# A batch is sent once no new request has joined it for this long.
GATHER = 0.2
# OpenAI's per-batch limit on lines.
MAX_LINES = 50_000


@dataclass(frozen=True)
class BatchStatus:
    status: str
    total: int
    completed: int
    failed: int
    output_file_id: str | None
    error_file_id: str | None


class BatchClient(Protocol):
    async def submit(self, lines: list[dict[str, Any]], metadata: dict[str, str]) -> tuple[str, str]: ...
    async def status(self, batch_id: str) -> BatchStatus: ...
    async def download(self, file_id: str) -> str: ...
    async def aclose(self) -> None: ...


def state_path(output: Path) -> Path:
    """Where the batches of an output file (or a judge's folder) are recorded: beside it."""
    return output.with_name(output.name + SUFFIX)


def poll_interval() -> float:
    try:
        return max(0.01, float(os.environ.get("MTB_BATCH_POLL_SECONDS", DEFAULT_POLL)))
    except ValueError:
        return DEFAULT_POLL


@dataclass
class SubmittedBatch:
    batch_id: str
    input_file_id: str
    requests: dict[str, str]  # custom_id → the item's name in its output
    line: int  # where the state file records it

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "input_file_id": self.input_file_id,
            "submitted": round(time.time(), 3),
            "requests": self.requests,
        }


class BatchState:
    """The batches submitted for one output, as `<output>.batches.jsonl` records them."""

    def __init__(self, output: Path, forget: bool = False) -> None:
        self.path = state_path(output)
        self.batches: list[SubmittedBatch] = []
        self.notes: list[str] = []
        # custom_id → every batch holding it, latest line first: a request whose line a batch
        # failed went into another, and any of them may hold the reply paid for.
        self._holding: dict[str, list[SubmittedBatch]] = {}
        self._last_line = 0  # the file's complete lines, so that a batch recorded names its own
        if forget and self.path.exists():
            self.path.unlink()
            self.notes.append(
                f"{self.path}: removed ({FORGET}); its batches stay at the provider and are not collected"
            )
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise DataError(self.path, f"cannot be read ({exc.strerror or exc})") from None
        # An unfinished last line (a kill while it was written) is left out, as by every reader.
        lines = complete_lines(self.path, raw).split(b"\n")
        self._last_line = len(lines) - 1  # the complete part ends in a newline: one empty piece after it
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise self._bad(number, f"not valid JSON ({exc})") from None
            except RecursionError:
                raise self._bad(number, "not valid JSON (nested too deeply)") from None
            batch = self._parse(obj, number)
            recorded = next((b for b in self.batches if b.batch_id == batch.batch_id), None)
            if recorded is None:
                self._add(batch)
            else:  # a line repeated (an append done twice, files joined): one batch, read once
                self._merge(recorded, batch)

    def _bad(self, number: int, what: str) -> DataError:
        return DataError(
            self.path,
            f"{what}; this file records the batches submitted for the output beside it: fix the line, "
            f"or start over with {FORGET} (the batches it names stay at the provider and are not "
            "collected)",
            number,
        )

    def _parse(self, obj: Any, number: int) -> SubmittedBatch:
        if not isinstance(obj, dict):
            raise self._bad(number, "not a JSON object")
        batch_id, input_file_id, requests = obj.get("batch_id"), obj.get("input_file_id"), obj.get("requests")
        if not isinstance(batch_id, str) or not batch_id:
            raise self._bad(number, "field 'batch_id' is missing or not a string")
        if not isinstance(input_file_id, str):
            raise self._bad(number, "field 'input_file_id' is missing or not a string")
        if not isinstance(requests, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in requests.items()
        ):
            raise self._bad(number, "field 'requests' must map each custom_id to its item")
        return SubmittedBatch(batch_id, input_file_id, dict(requests), number)

    def _merge(self, recorded: SubmittedBatch, again: SubmittedBatch) -> None:
        """A batch recorded on two lines: the same batch at the provider, so its requests are one set;
        a request named for two different items cannot be, and is an error."""
        for custom_id, item in again.requests.items():
            if recorded.requests.get(custom_id, item) != item:
                raise self._bad(
                    again.line,
                    f"batch {again.batch_id} is recorded on line {recorded.line} too, with request "
                    f"{custom_id} for another item ({recorded.requests[custom_id]!r}, here {item!r})",
                )
        added = {k: v for k, v in again.requests.items() if k not in recorded.requests}
        recorded.requests.update(added)
        for custom_id in added:
            self._holding.setdefault(custom_id, []).insert(0, recorded)
        self.notes.append(
            f"{self.path}:{again.line}: batch {again.batch_id} is recorded on line {recorded.line} too; "
            "read as one batch"
        )

    def _add(self, batch: SubmittedBatch) -> None:
        self.batches.append(batch)
        for custom_id in batch.requests:
            self._holding.setdefault(custom_id, []).insert(0, batch)

    def holding(self, custom_id: str) -> list[SubmittedBatch]:
        """Every batch the request was submitted in, the latest recorded first."""
        return list(self._holding.get(custom_id, ()))

    def record(self, batch_id: str, input_file_id: str, requests: dict[str, str]) -> SubmittedBatch:
        """Append a batch the provider now has, flushed to disk before anyone waits for it."""
        batch = SubmittedBatch(batch_id, input_file_id, requests, self._last_line + 1)
        try:
            # An unfinished last line (a kill while one was written) would swallow this one, and
            # with it the batch id of requests paid for: the run's lock on its output makes this
            # the only writer, so the line is cut, as any writer's output is (`repair_tail`).
            note = repair_tail(self.path)
            if note:
                self.notes.append(note)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(batch.to_json(), ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DataError(
                self.path, f"cannot record batch {batch_id} ({exc.strerror or exc}); it runs at the provider"
            ) from None
        self._last_line += 1
        self._add(batch)
        return batch


def custom_id(key: Hashable, messages: Sequence[Message], params: SamplingParams, occurrence: int) -> str:
    """One request of one item, named the same on every run: the item, the request, its number."""
    text = json.dumps([item_name(key), fingerprint(messages, params), occurrence])
    return "mtb-" + hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass
class _Line:
    custom_id: str
    body: dict[str, Any]
    item: str
    reply: asyncio.Future[Completion | BackendError]


@dataclass
class _Results:
    """A final batch's lines: a reply or an error per custom_id; those it does not name failed."""

    status: str
    replies: dict[str, Completion | BackendError] = field(default_factory=dict)


class BatchCaller:
    """A `Completer` whose requests go through the provider's Batch API (see the module's docstring)."""

    def __init__(
        self,
        client: BatchClient,
        state: BatchState,
        model: str,
        *,
        chat_body: Callable[[str, Sequence[Message], SamplingParams], dict[str, Any]],
        read_reply: Callable[[Any], Completion],
        meter: Meter | None = None,
        stats: CallStats | None = None,
        on_status: Callable[[str], None] = lambda text: None,
        wait: bool = True,
        poll: float | None = None,
        gather: float = GATHER,
    ) -> None:
        self.client = client
        self.state = state
        self.model = model
        self.chat_body = chat_body
        self.read_reply = read_reply
        self.meter = meter
        self.stats = stats or CallStats()
        self.on_status = on_status
        self.wait = wait
        self.poll = poll if poll is not None else poll_interval()
        self.gather = gather
        self.used: list[str] = []  # batch ids this run submitted or read, in order
        self.submitted = 0  # batches this run created
        self.waiting: set[str] = set()  # batch ids still running at the provider when a wait ended
        self._gathering: list[_Line] = []
        self._last_joined = 0.0
        self._sender: asyncio.Task[None] | None = None
        self._results: dict[str, asyncio.Task[_Results]] = {}
        self._said: dict[str, str] = {}

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        item = CURRENT_ITEM.get()
        key: Hashable = item.key if item is not None else None
        if item is not None:
            kept = item.take(messages, params)
            if kept is not None:
                return kept
        request = fingerprint(messages, params)
        occurrence = item.sent[request] if item is not None else 0
        if item is not None:
            item.sent[request] += 1
        name = custom_id(key, messages, params, occurrence)
        completion = await self._reply(name, item_name(key), messages, params)
        if item is not None:
            item.add(messages, params, completion)
        return completion

    async def _reply(
        self, name: str, item: str, messages: Sequence[Message], params: SamplingParams
    ) -> Completion:
        from mtb.engine import ItemFailed

        last: BackendError | None = None
        # Submitted by an earlier run: its reply is (or will be) in one of those batches, paid for
        # once. Each is asked, whatever order the state file lists them in (a line the provider
        # failed in one batch went into another).
        for held in self.state.holding(name):
            reply = await self._from_batch(held, name)
            if isinstance(reply, Completion):
                self.stats.reused += 1
                if self.meter is not None:
                    self.meter.count(reply, messages)
                return reply
            last = reply
        rounds = MAX_BATCH_ROUNDS - (1 if last is not None else 0)
        for _ in range(rounds if last is None or last.kind != "refused" else 0):
            reply = await self._in_new_batch(name, item, messages, params)
            if isinstance(reply, Completion):
                return reply
            last = reply
            if reply.kind == "refused":
                break  # the provider answered with nothing to use; another batch ends the same way
        raise ItemFailed(f"the provider failed its batch line: {last.message if last else 'no reply'}")

    async def _from_batch(self, batch: Any, name: str) -> Completion | BackendError:
        results = await self._results_of(batch.batch_id)
        return results.replies.get(name) or BackendError(
            "status", f"batch {batch.batch_id} ended {results.status} without this line"
        )

    async def _in_new_batch(
        self, name: str, item: str, messages: Sequence[Message], params: SamplingParams
    ) -> Completion | BackendError:
        ticket = await self.meter.admit(messages, params.max_tokens) if self.meter else None
        loop = asyncio.get_running_loop()
        line = _Line(name, self.chat_body(self.model, messages, params), item, loop.create_future())
        self._gathering.append(line)
        self._last_joined = loop.time()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_when_gathered())
        reply: Completion | BackendError | None = None
        try:
            reply = await line.reply
            return reply
        finally:
            if self.meter is not None and ticket is not None:
                self.meter.settle(ticket, reply if isinstance(reply, Completion) else None, messages)

    async def _send_when_gathered(self) -> None:
        """Send what has gathered once nothing new has joined for `gather` seconds (or it is full)."""
        loop = asyncio.get_running_loop()
        while self._gathering:
            quiet = self._last_joined + self.gather - loop.time()
            if quiet > 0 and len(self._gathering) < MAX_LINES:
                await asyncio.sleep(quiet)
                continue
            lines, self._gathering = self._gathering[:MAX_LINES], self._gathering[MAX_LINES:]
            await self._send(lines)

    async def _send(self, lines: list[_Line]) -> None:
        from mtb.engine import FatalError

        body = [
            {"custom_id": line.custom_id, "method": "POST", "url": "/v1/chat/completions", "body": line.body}
            for line in lines
        ]
        try:
            batch_id, input_file_id = await self.client.submit(body, {"created_by": "mtb"})
            self.stats.requests += len(lines)
            batch = self.state.record(batch_id, input_file_id, {line.custom_id: line.item for line in lines})
        except (BackendError, DataError) as exc:
            error = FatalError(f"the batch could not be submitted: {exc}")
            for line in lines:
                if not line.reply.done():
                    line.reply.set_exception(error)
            return
        self.submitted += 1
        self.on_status(f"batch {batch_id}: submitted, {len(lines)} requests")
        try:
            results = await self._results_of(batch.batch_id)
        except (Deferred, FatalError) as exc:
            for line in lines:
                if not line.reply.done():
                    line.reply.set_exception(type(exc)(*exc.args))
            return
        for line in lines:
            if not line.reply.done():
                line.reply.set_result(
                    results.replies.get(line.custom_id)
                    or BackendError("status", f"batch {batch_id} ended {results.status} without this line")
                )

    async def _results_of(self, batch_id: str) -> _Results:
        """One poller per batch, shared by every request waiting on it."""
        task = self._results.get(batch_id)
        if task is None:
            if batch_id not in self.used:
                self.used.append(batch_id)
            task = asyncio.ensure_future(self._poll(batch_id))
            self._results[batch_id] = task
        return await asyncio.shield(task)

    async def _poll(self, batch_id: str) -> _Results:
        from mtb.engine import FatalError

        while True:
            try:
                status = await self.client.status(batch_id)
            except BackendError as exc:
                if exc.status == 404:
                    line = next((b.line for b in self.state.batches if b.batch_id == batch_id), None)
                    where = f"{self.state.path}:{line}" if line else str(self.state.path)
                    raise FatalError(
                        f"{where}: batch {batch_id} is unknown at the provider ({exc.message}): another "
                        f"account or server? {FORGET} starts over without it (its requests are sent again)"
                    ) from None
                self.on_status(f"batch {batch_id}: status not read ({exc.message}); trying again")
                await asyncio.sleep(self.poll)
                continue
            done = f"{status.completed + status.failed}/{status.total}" if status.total else ""
            said = f"batch {batch_id}: {status.status} {done}".rstrip()
            if said != self._said.get(batch_id):  # a line when something changed, not every poll
                self._said[batch_id] = said
                self.on_status(said)
            if status.status in FINAL:
                return await self._read_results(batch_id, status)
            if not self.wait:
                self.waiting.add(batch_id)
                raise Deferred(batch_id)
            await asyncio.sleep(self.poll)

    async def _read_results(self, batch_id: str, status: BatchStatus) -> _Results:
        """The replies in a final batch's output and error files, by custom_id.

        The provider's files are read as they come (in any order): a line that cannot be read
        (torn, not JSON, no custom_id) is a failed one, its request goes into a new batch; a
        custom_id named twice keeps a reply over an error (the reply is paid for), else its first
        line; a custom_id this batch did not hold is ignored. Each of these is said once.
        """
        results = _Results(status.status)
        sent = {c for b in self.state.batches if b.batch_id == batch_id for c in b.requests}
        unreadable, repeated, unknown = 0, 0, 0
        for file_id in (status.output_file_id, status.error_file_id):
            if not file_id:
                continue
            text = await self.client.download(file_id)
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):
                    obj = None
                name = obj.get("custom_id") if isinstance(obj, dict) else None
                if not isinstance(name, str):
                    unreadable += 1
                    continue
                if sent and name not in sent:
                    unknown += 1
                    continue
                reply = self._reply_of(obj)
                held = results.replies.get(name)
                if held is not None:
                    repeated += 1
                    if isinstance(held, Completion) or not isinstance(reply, Completion):
                        continue
                results.replies[name] = reply
        problems = [
            f"{n} line(s) {what}"
            for n, what in (
                (unreadable, "that could not be read (their requests go into a new batch)"),
                (repeated, "naming a request again (a reply is kept over an error)"),
                (unknown, "naming a request this batch did not hold (ignored)"),
            )
            if n
        ]
        if problems:
            self.on_status(f"batch {batch_id}: the provider's files hold {'; '.join(problems)}")
        return results

    def _reply_of(self, obj: dict[str, Any]) -> Completion | BackendError:
        response, error = obj.get("response"), obj.get("error")
        if isinstance(response, dict) and response.get("status_code") == 200:
            try:
                return self.read_reply(response.get("body"))
            except BackendError as exc:
                return exc
        if isinstance(error, dict):
            return BackendError("status", f"{error.get('code')}: {error.get('message')}")
        code = response.get("status_code") if isinstance(response, dict) else None
        return BackendError("status", f"HTTP {code} in the batch's output")

    async def aclose(self) -> None:
        for task in self._results.values():
            task.cancel()
        await asyncio.gather(*self._results.values(), return_exceptions=True)
        await self.client.aclose()
