"""`mtb judge`: have a judge model grade the answers."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_USAGE,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    ModelListOption,
    ParallelOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    env_or,
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
        JudgeMode,
        typer.Option(
            "--mode",
            help="single: a 1-10 score per answer and turn; pairwise-baseline: each model against "
            "--baseline-model; pairwise-all: every pair of --model-list. Pairs are judged in both orders.",
        ),
    ] = JudgeMode.single,
    baseline_model: Annotated[
        str | None,
        typer.Option("--baseline-model", help="The model others are compared with [default: gpt-3.5-turbo]."),
    ] = None,
    judge_model: Annotated[
        str | None,
        typer.Option("--judge-model", help="Judge model [default: the benchmark's, gpt-4]."),
    ] = None,
    judge_api_base: Annotated[
        str | None,
        typer.Option("--judge-api-base", help="Judge's base URL [env: OPENAI_BASE_URL]."),
    ] = None,
    judge_api_key: Annotated[
        str | None,
        typer.Option("--judge-api-key", help="Judge's API key [env: OPENAI_API_KEY].", show_default=False),
    ] = None,
    judge_provider: Annotated[
        str,
        typer.Option("--judge-provider", help="openai (any OpenAI-compatible server) or litellm."),
    ] = "openai",
    reference_model: Annotated[
        str | None,
        typer.Option("--reference-model", help="Whose reference answers to use [default: gpt-4]."),
    ] = None,
    model_list: ModelListOption = None,
    parallel: ParallelOption = 8,
    first_n: FirstNOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and make no call.")] = False,
    retry_unparsed: Annotated[
        bool, typer.Option("--retry-unparsed", help="Judge again the verdicts that held no rating.")
    ] = False,
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
    from mtb.backends import EndpointConfig, SamplingParams
    from mtb.benchmarks import Benchmark
    from mtb.cli.reporting import print_report
    from mtb.data import DataDir
    from mtb.engine import run_on_endpoint
    from mtb.judging import judge_tasks, plan_judging
    from mtb.progress import make_progress
    from mtb.retry import RetryPolicy

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    plan = plan_judging(
        DataDir(data_dir, benchmark),
        mode=mode.value,
        judge_model=judge_model or benchmark.default_judge,
        reference_model=reference_model or benchmark.default_reference_model,
        models=split_model_list(model_list),
        baseline_model=baseline_model or benchmark.default_baseline,
        first_n=first_n,
        retry_unparsed=retry_unparsed,
    )
    if plan.gaps:
        console.print("[red]error:[/red] cannot judge yet; missing:", highlight=False)
        for gap in plan.gaps:
            console.print(f"  - {gap}", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    console.print_json(json.dumps(plan.summary(benchmark.name)))
    if dry_run:
        return

    config = EndpointConfig(
        provider=judge_provider,
        model=plan.judge_model,
        api_base=env_or(judge_api_base, "OPENAI_BASE_URL"),
        api_key=env_or(judge_api_key, "OPENAI_API_KEY"),
        key_hint="OPENAI_API_KEY or --judge-api-key",
        timeout=timeout,
    )
    params = SamplingParams(temperature=benchmark.judge_temperature, max_tokens=benchmark.judge_max_tokens)
    report = run_on_endpoint(
        config,
        plan.spec,
        lambda caller, done: judge_tasks(plan.matches, done, caller, plan.judge_model, params),
        parallel=parallel,
        policy=RetryPolicy(max_attempts=max_attempts),
        progress=make_progress(console, "judge", enabled=progress),
    )
    code = print_report(report, console, "judgments")
    _report_unparsed(plan.spec.path, plan.mode, console)
    raise typer.Exit(code)


def _report_unparsed(path: Path, mode: str, console: Console) -> None:
    from mtb import results as scoring

    if not path.exists():
        return
    unparsed = scoring.count_unparsed(path, mode)
    if unparsed:
        what = "held no rating (score -1" if mode == "single" else 'named no winner ("error"'
        console.print(
            f"[yellow]{unparsed} verdict(s) {what}, left out of results)[/yellow]; "
            "judge them again with --retry-unparsed",
            highlight=False,
        )
