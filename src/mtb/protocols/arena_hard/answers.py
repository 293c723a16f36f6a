"""Arena-Hard answer extras: cl100k token counts and markdown statistics (upstream's conv_metadata)."""

from __future__ import annotations

import re
from typing import Any

from mtb.errors import MissingExtraError

FENCED_CODE = re.compile(r"```([^`]*)```")
HEADERS = [re.compile(rf"^#{{{level}}}\s", re.MULTILINE) for level in range(1, 7)]
ORDERED_ITEM = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
UNORDERED_ITEM = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")


def markdown_counts(text: str) -> dict[str, dict[str, int]]:
    """Headers, list items and bold spans outside fenced code, as add_markdown_info.py counts them."""
    for block in FENCED_CODE.findall(text):
        text = text.replace(block, "")
    return {
        "header_count": {f"h{level}": len(p.findall(text)) for level, p in enumerate(HEADERS, start=1)},
        "list_count": {
            "ordered": len(ORDERED_ITEM.findall(text)),
            "unordered": len(UNORDERED_ITEM.findall(text)),
        },
        "bold_count": {"**": len(BOLD_STARS.findall(text)), "__": len(BOLD_UNDERSCORES.findall(text))},
    }


_ENCODINGS: dict[str, Any] = {}


def token_length(text: str, encoding: str = "cl100k_base") -> int:
    """Tokens in `text` under `encoding`: cl100k_base for v0.1 (tiktoken's gpt-3.5-turbo
    encoding), o200k_base for v2.0 (gpt-4o's).

    bpe-openai carries the vocabularies in its wheel, so counting works offline;
    its cl100k counts equal tiktoken's on all 500 published gpt-4-0314 answers,
    and its o200k counts equal the token_len of all 750 published v2.0
    o3-mini answers (tests/protocols).
    """
    found = _ENCODINGS.get(encoding)
    if found is None:
        try:
            import bpe_openai
        except ImportError:
            raise MissingExtraError("bpe-openai", "arena") from None
        found = _ENCODINGS[encoding] = bpe_openai.get_encoding(encoding)
    return len(found.encode(text, disallowed_special=()))


def answer_turn(text: str) -> dict[str, Any]:
    return {"content": text, "token_len": token_length(text)}


def conv_metadata(text: str) -> dict[str, Any]:
    return {"token_len": token_length(text), **markdown_counts(text)}
