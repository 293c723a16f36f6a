"""JSONL files: validated reading, crash-safe appending, atomic rewriting.

Appending is the only way results reach disk while a run is going: one line per
record, written whole and flushed, so a crash can at worst leave one torn line
at the end. `repair_tail` removes such a line before the next run appends.

Every reader shares one rule for the end of a file (`is_unfinished`): a last
line with no newline after it that does not parse is a line still being
written (`mtb results` while `mtb judge` appends), or cut by a kill. It is not
there yet: left out, with one note, "PATH:LINE: last line unfinished (still
being written?), left out", gathered by `unfinished_lines()` for the command to
say. A bad line anywhere else is a `path:line` DataError.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from mtb.errors import DataError, OutputLockedError

T = TypeVar("T")


def _no_constants(name: str) -> Any:
    # Python's reader accepts NaN and Infinity, which JSON has not; one would poison every mean.
    raise ValueError(f"{name} is not a JSON number")


# Windows tools (PowerShell's `>`, Notepad's "Unicode") save UTF-16 with one of these first.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF16_PROBLEM = "is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"


def decode_text(path: Path, raw: bytes) -> str:
    """A whole text file's bytes as str; a byte that is not UTF-8 is a `path:line` DataError."""
    if raw.startswith(UTF16_BOMS):
        raise DataError(path, UTF16_PROBLEM, 1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(
            path, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column})", line
        ) from None


def refuse_device(path: Path) -> None:
    """A DataError for a character or block device given as an input file.

    /dev/zero never ends (reading it filled memory until the kernel killed mtb), and a
    terminal (/dev/stdin at a prompt) waits for typing. A pipe (`<(cmd)`, a FIFO) is
    still read: its writer ends it.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # the open that follows says what is wrong
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise DataError(path, "is a device, not a file; give a file, or a pipe")


@contextlib.contextmanager
def input_errors(path: Path, expected: str) -> Iterator[None]:
    """The ways opening (or reading) an input file fails, as DataErrors that name it.

    `expected` is what the path should have been, for the message when it is a folder
    ("a JSONL file"). Every reader says these the same way, whatever it reads.
    """
    try:
        yield
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, f"is a folder; expected {expected}") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None


# The most bytes in one part of a path (NAME_MAX on Linux and macOS file systems).
NAME_MAX = 255


def unnamable(path: Path) -> str | None:
    """Why no file system can hold `path` (a NUL byte, a part longer than a file name), or None.

    Said here, naming the argument: the OS answered from deep inside a command, as an
    OSError ("File name too long") or a ValueError ("embedded null byte") traceback.
    """
    if "\0" in str(path):
        return "holds a NUL character, which no path can"
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > NAME_MAX:
        return f"a part of the path is {longest:,} bytes long; a file name holds at most {NAME_MAX}"
    return None


def read_text(path: Path) -> str:
    """A text file, checked for UTF-8; an unreadable or non-UTF-8 file is a DataError."""
    refuse_device(path)
    with input_errors(path, "a file"):
        raw = path.read_bytes()
    return decode_text(path, raw)


def decode_line(path: Path, raw: bytes, number: int) -> dict[str, Any] | None:
    """One JSONL line as an object (None when blank); anything else is a `path:line` DataError."""
    if number == 1 and raw.startswith(UTF16_BOMS):
        raise DataError(path, UTF16_PROBLEM, number)
    try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            path, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", number
        ) from None
    if not line.strip():
        return None
    try:
        obj = json.loads(line, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", number) from None
    except ValueError as exc:  # NaN/Infinity, or a number too large to read
        raise DataError(path, f"not valid JSON ({exc})", number) from None
    except RecursionError:
        raise DataError(path, "not valid JSON (nested too deeply)", number) from None
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", number)
    return obj


UNFINISHED = "last line unfinished (still being written?), left out"


@dataclass(frozen=True)
class UnfinishedLine:
    """A file's last line that a reader left out: no newline after it, and it does not parse."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {UNFINISHED}"


# The unfinished lines the readers of the current command left out, one per file however often
# it is read. A context variable, not an argument: the readers sit below every protocol's scoring
# and planning, and the command that says the notes sits above them (`unfinished_lines`).
_LEFT_OUT: ContextVar[dict[str, UnfinishedLine] | None] = ContextVar("mtb_unfinished_lines", default=None)


def is_unfinished(raw: bytes) -> bool:
    """Whether `raw`, a file's last line, is still being written: no newline at its end, and
    not parseable JSON yet (cut inside a value, a string or a UTF-8 character)."""
    if raw.endswith(b"\n") or not raw.strip() or raw.startswith(UTF16_BOMS):
        return False
    try:
        json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return True
    return False


