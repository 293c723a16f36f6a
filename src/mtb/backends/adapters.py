"""LoRA/PEFT adapters: which folder is an adapter, which base it needs, and what identifies both.

    resolve_adapter   a `--model-path` folder with `adapter_config.json` → AdapterInfo
                      (the adapter, its base: `base_model_name_or_path` or --base-model);
                      None for a plain model
    adapter_sha256    the adapter's identity: its config and weight files
    base_fingerprint  the base's identity, cheap enough for a 70B model
    record_fields     what an answer record notes beside FastChat's fields

No torch, transformers or peft here: reading the adapter's config and checking
its base happen before any model loads, so a wrong path fails in milliseconds.

What is hashed (README, "Adapters"):

- `adapter_sha256`: the SHA-256 of the lines `<sha256>  <name>` of
  `adapter_config.json` and every `adapter_model*` file, in name order; the
  same as `cd ADAPTER && sha256sum adapter_config.json adapter_model.* | sha256sum`.
  Adapters are small (megabytes), so every byte counts.
- `base_model_fingerprint`: the SHA-256 of `config.json`, then, for each
  weight file (`*.safetensors`, `*.bin`, `*.pt`, `*.pth` in name order), its name, size
  and four 1 MiB samples (start, a third, two thirds, end; a file of 4 MiB or
  less whole). A fine-tuned base changes essentially every weight, so any
  sample tells two bases apart, without reading a 14 GB model through.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.errors import DataError, UsageError
from mtb.jsonl import read_text
from mtb.provenance import sha256_file

ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# vLLM accepts these LoRA ranks for --max-lora-rank; the adapter's rank is rounded up to one.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
_SAMPLE = 1 << 20


@dataclass(frozen=True)
class AdapterInfo:
    path: Path  # the adapter folder, absolute
    base: str  # the base model: a folder (absolute) or a Hub repo id
    base_from_flag: bool  # --base-model named it (else adapter_config.json did)
    rank: int | None  # `r`, for vLLM's max_lora_rank
    has_tokenizer: bool  # the adapter folder carries its own tokenizer (and maybe chat template)

    @property
    def base_is_folder(self) -> bool:
        return Path(self.base).is_dir()


def is_adapter(model_path: str) -> bool:
    return (Path(model_path).expanduser() / ADAPTER_CONFIG).is_file()


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or os.sep in name.replace("/", "")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_adapter_config(path: Path) -> dict[str, Any]:
    """`adapter_config.json` as an object; anything else is a `path:line` DataError."""
    text = read_text(path)
    try:
        config = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise DataError(path, f"not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise DataError(path, f"expected a JSON object, got {type(config).__name__}")
    return config


def resolve_adapter(model_path: str, base_model: str | None) -> AdapterInfo | None:
    """The adapter in `model_path` and the base it goes on; None when the folder is a plain model.

    A base that is missing (a folder that does not exist, or a config naming none)
    is a DataError naming the path; a Hub repo id is checked when it loads.
    """
    folder = Path(model_path).expanduser()
    config_path = folder / ADAPTER_CONFIG
    if not config_path.is_file():
        if base_model is not None:
            raise UsageError(
                f"--base-model applies to adapter folders (with {ADAPTER_CONFIG}); '{model_path}' has none"
            )
        return None
    config = read_adapter_config(config_path)
    named = config.get("base_model_name_or_path")
    if named is not None and not isinstance(named, str):
        raise DataError(config_path, "field 'base_model_name_or_path' must be a string")
    peft_type = config.get("peft_type")
    if peft_type is not None and not isinstance(peft_type, str):
        raise DataError(config_path, "field 'peft_type' must be a string")
    rank = config.get("r")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise DataError(config_path, "field 'r' must be a positive integer")
    base = base_model or named
    if not base:
        raise DataError(
            config_path, "names no base model (base_model_name_or_path); give one with --base-model"
        )
    from_flag = base_model is not None
    where = "--base-model" if from_flag else f"{config_path}: base_model_name_or_path"
    base_path = Path(base).expanduser()
    if base_path.exists():
        if not base_path.is_dir():
            raise DataError(base_path, f"the base model must be a model folder ({where})")
        if not (base_path / "config.json").is_file():
            raise DataError(base_path, f"the base model folder has no config.json ({where})")
        base = str(base_path.resolve())
    elif _looks_like_path(base):
        raise DataError(
            base_path, f"base model folder not found ({where}); give the right one with --base-model"
        )
    has_tokenizer = (folder / "tokenizer_config.json").is_file()
    return AdapterInfo(folder.resolve(), base, from_flag, rank, has_tokenizer)


def vllm_lora_rank(rank: int | None) -> int:
    """The smallest rank vLLM accepts that holds the adapter's (16, vLLM's default, when unknown)."""
    if rank is None:
        return 16
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise UsageError(f"adapter rank r={rank} is above the largest vLLM supports ({VLLM_LORA_RANKS[-1]})")


def adapter_sha256(folder: Path) -> str:
    """sha256 of `sha256sum adapter_config.json adapter_model.*` (name order), as the module says."""
    names = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and (p.name == ADAPTER_CONFIG or p.name.startswith("adapter_model"))
    )
    lines = "".join(f"{sha256_file(folder / name)}  {name}\n" for name in names)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _sampled(path: Path, digest: Any) -> None:
    size = path.stat().st_size
    digest.update(f"{path.name}\0{size}\0".encode())
    with path.open("rb") as handle:
        if size <= 4 * _SAMPLE:
            digest.update(handle.read())
            return
        for start in (0, size // 3, 2 * size // 3, size - _SAMPLE):
            handle.seek(start)
            digest.update(handle.read(_SAMPLE))


def base_fingerprint(folder: Path) -> str | None:
    """The base's config and sampled weights (see the module's docstring); None without config.json."""
    config = folder / "config.json"
    if not config.is_file():
        return None
    digest = hashlib.sha256(config.read_bytes())
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        _sampled(path, digest)
    return digest.hexdigest()


def base_folder(adapter: AdapterInfo, revision: str | None) -> Path | None:
    """The base's files on disk: its folder, or its snapshot in the Hugging Face cache once loaded."""
    if adapter.base_is_folder:
        return Path(adapter.base)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(adapter.base, revision=revision, local_files_only=True))
    except Exception:  # not cached (vLLM may keep its own copy): the record says so with null
        return None


def record_fields(adapter: AdapterInfo, merged: bool, revision: str | None = None) -> dict[str, Any]:
    """The adapter and base an answer was made with, beside FastChat's fields (its readers ignore them)."""
    folder = base_folder(adapter, revision)
    return {
        "adapter": str(adapter.path),
        "adapter_sha256": adapter_sha256(adapter.path),
        "base_model": adapter.base,
        "base_model_fingerprint": base_fingerprint(folder) if folder is not None else None,
        "adapter_merged": merged,
    }
