"""What the local backends (transformers, vLLM) share, without importing either.

The backends themselves (`hf.py`, `vllm_backend.py`) build on this module; the
factory that picks and loads one is `mtb.backends.local`, kept apart so that
the backends never import the module that imports them.

    LocalModelConfig   the model and how to run it, from the command line
    pick_template      --chat-template, else the model's own (never a generic one)
    end_of_turn_ids    the special tokens a chat template closes a reply with,
                       so generation stops there (not only at EOS)
    BatchingBackend    the engine's `complete(messages, params)`, one request at a
                       time, gathered into batches: requests that arrive within a
                       few milliseconds of each other go to the model as one call,
                       run in a worker thread so the event loop stays free
    LocalModelBackend  a BatchingBackend over a loaded model: what hf and vLLM keep alike
    load_error         a loading failure (missing path, offline, out of memory,
                       bad dtype) as one clear mtb error

The chat template always comes from the model (or --chat-template); a model
without one is an error, never a guess (FastChat's silent `one_shot` fallback
produced wrong published scores).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb.backends.adapters import AdapterInfo, vllm_lora_rank
from mtb.backends.base import BackendError, Completion, Message, SamplingParams
from mtb.errors import DataError, MtbError, UsageError

# FastChat's rule (gen_model_answer): below this temperature, decode greedily.
GREEDY_BELOW = 1e-4


@dataclass(frozen=True)
class LocalModelConfig:
    model_path: str  # a folder, or a Hugging Face repo id
    backend: str = "auto"  # auto | hf | vllm
    chat_template: Path | None = None  # a Jinja file that replaces the model's template
    dtype: str = "auto"
    revision: str | None = None
    seed: int = 0
    max_batch_size: int = 32  # hf: rows per generate() call
    tensor_parallel_size: int = 1  # vllm
    num_gpus_total: int | None = None  # vllm: data-parallel replicas = total / tensor parallel
    max_model_len: int | None = None  # vllm
    gpu_memory_utilization: float = 0.9  # vllm
    ignore_eos: bool = False  # benchmarks: fixed output lengths
    base_model: str | None = None  # an adapter's base, over its adapter_config.json
    merge_adapter: bool = False  # merge the adapter into the base before generating (hf)


def read_chat_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(path, f"cannot read --chat-template ({exc.strerror or exc})") from None


def template_hash(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def model_template(tokenizer: Any, model_path: str) -> str:
    """The tokenizer's own chat template, or an error that says how to give one."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates: the default one is for chat
        template = template.get("default")
    if not isinstance(template, str) or not template.strip():
        raise UsageError(
            f"the tokenizer of '{model_path}' has no chat template; give one with --chat-template FILE "
            "(a Jinja file, e.g. from the model card). mtb never falls back to a generic template."
        )
    return template


_PROBE = "mtb-probe-answer"


def end_of_turn_ids(tokenizer: Any, template: str) -> list[int]:
    """The special tokens the template puts right after an assistant's message (e.g. <|eot_id|>)."""
    try:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _PROBE}],
            chat_template=template,
            tokenize=False,
        )
    except Exception:  # a template with rules of its own; EOS is still a stop
        return []
    if not isinstance(text, str) or _PROBE not in text:
        return []
    special = set(tokenizer.all_special_ids) | {
        token_id for token_id, token in tokenizer.added_tokens_decoder.items() if token.special
    }
    found: list[int] = []
    for token_id in tokenizer(text.split(_PROBE, 1)[1], add_special_tokens=False)["input_ids"]:
        if token_id in special:
            found.append(token_id)
        elif tokenizer.decode([token_id]).strip():
            break
    return found


