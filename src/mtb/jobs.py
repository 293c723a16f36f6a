"""What a run is made of, shared by the protocols that plan runs and the engine that runs them.

    Task        one item to produce: an async function that returns one record
    OutputSpec  how one output file's records are keyed, checked and ordered
    Job         one output file and the tasks that fill it
    Completer   what a task sends its requests through (the engine's Caller is one)
    RunReport   what a run did: counts, failures, why it stopped
    done_keys   the keys an output file already holds, which a run skips
    all_of      await several requests of one item, keeping every reply

This module is below both `mtb.engine` and `mtb.protocols`: a protocol plans
jobs without importing the engine (with its backends, cost meter and retry
loop), and the engine imports nothing of the protocols.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mtb.errors import DataError
from mtb.jsonl import iter_json_lines

if TYPE_CHECKING:
    from mtb.backends.base import Completion, Message, SamplingParams

T = TypeVar("T")


class Completer(Protocol):
    """Sends one request and returns its reply, retrying as it sees fit (`mtb.engine.Caller`)."""

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion: ...


@dataclass(frozen=True)
class Task:
    key: Hashable
    label: str  # names the item in failure reports, e.g. "question 81"
    run: Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class OutputSpec:
    """How the records of one output file are keyed, checked and ordered."""

    path: Path
    parse: Callable[[dict[str, Any]], Any]  # validates a line; raises ValueError
    key: Callable[[dict[str, Any]], Hashable]
    sort_key: Callable[[dict[str, Any]], Any]
    # A record that exists but should be produced again (e.g. an unparsed verdict
    # with --retry-unparsed) is not counted as done.
    is_done: Callable[[dict[str, Any]], bool] = lambda record: True
    # A verdict that names no score or winner: kept, left out of results, counted in the report.
    unparsed: Callable[[dict[str, Any]], bool] = lambda record: False


@dataclass(frozen=True)
class Job:
    """One output file and the tasks that fill it."""

    spec: OutputSpec
    make_tasks: Callable[[set[Hashable]], Sequence[Task]]


@dataclass
class CallStats:
    requests: int = 0
    retries: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)
    # The model each reply says answered (e.g. gpt-4-0613 for gpt-4): a judge's version, for provenance.
    served_models: Counter[str] = field(default_factory=Counter)
    reused: int = 0  # replies an earlier run paid for and kept (mtb.replies), taken instead of a request


class Deferred(Exception):
    """The item's request is in a provider's batch that is not done yet: not a failure, and not
    written; the next run collects it (`--batch --no-wait`)."""


@dataclass
class RunReport:
    output: Path
    total: int = 0  # tasks this run set out to do
    already_done: int = 0  # found in the output file and skipped
    completed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    fatal: str | None = None
    cost_stop: str | None = None  # why --max-cost stopped the run
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    stats: CallStats = field(default_factory=CallStats)
    unparsed: int = 0  # records in the output files, old and new, whose verdict names no score or winner
    deferred: int = 0  # items whose requests wait in a provider's batch (`--no-wait`)
    batches: list[str] = field(default_factory=list)  # the provider's batch ids this run used
    run_id: str | None = None  # the run its records point to (provenance), for the cost log
    unparsed_new: int = 0  # of the records this run wrote, those whose verdict names no score or winner

    @property
    def not_done(self) -> int:
        return self.total - self.completed

    @property
    def ok(self) -> bool:
        return (
            not self.failures
            and self.fatal is None
            and self.cost_stop is None
            and not self.interrupted
            and self.not_done == 0
        )


def read_existing(spec: OutputSpec) -> list[dict[str, Any]]:
    """The records already in the output file, each checked by `spec.parse` (a bad one is path:line)."""
    if not spec.path.exists():
        return []
    records = []
    for number, obj in iter_json_lines(spec.path):
        try:
            spec.parse(obj)
        except ValueError as exc:
            raise DataError(spec.path, str(exc), number) from None
        records.append(obj)
    return records


def done_keys(spec: OutputSpec, records: Iterable[dict[str, Any]] | None = None) -> set[Hashable]:
    """The keys a run can skip: records in the output that count as done."""
    return {spec.key(r) for r in (read_existing(spec) if records is None else records) if spec.is_done(r)}


async def all_of(*calls: Awaitable[T]) -> list[T]:
    """Await every call (the games of one judgment), then raise the first failure, if any.

    `asyncio.gather` raises as soon as one fails and leaves the others running,
    unawaited: a game already paid for would finish after its item had given up,
    and its reply would be lost instead of kept for the next run (mtb.replies).
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]  # no exception left among them
