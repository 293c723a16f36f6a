"""The consoles every front end prints through: results on stdout, everything else on stderr.

Both print names, paths and server replies as they are: no emoji codes, and (on
stderr) no control character reaches the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from rich.console import Console

from mtb.errors import EXIT_OK
from mtb.tables import escape_controls


class _StderrConsole(Console):
    """A console whose printed strings never carry control characters to the terminal."""

    def render_str(self, text: str, **kwargs: Any) -> Any:
        # Messages keep their line breaks and tabs; every other control character is escaped.
        return super().render_str(escape_controls(text, keep="\n\t"), **kwargs)


def reader_gone() -> None:
    """The reader of stdout stopped reading (`mtb results | head -1`): end quietly, exit 0.

    It has what it wanted. rich and click would exit 1 here, which in mtb means
    "items failed"; what is still buffered is sent nowhere, so that it does not
    fail again at exit.
    """
    silence_stdout()
    raise SystemExit(EXIT_OK)


def silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _StdoutConsole(Console):
    """Results on stdout; a reader that stops reading ends the command with exit 0."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        reader_gone()


def stdout_console() -> Console:
    # emoji=False: names are printed as they are (see stderr_console).
    return _StdoutConsole(emoji=False)


def stderr_console() -> Console:
    # soft_wrap: a long `path:line: message` stays on one line, greppable.
    # emoji=False: a model or file name such as 'x:cat:y' is printed as it is, not as an emoji.
    return _StderrConsole(stderr=True, soft_wrap=True, emoji=False)
