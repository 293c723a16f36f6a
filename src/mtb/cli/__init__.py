"""The `mtb` command line: one thin module per subcommand over the core in `mtb`."""

from __future__ import annotations

import signal
from types import FrameType


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (`timeout`, `kill`, a batch scheduler, `docker stop`) ends a run as Ctrl-C does.

    Without this, the default action kills the process at once: no summary, no
    cost-log line for the requests already paid for, a provenance run never
    finished. The handler SIGINT has now is called, so that inside an asyncio
    run the main task is cancelled (the requests in flight stop and every
    finally block runs); when SIGINT is ignored (a job started with `&` by a
    script) or has no Python handler, KeyboardInterrupt is raised directly.
    """
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)  # Python's default handler raises KeyboardInterrupt itself
        return
    raise KeyboardInterrupt


def main() -> None:
    """The `mtb` console script: the terminal and SIGTERM set up, the app imported (`mtb.startup`), run."""
    from mtb.startup import long_lived_imports

    readable_on_any_terminal()
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    with long_lived_imports():
        from mtb.cli.main import app
    app()


def readable_on_any_terminal() -> None:
    """Let stdout and stderr print any character, whatever encoding or width they have.

    Under LANG=C, PYTHONIOENCODING=ascii or a Latin-1 terminal, a model name, answer
    or file name outside that encoding would end the command in a UnicodeEncodeError
    traceback; printed as a backslash escape (`\\xe8`) it stays readable and exact.
    """
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    # Rich takes COLUMNS as the width when it is digits: COLUMNS=0 printed nothing at all,
    # not even an error message, and a width of a few columns one letter per line. Such a
    # value is dropped: the terminal's own width is used, or 80 in a pipe.
    columns = os.environ.get("COLUMNS")
    if columns is not None and not (columns.strip().isdigit() and int(columns) >= MIN_COLUMNS):
        del os.environ["COLUMNS"]


# The narrowest width that still shows a table: a model column, a number column and their rules.
MIN_COLUMNS = 20
