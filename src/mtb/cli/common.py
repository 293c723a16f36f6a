"""Options, error handling and run reports shared by the subcommands."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperCommand

from mtb.consoles import reader_gone, silence_stdout, stderr_console, stdout_console
from mtb.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, MtbError, UsageError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "stderr_console", "stdout_console"]

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", envvar="MTB_DATA_DIR", help="Data directory in FastChat's layout."),
]
BenchOption = Annotated[
    str,
    typer.Option(
        "--bench",
        help="Benchmark: a manifest name (mt_bench, arena-hard-v0.1, arena-hard-v2.0, or one in a folder of "
        "MTB_BENCH_PATH), or the path of a manifest file.",
    ),
]
CategoryOption = Annotated[
    str | None,
    typer.Option(
        "--category", help="Arena-Hard v2.0: the category to judge or score (hard_prompt, creative_writing)."
    ),
]
# One meaning in every family: a judgment file as `mtb judge` writes it; where a family keeps one
# file per model, the judge's folder of them too.
InputFileOption = Annotated[
    Path | None,
    typer.Option(
        "--input-file",
        help="A judgment file. MT-bench: the judge's file, every model in it (gpt-4_single.jsonl, "
        "gpt-4_pair.jsonl). Arena-Hard v0.1 and v2.0: one model's file in the judge's folder, which "
        "scores that model, or the judge's folder, which scores every model in it. Chatbot Arena: "
        "--battles instead \\[default: the judge's file or folder in DATA].",
    ),
]
ParallelOption = Annotated[
    int, typer.Option("--parallel", min=1, help="Requests in flight at once, per endpoint.")
]
FirstNOption = Annotated[
    int | None,
    typer.Option("--first-n", min=1, help="Only the first N questions (for a quick check)."),
]
ModelListOption = Annotated[
    list[str] | None,
    typer.Option("--model-list", help="Models to include (repeat the flag, or list them after it)."),
]
# At most a day: `--timeout inf` (or 1e400) passed the range check, and the HTTP client
# refused every request, reported as "connection failed" after 8 attempts.
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, max=86_400.0, help="Seconds before one request times out.")
]
MaxAttemptsOption = Annotated[
    int,
    typer.Option("--max-attempts", min=1, help="Attempts per request before the item counts as failed."),
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        help="Stop starting requests once the dollars spent (from each reply's usage) plus those in "
        "flight would pass this; what is done is kept, and a rerun continues. Needs a price.",
    ),
]
PriceInOption = Annotated[
    float | None,
    typer.Option(
        "--price-in",
        help="USD per million input tokens, over mtb's price table (prices/prices.toml).",
    ),
]
PriceOutOption = Annotated[
    float | None,
    typer.Option("--price-out", help="USD per million output tokens, over mtb's price table."),
]
ProgressOption = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress on stderr.")]

DEFAULT_DATA_DIR = Path("data")


class Mode(str, Enum):
    """How judgments are made and scored: `judge`, `results` and `eval` share it."""

    single = "single"
    pairwise_baseline = "pairwise-baseline"
    pairwise_all = "pairwise-all"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


OutputFormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json, csv or markdown.")]


def cli_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn mtb's own errors into a one-line message and their exit code, and Ctrl-C into 130."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except MtbError as exc:
            # The message holds text mtb did not write (paths, names, server replies) and
            # install hints like `mtb[arena]`: never read it as markup.
            stderr_console().print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            stderr_console().print("[yellow]interrupted[/yellow]; everything completed so far is saved")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper


@contextlib.contextmanager
def writing_stdout() -> Iterator[None]:
    """Results printed to stdout that cannot be written are an error naming stdout, exit 2.

    `mtb results > out.txt` on a full disk (or `> /dev/full`) ended in an OSError traceback.
    A closed pipe (`| head -1`) ends the command quietly with exit 0.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()
    except OSError as exc:
        # What is still buffered would fail again at exit, as "Exception ignored ...".
        silence_stdout()
        raise UsageError(f"stdout: cannot be written ({exc.strerror or exc})") from None


# Options that, as in FastChat's argparse (nargs="+"), take every value up to the next flag.
MULTI_VALUE_OPTIONS = frozenset({"--model-list", "--models"})


def expand_multi_value_options(args: list[str]) -> list[str]:
    """Rewrite `--model-list a b` as `--model-list a --model-list b` (Click has no nargs="+")."""
    expanded: list[str] = []
    current: str | None = None
    for arg in args:
        if arg.startswith("-"):
            current = arg if arg in MULTI_VALUE_OPTIONS else None
            expanded.append(arg)
        elif current is not None and expanded[-1] != current:
            expanded += [current, arg]
        else:
            expanded.append(arg)
    return expanded


class MultiValueCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_value_options(args))


def split_model_list(values: list[str] | None) -> list[str] | None:
    """Accept `--model-list a b`, `--model-list a --model-list b` and `--model-list a,b`."""
    if not values:
        return None
    names = [name for value in values for name in value.replace(",", " ").split()]
    return list(dict.fromkeys(names))
