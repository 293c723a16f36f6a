"""Reading clean_battle logs from their bytes: msgspec for plain records, Python's JSON decoder for the rest.

Python's `json` spends ~9 µs a record building dicts for fields the ratings never
read (conv_metadata alone has ~30 values). msgspec decodes a record's bytes into
a struct of only the needed fields in under 1 µs, and still checks the whole
record's syntax. It is used only where its answer is provably the full path's:

- A candidate record runs from a `{` to the last `}` on its line (JSONL; arrays with
  one record a line), to the first line indented as its opening brace is
  (FastChat's `indent=2`), or, on a line longer than 64 KB (a compact array), to the
  first `}` followed by `, {` or `]`. JSON strings cannot hold a raw newline, so lines are
  structure. If the candidate decodes as one complete object, it is exactly the
  value `json.JSONDecoder.raw_decode` reads from that `{` (an object ends at its
  matching brace); if it does not, the record goes to the full path.
- Only records of valid UTF-8 (checked here: msgspec checks only the strings it keeps)
  with few brackets are tried; the depth at which the decoders give up is left to the
  full path.
- msgspec rejects whatever Python's decoder (with NaN and Infinity refused) rejects;
  it also refuses lone surrogates and numbers beyond float range, which the full
  path then reads as it always has.
- A record that decodes but is not a valid battle (unknown winner, a model against
  itself, a non-finite time stamp, bad style metadata ...) goes to the full path
  too, which reports it as `path:line: what is wrong`.

So every record is either read by the full decoder and validator, or read from a
byte range that the full decoder would read to the same values; the tests
(tests/protocols/chatbot_arena/test_scanning.py) compare the two on tricky files.
Lines are counted only when an error needs one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, BinaryIO

import msgspec

from mtb.errors import DataError
from mtb.jsonstream import MAX_RECORD
from mtb.protocols.chatbot_arena.records import (
    TIE,
    WINNERS,
    BadRecord,
    BattleSink,
    Checked,
    Filters,
    check_record,
    style_totals,
)

CHUNK = 1 << 23  # bytes read at a time
AHEAD = 1 << 20  # bytes kept unread ahead of the record being read, so a record is rarely cut
LINE_LIMIT = 1 << 16  # a record longer than this, or on a longer line, goes to the full path
SHORT = 1500  # shorter records cannot nest deeply enough to reach either decoder's depth limit
MAX_BRACKETS = 256
WS = re.compile(rb"[ \t\r\n]*")
OPEN = re.compile(rb"[ \t\r\n]*\{")
COMMA_OPEN = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*\{")
COMPACT_END = re.compile(rb"\}[ \t]*(?:,[ \t]*\{|\])")
BOM = b"\xef\xbb\xbf"


def battle_type(filters: Filters) -> type:
    """A struct of the fields a record must have, and the ones `filters` read; others are skipped."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        ("model_a", str),
        ("model_b", str),
        ("winner", str),
        ("anony", bool),
        ("tstamp", float),  # msgspec takes integers too, as float(int) does; never true/false
    ]
    if filters.languages is not None:
        fields.append(("language", str | None, None))  # another type: read in full
    if filters.dedup:
        fields.append(("dedup_tag", Any, None))
    if filters.style:
        fields.append(("conv_metadata", Any, None))
    return msgspec.defstruct("Battle", fields, gc=False)


def _candidate_end(data: bytes, start: int) -> int:
    """Where the record opening at `start` ends if it is laid out as usual; -1 if it is not."""
    newline = data.find(b"\n", start, start + LINE_LIMIT)
    if newline < 0:
        # A long line: a compact array (json.dump, pandas' to_json) ends a record at `}, {` or `}]`.
        found = COMPACT_END.search(data, start, start + LINE_LIMIT)
        if found is not None:
            return found.start() + 1
        if len(data) - start >= LINE_LIMIT:
            return -1
        newline = len(data)
    close = data.rfind(b"}", start, newline)
    if close > start:
        return close + 1
    # Over several lines: it closes on the first line indented as its opening brace is.
    line_start = data.rfind(b"\n", 0, start) + 1
    closing = b"\n" + data[line_start:start] + b"}"
    at = data.find(closing, start, start + LINE_LIMIT)
    return -1 if at < 0 else at + len(closing)