def load_error(exc: BaseException, config: LocalModelConfig) -> MtbError:
    """One clear message for the usual ways loading a model fails."""
    text = str(exc)
    lowered = text.lower()
    if "out of memory" in lowered or type(exc).__name__ == "OutOfMemoryError":
        return MtbError(
            f"out of GPU memory while loading or running '{config.model_path}': use more GPUs "
            "(--tensor-parallel-size), a shorter context (--max-model-len), a smaller --batch-size, "
            f"or a lighter --dtype ({first_line(text)})"
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if isinstance(exc, OSError) and offline:
        return MtbError(
            f"cannot load '{config.model_path}': it is not in the local Hugging Face cache and "
            "HF_HUB_OFFLINE=1 forbids downloading it; download it first (hf download "
            f"{config.model_path}) or unset HF_HUB_OFFLINE"
        )
    if isinstance(exc, OSError):
        return MtbError(f"cannot load '{config.model_path}': {first_line(text)}")
    if "dtype" in lowered or "bfloat16" in lowered or "half" in lowered:
        return MtbError(f"--dtype {config.dtype} is not supported here: {first_line(text)}")
    return MtbError(f"cannot load '{config.model_path}': {type(exc).__name__}: {first_line(text)}")


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def generation_error(exc: BaseException, config: LocalModelConfig) -> BackendError:
    """A failure inside the model stops the run (every later batch would fail alike).

    What is finished stays written."""
    return BackendError("fatal", load_error(exc, config).args[0])


@dataclass
class Request:
    prompt: Any  # what the backend prepared: token ids (hf) or messages (vllm)
    params: SamplingParams
    future: asyncio.Future[Completion]


@dataclass
class BatchStats:
    batches: int = 0
    rows: int = 0
    generated_tokens: int = 0
    largest_batch: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class BatchingBackend:
    """Turns concurrent `complete` calls into batched calls of `generate_batch` in a worker thread.

    Subclasses implement `prepare` (messages → prompt, in the event loop),
    `batch_key` (requests that may share one call) and `generate_batch`
    (blocking; runs in a thread, one batch at a time since the model is one).
    """

    max_batch_size: int | None = None  # None: everything pending goes in one call

    def __init__(self, gather_window: float = 0.005) -> None:
        self.gather_window = gather_window
        self.stats = BatchStats()
        self._pending: list[Request] = []
        self._runner: asyncio.Task[None] | None = None

    def prepare(self, messages: Sequence[Message]) -> Any:
        raise NotImplementedError

    def batch_key(self, params: SamplingParams) -> Any:
        return None

    def prompt_size(self, prompt: Any) -> int:
        """Rows of similar size are batched together when there are more than a batch holds."""
        return 0

    def generate_batch(self, prompts: list[Any], params: list[SamplingParams]) -> list[Completion]:
        raise NotImplementedError

    def generation_failed(self, exc: Exception) -> BackendError:
        return BackendError("fatal", f"{type(exc).__name__}: {exc}")

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        request = Request(self.prepare(messages), params, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await request.future

    def _take_batch(self) -> list[Request]:
        live = [r for r in self._pending if not r.future.done()]  # a cancelled caller is skipped
        if not live:
            self._pending = []
            return []
        key = self.batch_key(live[0].params)
        batch = [r for r in live if self.batch_key(r.params) == key]
        if self.max_batch_size is not None and len(batch) > self.max_batch_size:
            # Left padding costs every row the longest prompt's length: batch short with short.
            batch = sorted(batch, key=lambda r: self.prompt_size(r.prompt))[: self.max_batch_size]
        taken = {id(r) for r in batch}
        self._pending = [r for r in live if id(r) not in taken]
        return batch

    async def _run(self) -> None:
        while self._pending:
            # Let every request that is on its way arrive: after a batch ends, its
            # callers send their next turn within a few event-loop iterations.
            await asyncio.sleep(self.gather_window)
            batch = self._take_batch()
            if not batch:
                continue
            try:
                results = await asyncio.to_thread(
                    self.generate_batch, [r.prompt for r in batch], [r.params for r in batch]
                )
            except asyncio.CancelledError:
                self._fail(batch, BackendError("fatal", "generation was stopped"))
                raise
            except BackendError as exc:
                self._fail(batch, exc)
                continue
            except Exception as exc:
                self._fail(batch, self.generation_failed(exc))
                continue
            self.stats.batches += 1
            self.stats.rows += len(batch)
            self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
            self.stats.batch_sizes.append(len(batch))
            for request, result in zip(batch, results, strict=True):
                if not request.future.done():
                    request.future.set_result(result)

    @staticmethod
    def _fail(batch: list[Request], error: BackendError) -> None:
        for request in batch:
            if not request.future.done():
                request.future.set_exception(error)

    async def aclose(self) -> None:
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._fail(self._pending, BackendError("fatal", "generation was stopped"))
        self._pending = []


class LocalModelBackend(BatchingBackend):
    """A BatchingBackend over a model loaded here (transformers or vLLM): its configuration,
    its chat template (whose hash each answer records), and the adapter on it, if any."""

    def __init__(self, config: LocalModelConfig, template: str, adapter: AdapterInfo | None) -> None:
        super().__init__()
        self.config = config
        self.template = template
        self.template_sha256 = template_hash(template)
        self.adapter = adapter

    def generation_failed(self, exc: Exception) -> BackendError:
        return generation_error(exc, self.config)


def vllm_engine_arguments(config: LocalModelConfig, adapter: AdapterInfo | None = None) -> dict[str, Any]:
    """`vllm.LLM(...)` keyword arguments from mtb's flags (here, so the mapping is tested without vLLM).

    With an adapter, vLLM loads the base once with LoRA enabled, and each request
    names the adapter (a `LoRARequest`), so several adapters can share one base.
    """
    model = config.model_path if adapter is None else adapter.base
    tokenizer = model if adapter is None or not adapter.has_tokenizer else str(adapter.path)
    arguments: dict[str, Any] = {
        "model": model,
        "tokenizer": tokenizer,
        # --revision names a revision of --model-path; an adapter's base is taken as it is named.
        "revision": config.revision if adapter is None else None,
        "dtype": config.dtype,
        "tensor_parallel_size": config.tensor_parallel_size,
        "gpu_memory_utilization": config.gpu_memory_utilization,
        "seed": config.seed,
    }
    if config.max_model_len is not None:
        arguments["max_model_len"] = config.max_model_len
    if adapter is not None:
        arguments["enable_lora"] = True
        arguments["max_lora_rank"] = vllm_lora_rank(adapter.rank)
    if config.num_gpus_total is not None:
        if config.num_gpus_total % config.tensor_parallel_size:
            raise UsageError(
                f"--num-gpus-total {config.num_gpus_total} is not a multiple of "
                f"--tensor-parallel-size {config.tensor_parallel_size}"
            )
        replicas = config.num_gpus_total // config.tensor_parallel_size
        if replicas > 1:
            # vLLM's own data parallelism: one engine per replica behind one front end.
            arguments["data_parallel_size"] = replicas
    return arguments


def pick_template(
    tokenizer: Any, config: LocalModelConfig, adapter: AdapterInfo | None, base_tokenizer: Any
) -> str:
    """--chat-template, else the tokenizer's own; an adapter's tokenizer without one falls back to the base's.

    `base_tokenizer` is called only for that fallback (it loads the base's tokenizer).
    """
    if config.chat_template is not None:
        return read_chat_template(config.chat_template)
    if adapter is not None and adapter.has_tokenizer:
        own = getattr(tokenizer, "chat_template", None)
        if not own:
            return model_template(base_tokenizer(), adapter.base)
    if adapter is None:
        return model_template(tokenizer, config.model_path)
    return model_template(tokenizer, str(adapter.path) if adapter.has_tokenizer else adapter.base)


def base_load_error(exc: BaseException, config: LocalModelConfig, adapter: AdapterInfo) -> MtbError:
    """A base model that cannot be loaded, named with where it came from (exit 2: the input is wrong)."""
    from dataclasses import replace

    reason = load_error(exc, replace(config, model_path=adapter.base))
    if "out of GPU memory" in str(reason):
        return reason
    where = "--base-model" if adapter.base_from_flag else f"{adapter.path / 'adapter_config.json'}"
    return DataError(adapter.base, f"the base model of adapter '{adapter.path}' (from {where}): {reason}")


def loading_error(exc: BaseException, config: LocalModelConfig, adapter: AdapterInfo | None) -> MtbError:
    """The model's weights did not load: named as the adapter's base where there is an adapter."""
    if adapter is not None:
        return base_load_error(exc, config, adapter)
    return load_error(exc, config)


def adapter_error(exc: BaseException, adapter: AdapterInfo) -> MtbError:
    """An adapter that does not fit its base (other shapes, target modules the base lacks)."""
    text = first_line(str(exc))
    if "size mismatch" in str(exc):
        # The first mismatched tensor says enough: the adapter was trained on another base.
        mismatched = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), text)
        text = f"its weights do not fit the base's shapes ({mismatched})"
    return DataError(
        adapter.path,
        f"the adapter does not fit the base model '{adapter.base}': {text}; "
        "check the adapter path and --base-model",
    )
