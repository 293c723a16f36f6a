"""The errors mtb raises on purpose, and the exit code each maps to.

    MtbError                 base; exit 1
    ├── UsageError           a bad flag combination or value; exit 2
    ├── DataError            a bad or missing input file, with path and line; exit 2
    ├── OutputLockedError    another process writes the same output file; exit 1
    └── MissingExtraError    an optional dependency is not installed; exit 2

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# A command's exit status: done; some items failed; bad usage or input; interrupted (Ctrl-C, SIGTERM).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class MtbError(Exception):
    exit_code = 1


class UsageError(MtbError):
    exit_code = 2


class DataError(MtbError):
    """A problem with an input file, reported as `path:line: what is wrong`.

    A file without lines (Parquet) names the row instead: `path:row N: what is wrong`,
    N counting from 0 as pyarrow, pandas and `datasets` index rows.
    """

    exit_code = 2

    def __init__(
        self, path: Path | str, message: str, line: int | None = None, *, row: int | None = None
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.row = row
        self.message = message
        if line is not None:
            location = f"{self.path}:{line}"
        elif row is not None:
            location = f"{self.path}:row {row}"
        else:
            location = str(self.path)
        super().__init__(f"{location}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process boundaries (arena results read files in worker processes).
        return (_data_error, (self.path, self.message, self.line, self.row))


def _data_error(path: Path, message: str, line: int | None, row: int | None) -> DataError:
    return DataError(path, message, line, row=row)


class OutputLockedError(MtbError):
    exit_code = 1


class MissingExtraError(MtbError):
    exit_code = 2

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the optional package '{package}': "
            f"pip install 'mtb[{extra}]' (or: pipx inject mtb {package})"
        )
