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


class MtbError(Exception):
    exit_code = 1


class UsageError(MtbError):
    exit_code = 2


class DataError(MtbError):
    """A problem with an input file, reported as `path:line: what is wrong`."""

    exit_code = 2

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        location = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{location}: {message}")

    def __reduce__(self) -> tuple[type, tuple[Path, str, int | None]]:
        # Crosses process boundaries (arena results read files in worker processes).
        return (DataError, (self.path, self.message, self.line))


class OutputLockedError(MtbError):
    exit_code = 1


class MissingExtraError(MtbError):
    exit_code = 2

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the optional package '{package}': "
            f"pip install 'mtb[{extra}]' (or: pipx inject mtb {package})"
        )
