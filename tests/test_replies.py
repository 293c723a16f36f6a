"""The replies kept for unfinished items: what identifies a request, what is kept, when the file goes."""

from __future__ import annotations

from pathlib import Path

from mtb.backends.base import Completion, SamplingParams, Usage
from mtb.replies import SUFFIX, ItemReplies, KeptReplies, fingerprint

ASK = [{"role": "user", "content": "rate this"}]
PARAMS = SamplingParams(temperature=0.0, max_tokens=16)


def test_a_request_is_its_messages_and_sampling() -> None:
    same = fingerprint([dict(m) for m in ASK], SamplingParams(temperature=0.0, max_tokens=16))
    assert fingerprint(ASK, PARAMS) == same
    assert fingerprint(ASK, SamplingParams(temperature=0.7, max_tokens=16)) != same
    assert fingerprint(ASK, SamplingParams(temperature=0.0, max_tokens=17)) != same
    assert fingerprint(ASK, SamplingParams(temperature=0.0, max_tokens=16, seed=1)) != same
    assert fingerprint([{"role": "user", "content": "rate that"}], PARAMS) != same


def test_a_kept_reply_is_taken_once() -> None:
    item = ItemReplies(kept=[(fingerprint(ASK, PARAMS), Completion("kept"))])
    assert item.take(ASK, PARAMS) == Completion("kept")
    assert item.take(ASK, PARAMS) is None
    assert item.reused == 1


def test_what_is_kept_survives_a_round_trip_and_the_file_goes_when_empty(tmp_path: Path) -> None:
    output = tmp_path / "gpt-4_pair.jsonl"
    store = KeptReplies(output)
    assert store.path == tmp_path / f"gpt-4_pair.jsonl{SUFFIX}" and not store.path.name.endswith(".jsonl")
    item = ItemReplies()
    item.add(ASK, PARAMS, Completion("game 1", model="gpt-4-0613", finish_reason="stop", usage=Usage(9, 3)))
    store.keep(("a", "b", 81, 1), item)
    store.save()

    again = KeptReplies(output)
    assert again.count() == 1 and not again.notes
    assert KeptReplies(output).open_item(("a", "b", 82, 1)).kept == []  # another item takes nothing
    taken = again.open_item(("a", "b", 81, 1))
    assert taken.take(ASK, PARAMS) == Completion("game 1", "gpt-4-0613", "stop", Usage(9, 3))
    again.save()
    assert not again.path.exists()


def test_replies_of_items_already_done_are_forgotten(tmp_path: Path) -> None:
    store = KeptReplies(tmp_path / "out.jsonl")
    item = ItemReplies()
    item.add(ASK, PARAMS, Completion("x"))
    store.keep(7, item)
    store.keep(8, ItemReplies(received=list(item.received)))
    store.forget({7})
    assert store.count() == 1
    store.save()
    assert KeptReplies(tmp_path / "out.jsonl").open_item(8).kept
