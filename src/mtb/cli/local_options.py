"""The local-model options `generate` (a model under test) and `judge` (a local judge) share.

`generate` names them plainly (`--backend`, `--dtype`, ...); `judge` with a
`--judge-` prefix (`--judge-backend`, `--judge-dtype`, ...), so one command line
can hold both in `mtb eval`. `mtb.app.options.LocalOptions.take(flags, prefix)`
turns either set into the specs' `LocalOptions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    pass

LOCAL = "Local model (--model-path)"
LOCAL_JUDGE = "Local judge (--judge-model-path)"


# Each option's flag (without the `--judge-` prefix), help, and range.
_OPTIONS: dict[str, tuple[tuple[str, ...], str, dict[str, Any]]] = {
    "backend": (("backend",), "auto (vllm when installed and a GPU is present, else hf), vllm or hf.", {}),
    "chat_template": (
        ("chat-template",),
        "A Jinja chat template file, used instead of the model's own "
        "(an adapter's: its folder's tokenizer's, else its base's).",
        {},
    ),
    "dtype": (
        ("dtype",),
        "auto, float32, float16 or bfloat16 \\[default: auto: float32 on CPU, the checkpoint's own on GPU].",
        {},
    ),
    "revision": (("revision",), "Hub revision (branch, tag or commit).", {}),
    "base_model": (
        ("base-model",),
        "For an adapter folder (adapter_config.json): the base model folder or repo id, over the "
        "adapter's base_model_name_or_path.",
        {},
    ),
    "merge_adapter": (
        ("merge-adapter",),
        "hf: merge the LoRA adapter into the base's weights before generating.",
        {},
    ),
    "batch_size": (("batch-size",), "hf: rows per generate call \\[default: 32].", {"min": 1}),
    "tensor_parallel_size": (
        ("tensor-parallel-size", "num-gpus-per-model"),
        "vllm: GPUs per model replica \\[default: 1].",
        {"min": 1},
    ),
    "max_model_len": (("max-model-len",), "vllm: context length.", {"min": 1}),
    "gpu_memory_utilization": (
        ("gpu-memory-utilization",),
        "vllm: share of GPU memory to use \\[default: 0.9].",
        {"min": 0.01, "max": 1.0},
    ),
}


def _option(name: str, judge: bool) -> Any:
    """`--NAME` for the model under test, `--judge-NAME` for a local judge (its first name only)."""
    flags, help_text, limits = _OPTIONS[name]
    names = [f"--judge-{flags[0]}"] if judge else [f"--{flag}" for flag in flags]
    return typer.Option(*names, help=help_text, rich_help_panel=LOCAL_JUDGE if judge else LOCAL, **limits)


# generate: the model under test.
BackendOption = Annotated[str, _option("backend", judge=False)]
ChatTemplateOption = Annotated[Path | None, _option("chat_template", judge=False)]
DtypeOption = Annotated[str | None, _option("dtype", judge=False)]
RevisionOption = Annotated[str | None, _option("revision", judge=False)]
BaseModelOption = Annotated[str | None, _option("base_model", judge=False)]
MergeAdapterOption = Annotated[bool, _option("merge_adapter", judge=False)]
BatchSizeOption = Annotated[int | None, _option("batch_size", judge=False)]
TensorParallelOption = Annotated[int | None, _option("tensor_parallel_size", judge=False)]
MaxModelLenOption = Annotated[int | None, _option("max_model_len", judge=False)]
GpuMemoryOption = Annotated[float | None, _option("gpu_memory_utilization", judge=False)]

# judge: a local judge.
JudgeBackendOption = Annotated[str, _option("backend", judge=True)]
JudgeChatTemplateOption = Annotated[Path | None, _option("chat_template", judge=True)]
JudgeDtypeOption = Annotated[str | None, _option("dtype", judge=True)]
JudgeRevisionOption = Annotated[str | None, _option("revision", judge=True)]
JudgeBaseModelOption = Annotated[str | None, _option("base_model", judge=True)]
JudgeMergeAdapterOption = Annotated[bool, _option("merge_adapter", judge=True)]
JudgeBatchSizeOption = Annotated[int | None, _option("batch_size", judge=True)]
JudgeTensorParallelOption = Annotated[int | None, _option("tensor_parallel_size", judge=True)]
JudgeMaxModelLenOption = Annotated[int | None, _option("max_model_len", judge=True)]
JudgeGpuMemoryOption = Annotated[float | None, _option("gpu_memory_utilization", judge=True)]
