"""Generated tokens/s of local generation: batched (mtb) against one question at a time (FastChat's way).

Both paths run the same transformers backend, model and MT-bench questions,
both turns, through mtb's generation code (`answer_question`); outputs have a
fixed length (EOS is ignored) so the two compare token for token.

    batched        every question's conversation at once; the backend gathers
                   the requests that arrive together into one generate() call
                   (up to --batch-size rows)
    one at a time  one question after the other, one turn after the other,
                   batch size 1, as FastChat's gen_model_answer does

    python bench/generation_throughput.py                          # tiny random Llama, CPU
    python bench/generation_throughput.py --size llama-2-7b --dtype bfloat16 --questions 80 \
        --single-questions 5 --max-new-tokens 256                 # a GPU; random 7B weights

The 7B size is Llama-2-7B's architecture with random weights (nothing is
downloaded); its vocabulary is the small test tokenizer's, so the embedding is
smaller than the real one (a fraction of a percent of the weights).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MTB_SHARED_DATA", REPO.parent / "shared" / "data"))

SIZES = {
    "tiny": {"hidden_size": 64, "layers": 2, "heads": 4},
    "small": {"hidden_size": 256, "layers": 4, "heads": 8},
    "llama-2-7b": {"hidden_size": 4096, "layers": 32, "heads": 32},
}


def build(size: str, folder: Path) -> Path:
    from mtb.testing.tiny_model import build_tiny_model

    shape = SIZES[size]
    if size != "llama-2-7b":
        return build_tiny_model(folder, **shape)
    # Llama-2-7B's shape: intermediate 11008 (not the helper's 2× hidden).
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from mtb.testing.tiny_model import build_tokenizer

    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


async def answer_all(backend, questions, settings, bench) -> None:  # type: ignore[no-untyped-def]
    from mtb.engine import Caller, Endpoint
    from mtb.generation import answer_question
    from mtb.retry import RetryPolicy

    caller = Caller(Endpoint(backend, max(1, len(questions)), name="bench"), RetryPolicy(max_attempts=1))
    await asyncio.gather(*(answer_question(caller, q, bench, settings) for q in questions))


async def answer_one_by_one(backend, questions, settings, bench) -> None:  # type: ignore[no-untyped-def]
    from mtb.engine import Caller, Endpoint
    from mtb.generation import answer_question
    from mtb.retry import RetryPolicy

    caller = Caller(Endpoint(backend, 1, name="bench"), RetryPolicy(max_attempts=1))
    for question in questions:
        await answer_question(caller, question, bench, settings)


def measure(backend, run, questions, settings, bench) -> dict[str, float]:  # type: ignore[no-untyped-def]
    before = backend.stats.generated_tokens
    started = time.perf_counter()
    asyncio.run(run(backend, questions, settings, bench))
    seconds = time.perf_counter() - started
    tokens = backend.stats.generated_tokens - before
    return {
        "questions": len(questions),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": tokens / seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--model-path", help="an existing model folder instead of a random one")
    parser.add_argument("--questions", type=int, default=80, help="MT-bench questions, both turns")
    parser.add_argument(
        "--single-questions",
        type=int,
        default=None,
        help="run one-at-a-time on an evenly spread subset of this many (slow models) [default: all]",
    )
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()

    from mtb.backends.hf import HFBackend
    from mtb.backends.local import LocalModelConfig
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.generation import GenerationSettings

    bench = Benchmark.load("mt_bench")
    questions = DataDir(SHARED, bench).questions()[: args.questions]
    # The same questions for both paths, or an evenly spread subset for the slow one:
    # prompt lengths differ a lot between categories.
    step = max(1, len(questions) // (args.single_questions or len(questions)))
    single_set = questions[::step][: args.single_questions or len(questions)]
    settings = GenerationSettings(model_id="bench", max_tokens=args.max_new_tokens, seed=0)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.model_path) if args.model_path else build(args.size, Path(tmp) / args.size)

        def load(batch_size: int) -> HFBackend:
            config = LocalModelConfig(
                model_path=str(folder),
                backend="hf",
                dtype=args.dtype,
                max_batch_size=batch_size,
                ignore_eos=True,
            )
            return HFBackend.load(config)

        batched_backend = load(args.batch_size)
        measure(batched_backend, answer_one_by_one, questions[:1], settings, bench)  # warm-up
        batched = measure(batched_backend, answer_all, questions, settings, bench)
        batched["largest_batch"] = batched_backend.stats.largest_batch
        del batched_backend

        single_backend = load(1)
        measure(single_backend, answer_one_by_one, questions[:1], settings, bench)  # warm-up
        single = measure(single_backend, answer_one_by_one, single_set, settings, bench)

    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    result = {
        "model": args.model_path or args.size,
        "device": device,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "batched": batched,
        "one_at_a_time": single,
        "speedup": round(batched["tokens_per_s"] / single["tokens_per_s"], 1),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
