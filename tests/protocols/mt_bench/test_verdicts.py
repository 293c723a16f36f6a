import pytest

from mtb.protocols.mt_bench.verdicts import UNPARSED, parse_rating


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rating: [[5]]", 5),
        ("Rating: [[8.5]]", 8.5),
        ("[[10]] is my verdict", 10),
        ("first [[3]] then [[9]]", 3),  # the first match wins
        ("Rating: [7]", 7),  # single-bracket fallback
        ("see [1] and later [[6]]", 6),  # double brackets are tried first, over the whole text
        (
            "as shown in [2], the answer is good",
            2,
        ),  # the fallback catches citations, as in FastChat
        ("Rating: [[11]]", 11),  # no clamp, as in FastChat
        ("Rating: 7/10", UNPARSED),
        ("", UNPARSED),
        ("[[A]]", UNPARSED),
    ],
)
def test_parse_rating_follows_fastchat(text: str, expected: float) -> None:
    assert parse_rating(text) == expected


def test_integer_ratings_stay_integers() -> None:
    assert isinstance(parse_rating("[[7]]"), int)
    assert isinstance(parse_rating("[[7.0]]"), float)
