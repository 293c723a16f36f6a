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
    Mode,
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
    LOCAL_JUDGE,
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


def run_judge(
    mode: Annotated[
        Mode | None,
        typer.Option(
            "--mode",
            help="single: a 1-10 score per answer and turn; pairwise-baseline: each model against "
            "--baseline-model; pairwise-all: every pair of --model-list. Pairs are judged in both orders. "
            "\\[default: single; Arena-Hard: pairwise-baseline]",
        ),
    ] = None,
    baseline_model: Annotated[
        str | None,
        typer.Option(
            "--baseline-model", help="The model others are compared with \\[default: gpt-3.5-turbo]."
        ),
    ] = None,
    judge_model: Annotated[
        str | None,
        typer.Option("--judge-model", help="Judge model \\[default: the benchmark's, gpt-4]."),
    ] = None,
    judge_api_base: Annotated[
        str | None,
        typer.Option(
            "--judge-api-base",
            envvar="MTB_JUDGE_API_BASE",
            help="Judge's base URL \\[default: the provider's own endpoint, e.g. api.openai.com]. "
            "OPENAI_BASE_URL is for generation and never moves the judge.",
        ),
    ] = None,
    judge_api_key: Annotated[
        str | None,
        typer.Option(
            "--judge-api-key",
            envvar="MTB_JUDGE_API_KEY",
            help="Judge's API key \\[default: the provider's variable: OPENAI_API_KEY; litellm: by the "
            "model's prefix, e.g. ANTHROPIC_API_KEY for anthropic/...].",
            show_default=False,
        ),
    ] = None,
    judge_provider: Annotated[
        str,
        typer.Option(
            "--judge-provider",
            help="openai (any OpenAI-compatible server), litellm (provider/model names) or fake "
            "(in-process, deterministic verdicts, no key; --judge-model fake).",
        ),
    ] = "openai",
    reference_model: Annotated[
        str | None,
        typer.Option("--reference-model", help="Whose reference answers to use \\[default: gpt-4]."),
    ] = None,
    judge_model_path: Annotated[
        str | None,
        typer.Option(
            "--judge-model-path",
            help="A local judge: a model folder, adapter folder or Hugging Face repo id, run here "
            "(vLLM or transformers). Its name in file names is --judge-model, else the path's last part.",
            rich_help_panel=LOCAL_JUDGE,
        ),
    ] = None,
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
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            min=1,
            help="single: K judgments per answer and turn, each recorded; results show their mean and "
            "the judge's own spread.",
        ),
    ] = 1,
    category: CategoryOption = None,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    max_cost: MaxCostOption = None,
    price_in: PriceInOption = None,
    price_out: PriceOutOption = None,
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
