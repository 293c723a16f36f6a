"""A tiny, randomly initialised Llama-architecture model with a real tokenizer, for tests and benchmarks.

It is built from nothing, offline: a small byte-level BPE is trained with the
`tokenizers` library, wrapped as a transformers tokenizer with a chat template,
and saved with `save_pretrained` next to a `LlamaConfig` with tiny sizes. The
folder then loads like any model on the Hub, through the same code paths.

    folder = build_tiny_model(tmp_path / "tiny")
    mtb generate --model-path <folder> --model-id tiny

Imports of torch, transformers and tokenizers are inside the functions: this
module is imported by test fixtures that do not always need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The template ends each turn with <|end|>, a special token that is not the
# tokenizer's EOS: the backend must find it in the template to stop there.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]

_CORPUS = [
    "Compose an engaging travel blog post about a recent trip to Hawaii.",
    "Rewrite your previous response. Start every sentence with the letter A.",
    "Imagine you are participating in a race with a group of people.",
    "Solve the equation and explain each step of the reasoning clearly.",
    "Write a function to find the longest common subsequence of two strings.",
    "Extract the names of the people, places and dates from the text below.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Physics, chemistry, biology and history are subjects taught at school.",
    "What is the capital of France? Paris is the capital and largest city.",
    "def add(a, b):\n    return a + b  # numbers 0 1 2 3 4 5 6 7 8 9",
]


def build_tokenizer(vocab_size: int = 384) -> Any:
    """A byte-level BPE trained on a few sentences, as a PreTrainedTokenizerFast with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    folder: Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
    chat_template: bool = True,
) -> Path:
    """Save a random Llama with `layers` layers and its tokenizer to `folder`; return the folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    if not chat_template:
        tokenizer.chat_template = None
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_adapter(
    base: Path,
    folder: Path,
    *,
    rank: int = 4,
    seed: int = 1,
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"),
) -> Path:
    """Save a LoRA adapter for the model in `base` to `folder`, with random (not zero) weights.

    `init_lora_weights=False` draws both LoRA matrices at random, so the adapter
    changes the model's outputs from the first step; `base_model_name_or_path`
    points at the base folder, as `save_pretrained` after fine-tuning it would.
    """
    import json

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    torch.manual_seed(seed)
    config = LoraConfig(
        r=rank,
        lora_alpha=4 * rank,
        target_modules=list(target_modules),
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    folder.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(folder))
    settings_path = folder / "adapter_config.json"
    settings = json.loads(settings_path.read_text())
    settings["base_model_name_or_path"] = str(base)
    settings_path.write_text(json.dumps(settings, indent=2))
    return folder


# --- from a shell -------------------------------------------------------------------

TRY_IT = """\
built {model} (a tiny random model) and {adapter} (a LoRA adapter on it): a few MB, no GPU,
no download. Try the LoRA path end to end, judged for free by the in-process fake judge:

  mtb eval --model-path {adapter} --max-tokens 16 --judge-provider fake --judge-model fake --first-n 3

Its answers are random text; what it shows is the path itself: the adapter loaded on its
base, its hash and base in the answers and in the eval summary.
"""


def main(argv: list[str] | None = None) -> int:
    """`python -m mtb.testing.tiny_model FOLDER`: build FOLDER/tiny and FOLDER/tiny-lora."""
    import argparse
    import importlib.util
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m mtb.testing.tiny_model",
        description="Build a tiny random model and a LoRA adapter on it, to try mtb's local-model "
        "and adapter path without a GPU or a download (needs mtb[local]).",
    )
    parser.add_argument("folder", type=Path, help="where to put tiny/ and tiny-lora/ (made if missing)")
    args = parser.parse_args(argv)
    missing = [
        name
        for name in ("torch", "transformers", "tokenizers", "peft")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        parser.error(f"this needs {', '.join(missing)}: pip install 'mtb[local]'")
    folder = args.folder.expanduser().resolve()  # the adapter names its base by this path
    model = build_tiny_model(folder / "tiny")
    adapter = build_tiny_adapter(model, folder / "tiny-lora")
    sys.stdout.write(TRY_IT.format(model=model, adapter=adapter))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
