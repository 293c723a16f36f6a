"""Local generation with transformers, on CPU or GPU, in batches.

Requests that arrive together (every question's turn 1, then the turn 2s as
their turn 1s finish) are run as one left-padded `generate` call
(`LocalModelBackend`). Rows may mix greedy and sampled decoding: `RowSampler`
draws each sampled row's token from that row's own seeded generator, so a
row's text does not depend on which other rows share its batch, and greedy
rows stay exact argmax. Generation stops, per row, at EOS or at the
template's end-of-turn tokens; special tokens are left out of the text.

This module imports torch and transformers at the top; it is itself imported
only when a local model is used (`mtb.backends.local.open_local_backend`);
what it shares with the vLLM backend is `mtb.backends.local_base`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.utils import logging as transformers_logging

from mtb.backends.adapters import AdapterInfo
from mtb.backends.base import BackendError, Completion, Message, SamplingParams
from mtb.backends.local_base import (
    GREEDY_BELOW,
    LocalModelBackend,
    LocalModelConfig,
    adapter_error,
    base_load_error,
    end_of_turn_ids,
    load_error,
    loading_error,
    pick_template,
)
from mtb.errors import MtbError, UsageError


class RowSampler(LogitsProcessor):
    """Temperature sampling per row, each row with its own seeded generator; greedy rows untouched.

    It runs with `do_sample=False`: for a sampled row it leaves only the drawn
    token open, so generate's argmax picks it.
    """

    def __init__(self, temperatures: Sequence[float], seeds: Sequence[int]) -> None:
        self.rows = [
            (row, temperature, torch.Generator().manual_seed(seed))
            for row, (temperature, seed) in enumerate(zip(temperatures, seeds, strict=True))
            if temperature >= GREEDY_BELOW
        ]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.rows:
            return scores
        index = torch.tensor([row for row, _, _ in self.rows], device=scores.device)
        temperature = torch.tensor([t for _, t, _ in self.rows], device=scores.device)
        # One uniform draw per row from its own CPU generator: the same on any device.
        uniform = torch.tensor([float(torch.rand((), generator=g)) for _, _, g in self.rows])
        probs = torch.softmax(scores[index].float() / temperature[:, None], dim=-1)
        cdf = probs.cumsum(dim=-1)
        drawn = torch.searchsorted(cdf, uniform.to(cdf.device)[:, None]).clamp(max=scores.shape[-1] - 1)
        only = torch.full_like(scores[index], float("-inf"))
        only.scatter_(1, drawn, 0.0)
        scores[index] = only
        return scores


class Abort(StoppingCriteria):
    """Ends a running generate() at the next step once the run is over (Ctrl-C, a fatal error)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        done = torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)
        return done  # type: ignore[return-value]


def apply_adapter(model: Any, adapter: AdapterInfo, *, merge: bool) -> Any:
    """The base with the adapter on it (peft), or merged into its weights with --merge-adapter."""
    import warnings

    from peft import PeftModel

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wrapped = PeftModel.from_pretrained(model, str(adapter.path), is_trainable=False)
    except Exception as exc:
        raise adapter_error(exc, adapter) from None
    # peft only warns, and goes on with the adapter half applied, when its keys miss the base's modules.
    for warning in caught:
        if ADAPTER_MISFIT.search(str(warning.message)):
            raise adapter_error(Exception(str(warning.message)), adapter)
    return wrapped.merge_and_unload() if merge else wrapped


ADAPTER_MISFIT = re.compile(
    r"missing adapter keys|unexpected (adapter )?keys|not found in the base model", re.I
)


def _torch_dtype(name: str) -> Any:
    if name == "auto":
        # fp32 on CPU (half precision is slow or missing there); the checkpoint's own on GPU.
        return "auto" if torch.cuda.is_available() else torch.float32
    return getattr(torch, name)


