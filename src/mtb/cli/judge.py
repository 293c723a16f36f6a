"""`mtb judge`: have a judge model grade the answers."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_USAGE,
    BenchOption,
    CategoryOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    ModelListOption,
    ParallelOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    split_model_list,
    stderr_console,
)


class JudgeMode(str, Enum):
    single = "single"
    pairwise_baseline = "pairwise-baseline"
    pairwise_all = "pairwise-all"


@cli_errors
def judge(
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
    model_list: ModelListOption = None,
    parallel: ParallelOption = 8,
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
    progress: ProgressOption = True,
) -> None:
    """Grade answers; append to DATA/<bench>/model_judgment/<judge>_single.jsonl (or _pair.jsonl).

    Checks that every answer and reference exists before the first call, never
    waits for Enter, and on a rerun judges only what is missing.
    """
    from mtb.backends import resolve_endpoint
    from mtb.benchmarks import Benchmark
    from mtb.cli.reporting import print_report
    from mtb.data import DataDir
    from mtb.engine import run_on_endpoint
    from mtb.progress import make_progress
    from mtb.protocols.base import JudgeRequest
    from mtb.provenance import Run, endpoint_settings
    from mtb.retry import RetryPolicy

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
            raise typer.Exit(EXIT_USAGE)
    console.print_json(json.dumps(run.summary))
    if dry_run:
        return

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
    # How these judgments are made, in <output>.runs.jsonl; each record points to it by run_id.
    provenance = Run.for_output(
        run.output,
        "judge",
        {
            "bench": benchmark.name,
            **endpoint_settings(judge_provider, run.judge_model, [endpoint.api_base]),
            "temperature": run.params.temperature,
            "max_tokens": run.params.max_tokens,
            **run.provenance,
        },
    )
    report = run_on_endpoint(
        endpoint,
        run.make_jobs,
        output=run.output,
        parallel=parallel,
        policy=RetryPolicy.from_env(max_attempts),
        progress=make_progress(console, "judge", enabled=progress),
        run=provenance,
    )
    code = print_report(report, console, "judgments")
    unparsed = run.count_unparsed()
    if unparsed:
        console.print(
            f"[yellow]{unparsed} judgment(s) hold a verdict without a score or winner[/yellow] (left out of "
            "results); judge them again with --retry-unparsed",
            highlight=False,
        )
    raise typer.Exit(code)
