"""Fetch a benchmark's public files (questions, prompts, published answers and judgments).

What to fetch is data: the `[download]` tables of `questions/<bench>.toml` name
each file's source (a GitHub repository at a pinned commit, or a Hugging Face
repository) and, where the bytes are known, its sha256.

Every file lands through a temporary file in the same folder and `os.replace`,
after its hash was checked, so an interrupted or corrupt transfer never leaves
a wrong file in place. A file already present with the right hash is skipped.
An HTTP transfer keeps its bytes in `<dest>.part`, which survives a cut and an
interrupted run, and continues it with a Range request (see docs/reliability.md).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mtb import validate
from mtb.benchmarks import find_manifest
from mtb.errors import DataError, MtbError, UsageError
from mtb.jsonl import target_mode, temp_beside, unwritable
from mtb.provenance import sha256_file
from mtb.resources import load_toml

GITHUB_RAW = "https://raw.githubusercontent.com"
CHUNK = 1 << 16
ATTEMPTS = 3  # per file, for interrupted transfers and corrupt bytes
TIMEOUT = 30.0
PART_SUFFIX = ".part"  # `<dest>.part`: a transfer's bytes until verified; kept for resume


class NetworkUnavailable(MtbError):
    """No way to reach a source: stop at once rather than fail file after file."""

    exit_code = 1

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"cannot download: {detail}. Without network, pass --mirror URL (or MTB_MIRROR) to take the "
            "files from a local copy, or point --data-dir at a folder that already holds them"
        )


class NotFound(Exception):
    """The source answered, but has no such file."""


class Corrupt(Exception):
    """The bytes arrived but are not the expected ones (short, or a different hash)."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # "github", "hf", or "url" (repo is then a base URL)
    repo: str
    revision: str
    root: str = ""
    repo_type: str = "model"  # for "hf": model, dataset or space


@dataclass(frozen=True)
class FileSpec:
    path: str  # relative to the data directory
    source: Source
    sha256: str | None = None
    model: str | None = None
    optional: bool = False
    source_path: str | None = None

    @property
    def remote_path(self) -> str:
        if self.source_path:
            return self.source_path
        return f"{self.source.root.strip('/')}/{self.path}" if self.source.root else self.path


def _str(table: dict[str, Any], key: str, where: str, path: Path, default: Any = validate.REQUIRED) -> str:
    with validate.in_file(path, where=where):
        return validate.field(table, key, str, "a non-empty string", default, non_empty=True)  # type: ignore[no-any-return]


def _safe_relative(relative: str, where: str, path: Path) -> str:
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts or not parts:
        raise DataError(path, f"{where}: path '{relative}' must stay inside the data directory")
    return relative


def load_plan(bench: str) -> list[FileSpec]:
    """Every file the benchmark's manifest lists for download."""
    path = find_manifest(bench)
    table = load_toml(path).get("download")
    if not isinstance(table, dict):
        raise DataError(path, "has no [download] table, so there is nothing to download")
    sources: dict[str, Source] = {}
    for name, raw in (table.get("sources") or {}).items():
        where = f"download.sources.{name}"
        if not isinstance(raw, dict):
            raise DataError(path, f"{where} must be a table")
        kind = _str(raw, "kind", where, path)
        if kind not in ("github", "hf", "url"):
            raise DataError(path, f"{where}: kind must be 'github', 'hf' or 'url', not '{kind}'")
        repo_type = _str(raw, "repo_type", where, path, "model")
        if repo_type not in ("model", "dataset", "space"):
            raise DataError(path, f"{where}: repo_type must be model, dataset or space")
        sources[name] = Source(
            name=name,
            kind=kind,
            # A plain web source names its base URL; the others a repository.
            repo=_str(raw, "base" if kind == "url" else "repo", where, path),
            revision=_str(raw, "revision", where, path),
            root=str(raw.get("root", "")),
            repo_type=repo_type,
        )
    files: list[FileSpec] = []
    for number, raw in enumerate(table.get("files") or [], start=1):
        where = f"download.files #{number}"
        if not isinstance(raw, dict):
            raise DataError(path, f"{where} must be a table")
        source_name = _str(raw, "source", where, path)
        if source_name not in sources:
            raise DataError(path, f"{where}: unknown source '{source_name}'")
        sha = raw.get("sha256")
        if sha is not None and (
            not isinstance(sha, str) or len(sha) != 64 or set(sha) - set("0123456789abcdef")
        ):
            raise DataError(path, f"{where}: sha256 must be 64 lowercase hex digits")
        model = raw.get("model")
        source_path = raw.get("source_path")
        files.append(
            FileSpec(
                path=_safe_relative(_str(raw, "path", where, path), where, path),
                source=sources[source_name],
                sha256=sha,
                model=model if isinstance(model, str) else None,
                optional=bool(raw.get("optional", False)),
                source_path=source_path if isinstance(source_path, str) else None,
            )
        )
    if not files:
        raise DataError(path, "its [download] table lists no files")
    return files


