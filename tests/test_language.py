"""mtb.language: offline identification of an answer's language (py3langid, the `language` extra)."""

from __future__ import annotations

import pytest

from mtb import language  # imports py3langid only when it identifies
from mtb.errors import UsageError

pytest.importorskip("py3langid", reason="needs the language extra: pip install -e '.[language]'")


def test_korean_and_english_answers() -> None:
    assert (
        language.identify(
            "서울은 대한민국의 수도이며, 인구가 가장 많은 도시입니다. 한강이 도시를 가로지릅니다."
        )
        == "ko"
    )
    assert language.identify("Seoul is the capital of South Korea and its largest city by far.") == "en"
    assert language.in_other_language("Seoul is the capital of South Korea and its largest city.", "ko")
    assert not language.in_other_language(
        "서울은 대한민국의 수도이며 가장 큰 도시입니다. 정말 아름답습니다.", "ko"
    )


def test_code_and_links_are_not_prose() -> None:
    code_only = "```python\ndef add(a, b):\n    return a + b\n```\nSee https://example.com/docs/page"
    assert language.identify(code_only) is None
    assert not language.in_other_language(code_only, "ko")  # too little prose: never counted
    mixed = (
        "다음 함수는 두 수를 더합니다. 아주 간단한 예제입니다.\n```python\ndef add(a, b):\n    return a\n```"
    )
    assert language.identify(mixed) == "ko"


def test_unknown_code_lists_the_supported_ones() -> None:
    assert {"ko", "en", "ja", "zh", "fr", "de"} <= set(language.supported_codes())
    assert all(len(code) == 2 for code in language.supported_codes())
    with pytest.raises(UsageError) as caught:
        language.check_code("kor", "bench.toml: language")
    message = str(caught.value)
    assert "'kor'" in message and "ko, " in message and "bench.toml" in message
