"""Reading FastChat's clean_battle logs into compact arrays, one record at a time.

The public log is a 2 GB JSON array (FastChat writes it with `indent=2`, so a
record spans many lines); smaller exports are JSONL. Both are read from a buffer
of a few megabytes, one record at a time: by scanning.py, which decodes plain
records from their bytes and hands any other to Python's decoder, or (`fast=False`,
the reference the tests hold it to) by `json.JSONDecoder.raw_decode` on every
value (mtb.jsonstream). Every record goes through `check_record`'s rules, and only
what the ratings need is kept per battle (records.py: model ids as int32, the
outcome as int8, the time stamp as float64, and the four style differences when
asked). A record is never kept as a dict, so memory grows with the number of
battles by about 17 bytes each (49 with style features).

Errors name the line the bad record starts on (`file:line`) in both layouts,
where an editor shows it, or the line where the JSON goes wrong.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TextIO

from mtb.errors import DataError
from mtb.jsonl import input_errors
from mtb.jsonstream import iter_values
from mtb.parquet import is_parquet, iter_rows

# Defined in the records module, which the byte scanner shares; the `as` re-exports keep
# `from mtb.protocols.chatbot_arena.battles import Battles, ...` working.
from mtb.protocols.chatbot_arena.records import A_WINS as A_WINS
from mtb.protocols.chatbot_arena.records import B_WINS as B_WINS
from mtb.protocols.chatbot_arena.records import TIE as TIE
from mtb.protocols.chatbot_arena.records import WINNERS as WINNERS
from mtb.protocols.chatbot_arena.records import BadRecord, BattleSink, check_record
from mtb.protocols.chatbot_arena.records import Battles as Battles
from mtb.protocols.chatbot_arena.records import Filters as Filters


def read_battles(path: Path, filters: Filters, *, fast: bool = True) -> Battles:
    """The battles of a clean_battle file that pass `filters`; a bad record is a `path:line` DataError.

    `fast` reads well-formed records from their bytes (mtb.protocols.chatbot_arena.scanning);
    without it every record goes through Python's JSON decoder. Both give the same battles,
    and the same error for the same bad record.

    Parquet (such as the Hub's 2023 `lmsys/chatbot_arena_conversations`) is read by column,
    its errors as `path:row N`.
    """
    if is_parquet(path):
        return _read_parquet(path, filters)
    sink = BattleSink()
    with input_errors(path, "a battle file (JSON array, JSONL or Parquet)"):
        stream = path.open("rb") if fast else path.open(encoding="utf-8", newline="")
    with stream:
        if fast:
            from mtb.protocols.chatbot_arena.scanning import scan

            scan(stream, path, filters, sink)  # type: ignore[arg-type]  # opened in binary
        else:
            _read_full(stream, path, filters, sink)  # type: ignore[arg-type]  # opened as text
    return sink.battles(filters.style)


def _read_full(stream: TextIO, path: Path, filters: Filters, sink: BattleSink) -> None:
    line = 0
    try:
        for line, record in iter_values(stream, path):
            sink.read += 1
            sink.read_in_full += 1
            try:
                sink.add(check_record(record, filters))
            except BadRecord as exc:
                raise DataError(path, str(exc), line) from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not valid UTF-8 ({exc.reason})", line + 1 if line else None) from None


BATTLE_COLUMNS = ("model_a", "model_b", "winner", "anony", "tstamp")
OPTIONAL_COLUMNS = ("language", "dedup_tag", "conv_metadata")


def _read_parquet(path: Path, filters: Filters) -> Battles:
    """Only the battle columns, by record batch: the conversations (most of the bytes) stay on disk."""
    sink = BattleSink()
    optional = [
        name
        for name, wanted in zip(
            OPTIONAL_COLUMNS, (filters.languages is not None, filters.dedup, filters.style), strict=True
        )
        if wanted
    ]
    for row, record in iter_rows(path, BATTLE_COLUMNS, optional, what="a battle file (.parquet)"):
        sink.read += 1
        sink.read_in_full += 1
        try:
            checked = check_record(record, filters)
            # Parquet can hold a NaN time stamp, which JSON cannot: it would poison the time order.
            if not math.isfinite(checked[3]):
                raise BadRecord("field 'tstamp' must be a number")
            sink.add(checked)
        except BadRecord as exc:
            raise DataError(path, str(exc), row=row) from None
    return sink.battles(filters.style)
