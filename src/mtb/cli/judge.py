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
    run_async,
    split_model_list,
    stderr_console,
)


class JudgeMode(str, Enum):
    single = "single"


@cli_errors
def judge(
    mode: Annotated[
        JudgeMode, typer.Option("--mode", help="single: a 1-10 score per answer and turn.")
    ] = JudgeMode.single,
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
    """Grade answers and append to DATA/<bench>/model_judgment/<judge>_single.jsonl.

    Checks that every answer and reference exists before the first call, never
    waits for Enter, and on a rerun judges only what is missing.
    """
    from mtb.backends import EndpointConfig, SamplingParams, create_backend
    from mtb.benchmarks import Benchmark, PromptMap
    from mtb.cli.reporting import print_report
    from mtb.data import DataDir, select_questions
    from mtb.engine import Caller, Endpoint, RunReport, read_existing, run_job
    from mtb.errors import UsageError
    from mtb.judging import find_gaps, single_matches, single_output, single_tasks
    from mtb.progress import make_progress
    from mtb.retry import RetryPolicy

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    data = DataDir(data_dir, benchmark)
    judge_model = judge_model or benchmark.default_judge
    reference_model = reference_model or benchmark.default_reference_model
    questions = select_questions(data.questions(), first_n)
    prompts = data.judge_prompts()
    prompt_map = PromptMap.load(benchmark.prompt_map)

    models = split_model_list(model_list) or data.answer_models()
    if not models:
        raise UsageError(f"no answer files in {data.answer_dir}; run `mtb generate` first")
    answers = {}
    for model in models:
        path = data.answer_path(model)
        if not path.exists():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        answers[model] = data.answers(model)
    needs_reference = any(benchmark.needs_reference(q.category) for q in questions)
    references = data.reference_answers(reference_model) if needs_reference else None
    reference_file = str(data.root / benchmark.reference_dir / f"{reference_model}.jsonl")
    gaps = find_gaps(questions, answers, references, benchmark, reference_file)
    if gaps:
        console.print("[red]error:[/red] cannot judge yet; missing:", highlight=False)
        for gap in gaps:
            console.print(f"  - {gap}", highlight=False)
        raise typer.Exit(EXIT_USAGE)

    matches = single_matches(
        questions,
        answers,
        references,
        prompts,
        prompt_map,
        benchmark,
        str(data.root / benchmark.judge_prompt_file),
    )
    spec = single_output(data, judge_model, retry_unparsed)
    done = {spec.key(r) for r in read_existing(spec) if spec.is_done(r)}
    todo = sum(1 for m in matches if m.key(judge_model) not in done)
    plan = {
        "bench": benchmark.name,
        "mode": mode.value,
        "judge": judge_model,
        "reference_model": reference_model if needs_reference else None,
        "models": models,
        "questions": len(questions),
        "judgments": len(matches),
        "already_done": len(matches) - todo,
        "to_make": todo,
        "output": str(spec.path),
    }
    console.print_json(json.dumps(plan))
    if dry_run:
        return

    api_key = env_or(judge_api_key, "OPENAI_API_KEY")
    config = EndpointConfig(
        provider=judge_provider,
        model=judge_model,
        api_base=env_or(judge_api_base, "OPENAI_BASE_URL"),
        api_key=api_key,
        key_hint="OPENAI_API_KEY or --judge-api-key",
        timeout=timeout,
    )
    params = SamplingParams(temperature=benchmark.judge_temperature, max_tokens=benchmark.judge_max_tokens)
    sink = make_progress(console, "judge", enabled=progress)
    report = RunReport(spec.path)

    async def run() -> None:
        backend = create_backend(config)
        endpoint = Endpoint(backend, parallel, name=judge_model, key_hint=config.key_hint, secrets=[api_key])
        caller = Caller(
            endpoint, RetryPolicy(max_attempts=max_attempts), report.stats, on_retry=sink.note_retry
        )
        try:
            await run_job(
                spec,
                lambda done: single_tasks(matches, done, caller, judge_model, params),
                workers=parallel,
                progress=sink,
                report=report,
            )
        finally:
            await backend.aclose()

    try:
        run_async(run())
    except KeyboardInterrupt:
        report.interrupted = True
    code = print_report(report, console, "judgments")
    _report_unparsed(spec.path, console)
    raise typer.Exit(code)


def _report_unparsed(path: Path, console: Console) -> None:
    from mtb.results import load_single_judgments
    from mtb.verdicts import UNPARSED

    if not path.exists():
        return
    unparsed = [j for j in load_single_judgments(path).judgments if j.score == UNPARSED]
    if unparsed:
        console.print(
            f"[yellow]{len(unparsed)} verdict(s) held no rating[/yellow] (score -1, left out of results); "
            "judge them again with --retry-unparsed",
            highlight=False,
        )
