"""`mtb download-baselines`: a benchmark's questions, prompts and published answers and judgments."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_FAILED,
    BenchOption,
    DataDirOption,
    ProgressOption,
    cli_errors,
    stderr_console,
)

if TYPE_CHECKING:
    from mtb.download import Advance, FileSpec


@cli_errors
def download_baselines(
    bench: BenchOption = "mt_bench",
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--models", help="Only these published models' files (list them after the flag); default: all."
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            envvar="MTB_MIRROR",
            help="Take every file from MIRROR/<its path in the data directory> (a URL or a folder).",
        ),
    ] = None,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Files fetched at once.")] = 4,
    progress: ProgressOption = True,
) -> None:
    """Fill the data directory with a benchmark's files from their public homes.

    Questions, judge prompts and reference answers come from the upstream Git repository at a
    pinned commit; published model answers and GPT-4 judgments from the Hugging Face Space
    (through huggingface_hub: HF_HOME, HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE apply).
    Sources and sha256 values are listed in questions/<bench>.toml. Files already present
    with the right hash are skipped; every file is checked and written atomically.

    Exit codes: 0 ok, 1 a file failed or the network is unreachable, 2 bad usage, 130 interrupted.
    """
    from rich.filesize import decimal
    from rich.progress import BarColumn, Progress, TextColumn

    from mtb import download as dl

    console = stderr_console()
    plan = dl.select(dl.load_plan(bench), models)
    console.print(
        f"{bench}: {len(plan)} file(s) into {data_dir}" + (f" from mirror {mirror}" if mirror else ""),
        highlight=False,
        markup=False,
    )

    bars = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        console=console,
        disable=not progress,
        transient=True,
    )

    class Hooks(dl.ProgressHooks):
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.tasks: dict[str, Any] = {}
            self.states: dict[str, dict[str, float]] = {}
            self.done = 0
            self.overall = bars.add_task("files", total=len(plan), info=f"0/{len(plan)}")

        def file_started(self, spec: FileSpec) -> Advance:
            with self.lock:
                task = self.tasks.get(spec.path)
                if task is None:
                    name = spec.path.rsplit("/", 1)[-1]
                    task = self.tasks[spec.path] = bars.add_task(name, total=None, info="")
                else:  # a retry starts the byte count again
                    bars.reset(task, info="")

            # This attempt's own bytes and clock: a resumed transfer's speed is not inflated by its part.
            state = {"total": 0, "new": 0, "since": time.monotonic()}
            with self.lock:
                self.states[spec.path] = state

            def advance(n: int) -> None:
                with self.lock:
                    state["total"] += n
                    state["new"] += n
                    elapsed = time.monotonic() - state["since"]
                    rate = f", {decimal(int(state['new'] / elapsed))}/s" if elapsed > 0.2 else ""
                    bars.update(task, advance=n, info=f"{decimal(int(state['total']))}{rate}")

            return advance

        def file_resumed(self, spec: FileSpec, offset: int) -> None:
            with self.lock:
                state = self.states.get(spec.path)
                if state is not None:
                    state["total"] = offset
                    state["since"] = time.monotonic()
                task = self.tasks.get(spec.path)
                if task is not None:
                    bars.update(task, info=f"resuming at {decimal(offset)}")

        def file_done(self, spec: FileSpec) -> None:
            with self.lock:
                task = self.tasks.pop(spec.path, None)
                self.states.pop(spec.path, None)
                if task is not None:
                    bars.remove_task(task)
                self.done += 1
                bars.update(self.overall, advance=1, info=f"{self.done}/{len(plan)}")

    _silence_hub_bars()
    with bars:
        report = dl.download(plan, data_dir, mirror=mirror, hooks=Hooks(), parallel=parallel)

    console.print(
        f"{len(report.fetched)} fetched, {len(report.skipped)} already present, "
        f"{len(report.missing_optional)} not published, {len(report.failed)} failed",
        highlight=False,
    )
    for path in report.unverified:
        console.print(f"  {path}: no known sha256; fetched unverified", highlight=False, markup=False)
    for path in report.missing_optional:
        console.print(f"  [yellow]warning:[/yellow] {escape(path)}: not found at its source", highlight=False)
    for path, reason in sorted(report.failed.items()):
        console.print(f"  [red]failed:[/red] {escape(path)}: {escape(reason)}", highlight=False)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


def _silence_hub_bars() -> None:
    # Our own bars cover Hub files too; two kinds of bar on one terminal garble it.
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