def leave_out_unfinished(path: Path, number: int) -> None:
    """Note that line `number` of `path`, its unfinished last line, was left out."""
    left_out = _LEFT_OUT.get()
    if left_out is None:  # a reader called outside any command (a library user): the log says it
        import logging

        logging.getLogger("mtb").info("%s", UnfinishedLine(path, number))
        return
    left_out[str(path)] = UnfinishedLine(path, number)


def unfinished_tail_settled(path: Path) -> None:
    """The writer of `path` cut its unfinished last line (`repair_tail`) and says so itself."""
    left_out = _LEFT_OUT.get()
    if left_out is not None:
        left_out.pop(str(path), None)


@contextlib.contextmanager
def unfinished_lines() -> Iterator[list[UnfinishedLine]]:
    """Gather what the readers run inside the block left out; the list is filled when it ends.

    Blocks nest: an inner one (the results step of `mtb eval`) keeps its own.
    """
    gathered: list[UnfinishedLine] = []
    token = _LEFT_OUT.set({})
    try:
        yield gathered
    finally:
        left_out = _LEFT_OUT.get()
        _LEFT_OUT.reset(token)
        gathered.extend((left_out or {}).values())


def complete_lines(path: Path, data: bytes) -> bytes:
    """A JSONL file's bytes up to its last complete line: an unfinished last line is left out
    (with its note). For readers that take the whole file at once."""
    if not data or data.endswith(b"\n"):
        return data
    cut = data.rfind(b"\n") + 1
    if not is_unfinished(data[cut:]):
        return data
    leave_out_unfinished(path, data.count(b"\n", 0, cut) + 1)
    return data[:cut]