def select(files: list[FileSpec], models: list[str] | None) -> list[FileSpec]:
    """The shared files, plus the per-model files of `models` (all models when None)."""
    if not models:
        return files
    known = {f.model for f in files if f.model}
    unknown = [m for m in models if m not in known]
    if unknown:
        raise UsageError(f"no published files for: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return [f for f in files if f.model is None or f.model in models]


LARGE_JSON = 64 << 20  # bytes: beyond this a .json file is checked as a stream


def format_problem(path: Path, name: str) -> str | None:
    """Why `path` (to be stored as `name`) is not a file of its kind, or None when it reads as one.

    What stands in for an unpinned file's hash: a captive portal's HTML page, an
    error page or a reply cut short is not valid JSONL, JSON, YAML or CSV, nor a
    Parquet file (PAR1 at both ends; its footer read too when pyarrow is installed).
    """
    import csv
    import io

    import yaml

    from mtb.jsonl import iter_json_lines

    suffix = Path(name).suffix.lower()
    if suffix == ".parquet":
        from mtb import parquet

        return parquet.format_problem(path)
    if suffix not in (".jsonl", ".json", ".yaml", ".yml", ".csv"):
        return None
    try:
        if path.stat().st_size == 0:
            return "is empty"
        if suffix == ".jsonl":
            for _ in iter_json_lines(path, whole=True):  # a transfer cut short is not "being written"
                pass
            return None
        if suffix == ".json" and path.stat().st_size > LARGE_JSON:
            # The Arena's 2 GB battle log: read value by value, never as one object tree.
            from mtb.jsonstream import check_json_file

            with path.open("rb") as handle:
                if handle.read(4096).lstrip().startswith(b"<"):
                    return "an HTML or XML page, not the file"
            try:
                check_json_file(path)
            except UnicodeDecodeError as exc:
                return f"not valid UTF-8 ({exc.reason})"
            return None
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return f"not valid UTF-8 (byte {exc.start})"
        if text.lstrip().startswith("<"):
            return "an HTML or XML page, not the file"
        if suffix == ".json":
            json.loads(text)
        elif suffix == ".csv":
            rows = list(csv.reader(io.StringIO(text, newline="")))
            if len({len(row) for row in rows if row}) > 1:
                return "not valid CSV (rows of different lengths)"
        elif not isinstance(yaml.safe_load(text), dict | list):
            return "not valid YAML (expected a mapping or a list)"
    except DataError as exc:
        return exc.message if exc.line is None else f"line {exc.line}: {exc.message}"
    except (ValueError, yaml.YAMLError, csv.Error, RecursionError) as exc:
        return (
            f"not valid {suffix[1:].upper()} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        )
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def is_present(dest: Path, spec: FileSpec) -> bool:
    """Present and right: the pinned hash, or without one, a file that parses as its kind."""
    if not dest.is_file():
        return False
    if spec.sha256 is None:
        return format_problem(dest, spec.path) is None
    return sha256_file(dest) == spec.sha256


@contextmanager
def atomic_target(dest: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """A temp file beside `dest`; moved over it only if the block ends without error."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = temp_beside(dest, ".part")
    except OSError as exc:
        raise unwritable(dest, exc) from None
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, temp
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _check_hash(temp: Path, spec: FileSpec, origin: str) -> None:
    """The pinned hash; for an unpinned file, at least that it parses as its kind."""
    if spec.sha256 is not None:
        actual = sha256_file(temp)
        if actual != spec.sha256:
            raise Corrupt(f"{origin}: sha256 {actual}, expected {spec.sha256}")
        return
    problem = format_problem(temp, spec.path)
    if problem is not None:
        raise Corrupt(f"{origin}: {problem}")


Advance = Callable[[int], None]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


class Cancelled(Exception):
    """The run was interrupted; a transfer in flight stops at its next block."""


# Set by `download` when it is interrupted: every transfer in flight stops, and its socket is
# shut so that a read waiting on a slow server returns at once.
_cancel = threading.Event()
_open_responses: set[Any] = set()
_open_lock = threading.Lock()


def _shut(response: Any) -> None:
    """Shut a response's socket from another thread, so a blocked read returns now."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def part_path(dest: Path) -> Path:
    """Where a transfer into `dest` keeps its bytes until they are verified, across attempts and runs."""
    return dest.with_name(dest.name + PART_SUFFIX)


def validator_path(dest: Path) -> Path:
    """Beside the part: the version of the remote file its bytes came from (ETag or Last-Modified)."""
    return dest.with_name(dest.name + PART_SUFFIX + ".version")


def _validator(response: Any) -> str | None:
    """What `If-Range` may carry: a strong ETag, else Last-Modified (RFC 9110 13.1.5)."""
    etag = (response.headers.get("ETag") or "").strip()
    if etag and not etag.startswith("W/"):
        return etag
    modified = (response.headers.get("Last-Modified") or "").strip()
    return modified or None


def _lock(handle: BinaryIO, part: Path) -> None:
    """Two runs into one data directory must not interleave their bytes in one part file."""
    if sys.platform == "win32":
        return  # no flock; Windows refuses a second writer on its own terms
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise Corrupt(f"{part}: another mtb is downloading this file") from None


def fetch_url(
    url: str,
    dest: Path,
    spec: FileSpec,
    advance: Advance,
    *,
    from_mirror: bool = False,
    resumed: Advance | None = None,
) -> None:
    """GET `url` into `dest`, checked for size and hash. Raises NotFound, Corrupt, NetworkUnavailable.

    The bytes go to `<dest>.part` first. When it already holds some (a cut transfer, or an
    interrupted run), an HTTP source is asked for the rest with a Range request; a server that
    answers 200 instead of 206 sends the whole file, which then replaces the part. Only bytes
    that verify (sha256 when pinned, parsing otherwise) become `dest`.
    """
    if not from_mirror and _truthy(os.environ.get("HF_HUB_OFFLINE")):
        # The user said there is no network; honour it for GitHub files too (a mirror is the way out).
        raise NetworkUnavailable(f"HF_HUB_OFFLINE is set, so {url} is not fetched")
    part = part_path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(part, os.O_RDWR | os.O_CREAT, target_mode(dest))
    except OSError as exc:
        raise unwritable(dest, exc) from None
    with os.fdopen(fd, "r+b") as handle:
        _lock(handle, part)
        try:
            _transfer(url, dest, spec, advance, resumed, handle, part)
        finally:
            # A part with no bytes helps no later run (a missing file, no network, an early Ctrl-C).
            if part.exists() and os.fstat(handle.fileno()).st_size == 0:
                part.unlink(missing_ok=True)
            if not part.exists():
                validator_path(dest).unlink(missing_ok=True)


def _transfer(
    url: str,
    dest: Path,
    spec: FileSpec,
    advance: Advance,
    resumed: Advance | None,
    handle: BinaryIO,
    part: Path,
) -> None:
    offset = handle.seek(0, os.SEEK_END)
    # A file:// mirror is a local copy: reading it whole again costs little.
    if url.startswith("file:") and offset:
        handle.truncate(0)
        offset = 0
    version = validator_path(dest)
    try:
        known = version.read_text(encoding="utf-8").strip() if offset and version.is_file() else None
    except (OSError, UnicodeDecodeError):
        known = None
    # With If-Range, a server whose file changed since the part was written sends the new one whole.
    response = _open(url, offset, known or None)
    if response is None:  # 416: the part is as long as the file, or longer
        handle.seek(0)
        problem = _verify(part, spec, url)
        if problem is None:
            _publish(part, dest)
            return
        _discard(handle, part)
        raise Corrupt(f"{problem}; the partial file from an earlier transfer was discarded")
    with _open_lock:
        _open_responses.add(response)
    try:
        with response:
            offset = _resume_point(response, url, offset)
            handle.seek(offset)
            handle.truncate(offset)
            if offset == 0:  # a new part: remember which version of the file it holds
                _remember(version, _validator(response))
            if offset and resumed is not None:
                resumed(offset)
            _receive(response, url, handle, offset, advance)
    finally:
        with _open_lock:
            _open_responses.discard(response)
    handle.flush()
    os.fsync(handle.fileno())
    problem = _verify(part, spec, url)
    if problem is not None:
        # Wrong bytes (in the old part or the new ones): the next attempt starts from zero.
        _discard(handle, part)
        raise Corrupt(problem)
    _publish(part, dest)


def _remember(version: Path, validator: str | None) -> None:
    if validator is None:
        version.unlink(missing_ok=True)
        return
    with suppress(OSError):  # without it a resume is still verified, only less often right
        version.write_text(validator + "\n", encoding="utf-8")


def _open(url: str, offset: int, if_range: str | None = None) -> Any:
    """The response for `url` from byte `offset` on; None when the server says there is nothing past it."""
    headers = {"User-Agent": "mtb", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if if_range:
            headers["If-Range"] = if_range
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            raise NotFound(f"{url}: 404 not found") from None
        if exc.code == 416 and offset:
            return None
        raise Corrupt(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        # A file:// mirror that lacks the file is a missing file, not a network failure.
        if url.startswith("file:") and isinstance(reason, FileNotFoundError | NotADirectoryError):
            raise NotFound(f"{url}: no such file") from None
        raise NetworkUnavailable(f"{url}: {reason}") from None


def _resume_point(response: Any, url: str, offset: int) -> int:
    """Where the response's body belongs in the file: `offset` for a 206 that says so, else 0."""
    if not offset or getattr(response, "status", 200) != 206:
        return 0  # the whole file (a server without Range support answers 200)
    content_range = response.headers.get("Content-Range", "")
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*", content_range)
    if match is None or int(match.group(1)) != offset:
        raise Corrupt(f"{url}: asked for bytes {offset}- but got Content-Range '{content_range}'")
    return offset


def _receive(response: Any, url: str, handle: BinaryIO, offset: int, advance: Advance) -> None:
    length = response.headers.get("Content-Length")
    received = 0
    try:
        # read1: whatever has arrived, so a slow server cannot hold a block hostage to Ctrl-C.
        while block := response.read1(CHUNK):
            if _cancel.is_set():
                raise Cancelled(url)
            handle.write(block)
            received += len(block)
            advance(len(block))
    except (http.client.IncompleteRead, ConnectionError, TimeoutError, ValueError, OSError) as exc:
        if _cancel.is_set():
            raise Cancelled(url) from None
        raise Corrupt(
            f"{url}: transfer interrupted after {offset + received} bytes ({type(exc).__name__}); "
            "the next attempt resumes there"
        ) from None
    if _cancel.is_set():
        raise Cancelled(url)
    if length is not None and received != int(length):
        raise Corrupt(
            f"{url}: transfer interrupted after {offset + received} of {offset + int(length)} bytes; "
            "the next attempt resumes there"
        )


def _verify(path: Path, spec: FileSpec, origin: str) -> str | None:
    try:
        _check_hash(path, spec, origin)
    except Corrupt as exc:
        return str(exc)
    return None


def _publish(part: Path, dest: Path) -> None:
    """The verified part becomes `dest` in one step (the lock goes with the open handle)."""
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise unwritable(dest, exc) from None


def _discard(handle: BinaryIO, part: Path) -> None:
    handle.truncate(0)
    part.unlink(missing_ok=True)  # its .version goes with it (fetch_url's cleanup)


def _hf_download(spec: FileSpec, force: bool) -> Path:
    # Imported here: huggingface_hub reads HF_HOME, HF_ENDPOINT, HF_TOKEN and
    # HF_HUB_OFFLINE when it is first imported, and `mtb --help` need not pay for it.
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    source = spec.source
    where = f"{source.repo_type} {source.repo}@{source.revision}: {spec.remote_path}"
    try:
        return Path(
            hf_hub_download(
                repo_id=source.repo,
                filename=spec.remote_path,
                repo_type=source.repo_type,
                revision=source.revision,
                force_download=force,
            )
        )
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        # Raised when the Hub cannot be reached (or HF_HUB_OFFLINE=1) and the
        # file is not in the local cache.
        raise NetworkUnavailable(f"{where}: {str(exc).splitlines()[0]}") from None
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
        raise NotFound(f"{where}: not found on the Hub (or not readable without HF_TOKEN)") from None
    except OSError as exc:
        raise Corrupt(f"{where}: {exc}") from None


def fetch_hub(spec: FileSpec, dest: Path, advance: Advance) -> None:
    """Through huggingface_hub and its cache; the checked bytes are then copied into place."""
    where = f"{spec.source.repo}: {spec.remote_path}"
    for force in (False, True):
        cached = _hf_download(spec, force)
        if spec.sha256 is not None:
            problem = (
                None
                if sha256_file(cached) == spec.sha256
                else f"sha256 {sha256_file(cached)}, expected {spec.sha256}"
            )
        else:
            problem = format_problem(cached, spec.path)
        if problem is None:
            break
        # The cache holds other bytes (an older revision, or damage): fetch again once.
    else:
        raise Corrupt(f"{where}: {problem}")
    with atomic_target(dest) as (handle, temp), cached.open("rb") as source_handle:
        shutil.copyfileobj(source_handle, handle, CHUNK)
        handle.flush()
        _check_hash(temp, spec, str(cached))
    advance(dest.stat().st_size)


def source_url(spec: FileSpec, mirror: str | None) -> str | None:
    """Where a plain HTTP fetch takes `spec` from; None when it goes through huggingface_hub."""
    if mirror:
        return f"{mirror.rstrip('/')}/{spec.path}"
    if spec.source.kind == "github":
        base = os.environ.get("MTB_GITHUB_RAW", GITHUB_RAW).rstrip("/")
        return f"{base}/{spec.source.repo}/{spec.source.revision}/{spec.remote_path}"
    if spec.source.kind == "url":
        return f"{spec.source.repo.rstrip('/')}/{spec.remote_path}"
    return None


def mirror_url(mirror: str) -> str:
    """A mirror may be a URL or a local folder."""
    if "://" in mirror:
        return mirror
    try:
        return Path(mirror).resolve().as_uri()
    except (RuntimeError, OSError) as exc:  # a symlink loop: RuntimeError before Python 3.13
        raise UsageError(f"--mirror {mirror}: not a folder that can be read ({exc})") from None


def _hub_endpoint() -> str | None:
    """The Hub's address, or None when huggingface_hub will only read its cache."""
    if _truthy(os.environ.get("HF_HUB_OFFLINE")):
        return None
    return os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def check_reachable(todo: list[FileSpec], mirror: str | None) -> None:
    """Connect once to each host the remaining files need, so that no network fails in seconds.

    Without this, huggingface_hub retries each file with backoff before giving up.
    """
    if urllib.request.getproxies():
        return  # behind a proxy a direct connection proves nothing
    urls: set[str] = set()
    for spec in todo:
        url = source_url(spec, mirror) if mirror or spec.source.kind != "hf" else _hub_endpoint()
        if url:
            urls.add(url)
    seen: set[tuple[str, int]] = set()
    for url in sorted(urls):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        if address in seen:
            continue
        seen.add(address)
        try:
            socket.create_connection(address, timeout=10).close()
        except OSError as exc:
            raise NetworkUnavailable(f"{address[0]}:{address[1]} cannot be reached ({exc})") from None


@dataclass
class DownloadReport:
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)


class ProgressHooks:
    """What the downloader tells its caller; the CLI draws bars from it."""

    def file_started(self, spec: FileSpec) -> Advance:
        return lambda n: None

    def file_resumed(self, spec: FileSpec, offset: int) -> None:
        """The transfer continues a part file that already holds `offset` bytes."""

    def file_done(self, spec: FileSpec) -> None:
        pass


def download_one(spec: FileSpec, data_dir: Path, mirror: str | None, hooks: ProgressHooks) -> str:
    """Fetch one file, retrying bad transfers. Returns "fetched", "skipped" or "missing"."""
    dest = data_dir / spec.path
    if is_present(dest, spec):
        # A part left beside a file that is already right has nothing left to give.
        part_path(dest).unlink(missing_ok=True)
        validator_path(dest).unlink(missing_ok=True)
        hooks.file_done(spec)
        return "skipped"
    url = source_url(spec, mirror)
    last = ""
    try:
        for _attempt in range(ATTEMPTS):
            advance = hooks.file_started(spec)
            try:
                if url is None:
                    fetch_hub(spec, dest, advance)
                else:
                    fetch_url(
                        url,
                        dest,
                        spec,
                        advance,
                        from_mirror=mirror is not None,
                        resumed=lambda offset: hooks.file_resumed(spec, offset),
                    )
                return "fetched"
            except Corrupt as exc:
                last = str(exc)
        raise Corrupt(f"{last} (after {ATTEMPTS} attempts)")
    except (NotFound, NetworkUnavailable):
        # An optional file is one we cannot vouch for anyway; offline, it is only a warning.
        if spec.optional:
            return "missing"
        raise
    finally:
        hooks.file_done(spec)


def download(
    files: list[FileSpec],
    data_dir: Path,
    *,
    mirror: str | None = None,
    hooks: ProgressHooks | None = None,
    parallel: int = 4,
) -> DownloadReport:
    hooks = hooks or ProgressHooks()
    mirror = mirror_url(mirror) if mirror else None
    report = DownloadReport()
    todo = [spec for spec in files if not is_present(data_dir / spec.path, spec)]
    check_reachable(todo, mirror)
    lock = threading.Lock()

    def work(spec: FileSpec) -> None:
        try:
            outcome = download_one(spec, data_dir, mirror, hooks)
        except (NotFound, Corrupt) as exc:
            with lock:
                report.failed[spec.path] = str(exc)
            return
        except Cancelled:
            return
        with lock:
            {"fetched": report.fetched, "skipped": report.skipped, "missing": report.missing_optional}[
                outcome
            ].append(spec.path)
            if outcome == "fetched" and spec.sha256 is None:
                report.unverified.append(spec.path)

    _cancel.clear()
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = [pool.submit(work, spec) for spec in files]  # present ones are skipped fast
        done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                # NetworkUnavailable: stop everything; files written so far are whole.
                raise error
    except BaseException:
        # Ctrl-C or a fatal error: transfers in flight stop at once (their sockets are shut),
        # keeping their `.part` files for the next run to resume; files not started are dropped.
        _cancel.set()
        with _open_lock:
            for response in list(_open_responses):
                _shut(response)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return report
