"""Reading a verdict out of a judge's text, exactly as FastChat's common.py does."""

from __future__ import annotations

import ast
import re

# FastChat tries the double-bracket form first, then the single-bracket one,
# and takes the first match of whichever hits.
RATING_PATTERNS = (
    re.compile(r"\[\[(\d+\.?\d*)\]\]"),
    re.compile(r"\[(\d+\.?\d*)\]"),
)
UNPARSED = -1


def parse_rating(judgment: str) -> float:
    """The 1-10 rating in `judgment`, or -1 when there is none (FastChat's value)."""
    for pattern in RATING_PATTERNS:
        match = pattern.search(judgment)
        if match:
            value = ast.literal_eval(match.group(1))
            return value if isinstance(value, (int, float)) else UNPARSED
    return UNPARSED


def parse_pair_verdict(judgment: str) -> str:
    """ "A", "B", "tie" or "error", by FastChat's substring tests in this order.

    A text holding both "[[A]]" and "[[B]]" counts as A, as in FastChat.
    """
    if "[[A]]" in judgment:
        return "A"
    if "[[B]]" in judgment:
        return "B"
    if "[[C]]" in judgment:
        return "tie"
    return "error"
