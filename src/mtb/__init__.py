"""mtb: LLM-as-a-judge benchmarks (MT-bench, Arena-Hard, Chatbot Arena, your own), from Python or the shell.

    import mtb
    report = mtb.evaluate(model="my-model", api_base="http://localhost:8000/v1", judge_model="gpt-4")
    report.records

`import mtb` is cheap: the functions (`mtb.api`) and what they need (the
openai SDK, torch) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtb.version import __version__ as __version__

if TYPE_CHECKING:
    from mtb.api import RunFailed, evaluate, generate, judge, results
    from mtb.errors import DataError, MissingExtraError, MtbError, UsageError

__all__ = [
    "DataError",
    "MissingExtraError",
    "MtbError",
    "RunFailed",
    "UsageError",
    "evaluate",
    "generate",
    "judge",
    "results",
]

_ERRORS = {"DataError", "MissingExtraError", "MtbError", "UsageError"}
_API = {"RunFailed", "evaluate", "generate", "judge", "results"}


def __getattr__(name: str) -> Any:
    if name in _ERRORS:
        from mtb import errors

        return getattr(errors, name)
    if name in _API:
        from mtb import api

        return getattr(api, name)
    raise AttributeError(f"module 'mtb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
