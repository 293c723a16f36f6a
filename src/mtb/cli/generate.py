"""`mtb generate`: answer a benchmark's questions with a model behind an API, or a local one."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    MaxCostOption,
    PriceInOption,
    PriceOutOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    stderr_console,
)
from mtb.cli.local_options import (
    LOCAL,
    BackendOption,
    BaseModelOption,
    BatchSizeOption,
    ChatTemplateOption,
    DtypeOption,
    GpuMemoryOption,
    MaxModelLenOption,
    MergeAdapterOption,
    RevisionOption,
    TensorParallelOption,
)
from mtb.cli.options import (
    ApiBaseOption,
    ApiKeyOption,
    BatchOption,
    ForceTemperatureOption,
    ForgetBatchesOption,
    MaxTokensOption,
    NoWaitOption,
    NumChoicesOption,
    ProviderOption,
    RpmOption,
    SeedOption,
    SystemPromptOption,
    TpmOption,
)


def run_generate(
    model: Annotated[
        str | None, typer.Option("--model", help="Model name as the API endpoint knows it.")
    ] = None,
    model_path: Annotated[
        str | None,
        typer.Option(
            "--model-path",
            help="A local model folder or Hugging Face repo id, run here (vLLM or transformers).",
            rich_help_panel=LOCAL,
        ),
    ] = None,
    model_id: Annotated[
        str | None,
        typer.Option(
            "--model-id",
            help="Name for the answer file and records \\[default: the model's last path part].",
        ),
    ] = None,
    api_base: ApiBaseOption = None,
    api_key: ApiKeyOption = None,
    provider: ProviderOption = "openai",
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            help="Requests in flight at once, per endpoint \\[default: 8; local: every question at once].",
        ),
    ] = None,
    num_choices: NumChoicesOption = 1,
    max_tokens: MaxTokensOption = None,
    force_temperature: ForceTemperatureOption = None,
    system_prompt: SystemPromptOption = None,
    first_n: FirstNOption = None,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    max_cost: MaxCostOption = None,
    price_in: PriceInOption = None,
    price_out: PriceOutOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    batch: BatchOption = False,
    no_wait: NoWaitOption = False,
    forget_batches: ForgetBatchesOption = False,
    progress: ProgressOption = True,
    backend: BackendOption = "auto",
    chat_template: ChatTemplateOption = None,
    dtype: DtypeOption = None,
    revision: RevisionOption = None,
    base_model: BaseModelOption = None,
    merge_adapter: MergeAdapterOption = False,
    seed: SeedOption = None,
    batch_size: BatchSizeOption = None,
    tensor_parallel_size: TensorParallelOption = None,
    num_gpus_total: Annotated[
        int | None,
        typer.Option(
            "--num-gpus-total",
            min=1,
            help="vllm: GPUs in all; more than one replica's worth runs data-parallel replicas.",
            rich_help_panel=LOCAL,
        ),
    ] = None,
    max_model_len: MaxModelLenOption = None,
    gpu_memory_utilization: GpuMemoryOption = None,
) -> int:
    """Answer every question (both turns) and append to DATA/<bench>/model_answer/ID.jsonl.

    With --model, through an OpenAI-compatible API (or litellm); with --model-path,
    with a local model (vLLM or transformers) and its own chat template.
    A rerun only answers the questions still missing from the file.
    """
    flags = dict(locals())
    from mtb.app.generate import GenerateSpec, generate
    from mtb.app.options import LocalOptions
    from mtb.cli.reporting import ConsoleReporter

    show_progress = flags.pop("progress")
    local = LocalOptions.take(flags)
    return generate(
        GenerateSpec(**flags, local=local), ConsoleReporter(stderr_console(), show_progress)
    ).exit_code


@cli_errors
@functools.wraps(run_generate)
def generate(*args: Any, **kwargs: Any) -> None:
    raise typer.Exit(run_generate(*args, **kwargs))
