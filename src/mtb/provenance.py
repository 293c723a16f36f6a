"""How every answer and judgment was made: a run file beside each output.

    <output-stem>.runs.jsonl    one line per run (and later lines that add to it):
        {"run_id": "...", "started": "2024-05-01T12:00:00Z", "mtb_version": "0.1.0",
         "command": "judge", "settings": {...}}
        {"run_id": "...", "finished": "...", "completed": 160, "failed": 0, "served_models": {...}}

Each record a run writes carries one extra field, `run_id`, that points to its
line. FastChat's and arena-hard-auto's readers ignore the extra field, and
mtb's readers accept records without it (published files): those are of
unknown provenance. Lines that share a `run_id` are merged, later keys over
earlier ones, so any part of mtb (token and cost totals, say) can add to a run
by appending a line with its `run_id`.

Endpoints are recorded as a host only (never a key, a path or user:pass@).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb.errors import DataError
from mtb.version import __version__

RUN_FILE_SUFFIX = ".runs.jsonl"
RUN_ID_FIELD = "run_id"

# Settings whose difference makes two runs' scores incomparable: the judge (its
# name, provider and the version the server said answered), its prompts and its
# sampling. Hosts, mtb's version and the number of samples are recorded but are
# not a conflict by themselves (a replica, an upgrade, more samples of the same judge).
CONFLICT_KEYS = ("model", "provider", "served_models", "prompts", "temperature", "max_tokens")


def is_run_file(path: Path) -> bool:
    """A run file, which scans for answer or judgment files must leave out."""
    return path.name.endswith(RUN_FILE_SUFFIX)


def run_file_for(output: Path) -> Path:
    """`dir/x.jsonl` → `dir/x.runs.jsonl`; a folder of outputs `dir/judge/` → `dir/judge.runs.jsonl`."""
    stem = output.name.removesuffix(".jsonl") if output.suffix == ".jsonl" else output.name
    return output.parent / f"{stem}{RUN_FILE_SUFFIX}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    """A file's sha256, read a few megabytes at a time (weights and downloads run to gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def endpoint_host(api_base: str | None) -> str | None:
    """`https://user:pw@host:8000/v1?key=x` → `host:8000`: never a credential or a path."""
    if not api_base:
        return None
    parts = urllib.parse.urlsplit(api_base)
    host = parts.hostname
    if not host:
        return None
    return f"{host}:{parts.port}" if parts.port else host


# Where a provider goes when no base URL is given, as recorded in the run file.
_DEFAULT_HOSTS = {"openai": "api.openai.com", "fake": "in-process"}


def endpoint_settings(provider: str, model: str, api_bases: Iterable[str | None]) -> dict[str, Any]:
    """The model, its provider and the host(s) it was reached at: never a key, a path or a password."""
    hosts = sorted(
        {endpoint_host(b) or _DEFAULT_HOSTS.get(provider, f"{provider} default") for b in api_bases}
    )
    return {"model": model, "provider": provider, "endpoint": hosts[0] if len(hosts) == 1 else hosts}


def mtb_version() -> str:
    return __version__


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Run:
    """One run's line in the run file; `begin()` writes it, once, before the run's first record."""

    path: Path  # the run file
    command: str
    settings: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started: str = field(default_factory=_now)
    begun: bool = False

    @classmethod
    def for_output(cls, output: Path, command: str, settings: dict[str, Any]) -> Run:
        return cls(run_file_for(output), command, settings)

    def header(self) -> dict[str, Any]:
        return {
            RUN_ID_FIELD: self.run_id,
            "started": self.started,
            "mtb_version": mtb_version(),
            "command": self.command,
            "settings": self.settings,
        }

    def begin(self) -> None:
        """Append the run's line (a run that writes nothing leaves no line)."""
        if not self.begun:
            self.begun = True
            append_line(self.path, self.header())

    def finish(self, **totals: Any) -> None:
        """Add what the run ended with (counts, served model versions) to its line, if it wrote one."""
        if self.begun:
            append_line(self.path, {RUN_ID_FIELD: self.run_id, "finished": _now(), **totals})

    def stamp(self) -> dict[str, Any]:
        """The field(s) every record of this run carries."""
        return {RUN_ID_FIELD: self.run_id}


