"""Reading a large JSON array (or a file of JSON values, JSONL) one value at a time.

`json.load` on the Arena's 2 GB battle log would need tens of gigabytes of
Python objects. Here a text buffer of a few megabytes is decoded value by value
with `json.JSONDecoder.raw_decode`, and the newlines passed are counted, so that
an error names the line the bad value starts on (`path:line`), as an editor shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from mtb.errors import DataError

CHUNK = 1 << 22  # characters read at a time
MAX_RECORD = 1 << 26  # characters one value may take


def iter_values(stream: TextIO, path: Path) -> Iterator[tuple[int, Any]]:
    """(line, value) for each top-level record: the items of a JSON array, or the values of JSONL."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    buffer = stream.read(CHUNK)
    if buffer.startswith("\ufeff"):
        buffer = buffer[1:]
    pos, line, eof = 0, 1, False
    in_array: bool | None = None
    expect_comma = False

    def fill() -> bool:
        """Read more text onto the unconsumed tail; False at the end of the file."""
        nonlocal buffer, pos
        more = stream.read(CHUNK)
        buffer = buffer[pos:] + more
        pos = 0
        return bool(more)

    while True:
        # Skip whitespace (and, inside an array, the comma between items), counting lines.
        while True:
            start = pos
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            line += buffer.count("\n", start, pos)
            if pos < len(buffer) or eof:
                break
            eof = not fill()
        if pos >= len(buffer):
            if in_array:
                raise DataError(path, "the JSON array is not closed (the file is cut short?)", line)
            return
        char = buffer[pos]
        if in_array is None:
            in_array = char == "["
            if in_array:
                pos += 1
                continue
        if in_array:
            if char == "]":
                rest = buffer[pos + 1 :].strip() or stream.read(CHUNK).strip()
                if rest:
                    raise DataError(path, "text after the end of the JSON array", line)
                return
            if expect_comma:
                if char != ",":
                    raise DataError(path, f"expected ',' or ']' between records, found {char!r}", line)
                pos += 1
                expect_comma = False
                continue
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                # A number or a word cut by the buffer's end decodes too early; read on to be sure.
                if end == len(buffer) and not eof and not isinstance(value, (dict, list, str)):
                    raise json.JSONDecodeError("cut", buffer, end)
                break
            except json.JSONDecodeError as exc:
                # Read on only while the record could still be cut by the buffer's end: a bad
                # record early in a 2 GB file must not pull the rest of the file into memory.
                if eof or len(buffer) - pos > MAX_RECORD:
                    where = line + buffer.count("\n", pos, exc.pos)
                    raise DataError(path, f"not valid JSON ({exc.msg})", where) from None
                eof = not fill()
            except ValueError as exc:  # NaN / Infinity
                raise DataError(path, str(exc), line) from None
            except RecursionError:
                raise DataError(path, "a value nested too deeply to read", line) from None
        yield line, value
        line += buffer.count("\n", pos, end)
        pos = end
        expect_comma = bool(in_array)
        if pos > CHUNK:  # drop what is consumed, so the buffer stays a few megabytes
            buffer, pos = buffer[pos:], 0


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_json_file(path: Path) -> None:
    """Read every value of a JSON (array) or JSONL file; a problem is a `path:line` DataError."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for _ in iter_values(stream, path):
            pass
