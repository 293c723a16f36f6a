"""Which language an answer is written in, offline: py3langid, in the `language` extra.

A translated benchmark (KoMT-Bench and others) sets `language = "ko"` in its manifest;
`mtb results` then counts, per model, the judged turns whose answer is in another
language, and `--language-penalty zero` scores them 0 (KoMT-Bench's rule: a judge
rates a fluent English answer to a Korean question highly).

Why py3langid: it is maintained (a 2026 release), its naive Bayes model (4.6 MB) is
inside the wheel, so nothing is downloaded at run time and it works with no network;
it needs only numpy, loads in about half a second, and names languages by ISO 639
codes (two letters where one exists). lingua-language-detector is more accurate on
short snippets, but its wheel and memory are many times larger; fasttext-based
detectors fetch their model on first use. An answer is a paragraph or more, which
is where py3langid does well.

Code is not prose in any language: fenced and inline code, and links, are taken out
before identification, and an answer with too few letters left (a bare formula, a
code block) is not identified, so never counted as in the wrong language.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from mtb.errors import MissingExtraError, UsageError

EXTRA = "language"
PACKAGE = "py3langid"
# Fewer letters than this (after code and links are removed) say too little to identify.
MIN_LETTERS = 20

_FENCED = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"https?://\S+")


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise MissingExtraError(PACKAGE, EXTRA) from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.lru_cache(maxsize=1)
def supported_codes() -> tuple[str, ...]:
    """The ISO 639-1 (two-letter) codes the model identifies, sorted."""
    return tuple(sorted(code for code in _identifier().labels if len(code) == 2))


def check_code(code: str, where: str) -> str:
    """`code` if the identifier knows it, else a UsageError listing the codes it knows."""
    codes = supported_codes()
    if code not in codes:
        raise UsageError(
            f"{where}: unknown language code {code!r}; an ISO 639-1 code, one of: {', '.join(codes)}"
        )
    return code


def prose(text: str) -> str:
    """The text without code blocks, inline code and links: what a language can be told from."""
    return _LINK.sub(" ", _INLINE_CODE.sub(" ", _FENCED.sub(" ", text)))


def identify(text: str) -> str | None:
    """The language of `text` as an ISO 639 code, or None when it holds too little prose."""
    words = prose(text)
    if sum(1 for character in words if character.isalpha()) < MIN_LETTERS:
        return None
    code, _ = _identifier().classify(words)
    return str(code)


def in_other_language(text: str, language: str) -> bool:
    """Whether `text` is identified as written in a language other than `language`."""
    found = identify(text)
    return found is not None and found != language
