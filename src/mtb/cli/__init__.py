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
    """The `mtb` console script: the app is imported as long-lived objects (`mtb.startup`), then run."""
    from mtb.startup import long_lived_imports

    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    with long_lived_imports():
        from mtb.cli.main import app
    app()