def _fill(stream: BinaryIO, data: bytes, pos: int, line_base: int) -> tuple[bytes, int, int, bool]:
    """Read more onto the unconsumed tail, kept from the start of its line (indentation is structure)."""
    more = stream.read(CHUNK)
    cut = data.rfind(b"\n", 0, pos) + 1
    if pos - cut > 4096:
        cut = pos
    line_base += data.count(b"\n", 0, cut)
    return data[cut:] + more, pos - cut, line_base, not more


def _char_at(data: bytes, pos: int) -> str:
    return data[pos : pos + 4].decode("utf-8", "replace")[0]


_DECODER = json.JSONDecoder(parse_constant=lambda name: _no_constant(name))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _NeedMore(Exception):
    """The value may go on past what is read."""


def _line(data: bytes, line_base: int, at: int) -> int:
    return line_base + data.count(b"\n", 0, at)


def _decode_full(
    data: bytes, start: int, eof: bool, path: Any, line_base: int, end_hint: int = -1
) -> tuple[Any, int]:
    """One value from `start` by Python's decoder, and the byte just after it; errors as jsonstream's.

    The text decoded starts as the record's likely extent (`end_hint`) and grows while the
    value may go on, so that a file of records that all come here is not decoded many times over.
    """
    size = end_hint - start if end_hint > start else 4096
    while True:
        stop = min(len(data), start + size)
        final = stop == len(data)
        window = data[start:stop]
        bad: UnicodeDecodeError | None = None
        try:
            text = window.decode("utf-8")
        except UnicodeDecodeError as exc:
            text, bad = window[: exc.start].decode("utf-8"), exc
        try:
            value, end = _DECODER.raw_decode(text)
            # A number or a word cut by the window's end decodes too early; read on to be sure.
            whole = eof and final and not bad
            if end == len(text) and not isinstance(value, (dict, list, str)) and not whole:
                raise json.JSONDecodeError("cut", text, end)
            return value, start + (end if text.isascii() else len(text[:end].encode("utf-8")))
        except json.JSONDecodeError as exc:
            if not final:
                size *= 4
                continue
            if bad is not None and (eof or bad.reason != "unexpected end of data"):
                raise DataError(
                    path, f"not valid UTF-8 ({bad.reason})", _line(data, line_base, start + bad.start)
                ) from None
            if eof or len(data) - start > MAX_RECORD:
                where = _line(data, line_base, start) + text.count("\n", 0, exc.pos)
                raise DataError(path, f"not valid JSON ({exc.msg})", where) from None
            raise _NeedMore from None
        except ValueError as exc:  # NaN / Infinity
            raise DataError(path, str(exc), _line(data, line_base, start)) from None
        except RecursionError:
            raise DataError(
                path, "a value nested too deeply to read", _line(data, line_base, start)
            ) from None


def scan(stream: BinaryIO, path: Any, filters: Filters, sink: BattleSink) -> None:
    """Every record of a battle file (JSON array or JSONL) into `sink`, or a `path:line` DataError."""
    sink.read += _scan(stream, path, filters, sink)


