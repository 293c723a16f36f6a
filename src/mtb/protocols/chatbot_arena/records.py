"""A Chatbot Arena battle record: the rules it must meet, and the arrays the kept ones go into.

Both readers use this module: `battles.py` (Python's JSON decoder, and Parquet)
and `scanning.py` (records decoded from their bytes), so a record is held to the
same rules, and kept the same way, whichever read it.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np

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


def style_totals(meta: Any, side: str) -> tuple[float, float, float, float]:
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


class BadRecord(Exception):
    """A record that is not a valid battle; the reader adds the path and the line."""


Checked = tuple[
    str, str, int, float, "str | None", Any
]  # model_a, model_b, outcome, stamp, skip reason, style


def check_record(record: Any, filters: Filters) -> Checked:
    """A record read in full, validated; its skip reason (a filter's) or None, and style totals when asked."""
    if not isinstance(record, dict):
        raise BadRecord(f"a battle must be a JSON object, not {type(record).__name__}")
    try:
        model_a, model_b = record["model_a"], record["model_b"]
        winner, anony, stamp = record["winner"], record["anony"], record["tstamp"]
    except KeyError as exc:
        raise BadRecord(f"missing field '{exc.args[0]}'") from None
    if not isinstance(model_a, str) or not model_a or not isinstance(model_b, str) or not model_b:
        raise BadRecord("model_a and model_b must be non-empty strings")
    if model_a == model_b:
        raise BadRecord(f"a model cannot battle itself ({model_a!r})")
    outcome = WINNERS.get(winner) if isinstance(winner, str) else None
    if outcome is None:
        raise BadRecord(f"winner must be one of model_a, model_b, tie, tie (bothbad); got {winner!r}")
    if not isinstance(anony, bool):
        raise BadRecord("field 'anony' must be true or false")
    if not _is_number(stamp):
        raise BadRecord("field 'tstamp' must be a number")
    try:
        seconds = float(stamp)
    except OverflowError:  # an integer of hundreds of digits
        raise BadRecord("field 'tstamp' is out of range") from None
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
            raise BadRecord("field 'dedup_tag' must be an object")
        if tag is not None and not tag.get("sampled", True):
            return model_a, model_b, outcome, seconds, "dedup", None
    style = None
    if filters.style:
        meta = record.get("conv_metadata")
        try:
            if meta is None:
                raise ValueError("style control needs conv_metadata in every battle")
            style = (style_totals(meta, "a"), style_totals(meta, "b"))
        except ValueError as exc:
            raise BadRecord(str(exc)) from None
    return model_a, model_b, outcome, seconds, None, style


class BattleSink:
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
