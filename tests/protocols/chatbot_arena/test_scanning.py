"""The byte-level battle reader (scanning.py) against the full path (every record through
Python's JSON decoder and the validator): the same battles, and the same error for a bad file."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from mtb.errors import DataError
from mtb.protocols.chatbot_arena import scanning
from mtb.protocols.chatbot_arena.battles import read_battles
from mtb.protocols.chatbot_arena.records import Battles, Filters
from mtb.testing.arena_battles import generate, load_rows

FILTERS = [
    Filters(),
    Filters(anonymous_only=False),
    Filters(languages=frozenset({"English", "German"}), exclude_ties=True),
    Filters(dedup=True, style=True),
    Filters(anonymous_only=False, languages=frozenset({"Chinese"}), dedup=True, style=True),
]


def outcome(path: Path, filters: Filters, *, fast: bool) -> Battles | str:
    try:
        return read_battles(path, filters, fast=fast)
    except DataError as exc:
        return str(exc)


def same(fast: Battles | str, full: Battles | str) -> None:
    if isinstance(full, str) or isinstance(fast, str):
        if isinstance(full, str) and "not valid UTF-8" in full:
            # The text decoder cannot say where a bad byte was; the byte reader names its line.
            assert isinstance(fast, str) and re.fullmatch(r".*:\d+: not valid UTF-8 \(.*\)", fast)
            assert fast.split(": ", 1)[1] == full.split(": ", 1)[1]
            return
        assert fast == full
        return
    assert (fast.models, fast.read, fast.skipped) == (full.models, full.read, full.skipped)
    for name in ("model_a", "model_b", "outcome", "tstamp", "style_a", "style_b"):
        mine, theirs = getattr(fast, name), getattr(full, name)
        if theirs is None:
            assert mine is None
        else:  # bit for bit, time stamps included
            assert mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes(), name


def assert_same(path: Path, filters_list: list[Filters] = FILTERS) -> None:
    for filters in filters_list:
        same(outcome(path, filters, fast=True), outcome(path, filters, fast=False))


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    path = tmp_path_factory.mktemp("scan") / "battles.json"
    generate(path, 3_000, 15, seed=11)
    return load_rows(path)


@pytest.mark.parametrize("layout", ["json", "jsonl"])
def test_synthetic_logs_read_the_same_both_ways(tmp_path: Path, layout: str) -> None:
    path = tmp_path / f"battles.{layout}"
    generate(path, 5_000, 20, seed=5, layout=layout)
    fast = read_battles(path, Filters())
    assert len(fast) > 4_000 and fast.read == 5_000
    assert fast.read_in_full == 0  # all read from their bytes
    assert_same(path)


@pytest.mark.parametrize("indent", [2, 4, "\t"])
def test_indented_arrays_as_json_dump_writes_them(
    tmp_path: Path, rows: list[dict[str, object]], indent: int | str
) -> None:
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(rows, indent=indent), encoding="utf-8")
    assert_same(path)
    assert read_battles(path, Filters(dedup=True, style=True)).read_in_full == 0


def test_compact_array_on_one_line_and_several_records_a_line(
    tmp_path: Path, rows: list[dict[str, object]]
) -> None:
    path = tmp_path / "compact.json"
    path.write_text(json.dumps(rows[:400]), encoding="utf-8")
    assert_same(path)
    assert read_battles(path, Filters()).read_in_full == 0
    path.write_text(
        "[" + ",\n".join(", ".join(json.dumps(r) for r in rows[i : i + 3]) for i in range(0, 300, 3)) + "]"
    )
    assert_same(path)


def test_small_buffers_cut_records_everywhere(
    tmp_path: Path, rows: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records cut by the read buffer's end, in both layouts, read as with a large buffer."""
    monkeypatch.setattr(scanning, "CHUNK", 997)
    monkeypatch.setattr(scanning, "AHEAD", 300)
    for name, text in (
        ("cut.json", json.dumps(rows[:300], indent=2)),
        ("cut.jsonl", "\n".join(json.dumps(r) for r in rows[:300]) + "\n"),
        ("one-line.json", json.dumps(rows[:200])),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert_same(path)
        assert read_battles(path, Filters(anonymous_only=False)).read == (200 if "one" in name else 300)


BASE = {
    "question_id": "q",
    "model_a": "alpha",
    "model_b": "beta",
    "winner": "model_a",
    "judge": "arena_user_1",
    "turn": 1,
    "anony": True,
    "language": "English",
    "tstamp": 1700000000.5,
    "conv_metadata": {
        "sum_assistant_a_tokens": 10,
        "sum_assistant_b_tokens": 20,
        "header_count_a": {"h1": 1},
        "list_count_a": {"ordered": 0},
        "bold_count_a": {"**": 2},
        "header_count_b": {"h1": 0},
        "list_count_b": {"ordered": 3},
        "bold_count_b": {"**": 0},
    },
    "dedup_tag": {"high_freq": False, "sampled": True},
}
PLAIN = json.dumps(BASE)

# Records the fast reader must read right or leave to the full path: each line one record.
TRICKY = [
    PLAIN,
    # quotes, keys and braces inside strings
    PLAIN.replace('"judge": "arena_user_1"', r'"judge": "say \"model_a\": \"gamma\", } {"'),
    PLAIN.replace('"question_id": "q"', '"question_id": "\\"winner\\": \\"tie\\"}"'),
    PLAIN.replace('"question_id": "q"', '"question_id": "}, {\\"model_a\\": \\"x\\""'),
    # keys in another order, and extra whitespace anywhere
    json.dumps(dict(reversed(list(BASE.items())))),
    json.dumps(BASE, separators=(" ,  ", " :\t")),
    "  \t" + json.dumps(BASE, separators=(",", ":")) + "  ",
    # unicode escapes in names and keys, and names beyond ASCII
    PLAIN.replace('"alpha"', '"\\u0061lpha"'),
    PLAIN.replace('"model_a": "alpha"', '"\\u006dodel_a": "alpha"'),
    PLAIN.replace('"alpha"', '"\\u00e9t\\u00e9"'),
    PLAIN.replace('"alpha"', '"ét\U0001f600"'),
    PLAIN.replace('"alpha"', '"\\ud800"'),  # a lone surrogate: Python's decoder takes it
    PLAIN.replace('"English"', '"\\u4e2d\\u6587"'),
    # duplicate keys: the last one counts, as in Python's decoder
    PLAIN.replace('"model_a": "alpha"', '"model_a": "zeta", "model_a": "alpha"'),
    PLAIN.replace('"anony": true', '"anony": false, "anony": true'),
    # numbers: integers, exponents, values past float range in fields not read
    PLAIN.replace("1700000000.5", "1700000000"),
    PLAIN.replace("1700000000.5", "17000000005E-1"),
    PLAIN.replace("1700000000.5", "-0.0"),
    PLAIN.replace("1700000000.5", "1e400"),  # infinite: Python's decoder takes it, msgspec does not
    PLAIN.replace("1700000000.5", "12345678901234567890123"),
    PLAIN.replace('"turn": 1', '"turn": 1e400'),
    PLAIN.replace('"turn": 1', '"turn": ' + "9" * 400),
    # nesting the fields not read
    PLAIN.replace('"turn": 1', '"turn": ' + "[" * 300 + "]" * 300),
    PLAIN.replace('"turn": 1', '"turn": {"a": [{"b": {"model_a": "x"}}]}'),
    # filters' fields in other shapes
    PLAIN.replace('"language": "English"', '"language": null'),
    PLAIN.replace('"language": "English", ', ""),
    PLAIN.replace('"language": "English"', '"language": ["English"]'),
    PLAIN.replace('"sampled": true', '"sampled": false'),
    PLAIN.replace('"sampled": true', '"sampled": 0'),
    PLAIN.replace('"sampled": true', '"sampled": "yes"'),
    PLAIN.replace(', "sampled": true', ""),
    PLAIN.replace('"dedup_tag": {"high_freq": false, "sampled": true}', '"dedup_tag": null'),
    PLAIN.replace('"winner": "model_a"', '"winner": "tie (bothbad)"'),
    PLAIN.replace('"bold_count_b": {"**": 0}', '"bold_count_b": 4.5'),
    PLAIN.replace('"header_count_a": {"h1": 1}', '"header_count_a": {"h1": 1.25, "h2": 2, "h1": 0.5}'),
    PLAIN.replace('"anony": true', '"anony": false').replace('"beta"', '"gamma"'),
]


@pytest.mark.parametrize("layout", ["jsonl", "array", "indented"])
def test_tricky_records_read_the_same_both_ways(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "tricky.json"
    records = [json.loads(line) for line in TRICKY]
    records = [r for r in records if "Infinity" not in json.dumps(r)]  # 1e400 would come back so
    if layout == "jsonl":
        path.write_text("\n".join(TRICKY) + "\n", encoding="utf-8")
    elif layout == "array":
        path.write_text("[\n" + ",\n".join(TRICKY) + "\n]\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    assert_same(path)
    full = read_battles(path, Filters(anonymous_only=False), fast=False)
    written = len(TRICKY) if layout != "indented" else len(records)
    assert full.read == written and len(full) == written and full.read_in_full == written
    # Plain records are read from their bytes, escapes, duplicates and UTF-8 included;
    # the others (a lone surrogate, a float beyond range, bad style counts ...) in full.
    fast = read_battles(path, Filters(anonymous_only=False))
    assert 0 < fast.read_in_full < written // 2
    assert {"alpha", "beta", "\\u0061lpha", "été", "ét\U0001f600", "\ud800"} - set(full.models) == {
        "\\u0061lpha"
    }


BAD = [
    PLAIN.replace('"winner": "model_a"', '"winner": "model_c"'),
    PLAIN.replace('"beta"', '"alpha"'),
    PLAIN.replace('"model_b": "beta"', '"model_b": ""'),
    PLAIN.replace('"model_b": "beta"', '"model_b": 7'),
    PLAIN.replace('"anony": true', '"anony": 1'),
    PLAIN.replace('"tstamp": 1700000000.5', '"tstamp": true'),
    PLAIN.replace('"tstamp": 1700000000.5', '"tstamp": "1700000000"'),
    PLAIN.replace('"tstamp": 1700000000.5', '"tstamp": ' + "9" * 400),
    PLAIN.replace('"tstamp": 1700000000.5, ', ""),
    PLAIN.replace('"turn": 1', '"turn": NaN'),
    PLAIN.replace('"turn": 1', '"turn": 01'),
    PLAIN.replace('"turn": 1', '"turn": 1,'),
    PLAIN.replace('"judge": "arena_user_1"', '"judge": "a\tb"'),
    PLAIN.replace('"turn": 1', '"turn": ' + "[" * 2000 + "]" * 2000),
    PLAIN.replace('"dedup_tag": {"high_freq": false, "sampled": true}', '"dedup_tag": [true]'),
    PLAIN.replace('"sum_assistant_a_tokens": 10', '"sum_assistant_a_tokens": "10"'),
    PLAIN.replace('"bold_count_b": {"**": 0}', '"bold_count_b": {"**": null}'),
    PLAIN.replace('"conv_metadata": {', '"conv_metadata": {"x": 1, ').replace('"x": 1, "sum', '"x": 1 "sum'),
    PLAIN[:-1],
    PLAIN + "}",
    "[" + PLAIN + "]",
    '"just a string"',
    "nul",
]


@pytest.mark.parametrize("bad", range(len(BAD)))
@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_a_bad_record_is_the_same_error_both_ways(tmp_path: Path, bad: int, layout: str) -> None:
    lines = [PLAIN, PLAIN.replace('"beta"', '"gamma"'), BAD[bad], PLAIN]
    path = tmp_path / "bad.json"
    if layout == "jsonl":
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    results = [outcome(path, filters, fast=True) for filters in FILTERS]
    assert_same(path)
    # An error, at the bad record or (a record not closed) where the decoder found it wrong.
    first = 3 if layout == "jsonl" else 4
    lines_named = [
        int(m.group(1)) for r in results if isinstance(r, str) and (m := re.search(r":(\d+): ", r))
    ]
    assert lines_named and all(first <= n <= first + 1 for n in lines_named), results


def test_the_array_layouts_own_errors_are_the_same_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    for text in (
        "[\n" + PLAIN + "\n" + PLAIN + "\n]",  # no comma
        "[\n" + PLAIN + ",\n",  # not closed
        "[\n" + PLAIN + "\n] trailing",
        "[\n" + PLAIN + ",\n]",  # a trailing comma, which jsonstream has always let through
        "[" + PLAIN + "]\n\n",
        "\ufeff[" + PLAIN + "]",
        "[,]",
        "[]",
        "",
        "  \n ",
        PLAIN + " " + PLAIN,
        "{" * 10_000,
    ):
        path.write_text(text, encoding="utf-8")
        assert_same(path, FILTERS[:1])
    path.write_bytes(
        b"[\n" + PLAIN.encode() + b",\n" + PLAIN.replace("alpha", "al\xffpha").encode("latin-1") + b"]"
    )
    fast = outcome(path, Filters(), fast=True)
    assert isinstance(fast, str) and "a.json:3: not valid UTF-8" in fast


def test_random_corruptions_read_the_same_both_ways(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    """A byte deleted, doubled or replaced anywhere in a small log: the same battles or the same error."""
    rng = random.Random(7)
    texts = {
        "jsonl": ("\n".join(json.dumps(r) for r in rows[:12]) + "\n").encode(),
        "indented": json.dumps(rows[:8], indent=2).encode(),
        "compact": json.dumps(rows[:8]).encode(),
    }
    path = tmp_path / "corrupt.json"
    alphabet = b'{}[],:"\\ \n0123456789.eE-+aeflnrstu\xc3\xa9\xff'
    for _ in range(250):
        for data in texts.values():
            at = rng.randrange(len(data))
            kind = rng.randrange(3)
            char = bytes([rng.choice(alphabet)])
            if kind == 0:
                corrupt = data[:at] + data[at + 1 :]
            elif kind == 1:
                corrupt = data[:at] + data[at : at + 1] * 2 + data[at + 1 :]
            else:
                corrupt = data[:at] + char + data[at + 1 :]
            path.write_bytes(corrupt)
            assert_same(path, FILTERS[:1] + FILTERS[3:4])


def test_battles_read_both_ways_have_equal_arrays(tmp_path: Path) -> None:
    """The comparison helper itself can fail: a differing time stamp is caught."""
    path = tmp_path / "b.jsonl"
    path.write_text(PLAIN + "\n", encoding="utf-8")
    other = tmp_path / "c.jsonl"
    other.write_text(PLAIN.replace("1700000000.5", "1700000000.25") + "\n", encoding="utf-8")
    with pytest.raises(AssertionError):
        same(read_battles(path, Filters()), read_battles(other, Filters(), fast=False))
    assert np.array_equal(read_battles(path, Filters()).tstamp, [1700000000.5])


def test_a_time_stamp_beyond_float_range_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(PLAIN + "\n" + PLAIN.replace("1700000000.5", "9" * 400) + "\n", encoding="utf-8")
    for fast in (True, False):
        with pytest.raises(DataError, match=r"b\.jsonl:2: field 'tstamp' is out of range"):
            read_battles(path, Filters(), fast=fast)