class HFBackend(LocalModelBackend):
    def __init__(
        self,
        config: LocalModelConfig,
        tokenizer: Any,
        model: Any,
        template: str,
        adapter: AdapterInfo | None = None,
    ) -> None:
        super().__init__(config, template, adapter)
        self.tokenizer = tokenizer
        self.model = model
        self.max_batch_size = config.max_batch_size
        stops = [tokenizer.eos_token_id, *end_of_turn_ids(tokenizer, template)]
        configured = getattr(model.generation_config, "eos_token_id", None)
        stops += configured if isinstance(configured, list) else [configured]
        self.stop_ids = sorted({s for s in stops if isinstance(s, int)})
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.stop_ids[0] if self.stop_ids else 0)
        self._abort = threading.Event()

    @classmethod
    def load(cls, config: LocalModelConfig, adapter: AdapterInfo | None = None) -> HFBackend:
        # mtb's own progress display is the one on stderr.
        transformers_logging.disable_progress_bar()
        # An adapter: the base's weights, the adapter's tokenizer where it has one.
        weights = config.model_path if adapter is None else adapter.base
        # --revision names a revision of --model-path: the adapter's base is taken as it is.
        revision = config.revision if adapter is None else None

        def load_tokenizer(name: str, rev: str | None) -> Any:
            try:
                return AutoTokenizer.from_pretrained(name, revision=rev)
            except (OSError, ValueError) as exc:
                if adapter is not None and name == adapter.base:
                    raise base_load_error(exc, config, adapter) from None
                raise load_error(exc, config) from None

        if adapter is not None and adapter.has_tokenizer:
            tokenizer = load_tokenizer(str(adapter.path), None)
        else:
            tokenizer = load_tokenizer(weights, revision)
        template = pick_template(tokenizer, config, adapter, lambda: load_tokenizer(weights, revision))
        kwargs: dict[str, Any] = {"revision": revision, "dtype": _torch_dtype(config.dtype)}
        if torch.cuda.is_available():
            kwargs["device_map"] = "auto"  # spread over every visible GPU (accelerate)
        try:
            model = AutoModelForCausalLM.from_pretrained(weights, **kwargs)
        except Exception as exc:
            raise loading_error(exc, config, adapter) from None
        if adapter is not None:
            model = apply_adapter(model, adapter, merge=config.merge_adapter)
        model.eval()
        backend = cls(config, tokenizer, model, template, adapter)
        backend.render([{"role": "user", "content": "hi"}])  # a broken template fails now, not mid-run
        return backend

    def render(self, messages: Sequence[Message]) -> str:
        try:
            text = self.tokenizer.apply_chat_template(
                list(messages), chat_template=self.template, tokenize=False, add_generation_prompt=True
            )
        except ImportError as exc:
            raise MtbError(f"{exc}; pip install 'mtb[local]'") from None
        except Exception as exc:  # jinja2 syntax or the template's own raise_exception
            where = self.config.chat_template or self.config.model_path
            raise UsageError(f"{where}: the chat template failed: {exc}") from None
        return str(text)

    def prepare(self, messages: Sequence[Message]) -> list[int]:
        # The template writes BOS itself where the model wants one.
        ids: list[int] = self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"]
        return ids

    def batch_key(self, params: SamplingParams) -> Any:
        return params.max_tokens

    def prompt_size(self, prompt: Any) -> int:
        return len(prompt)

    def generate_batch(self, prompts: list[Any], params: list[SamplingParams]) -> list[Completion]:
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):  # left padding: every row ends where generation starts
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
        max_new = params[0].max_tokens
        generation = GenerationConfig(
            max_new_tokens=max_new,
            min_new_tokens=max_new if self.config.ignore_eos else None,
            do_sample=False,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
        )
        sampler = RowSampler(
            [p.temperature for p in params],
            [self.config.seed if p.seed is None else p.seed for p in params],
        )
        device = self.model.device
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                generation_config=generation,
                logits_processor=[sampler],
                stopping_criteria=StoppingCriteriaList([Abort(self._abort)]),
            )
        if self._abort.is_set():  # cut short: these rows are not answers
            raise BackendError("fatal", "generation was stopped")
        completions = []
        stops = set(self.stop_ids)
        for row in output[:, width:].tolist():
            end = next((i for i, token in enumerate(row) if token in stops), None)
            kept = row if end is None else row[:end]
            self.stats.generated_tokens += len(kept) + (0 if end is None else 1)
            text = self.tokenizer.decode(kept, skip_special_tokens=True).strip()
            completions.append(Completion(text, self.config.model_path, "length" if end is None else "stop"))
        return completions

    async def aclose(self) -> None:
        self._abort.set()  # the worker thread stops at its next step instead of finishing the batch
        await super().aclose()