def append_line(path: Path, obj: dict[str, Any]) -> None:
    from mtb.jsonl import repair_tail, unwritable

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(path)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")
    except OSError as exc:
        raise unwritable(path, exc) from None


def read_runs(path: Path) -> dict[str, dict[str, Any]]:
    """The runs in a run file by id, lines of one run merged (later keys win); {} if there is no file."""
    from mtb.jsonl import iter_json_lines

    if not path.exists():
        return {}
    runs: dict[str, dict[str, Any]] = {}
    for number, obj in iter_json_lines(path):
        run_id = obj.get(RUN_ID_FIELD)
        if not isinstance(run_id, str) or not run_id:
            raise DataError(path, f"missing field '{RUN_ID_FIELD}'", number)
        merged = runs.setdefault(run_id, {})
        for key, value in obj.items():
            if key == "settings" and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return runs


def run_id_of(obj: Mapping[str, Any]) -> str | None:
    value = obj.get(RUN_ID_FIELD)
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- checking


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in sorted(value.items())) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value) or "none"
    if isinstance(value, str) and len(value) == 64:
        return value[:12]  # a sha256
    return str(value)


def _signature(run: Mapping[str, Any]) -> dict[str, Any]:
    settings = run.get("settings")
    settings = settings if isinstance(settings, dict) else {}
    signature = {key: settings.get(key) for key in CONFLICT_KEYS if key != "served_models"}
    served = run.get("served_models")
    if isinstance(served, dict) and served:
        signature["served_models"] = sorted(served)
    return {k: v for k, v in signature.items() if v is not None}


@dataclass(frozen=True)
class ProvenanceCheck:
    """What the run file says about a set of records being scored together."""

    runs: int  # distinct runs with a line in the run file
    unknown: int  # records with no run_id (published files), or one the run file lacks
    conflicts: list[str]  # settings that differ between runs, one line each
    missing_runs: list[str]  # run ids that records name but the run file lacks

    def warnings(self, path: Path) -> list[str]:
        lines = []
        if self.missing_runs:
            lines.append(
                f"{run_file_for(path)} lacks {len(self.missing_runs)} run(s) that records point to "
                f"({', '.join(self.missing_runs[:3])}); their settings are unknown"
            )
        if self.conflicts:
            lines.append(
                f"{path}: the judgments scored together were made under different settings: "
                + "; ".join(self.conflicts)
                + " (--strict refuses this)"
            )
        return lines

    def notes(self) -> list[str]:
        if not self.unknown:
            return []
        return [
            f"{self.unknown} judgment(s) carry no record of how they were made (published files, or "
            "made before mtb kept one): their settings are unknown, which is not a conflict by itself"
        ]


def check(path: Path, run_ids: Iterable[str | None]) -> ProvenanceCheck:
    """Compare the settings of the runs that made the records scored together (`run_ids`, one per record)."""
    counts = Counter(run_ids)
    runs = read_runs(run_file_for(path)) if any(r is not None for r in counts) else {}
    unknown = counts.get(None, 0)
    missing = sorted(r for r in counts if r is not None and r not in runs)
    unknown += sum(counts[r] for r in missing)
    known = [r for r in counts if r is not None and r in runs]
    values: dict[str, dict[str, int]] = {}
    for run_id in known:
        for key, value in _signature(runs[run_id]).items():
            if key == "prompts" and isinstance(value, dict):
                # Prompts are compared by name: each turn and category has its own.
                for name, digest in value.items():
                    values.setdefault(f"prompt {name}", {})
                    shown = _shown(digest)
                    values[f"prompt {name}"][shown] = values[f"prompt {name}"].get(shown, 0) + counts[run_id]
                continue
            shown = _shown(value)
            values.setdefault(key, {})
            values[key][shown] = values[key].get(shown, 0) + counts[run_id]
    conflicts = [
        f"{key}: " + " vs ".join(f"{value} ({n} judgment(s))" for value, n in found.items())
        for key, found in values.items()
        if len(found) > 1
    ]
    return ProvenanceCheck(len(known), unknown, conflicts, missing)
