"""Imports that live as long as the process, kept out of the garbage collector's way.

A command imports its SDK once (the openai SDK alone builds about a million
objects: classes, pydantic schemas, type hints) and keeps it until it exits.
CPython's cyclic collector runs every few hundred allocations, so during such an
import it walks the growing heap dozens of times and finds nothing to free; then
every full collection during the run walks it again, and so does the last one at
exit. Here that was 0.25 s of the openai SDK's 0.8 s import, all of it on the
judge's critical path (bench/judge_throughput.py).

`long_lived_imports()` turns the collector off for the block and then freezes
what the block built (`gc.freeze`): frozen objects are never walked again.
Reference counting still frees everything as usual; only garbage cycles among
frozen objects stay, and imports make none worth keeping track of.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_imports() -> Iterator[None]:
    """Run a block of imports with the collector off, then freeze what it built."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