def _scan(stream: BinaryIO, path: Any, filters: Filters, sink: BattleSink) -> int:
    """scan's loop; the number of records read."""
    decode: Callable[[memoryview], Any] = msgspec.json.Decoder(battle_type(filters)).decode
    refused = (msgspec.DecodeError, RecursionError)  # ValidationError is a DecodeError
    anonymous_only = filters.anonymous_only
    simple = not (filters.languages is not None or filters.exclude_ties or filters.dedup or filters.style)
    ids, skipped = sink.ids, sink.skipped
    add_a, add_b = sink.a_ids.append, sink.b_ids.append
    add_outcome, add_stamp = sink.outcomes.append, sink.stamps.append
    winners = WINNERS

    data = stream.read(CHUNK)
    eof = not data
    if data.startswith(BOM):
        data = data[len(BOM) :]
    pos, line_base = 0, 1
    plain, view = data.isascii(), memoryview(data)  # all ASCII: no record needs a UTF-8 check

    in_array: bool | None = None
    expect_comma = False
    read = 0
    while True:
        if not eof and len(data) - pos < AHEAD:
            data, pos, line_base, eof = _fill(stream, data, pos, line_base)
            plain, view = data.isascii(), memoryview(data)
        # The usual case in one step: the separator, and the next record's opening brace.
        found = (COMMA_OPEN if expect_comma else OPEN).match(data, pos) if in_array is not None else None
        if found is not None:
            start, char = found.end() - 1, 0x7B
        else:
            pos = WS.match(data, pos).end()  # type: ignore[union-attr]  # always matches
            if pos >= len(data):
                if not eof:
                    continue
                if in_array:
                    raise DataError(
                        path,
                        "the JSON array is not closed (the file is cut short?)",
                        _line(data, line_base, pos),
                    )
                return read
            char = data[pos]
            if in_array is None:
                in_array = char == 0x5B  # [
                if in_array:
                    pos += 1
                    continue
            if in_array:
                if char == 0x5D:  # ]
                    rest = data[pos + 1 :] or (b"" if eof else stream.read(CHUNK))
                    if rest.decode("utf-8", "replace").strip():
                        raise DataError(
                            path, "text after the end of the JSON array", _line(data, line_base, pos)
                        )
                    return read
                if expect_comma:
                    if char != 0x2C:  # ,
                        raise DataError(
                            path,
                            f"expected ',' or ']' between records, found {_char_at(data, pos)!r}",
                            _line(data, line_base, pos),
                        )
                    pos += 1
                    expect_comma = False
                    continue
            start = pos
        expect_comma = bool(in_array)
        battle = None
        end = _candidate_end(data, start) if char == 0x7B else -1  # {
        if (
            end > 0
            and (plain or _utf8(data[start:end]))
            and (end - start < SHORT or _brackets(data[start:end]) < MAX_BRACKETS)
        ):
            try:  # noqa: SIM105  (contextlib.suppress costs a with-block per record)
                battle = decode(view[start:end])  # a view: no copy
            except refused:
                pass
        if battle is not None:
            model_a, model_b, stamp = battle.model_a, battle.model_b, battle.tstamp
            outcome = winners.get(battle.winner)
            # Anything the validator would refuse is left to it, for its message.
            if (
                outcome is not None
                and model_a
                and model_b
                and model_a != model_b
                and stamp - stamp == 0  # finite
            ):
                if simple:
                    read += 1
                    pos = end
                    if anonymous_only and not battle.anony:
                        skipped["non-anonymous"] += 1
                        continue
                    add_a(ids.setdefault(model_a, len(ids)))
                    add_b(ids.setdefault(model_b, len(ids)))
                    add_outcome(outcome)
                    add_stamp(stamp)
                    continue
                checked = _filtered(battle, outcome, filters)
                if checked is not None:
                    read += 1
                    sink.add(checked)
                    pos = end
                    continue
        try:
            value, pos = _decode_full(data, start, eof, path, line_base, end)
        except _NeedMore:
            data, pos, line_base, eof = _fill(stream, data, start, line_base)
            plain, view = data.isascii(), memoryview(data)
            expect_comma = False  # the value is read again from the top of the loop
            continue
        read += 1
        sink.read_in_full += 1
        try:
            sink.add(check_record(value, filters))
        except BadRecord as exc:
            raise DataError(path, str(exc), _line(data, line_base, start)) from None


def _utf8(record: bytes) -> bool:
    """Valid UTF-8 (which Python's decoder checks of the whole file, and msgspec only of what it keeps)."""
    if record.isascii():
        return True
    try:
        record.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _brackets(record: bytes) -> int:
    return record.count(b"{") + record.count(b"[")


def _filtered(battle: Any, outcome: int, filters: Filters) -> Checked | None:
    """check_record's answer for a decoded battle, or None where the validator must see the record."""
    head = battle.model_a, battle.model_b, outcome, battle.tstamp
    if filters.anonymous_only and not battle.anony:
        return (*head, "non-anonymous", None)
    if filters.languages is not None and (
        battle.language is None or battle.language not in filters.languages
    ):
        return (*head, "language", None)
    if filters.exclude_ties and outcome == TIE:
        return (*head, "tie", None)
    if filters.dedup:
        tag = battle.dedup_tag
        if tag is not None and not isinstance(tag, dict):
            return None
        if tag is not None and not tag.get("sampled", True):
            return (*head, "dedup", None)
    totals = None
    if filters.style:
        meta = battle.conv_metadata
        try:
            if meta is None:
                return None
            totals = (style_totals(meta, "a"), style_totals(meta, "b"))
        except ValueError:
            return None
    return (*head, None, totals)
