"""`mtb judge`: have a judge model grade the answers."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_OK,
    BenchOption,
    CategoryOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    MaxCostOption,
    ModelListOption,
    PriceInOption,
    PriceOutOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    stderr_console,
    writing_stdout,
)
from mtb.cli.local_options import (
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
)
from mtb.cli.options import (
    BaselineModelOption,
    BatchOption,
    ForgetBatchesOption,
    JudgeApiBaseOption,
    JudgeApiKeyOption,
    JudgeModelOption,
    JudgeModelPathOption,
    JudgeProviderOption,
    ModeOption,
    NoWaitOption,
    ReferenceModelOption,
    RpmOption,
    SamplesOption,
    TpmOption,
)


def run_judge(
    mode: ModeOption = None,
    baseline_model: BaselineModelOption = None,
    judge_model: JudgeModelOption = None,
    judge_api_base: JudgeApiBaseOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_provider: JudgeProviderOption = "openai",
    reference_model: ReferenceModelOption = None,
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
    model_list: ModelListOption = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            help="Requests in flight at once, per endpoint \\[default: 8; a local judge: 256, batched].",
        ),
    ] = None,
    first_n: FirstNOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and make no call.")] = False,
    retry_unparsed: Annotated[
        bool, typer.Option("--retry-unparsed", help="Judge again the verdicts that held no rating.")
    ] = False,
    samples: SamplesOption = 1,
    category: CategoryOption = None,
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
) -> int:
    """Grade answers; append to DATA/<bench>/model_judgment/<judge>_single.jsonl (or _pair.jsonl).

    Checks that every answer and reference exists before the first call, never
    waits for Enter, and on a rerun judges only what is missing. --dry-run prints
    the plan as JSON on stdout and sends nothing.
    """
    flags = dict(locals())
    from mtb.app.judge import JudgeSpec, judge
    from mtb.app.options import LocalOptions
    from mtb.cli.reporting import ConsoleReporter

    show_progress = flags.pop("progress")
    flags["mode"] = mode.value if mode else None
    judge_local = LocalOptions.take(flags, prefix="judge_")
    spec = JudgeSpec(**flags, judge_local=judge_local)
    report = judge(spec, ConsoleReporter(stderr_console(), show_progress))
    if spec.dry_run and report.exit_code == EXIT_OK:
        with writing_stdout():
            typer.echo(json.dumps(report.plan, indent=2))
    return report.exit_code


@cli_errors
@functools.wraps(run_judge)
def judge(*args: Any, **kwargs: Any) -> None:
    raise typer.Exit(run_judge(*args, **kwargs))
