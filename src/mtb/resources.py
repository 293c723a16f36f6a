"""mtb's own data files: the `questions/`, `prompts/` and `prices/` folders, and TOML reading.

Kept apart from `mtb.benchmarks` (manifests) and `mtb.cost` (prices) so that
anything reading a shipped TOML file depends only on this small module, not on
the benchmark layer above it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mtb.errors import DataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def resource_dir(name: str) -> Path:
    """The `questions/`, `prompts/` or `prices/` folder: inside the installed wheel, or at the repo root."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / name, package_dir.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise DataError(package_dir / name, "mtb's own data folder is missing; reinstall mtb")


def load_toml(path: Path) -> dict[str, Any]:
    """A TOML file's table; a file that is not UTF-8 or not TOML is a DataError naming it."""
    from mtb.jsonl import read_text

    text = read_text(path)  # a byte that is not UTF-8 is reported as path:line
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, f"not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses per nested array or table
        raise DataError(path, "not valid TOML (nested too deeply)") from None
