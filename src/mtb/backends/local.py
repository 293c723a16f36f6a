"""Opening a model that runs on this machine: the transformers or vLLM backend, chosen and loaded.

    pick_backend           `auto` → vllm when it is importable and a GPU is present, else hf
    open_local_backend     check the flags, pick the backend, load the model
    LocalBackend           what a loaded model offers beyond the engine's Backend
    answer_fields          what each answer record notes of it (template hash, adapter)
    release_local_backend  hand its memory back before another model loads

What the two backends share (their configuration, batching, chat templates,
error messages) is `mtb.backends.local_base`, which they import; this module
imports them, so it is kept apart from what they share. The names of
`local_base` that callers found here before it was split off are re-exported.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from mtb.backends.adapters import AdapterInfo, record_fields, resolve_adapter
from mtb.backends.base import Completion, Message, SamplingParams
from mtb.backends.local_base import BatchStats, read_chat_template
from mtb.backends.local_base import LocalModelConfig as LocalModelConfig
from mtb.backends.local_base import load_error as load_error
from mtb.backends.local_base import template_hash as template_hash
from mtb.backends.local_base import vllm_engine_arguments as vllm_engine_arguments
from mtb.errors import DataError, MissingExtraError, UsageError
from mtb.startup import long_lived_imports

DTYPES = ("auto", "float32", "float16", "bfloat16")
TEMPLATE_FIELD = "chat_template_sha256"  # the extra field each answer record carries


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPES:
        raise UsageError(f"unsupported --dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    return dtype


def check_model_path(model_path: str, flag: str = "--model-path") -> None:
    """A local model folder, or a Hub repo id; a missing local folder is said at once.

    `output/lora-r16` reads as a Hub repo id (owner/name), and loading it became
    a minute of Hub retries ending in an error that never said no folder of that
    name exists here. So a name that is not a folder here is refused before any
    load when it looks local (it starts with `/`, `.` or `~`, has two slashes, or
    its first part is a folder here), when the Hub is offline and its cache lacks
    it, or when the Hub answers that no such repo exists.
    """
    path = Path(model_path).expanduser()
    from mtb.jsonl import unnamable

    problem = unnamable(path)
    if problem:
        raise DataError(path, f"{flag}: {problem}")
    if path.exists():
        if not path.is_dir():
            raise DataError(path, f"{flag} must be a model folder (with config.json) or a Hub repo id")
        return
    first_part = model_path.split("/")[0]
    looks_like_path = (
        model_path.startswith(("/", ".", "~"))
        or model_path.count("/") > 1
        or ("/" in model_path and Path(first_part).is_dir())
    )
    where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
    if looks_like_path:
        raise DataError(path, f"model folder not found ({flag}){where}; no Hub lookup was made")
    known = hub_knows(model_path)
    if known is False:
        offline = hub_offline()
        why = (
            "and it is not in the local Hugging Face cache (HF_HUB_OFFLINE=1 forbids downloading it)"
            if offline
            else "and the Hugging Face Hub has no model of that name (or it is private: set HF_TOKEN)"
        )
        raise DataError(path, f"no such model folder here ({flag}){where}, {why}")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


# Seconds for the one look-up of a repo id on the Hub: the load's own retries took 46 s.
HUB_LOOKUP_TIMEOUT = 10.0


@functools.lru_cache(maxsize=32)
def hub_knows(repo_id: str) -> bool | None:
    """Whether the Hub (or, offline, its local cache) has `repo_id`; None when that cannot be told."""
    try:
        import huggingface_hub
    except ImportError:
        return None
    if hub_offline():
        for name in ("config.json", "adapter_config.json"):
            try:
                cached = huggingface_hub.try_to_load_from_cache(repo_id, name)
            except Exception:  # an id the Hub client refuses (two dashes, ...): not in the cache
                return False
            if isinstance(cached, str):
                return True
        # Downloaded at another revision than main: its folder in the cache is there all the same.
        folder = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
        return folder.is_dir()
    try:
        api = huggingface_hub.HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
        api.model_info(repo_id, timeout=HUB_LOOKUP_TIMEOUT)
    except Exception as exc:  # the network, a gated repo, an old client: the load says what is wrong
        return False if type(exc).__name__ == "RepositoryNotFoundError" else None
    return True


def pick_backend(requested: str) -> str:
    if requested in ("hf", "vllm"):
        return requested
    if requested != "auto":
        raise UsageError(f"unknown --backend '{requested}' (choose from auto, vllm, hf)")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "hf"
    import torch

    return "vllm" if torch.cuda.is_available() else "hf"


class LocalBackend(Protocol):
    """A loaded local model: the engine's Backend, plus what the answer records note."""

    template_sha256: str
    stats: BatchStats
    adapter: AdapterInfo | None

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion: ...

    async def aclose(self) -> None: ...


def answer_fields(backend: LocalBackend, config: LocalModelConfig) -> dict[str, Any]:
    """What each answer record notes beside FastChat's fields: the template's hash, the adapter and base."""
    fields: dict[str, Any] = {TEMPLATE_FIELD: backend.template_sha256}
    if backend.adapter is not None:
        fields.update(record_fields(backend.adapter, config.merge_adapter, config.revision))
    return fields


def open_local_backend(config: LocalModelConfig) -> tuple[str, LocalBackend]:
    """Load the model with the chosen backend; returns (backend name, backend)."""
    check_dtype(config.dtype)
    check_model_path(config.model_path)
    # An adapter's config and base are checked before anything heavy is imported.
    adapter = resolve_adapter(config.model_path, config.base_model)
    if adapter is None and config.merge_adapter:
        raise UsageError(f"--merge-adapter applies to adapter folders; '{config.model_path}' is not one")
    if config.chat_template is not None:
        read_chat_template(config.chat_template)  # a missing file fails before the model loads
    try:
        kind = pick_backend(config.backend)
        if kind == "vllm":
            if config.merge_adapter:
                raise UsageError(
                    "--merge-adapter applies to --backend hf; vLLM serves the adapter on the base as it is "
                    "(enable_lora), which gives the same answers"
                )
            with long_lived_imports():
                from mtb.backends.vllm_backend import VLLMBackend
            return kind, VLLMBackend.load(config, adapter)
        with long_lived_imports():
            if adapter is not None:
                import peft  # noqa: F401  (a missing extra is said before the base model loads)
            from mtb.backends.hf import HFBackend

        return kind, HFBackend.load(config, adapter)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] == "vllm":
            raise MissingExtraError("vllm", "vllm") from None
        if exc.name and exc.name.split(".")[0] in ("torch", "transformers", "jinja2", "accelerate", "peft"):
            raise MissingExtraError(exc.name.split(".")[0], "local") from None
        raise


def release_local_backend(backend: LocalBackend) -> None:
    """Drop the backend's model and hand its memory back, before another model (a local judge) loads.

    The engine has closed the backend (its batching task stopped); what still holds
    the weights is the backend's own references, and, on a GPU, torch's cache of
    freed blocks, which another process (or vLLM's own allocator) cannot use.
    """
    import gc
    import sys

    for name in ("model", "llm", "tokenizer"):
        if hasattr(backend, name):
            setattr(backend, name, None)
    gc.collect()
    if "vllm" in sys.modules:
        # vLLM keeps its distributed state (and, in V1, engine processes) past the LLM object.
        try:
            from vllm.distributed.parallel_state import cleanup_dist_env_and_memory
        except ImportError:
            pass
        else:
            cleanup_dist_env_and_memory()
    torch = sys.modules.get("torch")  # never imported for this: without it there is no cache to empty
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