def iter_json_lines(path: Path, *, whole: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for every non-blank line; bad JSON or bytes are a DataError,
    except in an unfinished last line, which is left out with a note (`is_unfinished`).

    `whole`: the file is known to be complete (a download being verified), so its last line
    is held to the rule of every other: one cut short is the file cut short, an error.
    """
    refuse_device(path)
    with input_errors(path, "a JSONL file"):
        handle = path.open("rb")
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                obj = decode_line(path, raw, number)
            except DataError:
                if not whole and is_unfinished(raw):  # only the last line can lack its newline
                    leave_out_unfinished(path, number)
                    return
                raise
            if obj is not None:
                yield number, obj


def read_records(path: Path, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """Read every line of `path` through `parse`, reporting `path:line: problem`."""
    records = []
    for number, obj in iter_json_lines(path):
        try:
            records.append(parse(obj))
        except ValueError as exc:
            raise DataError(path, str(exc), number) from None
    return records


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity as null: JSON has neither, and a reader would choke on them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(obj: dict[str, Any]) -> str:
    # ensure_ascii=False keeps answers readable, as FastChat's files are not;
    # both forms load identically.
    return json.dumps(obj, ensure_ascii=False)


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def target_mode(path: Path) -> int:
    """The permissions `path` should have once replaced: its own if it exists, else what the umask gives."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def temp_beside(path: Path, suffix: str) -> tuple[int, str]:
    """A temp file in `path`'s folder, with the mode `path` will end up with (mkstemp makes it 0600)."""
    mode = target_mode(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        Path(temp_name).unlink(missing_ok=True)
        raise
    return fd, temp_name


def is_stream(path: Path) -> bool:
    """Whether `path` is a device, pipe or socket (`/dev/stdout`, a FIFO), or a name for one.

    Such a path is written into, never replaced: renaming a temp file over `/dev/full`
    or `/dev/stdout` put a regular file in its place (as root, in /dev itself).
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) or str(path.absolute()).startswith(("/dev/", "/proc/"))


def link_target(path: Path) -> Path:
    """The file `path` names, its symbolic links followed: the one a writer changes.

    An output may be a link to a shared file. Renaming a new file over the link replaced
    the link itself: the shared file kept only what had been appended through it, and the
    two drifted apart. A path that is no link is returned as it is.
    """
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def write_atomically(path: Path, lines: Iterable[str]) -> None:
    """Replace `path` with `lines` so that readers see the old file or the new one, never half.

    A rewritten file keeps its permissions; a new one gets what the umask allows. A device
    or pipe (`--export /dev/stdout`) is written into as it is. A symbolic link stays one:
    its target is replaced, beside itself, keeping the target's mode.
    """
    if is_stream(path):
        try:
            with path.open("w", encoding="utf-8") as handle:
                for line in lines:
                    handle.write(line + "\n")
        except OSError as exc:
            raise unwritable(path, exc) from None
        return
    target = link_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = temp_beside(target, ".tmp")
    except OSError as exc:
        raise unwritable(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise unwritable(path, exc) from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def repair_tail(path: Path) -> str | None:
    """Make `path` end in a complete line; return a note if something was cut.

    For a writer, which holds the file's lock: no other mtb is writing it, so an
    unfinished last line (the readers' rule, `is_unfinished`) was left by an
    interrupted run, and appending after it would join two records on one line.
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return None
        handle.seek(0)
        data = handle.read()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        unfinished_tail_settled(path)  # this note replaces the readers' one
        if is_unfinished(tail):
            handle.truncate(cut)
            return f"{path}: removed an incomplete last line ({len(tail)} bytes) left by an interrupted run"
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n")
        return None


def unwritable(path: Path, exc: OSError) -> DataError:
    """An output that cannot be written (a read-only data directory, a file where a folder should be)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some space (or raise the quota or file size limit), then run again"
    else:
        hint = "check the permissions of --data-dir"
    return DataError(path, f"cannot be written ({exc.strerror or exc}); {hint}")


class JsonlAppender:
    """The single writer of one output file for the length of a run.

    Holding it also holds `<file>.lock`, so two mtb processes never interleave
    lines in the same file. An output that is a symbolic link is written through:
    the lock, the appends and the final rewrite act on its target (two links to one
    shared file share one lock), and the link stays a link.
    """

    def __init__(self, path: Path) -> None:
        self.path = path  # as the user named it, for messages
        self.target = link_target(path)
        self._lock = FileLock(str(self.target) + ".lock")
        self._handle: Any = None
        self._size = 0  # the file's length after its last complete line
        self.notes: list[str] = []
        # The line written for each record this run, by identity, so that `rewrite`
        # does not serialize them twice (a tenth of a second at the end of a 5,000-record
        # run). Holding the record keeps its id from being reused; records are never
        # changed once written.
        self._lines: dict[int, tuple[dict[str, Any], str]] = {}
        self._created = False

    def __enter__(self) -> JsonlAppender:
        # A file this run creates and never writes to is taken away again at the end: a
        # mistyped model name left an empty answer file that later read as a model.
        self._created = not self.target.exists()
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unwritable(self.target.parent, exc) from None
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise OutputLockedError(
                f"{self.path} is being written by another mtb process "
                f"(lock file {self._lock.lock_file}); wait for it to finish"
            ) from None
        except OSError as exc:
            raise unwritable(Path(self._lock.lock_file), exc) from None
        try:
            note = repair_tail(self.path)
            if note:
                self.notes.append(note)
            self._open()
        except OSError as exc:
            self._lock.release()
            raise unwritable(self.path, exc) from None
        return self

    def _open(self) -> None:
        # Unbuffered: each line goes to the file in the write that reports it done, and a
        # write that fails leaves nothing queued to fail again at close.
        self._handle = self.target.open("ab", buffering=0)
        self._size = os.fstat(self._handle.fileno()).st_size

    def write(self, obj: dict[str, Any]) -> None:
        """Append one line; a completed item is on disk before the next one is reported done.

        When the line cannot be written whole (a full disk, a quota), the bytes that got
        out are cut off, so the file still ends in a complete line, and the error is a
        DataError naming the file.
        """
        line = dumps(obj)
        data = memoryview((line + "\n").encode("utf-8"))
        try:
            written = 0
            while written < len(data):
                written += self._handle.write(data[written:])
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._handle.fileno(), self._size)
            raise unwritable(self.path, exc) from None
        self._size += len(data)
        self._lines[id(obj)] = (obj, line)

    def _line(self, obj: dict[str, Any]) -> str:
        written = self._lines.get(id(obj))
        return written[1] if written is not None else dumps(obj)

    def rewrite(self, objs: Iterable[dict[str, Any]]) -> None:
        """Replace the file's content atomically while the lock is still held."""
        self._handle.close()
        write_atomically(self.path, (self._line(o) for o in objs))
        self._open()

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        with contextlib.suppress(OSError):
            if self._created and self.target.stat().st_size == 0:
                self.target.unlink()  # a link to it is left as it was: pointing at nothing yet
        # The lock file goes while the lock is still held, so nothing is left beside the output.
        # A process that opened it just before waits on a file that is gone, and its lock
        # (filelock checks the link count) fails; the next run makes a new one.
        with contextlib.suppress(OSError):
            Path(self._lock.lock_file).unlink()
        self._lock.release()
