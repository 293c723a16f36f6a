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


def _backend(flag: str, panel: str) -> Any:
    return typer.Option(
        flag,
        help="auto (vllm when installed and a GPU is present, else hf), vllm or hf.",
        rich_help_panel=panel,
    )


def _chat_template(flag: str, panel: str) -> Any:
    return typer.Option(
        flag,
        help="A Jinja chat template file, used instead of the model's own "
        "(an adapter's: its folder's tokenizer's, else its base's).",
        rich_help_panel=panel,
    )


def _dtype(flag: str, panel: str) -> Any:
    return typer.Option(
        flag,
        help="auto, float32, float16 or bfloat16 "
        "\\[default: auto: float32 on CPU, the checkpoint's own on GPU].",
        rich_help_panel=panel,
    )


def _revision(flag: str, panel: str) -> Any:
    return typer.Option(flag, help="Hub revision (branch, tag or commit).", rich_help_panel=panel)


def _base_model(flag: str, panel: str) -> Any:
    return typer.Option(
        flag,
        help="For an adapter folder (adapter_config.json): the base model folder or repo id, over the "
        "adapter's base_model_name_or_path.",
        rich_help_panel=panel,
    )


def _merge_adapter(flag: str, panel: str) -> Any:
    return typer.Option(
        flag,
        help="hf: merge the LoRA adapter into the base's weights before generating.",
        rich_help_panel=panel,
    )


def _batch_size(flag: str, panel: str) -> Any:
    return typer.Option(
        flag, min=1, help="hf: rows per generate call \\[default: 32].", rich_help_panel=panel
    )


def _tensor_parallel(flags: tuple[str, ...], panel: str) -> Any:
    return typer.Option(
        *flags, min=1, help="vllm: GPUs per model replica \\[default: 1].", rich_help_panel=panel
    )


def _max_model_len(flag: str, panel: str) -> Any:
    return typer.Option(flag, min=1, help="vllm: context length.", rich_help_panel=panel)


def _gpu_memory(flag: str, panel: str) -> Any:
    return typer.Option(
        flag,
        min=0.01,
        max=1.0,
        help="vllm: share of GPU memory to use \\[default: 0.9].",
        rich_help_panel=panel,
    )


# generate: the model under test.
BackendOption = Annotated[str, _backend("--backend", LOCAL)]
ChatTemplateOption = Annotated[Path | None, _chat_template("--chat-template", LOCAL)]
DtypeOption = Annotated[str | None, _dtype("--dtype", LOCAL)]
RevisionOption = Annotated[str | None, _revision("--revision", LOCAL)]
BaseModelOption = Annotated[str | None, _base_model("--base-model", LOCAL)]
MergeAdapterOption = Annotated[bool, _merge_adapter("--merge-adapter", LOCAL)]
BatchSizeOption = Annotated[int | None, _batch_size("--batch-size", LOCAL)]
TensorParallelOption = Annotated[
    int | None, _tensor_parallel(("--tensor-parallel-size", "--num-gpus-per-model"), LOCAL)
]
MaxModelLenOption = Annotated[int | None, _max_model_len("--max-model-len", LOCAL)]
GpuMemoryOption = Annotated[float | None, _gpu_memory("--gpu-memory-utilization", LOCAL)]

# judge: a local judge.
JudgeBackendOption = Annotated[str, _backend("--judge-backend", LOCAL_JUDGE)]
JudgeChatTemplateOption = Annotated[Path | None, _chat_template("--judge-chat-template", LOCAL_JUDGE)]
JudgeDtypeOption = Annotated[str | None, _dtype("--judge-dtype", LOCAL_JUDGE)]
JudgeRevisionOption = Annotated[str | None, _revision("--judge-revision", LOCAL_JUDGE)]
JudgeBaseModelOption = Annotated[str | None, _base_model("--judge-base-model", LOCAL_JUDGE)]
JudgeMergeAdapterOption = Annotated[bool, _merge_adapter("--judge-merge-adapter", LOCAL_JUDGE)]
JudgeBatchSizeOption = Annotated[int | None, _batch_size("--judge-batch-size", LOCAL_JUDGE)]
JudgeTensorParallelOption = Annotated[
    int | None, _tensor_parallel(("--judge-tensor-parallel-size",), LOCAL_JUDGE)
]
JudgeMaxModelLenOption = Annotated[int | None, _max_model_len("--judge-max-model-len", LOCAL_JUDGE)]
JudgeGpuMemoryOption = Annotated[float | None, _gpu_memory("--judge-gpu-memory-utilization", LOCAL_JUDGE)]
