"""Replies already paid for, kept for the items that did not finish.

An item may take several requests: a pairwise judgment plays two games, an
Arena-Hard judgment two, a two-turn answer asks twice. When one of them fails
for good, or the run is interrupted or stopped while the other is in flight,
the item is not written (failures are never data), and the replies it did get
would be paid for again on the next run. They are kept instead, beside the
output, in `<output>.partial` (JSON lines, one reply each), and the next run
takes them back before it sends anything for that item: only the requests that
failed go out again.

A reply is reused only for the same item (its key in the output) and the same
request (messages and sampling parameters, hashed), at most once. The file is
a cache: when it cannot be read it is ignored with a note (and replaced), which
costs money, never correctness. It is removed once no unfinished item has replies in it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Hashable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb.backends.base import Completion, Message, SamplingParams, Usage
from mtb.errors import MtbError
from mtb.jsonl import dumps, iter_json_lines, write_atomically

SUFFIX = ".partial"  # not .jsonl: readers that glob a judgment folder's *.jsonl must never see it


def fingerprint(messages: Sequence[Message], params: SamplingParams) -> str:
    """What makes two requests the same request."""
    sent = [list(messages), params.temperature, params.max_tokens, params.seed]
    return hashlib.sha256(json.dumps(sent, ensure_ascii=False).encode()).hexdigest()


def item_name(key: Hashable) -> str:
    """An output key as text that survives a round trip through JSON (tuples become lists)."""
    return json.dumps(key, ensure_ascii=False, default=str)


@dataclass
class ItemReplies:
    """The replies of one item: those kept from an earlier run, and those received in this one."""

    kept: list[tuple[str, Completion]] = field(default_factory=list)
    # The request is hashed only if the item ends unfinished: nothing is added to the hot path.
    received: list[tuple[Sequence[Message], SamplingParams, Completion]] = field(default_factory=list)
    reused: int = 0
    key: Hashable = None  # the item's key in its output
    # Requests sent so far, by fingerprint: an item that sends one request twice (two choices
    # without a seed) gets two batch lines, numbered the same way on every run (mtb.batch).
    sent: Counter[str] = field(default_factory=Counter)

    def take(self, messages: Sequence[Message], params: SamplingParams) -> Completion | None:
        """A kept reply to this request, used once; None when there is none."""
        if not self.kept:
            return None
        request = fingerprint(messages, params)
        for index, (kept_request, completion) in enumerate(self.kept):
            if kept_request == request:
                del self.kept[index]
                self.reused += 1
                return completion
        return None

    def add(self, messages: Sequence[Message], params: SamplingParams, completion: Completion) -> None:
        self.received.append((messages, params, completion))

    def unused(self) -> list[tuple[str, Completion]]:
        """What the item holds that a later run could still use."""
        return [*self.kept, *((fingerprint(m, p), c) for m, p, c in self.received)]


# The item the running task works on; the engine sets it, Caller.complete reads it.
# asyncio copies the context into the tasks an item starts (its two games), which
# then share the one ItemReplies.
CURRENT_ITEM: ContextVar[ItemReplies | None] = ContextVar("mtb_current_item", default=None)


class KeptReplies:
    """The `.partial` file of one output: replies per unfinished item."""

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + SUFFIX)
        self.items: dict[str, list[tuple[str, Completion]]] = {}
        self.notes: list[str] = []
        self._changed = False
        if self.path.is_file():
            try:
                for _, obj in iter_json_lines(self.path):
                    name, request, completion = _from_json(obj)
                    self.items.setdefault(name, []).append((request, completion))
            except (MtbError, ValueError, KeyError, TypeError) as exc:
                self.items.clear()
                self._changed = True  # rewritten (empty: removed) at the end of the run
                self.notes.append(
                    f"{self.path}: the replies an earlier run kept are unreadable ({exc}); "
                    "ignored, and the file is replaced at the end of this run"
                )

    def open_item(self, key: Hashable) -> ItemReplies:
        """The item's kept replies, handed over to the task that runs it."""
        if not self.items:
            return ItemReplies(key=key)
        kept = self.items.pop(item_name(key), [])
        if kept:
            self._changed = True
        return ItemReplies(kept=kept, key=key)

    def forget(self, done: set[Hashable]) -> None:
        """Drop what is kept for items the output already holds (nothing would ever take it)."""
        if not self.items:
            return
        for name in {item_name(key) for key in done} & self.items.keys():
            del self.items[name]
            self._changed = True

    def keep(self, key: Hashable, replies: ItemReplies) -> None:
        """Keep what an unfinished item received (and did not use) for the next run."""
        unused = replies.unused()
        if unused:
            self.items[item_name(key)] = unused
            self._changed = True

    def count(self) -> int:
        return sum(len(replies) for replies in self.items.values())

    def save(self) -> None:
        """Write what is kept (replies of items still unfinished); remove the file when nothing is."""
        if not self._changed:
            return
        if not self.items:
            self.path.unlink(missing_ok=True)
            return
        write_atomically(
            self.path,
            (
                dumps(_to_json(name, request, completion))
                for name, replies in self.items.items()
                for request, completion in replies
            ),
        )


def _to_json(name: str, request: str, completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    return {
        "item": name,
        "request": request,
        "text": completion.text,
        "model": completion.model,
        "finish_reason": completion.finish_reason,
        "usage": None if usage is None else [usage.input_tokens, usage.output_tokens],
    }


def _from_json(obj: dict[str, Any]) -> tuple[str, str, Completion]:
    usage = obj.get("usage")
    if not all(isinstance(obj[name], str) for name in ("item", "request", "text")):
        raise ValueError("a kept reply needs 'item', 'request' and 'text' strings")
    completion = Completion(
        obj["text"],
        model=obj.get("model") if isinstance(obj.get("model"), str) else None,
        finish_reason=obj.get("finish_reason") if isinstance(obj.get("finish_reason"), str) else None,
        usage=Usage(int(usage[0]), int(usage[1])) if isinstance(usage, list) and len(usage) == 2 else None,
    )
    return obj["item"], obj["request"], completion
