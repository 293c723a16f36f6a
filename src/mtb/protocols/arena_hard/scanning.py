"""Reading large Arena-Hard judgment and answer files fast: byte-level field scanning
over worker processes.

Judgment files are large (prompts and judgments of two games per line, about
7 MB per model) and only the labels matter for scores, so the fields are
picked out of the raw bytes. JSON escapes every quote inside a string, so
`"score":` can only be a key, never text in a prompt. A line that does not
read that way is decoded in full and validated by the protocol's record
parser; a bad one is reported as path:line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mtb.errors import DataError
from mtb.jsonl import UnfinishedLine, complete_lines, decode_line, leave_out_unfinished, unfinished_lines
from mtb.records import QuestionId

SCORE = re.compile(rb'"score":\s*(?:"([^"\\]*)"|(null))')
TOKEN_LEN = re.compile(rb'"token_len":\s*(\d+)')
JUDGE = re.compile(rb'"judge":\s*"([^"\\]*)"')

Games = list[tuple[QuestionId, list[str | None]]]  # (question id, each game's label) per judgment


def _lines(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(line number, start, end) of each non-blank line, without copying it."""
    start, number, size = 0, 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        number += 1
        first, last = start, end
        start = end + 1
        while first < last and data[first] in b" \t\r":
            first += 1
        while last > first and data[last - 1] in b" \t\r":
            last -= 1
        if first < last:
            yield number, first, last


def scan_judgments(
    path: Path, parse: Callable[[dict[str, Any]], Any], id_key: str = "question_id"
) -> Iterator[tuple[QuestionId, list[str | None]]]:
    """(question id, game labels) per line of a judgment file; `parse` validates a line read in full."""
    for question_id, labels, _ in scan_judged(path, parse, id_key):
        yield question_id, labels


def scan_judged(
    path: Path, parse: Callable[[dict[str, Any]], Any], id_key: str = "question_id"
) -> Iterator[tuple[QuestionId, list[str | None], str | None]]:
    """(question id, game labels, judge) per line; the judge is None where the line names none."""
    key_bytes = f'"{id_key}":'.encode()
    id_pattern = re.compile(re.escape(key_bytes) + rb'\s*(?:"([^"\\]*)"|(-?\d+))')
    data = complete_lines(path, path.read_bytes())  # a file `mtb judge` is appending to
    for number, start, end in _lines(data):
        labels: list[str | None] = []
        position = start
        while (at := data.find(b'"score":', position, end)) >= 0:
            found = SCORE.match(data, at, end)
            if found is None:
                break
            labels.append(None if found.group(1) is None else found.group(1).decode("utf-8", "replace"))
            position = found.end()
        key = data.find(key_bytes, start, end)
        question = id_pattern.match(data, key, end) if key >= 0 else None
        judge_at = data.find(b'"judge":', start, end)
        judge = JUDGE.match(data, judge_at, end) if judge_at >= 0 else None
        well_formed = data[start] == 0x7B and data[end - 1] == 0x7D  # { ... }
        # The fast path trusts only plain ASCII labels and ids; anything else is read in full.
        plain = all(label is None or "\ufffd" not in label for label in labels)
        # Anything but two labels (a game missing, null or extra) is for the record parser to judge.
        # A judge key whose value is not a plain ASCII string is read in full too.
        odd_judge = judge_at >= 0 and (judge is None or not judge.group(1).isascii())
        if question is None or len(labels) != 2 or not well_formed or at >= 0 or not plain or odd_judge:
            yield _decode_judgment(path, data[start:end], number, parse, id_key)
            continue
        raw_id = question.group(1)
        if raw_id is not None and not raw_id.isascii():
            yield _decode_judgment(path, data[start:end], number, parse, id_key)
            continue
        name = judge.group(1).decode() if judge is not None else None
        yield (raw_id.decode() if raw_id is not None else int(question.group(2))), labels, name


def _decode_judgment(
    path: Path, line: bytes, number: int, parse: Callable[[dict[str, Any]], Any], id_key: str
) -> tuple[QuestionId, list[str | None], str | None]:
    obj = decode_line(path, line, number)
    if obj is None:
        raise DataError(path, "blank line", number)
    try:
        parse(obj)
    except ValueError as exc:
        raise DataError(path, str(exc) or "not a judgment record", number) from None
    judge = obj.get("judge")
    labels = [game.get("score") if isinstance(game, dict) else None for game in obj["games"]]
    return obj[id_key], labels, judge if isinstance(judge, str) else None


def scan_token_lengths(path: Path, decode: Callable[[bytes], int]) -> list[int]:
    """The first `token_len` of each line, read from the bytes; `decode` reads a line without one.

    In arena-hard files the first token_len of a line is the first turn's or,
    when the turn has none, the answer metadata's: the value upstream's show_result uses.
    """
    data = complete_lines(path, path.read_bytes())
    lengths = []
    for number, start, end in _lines(data):
        at = data.find(b'"token_len":', start, end)
        found = TOKEN_LEN.match(data, at, end) if at >= 0 else None
        if found is not None:
            lengths.append(int(found.group(1)))
            continue
        try:
            lengths.append(decode(data[start:end]))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
            raise DataError(path, "not an answer record with a first turn", number) from None
    return lengths


def map_files(function: Callable[[Path], Any], paths: Sequence[Path]) -> list[Any]:
    """`function` over `paths`, spread over the CPU's cores where processes can fork cheaply.

    Reading 74 judgment files is about 500 MB of bytes to scan; this is most
    of `mtb results` for Arena-Hard, and it splits evenly by file. `function`
    must be picklable (a module-level function, or a partial of one).
    """
    import multiprocessing
    import os

    workers = min(len(paths), os.cpu_count() or 1)
    if workers < 2 or len(paths) < 8 or "fork" not in multiprocessing.get_all_start_methods():
        return [function(p) for p in paths]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        chunks = max(1, len(paths) // (4 * workers))
        read = list(pool.map(partial(_noting_unfinished, function), paths, chunksize=chunks))
    for _, left_out in read:  # what a worker noted dies with its process: noted again here
        for line in left_out:
            leave_out_unfinished(line.path, line.line)
    return [result for result, _ in read]


def _noting_unfinished(function: Callable[[Path], Any], path: Path) -> tuple[Any, list[UnfinishedLine]]:
    """`function(path)` in a worker process, with the unfinished last lines it left out."""
    with unfinished_lines() as left_out:
        result = function(path)
    return result, left_out
