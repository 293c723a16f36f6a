"""`mtb browse`: a local web page over the data directory, or one exported HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mtb.cli.common import DEFAULT_DATA_DIR, EXIT_INTERRUPTED, DataDirOption, cli_errors, stderr_console


@cli_errors
def browse(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; keep 127.0.0.1 unless you mean to share it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")] = 8000,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Write one self-contained HTML file (works from disk, no network) and exit."
        ),
    ] = None,
    bench: Annotated[
        list[str] | None, typer.Option("--bench", help="With --export: only this benchmark (repeatable).")
    ] = None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", help="With --export: only these models (list them after the flag)."),
    ] = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="With --export: every model's answers and judgments, the published ones too (100 MB and "
            "more); by default the page holds your own runs' models and every model's scores.",
        ),
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Read questions, answers side by side, reference answers and every judgment, in a browser.

    Pick a benchmark, a category, a question, then one model (single grading) or two
    (pairwise); the Leaderboard tab has the results table and the radar chart, and the Arena
    ratings tab (when data/chatbot-arena/ holds battle logs) rates each log on first view. The URL
    encodes the selection, so a link opens the same view. Answers are shown as text:
    nothing in them can run script or load anything.
    """
    from mtb.browser.server import export_html, make_server
    from mtb.errors import UsageError

    console = stderr_console()
    if export is None and not host.strip():
        # An empty host (`--host "$HOST"` with HOST unset) is every interface to the socket layer.
        raise UsageError("--host is empty; give an address: 127.0.0.1 keeps the data on this machine")
    if not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder; run `mtb download-baselines` first")
    if export is not None:
        from mtb.jsonl import write_atomically

        page = export_html(data_dir, bench, models, everything=everything)
        write_atomically(export, [page])
        # The size written, not the file's: `--export /dev/stdout` has none.
        size = len(page.encode("utf-8")) + 1
        console.print(f"wrote {export} ({size:,} bytes)", highlight=False, markup=False)
        if not models and not everything:
            console.print(
                "it holds your own runs' answers and judgments and every model's scores; "
                "--all adds every published answer",
                highlight=False,
                markup=False,
            )
        return
    server = make_server(data_dir, host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/yellow] listening on {escape(host)}: others on the network can read the data"
        )
    console.print(
        f"mtb browse: serving {data_dir} at {server.url} (Ctrl-C to stop)", highlight=False, markup=False
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        server.server_close()
