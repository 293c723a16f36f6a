"""`mtb eval`: generate, judge and show the results in one command, for one model or many.

The flags become an `EvalSpec`; `mtb.app.evaluate` does the work (the same
function `mtb.evaluate` calls from Python); this module prints the results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    OutputFormat,
    OutputFormatOption,
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
    JudgeBackendOption,
    JudgeBaseModelOption,
    JudgeBatchSizeOption,
    JudgeChatTemplateOption,
    JudgeDtypeOption,
    JudgeGpuMemoryOption,
    JudgeMaxModelLenOption,
    JudgeMergeAdapterOption,
    JudgeRevisionOption,
    JudgeTensorParallelOption,
    MaxModelLenOption,
    MergeAdapterOption,
    RevisionOption,
    TensorParallelOption,
)
from mtb.cli.options import (
    API,
    JUDGE,
    ApiBaseOption,
    ApiKeyOption,
    BaselineModelOption,
    BatchOption,
    ForceTemperatureOption,
    ForgetBatchesOption,
    JudgeApiBaseOption,
    JudgeApiKeyOption,
    JudgeModelOption,
    JudgeModelPathOption,
    JudgeProviderOption,
    JudgeRpmOption,
    JudgeTpmOption,
    MaxTokensOption,
    ModeOption,
    NoWaitOption,
    NumChoicesOption,
    ProviderOption,
    ReferenceModelOption,
    RpmOption,
    SamplesOption,
    SeedOption,
    SystemPromptOption,
    TpmOption,
)


@cli_errors
def evaluate(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="A model behind an API (repeat for several).", rich_help_panel=API),
    ] = None,
    model_path: Annotated[
        list[str] | None,
        typer.Option(
            "--model-path",
            help="A local model folder, LoRA adapter folder or Hugging Face repo id (repeat for several).",
            rich_help_panel=LOCAL,
        ),
    ] = None,
    model_id: Annotated[
        list[str] | None,
        typer.Option(
            "--model-id",
            help="Name in file names and results: of the one model, or of each --model-path in order.",
        ),
    ] = None,
    models_file: Annotated[
        Path | None,
        typer.Option(
            "--models-file",
            help="A TOML file of \\[\\[model]] tables, each a model (model or model_path) and its own "
            "options (model_id, api_base, provider, base_model, max_tokens, temperature, ...); flags give "
            "the defaults.",
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
            help="Generation: requests in flight per endpoint \\[default: 8; local: every question at once].",
        ),
    ] = None,
    num_choices: NumChoicesOption = 1,
    max_tokens: MaxTokensOption = None,
    force_temperature: ForceTemperatureOption = None,
    system_prompt: SystemPromptOption = None,
    backend: BackendOption = "auto",
    chat_template: ChatTemplateOption = None,
    dtype: DtypeOption = None,
    revision: RevisionOption = None,
    base_model: BaseModelOption = None,
    merge_adapter: MergeAdapterOption = False,
    seed: SeedOption = None,
    batch_size: BatchSizeOption = None,
    tensor_parallel_size: TensorParallelOption = None,
    max_model_len: MaxModelLenOption = None,
    gpu_memory_utilization: GpuMemoryOption = None,
    mode: ModeOption = None,
    baseline_model: BaselineModelOption = None,
    judge_model: JudgeModelOption = None,
    judge_api_base: JudgeApiBaseOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_provider: JudgeProviderOption = "openai",
    reference_model: ReferenceModelOption = None,
    judge_parallel: Annotated[
        int | None,
        typer.Option(
            "--judge-parallel",
            min=1,
            help="Judging: requests in flight \\[default: 8; a local judge: 256, batched].",
            rich_help_panel=JUDGE,
        ),
    ] = None,
    samples: SamplesOption = 1,
    judge_model_path: JudgeModelPathOption = None,
    judge_backend: JudgeBackendOption = "auto",
    judge_chat_template: JudgeChatTemplateOption = None,
    judge_dtype: JudgeDtypeOption = None,
    judge_revision: JudgeRevisionOption = None,
    judge_base_model: JudgeBaseModelOption = None,
    judge_merge_adapter: JudgeMergeAdapterOption = False,
    judge_batch_size: JudgeBatchSizeOption = None,
    judge_tensor_parallel_size: JudgeTensorParallelOption = None,
    judge_max_model_len: JudgeMaxModelLenOption = None,
    judge_gpu_memory_utilization: JudgeGpuMemoryOption = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Dollars for the whole eval (generation and judging): each paid step gets what is left; "
            "what is done is kept, and a rerun continues. The judge needs a price.",
        ),
    ] = None,
    price_in: PriceInOption = None,
    price_out: PriceOutOption = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            help="single: also the difference of two models' averages (overall and per category) in the "
            "summary.",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse to score judgments made under different settings.")
    ] = False,
    retry_unparsed: Annotated[
        bool,
        typer.Option(
            "--retry-unparsed", help="Judge again the verdicts that held no rating.", rich_help_panel=JUDGE
        ),
    ] = False,
    output_format: OutputFormatOption = OutputFormat.table,
    first_n: FirstNOption = None,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="Judge each answer as soon as it is written, where the judge does not share the models' "
            "device (an API judge, or API models); --no-pipeline judges after every model has answered.",
            rich_help_panel=JUDGE,
        ),
    ] = True,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    judge_rpm: JudgeRpmOption = None,
    judge_tpm: JudgeTpmOption = None,
    batch: BatchOption = False,
    no_wait: NoWaitOption = False,
    forget_batches: ForgetBatchesOption = False,
    progress: ProgressOption = True,
) -> None:
    """Generate, judge and show the results, then write a summary to DATA/<bench>/eval/.

    Models come from --model / --model-path (repeat them) or --models-file. A rerun
    sends no request for what is done. With an API judge, answers are judged while
    the models are still answering. --price-in/--price-out price the judge; a
    model's own price goes in the models file. Results go to stdout (--format json:
    the same JSON as `mtb results`), everything else to stderr. Exit code: the worst
    of the steps.
    """
    flags = dict(locals())
    from mtb import tables
    from mtb.app.evaluate import EvalSpec, evaluate
    from mtb.app.options import LocalOptions
    from mtb.cli.output import emit
    from mtb.cli.reporting import ConsoleReporter

    console = stderr_console()
    show_progress = flags.pop("progress")
    output_format = flags.pop("output_format")
    flags["mode"] = mode.value if mode else None
    judge_local = LocalOptions.take(flags, prefix="judge_")
    local = LocalOptions.take(flags)
    report = evaluate(
        EvalSpec(**flags, local=local, judge_local=judge_local), ConsoleReporter(console, show_progress)
    )
    if report.compared is not None:
        for table in report.compared.tables:
            console.print(tables.to_rich(table, console.width))
    if report.results is not None:
        emit(report.results, output_format)
    raise typer.Exit(report.exit_code)
