"""`mtb bias verbosity|position`: the seed paper's judge-bias experiments (its Tables 2 and 3)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    ModelListOption,
    MultiValueCommand,
    OutputFormat,
    OutputFormatOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    stderr_console,
    stdout_console,
    writing_stdout,
)
from mtb.cli.options import (
    JudgeApiBaseOption,
    JudgeApiKeyOption,
    JudgeModelOption,
    JudgeProviderOption,
    ProviderOption,
)

app = typer.Typer(
    name="bias",
    help="The seed paper's judge-bias experiments: verbosity (Table 3) and position (Table 2).",
    no_args_is_help=True,
)

ApiBaseOption = Annotated[
    str | None,
    typer.Option("--api-base", help="OpenAI-compatible base URL ending in /v1 \\[env: OPENAI_BASE_URL]."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", help="API key \\[env: the provider's variable].", show_default=False),
]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="The seed of the pick or of the samples.")]
ParallelOption = Annotated[int, typer.Option("--parallel", min=1, help="Requests in flight at once.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan and its estimated cost as JSON; send nothing.")
]


def _emit(records: list[dict[str, Any]] | dict[str, Any], title: str, output_format: OutputFormat) -> None:
    from mtb import tables

    rows = records if isinstance(records, list) else [records]
    columns = [c for c in rows[0] if c != "records"] if rows else []
    table = tables.Table(title, columns, [[r.get(c) for c in columns] for r in rows])
    with writing_stdout():
        if output_format is OutputFormat.json:
            typer.echo(json.dumps(records, indent=2, allow_nan=False))
        elif output_format is OutputFormat.csv:
            typer.echo(tables.to_csv(table), nl=False)
        elif output_format is OutputFormat.markdown:
            typer.echo(tables.to_markdown(table), nl=False)
        else:
            stdout = stdout_console()
            stdout.print(tables.to_rich(table, stdout.width))
            paths = {r["records"] for r in rows if "records" in r}
            for path in sorted(paths):
                stderr_console().print(f"records: {path}", highlight=False, markup=False)


def _finish(report: Any, title: str, dry_run: bool, output_format: OutputFormat) -> None:
    if dry_run:
        with writing_stdout():
            typer.echo(json.dumps(report.plan, indent=2))
    else:
        _emit(report.records, title, output_format)
    raise typer.Exit(report.exit_code)


@app.command("verbosity", cls=MultiValueCommand)
@cli_errors
def verbosity(
    model_list: ModelListOption = None,
    answers: Annotated[
        int,
        typer.Option(
            "--answers", min=1, help="How many first-turn answers holding a numbered list to attack."
        ),
    ] = 23,
    seed: SeedOption = 0,
    rephrase_model: Annotated[
        str, typer.Option("--rephrase-model", help="The model that rephrases each list.")
    ] = "gpt-4",
    api_base: ApiBaseOption = None,
    api_key: ApiKeyOption = None,
    provider: ProviderOption = "openai",
    judge_model: JudgeModelOption = None,
    judge_api_base: JudgeApiBaseOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_provider: JudgeProviderOption = "openai",
    control: Annotated[
        bool,
        typer.Option("--control", help="Also judge each original against itself: how often is it a tie?"),
    ] = False,
    parallel: ParallelOption = 8,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    dry_run: DryRunOption = False,
    output_format: OutputFormatOption = OutputFormat.table,
    progress: ProgressOption = True,
) -> None:
    """The repetitive-list attack (the paper's Table 3): a rephrased list inserted before the list.

    Picks --answers MT-bench answers (of --model-list, or of every answer file) whose
    first turn holds a numbered list, seeded; has --rephrase-model rephrase each list
    without adding information; the judge compares original and attacked answers with
    the pair prompt in both orders. A failure: the attacked answer wins both games.
    A rerun pays for nothing twice.
    """
    flags = dict(locals())
    from mtb.app.bias import VerbositySpec
    from mtb.app.bias import verbosity as run
    from mtb.cli.reporting import ConsoleReporter

    show_progress = flags.pop("progress")
    flags.pop("output_format")
    report = run(VerbositySpec(**flags), ConsoleReporter(stderr_console(), show_progress))
    _finish(report, "Verbosity attack (repetitive list)", dry_run, output_format)


@app.command("position", cls=MultiValueCommand)
@cli_errors
def position(
    model: Annotated[
        str,
        typer.Option("--model", help="The model whose two answers to each question are compared."),
    ],
    prompt: Annotated[
        list[str] | None,
        typer.Option(
            "--prompt",
            help="default (FastChat's pair prompt) or rename (its assistants called X and Y); repeat "
            "for both \\[default: both].",
        ),
    ] = None,
    seed: SeedOption = 0,
    api_base: ApiBaseOption = None,
    api_key: ApiKeyOption = None,
    provider: ProviderOption = "openai",
    judge_model: JudgeModelOption = None,
    judge_api_base: JudgeApiBaseOption = None,
    judge_api_key: JudgeApiKeyOption = None,
    judge_provider: JudgeProviderOption = "openai",
    first_n: FirstNOption = None,
    parallel: ParallelOption = 8,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    dry_run: DryRunOption = False,
    output_format: OutputFormatOption = OutputFormat.table,
    progress: ProgressOption = True,
) -> None:
    """Position bias by the paper's protocol (its Table 2): two answers of one model, both orders.

    --model answers each first-turn question twice at temperature 0.7 (seeds --seed and
    --seed + 1); the judge judges each pair in both orders under each --prompt. Pairs go
    to FastChat-schema pair files, which `mtb results --mode pairwise-all --position-bias
    --input-file FILE` reads too. A rerun pays for nothing twice.
    """
    flags = dict(locals())
    from mtb.app.bias import PROMPTS, PositionSpec
    from mtb.app.bias import position as run
    from mtb.cli.reporting import ConsoleReporter

    show_progress = flags.pop("progress")
    flags.pop("output_format")
    flags["prompt"] = prompt or list(PROMPTS)
    report = run(PositionSpec(**flags), ConsoleReporter(stderr_console(), show_progress))
    _finish(report, "Position bias (two answers of one model)", dry_run, output_format)
