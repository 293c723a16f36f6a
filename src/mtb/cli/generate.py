"""`mtb generate`: answer a benchmark's questions with a model behind an API."""

from __future__ import annotations

from typing import Annotated

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    ParallelOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    env_or,
    stderr_console,
)


@cli_errors
def generate(
    model: Annotated[str, typer.Option("--model", help="Model name as the endpoint knows it.")],
    model_id: Annotated[
        str | None,
        typer.Option(
            "--model-id",
            help="Name for the answer file and records [default: --model's last part].",
        ),
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option("--api-base", help="OpenAI-compatible base URL ending in /v1 [env: OPENAI_BASE_URL]."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="API key [env: OPENAI_API_KEY].", show_default=False),
    ] = None,
    provider: Annotated[
        str, typer.Option("--provider", help="openai (any OpenAI-compatible server) or litellm.")
    ] = "openai",
    parallel: ParallelOption = 8,
    num_choices: Annotated[int, typer.Option("--num-choices", min=1, help="Answers per question.")] = 1,
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", min=1, help="New tokens per turn [default: the benchmark's]."),
    ] = None,
    force_temperature: Annotated[
        float | None,
        typer.Option(
            "--force-temperature",
            min=0.0,
            help="One temperature for all questions, over the table.",
        ),
    ] = None,
    system_prompt: Annotated[
        str | None,
        typer.Option("--system-prompt", help="A system message before each conversation."),
    ] = None,
    first_n: FirstNOption = None,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    progress: ProgressOption = True,
) -> None:
    """Answer every question (both turns) and append to DATA/<bench>/model_answer/ID.jsonl.

    A rerun only answers the questions still missing from the file.
    """
    from mtb.backends import EndpointConfig
    from mtb.benchmarks import Benchmark
    from mtb.cli.reporting import print_report
    from mtb.data import DataDir, select_questions
    from mtb.engine import Job, run_on_endpoint
    from mtb.generation import GenerationSettings, answer_output, generation_tasks
    from mtb.progress import make_progress
    from mtb.retry import RetryPolicy

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    data = DataDir(data_dir, benchmark)
    questions = select_questions(data.questions(), first_n)
    settings = GenerationSettings(
        model_id=model_id or model.rstrip("/").split("/")[-1],
        num_choices=num_choices,
        max_tokens=max_tokens or benchmark.max_tokens,
        force_temperature=force_temperature,
        system_prompt=system_prompt,
    )
    config = EndpointConfig(
        provider=provider,
        model=model,
        api_base=env_or(api_base, "OPENAI_BASE_URL"),
        api_key=env_or(api_key, "OPENAI_API_KEY"),
        key_hint="OPENAI_API_KEY or --api-key",
        timeout=timeout,
    )
    spec = answer_output(data, settings.model_id)
    console.print(
        f"generate: {model} as '{settings.model_id}', {len(questions)} questions × {num_choices} choice(s)"
        f" → {spec.path}",
        highlight=False,
    )
    report = run_on_endpoint(
        config,
        lambda caller: [
            Job(spec, lambda done: generation_tasks(questions, done, caller, benchmark, settings))
        ],
        output=spec.path,
        parallel=parallel,
        policy=RetryPolicy(max_attempts=max_attempts),
        progress=make_progress(console, "generate", enabled=progress),
    )
    raise typer.Exit(print_report(report, console, "answers"))
