"""`mtb results`: score tables from judgment files."""

from __future__ import annotations

import functools
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    CategoryOption,
    DataDirOption,
    InputFileOption,
    Mode,
    ModelListOption,
    OutputFormat,
    OutputFormatOption,
    cli_errors,
    stderr_console,
)
from mtb.cli.output import emit

if TYPE_CHECKING:
    pass


class Rating(str, Enum):
    bt = "bt"
    elo = "elo"


class LanguagePenalty(str, Enum):
    none = "none"
    zero = "zero"


def score_results(
    mode: Annotated[
        Mode | None,
        typer.Option(
            "--mode", help="Which judgments to score \\[default: single; Arena-Hard: pairwise-baseline]."
        ),
    ] = None,
    model_list: ModelListOption = None,
    judge_model: Annotated[
        str | None, typer.Option("--judge-model", help="Whose judgments \\[default: the benchmark's judge].")
    ] = None,
    baseline_model: Annotated[
        str | None,
        typer.Option(
            "--baseline-model", help="pairwise-baseline: the baseline \\[default: the benchmark's]."
        ),
    ] = None,
    input_file: InputFileOption = None,
    output_format: OutputFormatOption = OutputFormat.table,
    ci: Annotated[
        bool, typer.Option("--ci/--no-ci", help="single: bootstrap 95% intervals over questions.")
    ] = True,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            help="single: the difference of two models' averages, with its 95% interval, overall and "
            "per category.",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="MT-bench: refuse (exit 2) to score judgments made under different settings (judge "
            "version, prompt, temperature), as their run files record them.",
        ),
    ] = False,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", min=10, help="Bootstrap rounds \\[default: 1000; Arena-Hard: 100]."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Bootstrap seed: the same seed, the same intervals \\[default: 0; Arena-Hard: 42]."
        ),
    ] = None,
    style_control: Annotated[
        bool, typer.Option("--style-control", help="Arena-Hard: hold length and markdown style equal.")
    ] = False,
    length_control: Annotated[
        bool, typer.Option("--length-control", help="Arena-Hard: hold answer length equal.")
    ] = False,
    markdown_control: Annotated[
        bool,
        typer.Option("--markdown-control", help="Arena-Hard: hold markdown headers, lists and bold equal."),
    ] = False,
    category: CategoryOption = None,
    position_bias: Annotated[
        bool,
        typer.Option(
            "--position-bias",
            help="pairwise: per judge and prompt, the fractions of matches consistent in both orders, "
            "won by the first- or second-shown answer both times, or neither (error).",
        ),
    ] = False,
    language_penalty: Annotated[
        LanguagePenalty,
        typer.Option(
            "--language-penalty",
            help="single, with a manifest `language`: zero scores 0 each turn answered in another "
            "language (KoMT-Bench's rule); none only counts them (wrong_language).",
        ),
    ] = LanguagePenalty.none,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also draw the per-category radar chart (chatbot-arena: ratings and win fractions): "
            ".png, .svg or .html (mtb[plot]).",
        ),
    ] = None,
    battles: Annotated[
        Path | None,
        typer.Option(
            "--battles",
            help="chatbot-arena: a battle log (clean_battle JSON array or JSONL, or Parquet such as "
            "lmsys/chatbot_arena_conversations, which needs mtb[parquet]).",
        ),
    ] = None,
    rating: Annotated[
        Rating | None,
        typer.Option(
            "--rating", help="chatbot-arena: bt (Bradley–Terry) or elo (bootstrap median) \\[default: bt]."
        ),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor", help="chatbot-arena: pin MODEL=RATING \\[default: llama-13b=800 when present]."
        ),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", help="chatbot-arena: only battles in this language (repeatable)."),
    ] = None,
    exclude_ties: Annotated[
        bool, typer.Option("--exclude-ties", help="chatbot-arena: leave out tied battles.")
    ] = False,
    min_battles: Annotated[
        int | None,
        typer.Option("--min-battles", min=0, help="chatbot-arena: leave out models with fewer battles."),
    ] = None,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="chatbot-arena: keep only battles whose dedup_tag is sampled.")
    ] = False,
    include_non_anonymous: Annotated[
        bool,
        typer.Option(
            "--include-non-anonymous", help="chatbot-arena: count battles where the models were shown."
        ),
    ] = False,
) -> Any:  # a ResultsReport (Typer evaluates annotations: no import for a type here)
    """Print each model's scores, best first: tables to stdout, warnings to stderr.

    chatbot-arena (--battles FILE): Bradley–Terry ratings from human votes with
    bootstrap intervals, ranks and online Elo, as FastChat's elo_analysis.

    single: turn means, the average (FastChat's pooled mean) and per-category
    means, with bootstrap intervals. pairwise: FastChat's win/loss/tie numbers,
    plus how often verdicts flip with position, the judge's first-position
    preference, and how often the longer answer wins.
    """
    flags = dict(locals())
    from mtb.app.results import ResultsSpec, results
    from mtb.cli.reporting import ConsoleReporter

    flags.pop("output_format")  # how `results` prints, not what it scores
    flags["mode"] = mode.value if mode else None
    flags["rating"] = rating.value if rating else None
    flags["language_penalty"] = language_penalty.value
    return results(ResultsSpec(**flags), ConsoleReporter(stderr_console()))


@cli_errors
@functools.wraps(score_results)
def results(*args: Any, **kwargs: Any) -> None:
    output_format = kwargs.pop("output_format", OutputFormat.table)
    emit(score_results(*args, **kwargs), output_format)
