"""`mtb judge`: have a judge model grade the answers."""

from __future__ import annotations

import functools
import json
import time
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_OK,
    EXIT_USAGE,
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
    split_model_list,
    stderr_console,
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
    describe_model,
    given_flags,
    local_config,
)
from mtb.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from mtb.backends.local import LocalModelConfig
    from mtb.engine import RunReport
    from mtb.protocols.base import PlannedRun
    from mtb.provenance import Run
    from mtb.retry import RetryPolicy


class JudgeMode(str, Enum):
    single = "single"
    pairwise_baseline = "pairwise-baseline"
    pairwise_all = "pairwise-all"


def run_judge(
    mode: Annotated[
        JudgeMode | None,
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
    waits for Enter, and on a rerun judges only what is missing.
    """
    from mtb import cost
    from mtb.backends import resolve_endpoint
    from mtb.benchmarks import Benchmark
    from mtb.cli.reporting import print_report
    from mtb.data import DataDir
    from mtb.engine import run_on_endpoint
    from mtb.progress import make_progress
    from mtb.protocols.base import JudgeRequest
    from mtb.provenance import Run, endpoint_settings
    from mtb.retry import RetryPolicy

    local_flags = {
        "--judge-backend": judge_backend,
        "--judge-chat-template": judge_chat_template,
        "--judge-dtype": judge_dtype,
        "--judge-revision": judge_revision,
        "--judge-base-model": judge_base_model,
        "--judge-merge-adapter": judge_merge_adapter,
        "--judge-batch-size": judge_batch_size,
        "--judge-tensor-parallel-size": judge_tensor_parallel_size,
        "--judge-max-model-len": judge_max_model_len,
        "--judge-gpu-memory-utilization": judge_gpu_memory_utilization,
    }
    if judge_model_path is None:
        given = given_flags(local_flags)
        if given:
            raise UsageError(f"{', '.join(given)} only apply to a local judge (--judge-model-path)")
    else:
        api_flags = {"--judge-api-base": judge_api_base, "--judge-api-key": judge_api_key}
        given = [flag for flag, value in api_flags.items() if value]
        if judge_provider != "openai":
            given.append("--judge-provider")
        if given:
            raise UsageError(
                f"{', '.join(given)} only apply to a judge behind an API (not --judge-model-path)"
            )
        from mtb.backends.adapters import resolve_adapter
        from mtb.backends.local import check_model_path

        # A wrong path fails before the plan, even in a dry run; nothing heavy is imported for it.
        check_model_path(judge_model_path, "--judge-model-path")
        resolve_adapter(judge_model_path, judge_base_model)
        # The judge's name in file names and records: the folder's last part unless named.
        judge_model = judge_model or judge_model_path.rstrip("/").split("/")[-1]

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    data = DataDir(data_dir, benchmark)
    run = benchmark.protocol.plan_judging(
        data,
        JudgeRequest(
            mode=mode.value if mode else None,
            judge_model=judge_model,
            baseline_model=baseline_model,
            reference_model=reference_model,
            models=split_model_list(model_list),
            first_n=first_n,
            retry_unparsed=retry_unparsed,
            category=category,
            samples=samples,
        ),
    )
    if run.gaps:
        severity = (
            "[red]error:[/red] cannot judge yet"
            if run.gaps_are_fatal
            else "[yellow]warning:[/yellow] skipped"
        )
        console.print(f"{severity}; missing:", highlight=False)
        for gap in run.gaps:
            console.print(f"  - {gap}", highlight=False, markup=False)
        if run.gaps_are_fatal:
            return EXIT_USAGE
    # The cost before any call: the prompts counted, the replies from the judge's history.
    price = cost.resolve_price(run.judge_model, price_in, price_out)
    cost.check_cap(max_cost, price, run.judge_model)
    # Exact counting costs about a second (loading the tokenizer, then 3M tokens for a full run):
    # paid where the count matters (a plan to read, a cap to keep), not on every run's critical path.
    plan_counter = cost.TokenCounter(exact=dry_run or max_cost is not None)
    estimate, reply_tokens = cost.estimate_judging(
        run.requests(),
        run.past_outputs(),
        run.default_output_tokens,
        run.params.max_tokens,
        price,
        run.judge_model,
        plan_counter,
    )
    console.print_json(json.dumps({**run.summary, **estimate.summary()}))
    expected = estimate.cost
    if max_cost is not None and expected is not None and expected > max_cost:
        console.print(
            f"[yellow]note:[/yellow] the estimate (${expected:,.2f}) is above --max-cost (${max_cost:,.2f}): "
            "the run will stop part way",
            highlight=False,
        )
    if dry_run:
        return EXIT_OK

    policy = RetryPolicy.from_env(max_attempts)
    # Local judges cost no money; API judges are metered (and capped by --max-cost).
    # Replies without `usage` are counted exactly, the tokenizer loading only if one comes.
    meter = (
        cost.Meter(price, max_cost, cost.TokenCounter(), reply_tokens) if judge_model_path is None else None
    )
    # How these judgments are made, in <output>.runs.jsonl; each record points to it by run_id.
    made_with = {
        "bench": benchmark.name,
        "temperature": run.params.temperature,
        "max_tokens": run.params.max_tokens,
        **run.provenance,
    }
    started = time.time()
    if judge_model_path is not None:
        config = local_config(
            judge_model_path,
            backend=judge_backend,
            chat_template=judge_chat_template,
            dtype=judge_dtype,
            revision=judge_revision,
            base_model=judge_base_model,
            merge_adapter=judge_merge_adapter,
            batch_size=judge_batch_size,
            tensor_parallel_size=judge_tensor_parallel_size,
            max_model_len=judge_max_model_len,
            gpu_memory_utilization=judge_gpu_memory_utilization,
        )
        provenance = Run.for_output(
            run.output,
            "judge",
            {"model": run.judge_model, "provider": "local", "model_path": judge_model_path, **made_with},
        )
        report = run_local_judge(
            config, run, parallel or LOCAL_JUDGE_PARALLEL, policy, console, progress, provenance
        )
    else:
        # The judge's own key and base URL: never the generation server's OPENAI_BASE_URL,
        # never the OpenAI key for another provider; a missing key stops here, before any call.
        endpoint = resolve_endpoint(
            "judge",
            judge_provider,
            run.judge_model,
            judge_api_base,
            judge_api_key,
            timeout,
            key_option="--judge-api-key",
            base_option="--judge-api-base",
        )
        provenance = Run.for_output(
            run.output,
            "judge",
            {**endpoint_settings(judge_provider, run.judge_model, [endpoint.api_base]), **made_with},
        )
        report = run_on_endpoint(
            endpoint,
            run.make_jobs,
            output=run.output,
            parallel=parallel or 8,
            policy=policy,
            progress=make_progress(console, "judge", enabled=progress),
            meter=meter,
            run=provenance,
        )
    code = print_report(report, console, "judgments")
    if meter is not None and report.stats.requests:
        console.print(meter.line(), highlight=False, markup=False)
        problem = cost.record_run(
            data,
            command="judge",
            model=run.judge_model,
            output=run.output,
            meter=meter,
            started=started,
            requests=report.stats.requests,
            completed=report.completed,
        )
        if problem:
            console.print(f"[yellow]warning:[/yellow] {escape(problem)}", highlight=False)
    if report.unparsed:
        console.print(
            f"[yellow]{report.unparsed} judgment(s) hold a verdict without a score or winner[/yellow] "
            "(left out of results); judge them again with --retry-unparsed",
            highlight=False,
        )
    return code


@cli_errors
@functools.wraps(run_judge)
def judge(*args: Any, **kwargs: Any) -> None:
    raise typer.Exit(run_judge(*args, **kwargs))


# A local judge batches what is in flight: every pending judgment goes to the model together.
LOCAL_JUDGE_PARALLEL = 256


def run_local_judge(
    config: LocalModelConfig,
    run: PlannedRun,
    workers: int,
    policy: RetryPolicy,
    console: Console,
    progress: bool,
    provenance: Run | None = None,
) -> RunReport:
    """Load the judge here (transformers or vLLM) and run the planned judgments through it.

    The protocol's jobs are the same as for an API judge: the same prompts (as
    messages, rendered by the judge's own chat template), the same verdict
    parsing and unparsed counting.
    """
    from mtb.backends.local import open_local_backend, release_local_backend
    from mtb.engine import Endpoint, run_on_endpoints
    from mtb.engine import RunReport as EmptyReport
    from mtb.progress import make_progress

    if next(iter(run.requests()), None) is None:
        # Nothing left to judge: a rerun (of `mtb eval` too) loads no model for nothing.
        console.print("nothing left to judge: the judge was not loaded", highlight=False, markup=False)
        return EmptyReport(run.output)
    console.print(
        f"loading judge {config.model_path} (backend: {config.backend}) ...", highlight=False, markup=False
    )
    kind, local = open_local_backend(config)
    console.print(
        f"judge: {describe_model(config, local)} with {kind} as '{run.judge_model}', "
        f"chat template sha256 {local.template_sha256[:12]}",
        highlight=False,
        markup=False,
    )
    try:
        report = run_on_endpoints(
            lambda: [Endpoint(local, workers, name=config.model_path, key_hint="")],
            run.make_jobs,
            output=run.output,
            workers=workers,
            policy=policy,
            progress=make_progress(console, "judge", enabled=progress),
            run=provenance,
        )
    finally:
        release_local_backend(local)
    stats = local.stats
    if stats.batches:
        console.print(
            f"{kind}: {stats.rows} judgments in {stats.batches} batches (largest {stats.largest_batch}), "
            f"{stats.generated_tokens} tokens generated",
            highlight=False,
            markup=False,
        )
    return report
