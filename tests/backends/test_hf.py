"""The transformers backend on a tiny random Llama: templates, batching, decoding and stopping."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="needs the local extra: pip install -e '.[local]'")

from mtb.backends.base import BackendError, Message, SamplingParams
from mtb.backends.hf import HFBackend
from mtb.backends.local import open_local_backend
from mtb.backends.local_base import LocalModelConfig
from mtb.errors import DataError, MissingExtraError, MtbError, UsageError
from mtb.generation import conversation

PROMPTS: list[list[Message]] = [
    [{"role": "user", "content": "Compose an engaging travel blog post about Hawaii."}],
    [{"role": "user", "content": "What is the capital of France?"}],
    conversation(None, ["Solve the equation.", "Now explain each step."], ["x = 4"]),
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write a function."}],
    [{"role": "user", "content": "x"}],
]
GREEDY = SamplingParams(temperature=0.0, max_tokens=12)


def load(folder: Path, **options: object) -> HFBackend:
    backend = HFBackend.load(LocalModelConfig(model_path=str(folder), backend="hf", **options))  # type: ignore[arg-type]
    backend.gather_window = 0.02
    return backend


def run_all(backend: HFBackend, params: list[SamplingParams], *, together: bool) -> list[str]:
    async def main() -> list[str]:
        if together:
            done = await asyncio.gather(
                *(backend.complete(m, p) for m, p in zip(PROMPTS, params, strict=True))
            )
        else:
            done = [await backend.complete(m, p) for m, p in zip(PROMPTS, params, strict=True)]
        return [c.text for c in done]

    return asyncio.run(main())


@pytest.fixture
def backend(tiny_model: Path) -> Iterator[HFBackend]:
    yield load(tiny_model)


def test_prompts_are_rendered_with_the_models_template_turn_two_carrying_turn_one(backend: HFBackend) -> None:
    messages = conversation("Be brief.", ["What is 2+2?", "And 3+3?"], ["It is 4."])
    assert backend.render(messages) == (
        "<s><|system|>Be brief.<|end|><|user|>What is 2+2?<|end|><|assistant|>It is 4.<|end|>"
        "<|user|>And 3+3?<|end|><|assistant|>"
    )
    end = backend.tokenizer.convert_tokens_to_ids("<|end|>")
    assert end in backend.stop_ids  # found in the template, though it is not the EOS token
    assert backend.tokenizer.eos_token_id in backend.stop_ids


def test_greedy_batched_equals_one_at_a_time_exactly(tiny_model: Path) -> None:
    batched = load(tiny_model)
    together = run_all(batched, [GREEDY] * len(PROMPTS), together=True)
    assert batched.stats.largest_batch == len(PROMPTS)  # all five went in one generate call

    single = load(tiny_model, max_batch_size=1)
    alone = run_all(single, [GREEDY] * len(PROMPTS), together=False)
    assert single.stats.largest_batch == 1
    assert together == alone
    assert any(together)  # a random model still says something


def test_sampling_uses_one_seed_per_row_whatever_the_batch(tiny_model: Path) -> None:
    params = [SamplingParams(temperature=0.7, max_tokens=12, seed=i % 2) for i in range(len(PROMPTS))]
    mixed = [*params[:2], GREEDY, *params[3:]]  # greedy and sampled rows in one batch
    together = run_all(load(tiny_model), mixed, together=True)
    alone = run_all(load(tiny_model, max_batch_size=1), mixed, together=False)
    assert together == alone

    greedy = run_all(load(tiny_model), [GREEDY] * len(PROMPTS), together=True)
    assert together[2] == greedy[2]
    sampled_differently = run_all(
        load(tiny_model), [SamplingParams(0.7, 12, seed=7)] * len(PROMPTS), together=True
    )
    assert sampled_differently != together
    assert together != greedy


def boost(backend: HFBackend, token: str) -> None:
    """Make `token` the model's top choice at every step, through a hook on the real output layer."""
    token_id = backend.tokenizer.convert_tokens_to_ids(token)

    def hook(module: object, inputs: object, output):  # type: ignore[no-untyped-def]
        output[..., token_id] += 1000.0
        return output

    backend.model.lm_head.register_forward_hook(hook)


