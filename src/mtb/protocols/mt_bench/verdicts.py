"""Reading a verdict out of a judge's text, exactly as FastChat's common.py does (by default:
the patterns come from the prompt map's [verdicts] table)."""

from __future__ import annotations

import ast
import re

from mtb.protocols.mt_bench.prompts import FASTCHAT_PAIR_LABELS, FASTCHAT_RATING_PATTERNS, Verdicts

UNPARSED = -1

FASTCHAT = Verdicts(
    tuple(re.compile(p) for p in FASTCHAT_RATING_PATTERNS),
    tuple(FASTCHAT_PAIR_LABELS.items()),
)


def parse_rating(judgment: str, verdicts: Verdicts = FASTCHAT) -> float:
    """The rating in `judgment` (first match of the first pattern that hits), or -1 when there is none."""
    for pattern in verdicts.rating_patterns:
        match = pattern.search(judgment)
        if match:
            try:
                value = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                return UNPARSED
            return value if isinstance(value, (int, float)) else UNPARSED
    return UNPARSED


def parse_pair_verdict(judgment: str, verdicts: Verdicts = FASTCHAT) -> str:
    """ "A", "B", "tie" or "error", by FastChat's substring tests in this order.

    A text holding both "[[A]]" and "[[B]]" counts as A, as in FastChat.
    """
    for winner, label in verdicts.pair_labels:
        if label in judgment:
            return winner
    return "error"
