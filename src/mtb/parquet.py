"""Reading Parquet files (the Hub's datasets) one record batch at a time, a row as a dict.

The Hub publishes `lmsys/mt_bench_human_judgments` and `lmsys/chatbot_arena_conversations`
as Parquet. pyarrow is the optional extra `mtb[parquet]`, imported only when a `.parquet`
file is read; without it, reading one is a MissingExtraError (exit 2).

Only the columns asked for are read (the conversation columns hold nearly all the bytes
and no reader here needs them), one record batch at a time, so memory stays a batch's
worth whatever the file's size. Rows come out as plain dicts (nulls as None) so that the
JSON readers' validation applies unchanged; an error names the row: `path:row N`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mtb.errors import DataError, MissingExtraError

MAGIC = b"PAR1"  # at the start and at the end of every Parquet file
BATCH_ROWS = 8192


def is_parquet(path: Path | str) -> bool:
    return Path(path).suffix.lower() == ".parquet"


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "parquet") from None
    return pq


def magic_problem(path: Path) -> str | None:
    """Why `path` is not a Parquet file by its framing (PAR1 at both ends), or None."""
    try:
        size = path.stat().st_size
        if size < 2 * len(MAGIC) + 4:  # the magic twice and the footer's length
            return "not a Parquet file (too short)"
        with path.open("rb") as handle:
            head = handle.read(len(MAGIC))
            handle.seek(size - len(MAGIC))
            tail = handle.read(len(MAGIC))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if head.lstrip()[:1] == b"<":
        return "an HTML or XML page, not the file"
    if head != MAGIC:
        return "not a Parquet file (no PAR1 at the start)"
    if tail != MAGIC:
        return "not a Parquet file (no PAR1 at the end: cut short?)"
    return None


def format_problem(path: Path) -> str | None:
    """Why `path` is not a readable Parquet file: its framing, then (with pyarrow) its footer."""
    problem = magic_problem(path)
    if problem is not None:
        return problem
    try:
        pq = _pyarrow_parquet()
    except MissingExtraError:
        return None  # the framing is all that can be checked without the extra
    try:
        pq.ParquetFile(path).close()
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for damage
        return f"not a readable Parquet file ({_first_line(exc)})"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open(path: Path, what: str) -> Any:
    pq = _pyarrow_parquet()
    if path.is_dir():
        raise DataError(path, f"is a folder; expected {what}")
    if not path.exists():
        raise DataError(path, "file not found")
    problem = magic_problem(path)
    if problem is not None:
        raise DataError(path, problem)
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # a damaged footer or schema
        raise DataError(path, f"not a readable Parquet file ({_first_line(exc)})") from None


def iter_rows(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    what: str = "a Parquet file",
    batch_rows: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row index from 0, {column: value}) for each row, reading only `required` and the
    `optional` columns the file has. A missing required column, or damage found while
    reading, is a DataError naming the file (and the first row of the batch that failed:
    pyarrow does not say which row of a batch a damaged page holds)."""
    handle = _open(path, what)
    with handle:
        names = set(handle.schema_arrow.names)
        missing = [c for c in required if c not in names]
        if missing:
            has = ", ".join(sorted(names)) or "none"
            raise DataError(path, f"missing column(s) {', '.join(missing)} (the file has: {has})")
        columns = [*required, *(c for c in optional if c in names and c not in required)]
        row = 0
        batches = handle.iter_batches(batch_size=batch_rows or BATCH_ROWS, columns=columns)
        while True:
            try:
                batch = next(batches, None)
                if batch is None:
                    return
                rows = batch.to_pylist()
            except DataError:
                raise
            except Exception as exc:  # a damaged page or column chunk, somewhere in this batch
                detail = _first_line(exc)
                raise DataError(path, f"not a readable Parquet file from row {row} on ({detail})") from None
            for record in rows:
                yield row, record
                row += 1