def test_generation_stops_at_the_templates_end_of_turn_token(backend: HFBackend) -> None:
    boost(backend, "<|end|>")
    completion = asyncio.run(backend.complete(PROMPTS[0], SamplingParams(0.0, 50)))
    assert completion.text == "" and completion.finish_reason == "stop"
    assert backend.stats.generated_tokens == 1  # stopped during generation, not cut after 50


def test_special_tokens_are_left_out_of_the_text(backend: HFBackend) -> None:
    boost(backend, "<|user|>")
    completion = asyncio.run(backend.complete(PROMPTS[0], SamplingParams(0.0, 6)))
    assert completion.text == "" and completion.finish_reason == "length"
    assert backend.stats.generated_tokens == 6


def test_ignore_eos_gives_fixed_lengths(tiny_model: Path) -> None:
    backend = load(tiny_model, ignore_eos=True)
    boost(backend, "</s>")
    completion = asyncio.run(backend.complete(PROMPTS[0], SamplingParams(0.0, 5)))
    assert completion.finish_reason == "length" and backend.stats.generated_tokens == 5


def test_a_model_without_a_template_is_an_error_naming_the_flag(tiny_model_without_template: Path) -> None:
    with pytest.raises(UsageError, match="--chat-template"):
        load(tiny_model_without_template)


def test_chat_template_file_overrides_and_is_hashed(
    tiny_model_without_template: Path, tmp_path: Path
) -> None:
    template = tmp_path / "plain.jinja"
    text = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    template.write_text(text)
    backend = load(tiny_model_without_template, chat_template=template)
    assert backend.render([{"role": "user", "content": "hi"}]) == "user: hi\nassistant:"
    assert backend.template_sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_a_broken_template_fails_at_load(tiny_model: Path, tmp_path: Path) -> None:
    template = tmp_path / "broken.jinja"
    template.write_text("{% for m in messages %}{{ m['content'] }")
    with pytest.raises(UsageError, match=r"broken\.jinja: the chat template failed"):
        load(tiny_model, chat_template=template)


def test_loading_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="model folder not found"):
        open_local_backend(LocalModelConfig(model_path=str(tmp_path / "nope"), backend="hf"))
    with pytest.raises(MtbError, match="HF_HUB_OFFLINE"):
        open_local_backend(LocalModelConfig(model_path="mtb-test-org/no-such-model", backend="hf"))
    with pytest.raises(UsageError, match="unsupported --dtype 'float8'"):
        open_local_backend(LocalModelConfig(model_path=str(tmp_path), dtype="float8"))


def test_vllm_backend_without_vllm_says_which_extra(tiny_model: Path) -> None:
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here")
    with pytest.raises(MissingExtraError, match=r"mtb\[vllm\]"):
        open_local_backend(LocalModelConfig(model_path=str(tiny_model), backend="vllm"))


def test_closing_stops_a_running_batch_without_an_answer(tiny_model: Path) -> None:
    backend = load(tiny_model, ignore_eos=True)

    async def main() -> None:
        call = asyncio.ensure_future(backend.complete(PROMPTS[0], SamplingParams(0.0, 100_000)))
        await asyncio.sleep(0.5)
        await backend.aclose()
        with pytest.raises(BackendError, match="stopped"):
            await call

    started = time.monotonic()
    asyncio.run(main())  # returns once the worker thread has stopped too
    assert time.monotonic() - started < 10  # 100,000 tokens would take minutes
    assert backend.stats.generated_tokens == 0  # nothing cut short was counted as an answer


def test_release_drops_the_weights_so_the_next_model_can_load(tiny_model: Path) -> None:
    """`mtb eval` releases the model under test before a local judge loads: nothing keeps its weights."""
    import asyncio
    import gc
    import weakref

    from mtb.backends.local import release_local_backend

    _, backend = open_local_backend(LocalModelConfig(model_path=str(tiny_model), backend="hf"))
    weights = weakref.ref(backend.model)  # type: ignore[attr-defined]
    asyncio.run(backend.aclose())
    gc.collect()
    assert weights() is not None  # closing stops the batching; the backend still holds the model
    release_local_backend(backend)
    assert weights() is None
