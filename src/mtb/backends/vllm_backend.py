"""Local generation with vLLM's offline engine: a thin layer over `LLM.chat`.

Everything pending goes to vLLM in one `LLM.chat` call (every question's turn
1 at once, then the turn 2s), and vLLM schedules the batch itself with
continuous batching and paged attention. Chat templating, per-request seeds
and stop tokens are vLLM's. Only this module imports vllm, and only when the
vllm backend is chosen; it needs CUDA, so CI never runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vllm import LLM
from vllm import SamplingParams as VLLMSamplingParams

from mtb.backends.adapters import AdapterInfo
from mtb.backends.base import Completion, Message, SamplingParams
from mtb.backends.local_base import (
    GREEDY_BELOW,
    LocalModelBackend,
    LocalModelConfig,
    end_of_turn_ids,
    loading_error,
    pick_template,
    vllm_engine_arguments,
)


class VLLMBackend(LocalModelBackend):
    max_batch_size = None  # vLLM schedules any number of requests itself

    def __init__(
        self, config: LocalModelConfig, llm: Any, template: str, adapter: AdapterInfo | None = None
    ) -> None:
        super().__init__(config, template, adapter)
        self.llm = llm
        # The base is loaded once with LoRA enabled; every request names the adapter.
        self.lora_request: Any = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            self.lora_request = LoRARequest(adapter.path.name, 1, str(adapter.path))
        # vLLM stops at EOS and the model's generation_config; the template's
        # end-of-turn tokens are added, as the transformers backend does.
        self.stop_ids = end_of_turn_ids(llm.get_tokenizer(), template)

    @classmethod
    def load(cls, config: LocalModelConfig, adapter: AdapterInfo | None = None) -> VLLMBackend:
        try:
            llm = LLM(**vllm_engine_arguments(config, adapter))
        except Exception as exc:
            raise loading_error(exc, config, adapter) from None

        def base_tokenizer() -> Any:  # an adapter's tokenizer without a template: the base's
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(adapter.base if adapter else config.model_path)

        template = pick_template(llm.get_tokenizer(), config, adapter, base_tokenizer)
        return cls(config, llm, template, adapter)

    def prepare(self, messages: Sequence[Message]) -> list[Message]:
        return list(messages)

    def _sampling(self, params: SamplingParams, choice_seed: int) -> Any:
        greedy = params.temperature < GREEDY_BELOW
        return VLLMSamplingParams(
            n=1,
            temperature=0.0 if greedy else params.temperature,
            max_tokens=params.max_tokens,
            seed=None if greedy else choice_seed,
            ignore_eos=self.config.ignore_eos,
            stop_token_ids=None if self.config.ignore_eos else self.stop_ids,
            skip_special_tokens=True,
        )

    def generate_batch(self, prompts: list[Any], params: list[SamplingParams]) -> list[Completion]:
        sampling = [self._sampling(p, self.config.seed if p.seed is None else p.seed) for p in params]
        outputs = self.llm.chat(
            prompts, sampling, chat_template=self.template, use_tqdm=False, lora_request=self.lora_request
        )
        completions = []
        for output in outputs:
            first = output.outputs[0]
            self.stats.generated_tokens += len(first.token_ids)
            completions.append(Completion(first.text.strip(), self.config.model_path, first.finish_reason))
        return completions
