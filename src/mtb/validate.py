"""The one validator behind every record and settings file mtb reads.

`field` checks one value of a decoded JSON object, TOML table or YAML mapping
and raises `ValueError` with a short description; `in_file` turns that into a
`DataError` that names the file (and line). JSONL records, benchmark
manifests, prompt maps, download tables and judge configs all go through it,
so a value is judged the same way wherever it appears:

    - `true` is never a number (bool is an int subclass in Python);
    - NaN and ±Infinity are never numbers (JSON has neither; Python's
      reader accepts them, and one would poison every mean it enters);
    - a dotted key ("generation.temperature") walks nested tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mtb.errors import DataError

REQUIRED: Any = object()

Kind = type | tuple[type, ...]

_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}


def describe(kind: Kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if set(kinds) == {int, float}:
        return "a number"
    if set(kinds) == {int, str}:
        return "an integer or a string"
    if dict in kinds:
        return "a table" if len(kinds) == 1 else "an object"
    return " or ".join(_NAMES.get(k, k.__name__) for k in kinds)


def is_kind(value: Any, kind: Kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, kinds)


def field(
    obj: Mapping[str, Any],
    key: str,
    kind: Kind,
    what: str | None = None,
    default: Any = REQUIRED,
    *,
    non_empty: bool = False,
) -> Any:
    """`obj[key]` if it is of `kind`; `default` when absent or null (if given); else ValueError."""
    value: Any = obj
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            if default is not REQUIRED:
                return default
            raise ValueError(f"missing field '{key}'")
        value = value[part]
    if value is None and default is not REQUIRED:
        return default  # JSON null for an optional field means "not given"
    if not is_kind(value, kind):
        if isinstance(value, float):
            # 81.0 where an integer belongs is finite: say what it is, not "non-finite".
            shown = repr(value) if math.isfinite(value) else "a non-finite number"
        else:
            shown = type(value).__name__
        raise ValueError(f"field '{key}' must be {what or describe(kind)}, got {shown}")
    if non_empty and not value:
        raise ValueError(f"field '{key}' must not be empty")
    return value


def number(obj: Mapping[str, Any], key: str, default: Any = REQUIRED) -> float:
    """A finite int or float, as a float."""
    value = field(obj, key, (int, float), default=default)
    if value is default:
        return value  # type: ignore[no-any-return]
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        raise ValueError(f"field '{key}' is out of range") from None


def string_list(obj: Mapping[str, Any], key: str, default: Any = REQUIRED) -> list[str]:
    value = field(obj, key, list, default=default)
    if value is not default and not all(isinstance(item, str) for item in value):
        raise ValueError(f"field '{key}' must be a list of strings")
    return value  # type: ignore[no-any-return]


@contextmanager
def in_file(path: Path | str, line: int | None = None, where: str = "") -> Iterator[None]:
    """Report a ValueError raised inside as `path[:line]: [where: ]problem` (a DataError)."""
    try:
        yield
    except ValueError as exc:
        prefix = f"{where}: " if where else ""
        raise DataError(path, f"{prefix}{exc}", line) from None
