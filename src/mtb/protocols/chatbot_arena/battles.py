"""Reading FastChat's clean_battle logs into compact arrays, one record at a time.

The public log is a 2 GB JSON array (FastChat writes it with `indent=2`, so a
record spans many lines); smaller exports are JSONL. Both are read from a buffer
of a few megabytes, one record at a time: by scanning.py, which decodes plain
records from their bytes and hands any other to Python's decoder, or (`fast=False`,
the reference the tests hold it to) by `json.JSONDecoder.raw_decode` on every
value (mtb.jsonstream). Every record goes through `check_record`'s rules, and only
what the ratings need is kept per battle (model
ids as int32, the outcome as int8, the time stamp as float64, and the four style
differences when asked). A record is never kept as a dict, so memory grows with
the number of battles by about 17 bytes each (49 with style features).

Errors name the line the bad record starts on (`file:line`) in both layouts,
where an editor shows it, or the line where the JSON goes wrong.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeGuard

import numpy as np

from mtb.errors import DataError
from mtb.jsonstream import iter_values
from mtb.parquet import is_parquet, iter_rows

# Outcome codes, as stored in Battles.outcome.
A_WINS, B_WINS, TIE = 0, 1, 2
WINNERS = {"model_a": A_WINS, "model_b": B_WINS, "tie": TIE, "tie (bothbad)": TIE}
STYLE_KEYS = ("header_count", "list_count", "bold_count")


@dataclass(frozen=True)
class Filters:
    """Which battles count (FastChat's filters; all off but `anonymous_only` by default)."""

    anonymous_only: bool = True
    languages: frozenset[str] | None = None
    exclude_ties: bool = False
    dedup: bool = False  # keep only dedup_tag.sampled (a record without dedup_tag is kept)
    style: bool = False  # read conv_metadata's style features


@dataclass
class Battles:
    """The battles kept, in file order, with the models' names indexed by id."""

    models: list[str]
    model_a: np.ndarray  # int32
    model_b: np.ndarray  # int32
    outcome: np.ndarray  # int8: A_WINS, B_WINS or TIE
    tstamp: np.ndarray  # float64
    # (n, 4) raw style totals per side when Filters.style: tokens, headers, lists, bold.
    style_a: np.ndarray | None = None
    style_b: np.ndarray | None = None
    read: int = 0  # records in the file
    skipped: dict[str, int] = field(default_factory=dict)  # records left out, by reason
    read_in_full: int = 0  # records the byte reader left to Python's JSON decoder (all, without it)

    def __len__(self) -> int:
        return int(self.model_a.size)


def _style_totals(meta: Any, side: str) -> tuple[float, float, float, float]:
    """conv_metadata's totals for one side: answer tokens, then headers, lists and bold (dicts summed)."""
    if not isinstance(meta, dict):
        raise ValueError("conv_metadata must be an object")
    tokens = meta.get(f"sum_assistant_{side}_tokens")
    if not _is_number(tokens):
        raise ValueError(f"conv_metadata.sum_assistant_{side}_tokens must be a number")
    out = [float(tokens)]
    for key in STYLE_KEYS:
        counts = meta.get(f"{key}_{side}")
        if isinstance(counts, dict):
            if not all(_is_number(v) for v in counts.values()):
                raise ValueError(f"conv_metadata.{key}_{side} must hold numbers")
            out.append(float(sum(counts.values())))
        elif _is_number(counts):
            out.append(float(counts))
        else:
            raise ValueError(f"conv_metadata.{key}_{side} must be an object of counts")
    return out[0], out[1], out[2], out[3]


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Bad(Exception):
    """A record that is not a valid battle; the reader adds the path and the line."""


Checked = tuple[
    str, str, int, float, "str | None", Any
]  # model_a, model_b, outcome, stamp, skip reason, style


def check_record(record: Any, filters: Filters) -> Checked:
    """A record read in full, validated; its skip reason (a filter's) or None, and style totals when asked."""
    if not isinstance(record, dict):
        raise _Bad(f"a battle must be a JSON object, not {type(record).__name__}")
    try:
        model_a, model_b = record["model_a"], record["model_b"]
        winner, anony, stamp = record["winner"], record["anony"], record["tstamp"]
    except KeyError as exc:
        raise _Bad(f"missing field '{exc.args[0]}'") from None
    if not isinstance(model_a, str) or not model_a or not isinstance(model_b, str) or not model_b:
        raise _Bad("model_a and model_b must be non-empty strings")
    if model_a == model_b:
        raise _Bad(f"a model cannot battle itself ({model_a!r})")
    outcome = WINNERS.get(winner) if isinstance(winner, str) else None
    if outcome is None:
        raise _Bad(f"winner must be one of model_a, model_b, tie, tie (bothbad); got {winner!r}")
    if not isinstance(anony, bool):
        raise _Bad("field 'anony' must be true or false")
    if not _is_number(stamp):
        raise _Bad("field 'tstamp' must be a number")
    try:
        seconds = float(stamp)
    except OverflowError:  # an integer of hundreds of digits
        raise _Bad("field 'tstamp' is out of range") from None
    if filters.anonymous_only and not anony:
        return model_a, model_b, outcome, seconds, "non-anonymous", None
    if filters.languages is not None:
        language = record.get("language")
        if not isinstance(language, str) or language not in filters.languages:
            return model_a, model_b, outcome, seconds, "language", None
    if filters.exclude_ties and outcome == TIE:
        return model_a, model_b, outcome, seconds, "tie", None
    if filters.dedup:
        tag = record.get("dedup_tag")
        if tag is not None and not isinstance(tag, dict):
            raise _Bad("field 'dedup_tag' must be an object")
        if tag is not None and not tag.get("sampled", True):
            return model_a, model_b, outcome, seconds, "dedup", None
    style = None
    if filters.style:
        meta = record.get("conv_metadata")
        try:
            if meta is None:
                raise ValueError("style control needs conv_metadata in every battle")
            style = (_style_totals(meta, "a"), _style_totals(meta, "b"))
        except ValueError as exc:
            raise _Bad(str(exc)) from None
    return model_a, model_b, outcome, seconds, None, style


class _Sink:
    """The kept battles in typed arrays, models indexed by id in order of first appearance."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.a_ids, self.b_ids = array("i"), array("i")
        self.outcomes = array("b")
        self.stamps = array("d")
        self.style_a, self.style_b = array("d"), array("d")
        self.skipped = {"non-anonymous": 0, "language": 0, "tie": 0, "dedup": 0}
        self.read = 0
        self.read_in_full = 0

    def add(self, checked: Checked) -> None:
        model_a, model_b, outcome, stamp, skip, style = checked
        if skip is not None:
            self.skipped[skip] += 1
            return
        if style is not None:
            self.style_a.extend(style[0])
            self.style_b.extend(style[1])
        self.a_ids.append(self.ids.setdefault(model_a, len(self.ids)))
        self.b_ids.append(self.ids.setdefault(model_b, len(self.ids)))
        self.outcomes.append(outcome)
        self.stamps.append(stamp)

    def battles(self, style: bool) -> Battles:
        return Battles(
            models=list(self.ids),
            model_a=np.frombuffer(self.a_ids, dtype=np.int32).copy(),
            model_b=np.frombuffer(self.b_ids, dtype=np.int32).copy(),
            outcome=np.frombuffer(self.outcomes, dtype=np.int8).copy(),
            tstamp=np.frombuffer(self.stamps, dtype=np.float64).copy(),
            style_a=np.frombuffer(self.style_a, dtype=np.float64).reshape(-1, 4).copy() if style else None,
            style_b=np.frombuffer(self.style_b, dtype=np.float64).reshape(-1, 4).copy() if style else None,
            read=self.read,
            skipped={k: v for k, v in self.skipped.items() if v},
            read_in_full=self.read_in_full,
        )


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
    sink = _Sink()
    try:
        stream = path.open("rb") if fast else path.open(encoding="utf-8", newline="")
    except IsADirectoryError:
        raise DataError(path, "is a folder; expected a battle file (JSON array, JSONL or Parquet)") from None
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None
    with stream:
        if fast:
            from mtb.protocols.chatbot_arena.scanning import scan

            scan(stream, path, filters, sink)  # type: ignore[arg-type]  # opened in binary
        else:
            _read_full(stream, path, filters, sink)  # type: ignore[arg-type]  # opened as text
    return sink.battles(filters.style)


def _read_full(stream: TextIO, path: Path, filters: Filters, sink: _Sink) -> None:
    line = 0
    try:
        for line, record in iter_values(stream, path):
            sink.read += 1
            sink.read_in_full += 1
            try:
                sink.add(check_record(record, filters))
            except _Bad as exc:
                raise DataError(path, str(exc), line) from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not valid UTF-8 ({exc.reason})", line + 1 if line else None) from None


BATTLE_COLUMNS = ("model_a", "model_b", "winner", "anony", "tstamp")
OPTIONAL_COLUMNS = ("language", "dedup_tag", "conv_metadata")


def _read_parquet(path: Path, filters: Filters) -> Battles:
    """Only the battle columns, by record batch: the conversations (most of the bytes) stay on disk."""
    sink = _Sink()
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
                raise _Bad("field 'tstamp' must be a number")
            sink.add(checked)
        except _Bad as exc:
            raise DataError(path, str(exc), row=row) from None
    return sink.battles(filters.style)
