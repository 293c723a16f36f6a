"""The `mtb` app. Subcommand modules import their heavy dependencies inside the command."""

from __future__ import annotations

from typing import Annotated

import typer

from mtb.cli import agreement, bias, browse, download, generate, judge, quality, results
from mtb.cli import eval as eval_command
from mtb.cli.common import MultiValueCommand
from mtb.version import __version__

app = typer.Typer(
    name="mtb",
    help=(
        "LLM-as-a-judge benchmarks (MT-bench, Arena-Hard v0.1 and v2.0, Chatbot Arena ratings, your own) "
        "from the command line.\n\n"
        "Exit codes: 0 ok, 1 some items failed, 2 bad usage or input, 130 interrupted."
    ),
    no_args_is_help=True,
    # Locals hold API keys; never print them in a traceback.
    pretty_exceptions_show_locals=False,
)
app.command("eval")(eval_command.evaluate)
app.command("generate")(generate.generate)
app.command("judge", cls=MultiValueCommand)(judge.judge)
app.command("results", cls=MultiValueCommand)(results.results)
app.command("download-baselines", cls=MultiValueCommand)(download.download_baselines)
app.command("browse", cls=MultiValueCommand)(browse.browse)
app.command("agreement")(agreement.agreement)
app.add_typer(bias.app, name="bias")
app.command("quality", cls=MultiValueCommand)(quality.quality)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mtb {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """LLM-as-a-judge benchmarks from the command line."""
