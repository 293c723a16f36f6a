"""Judge–human and judge–judge agreement, with the semantics of FastChat's `compute_agreement.py`.

Votes come from two kinds of file:

    - the human-judgment files as published (`human_judgments.json`,
      `gpt4_pair_judgments.json`): a JSON array, or JSON lines (what the Hub
      dataset `lmsys/mt_bench_human_judgments` gives through `to_json`), of
      {question_id, model_a, model_b, winner, judge, turn, conversation_a/b};
      or that dataset's own Parquet files (splits `human` and `gpt4_pair`), read
      by record batch with the `parquet` extra, every row through the same checks;
    - mtb's own pairwise judgment files (`<judge>_pair.jsonl`): each match's two
      games become one vote as FastChat's show_result combines them: a winner
      when both games name the same model, otherwise a tie ("tie (inconsistent)").

Votes are grouped by turn and key (question_id, smaller model, larger model);
a vote stored the other way round has its winner flipped. Any value holding
"tie" equals any other tie. With ties ("S1") every pair of votes counts; without
("S2") a pair in which either vote is a tie is left out. Two different judges:
every (vote of one, vote of the other) pair on a key; a judge against itself
(human vs human): every unordered pair of its votes on a key. Every judge but
`human` has at most one vote per key (FastChat asserts it for its judge).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from mtb.errors import DataError, UsageError
from mtb.jsonl import decode_text, input_errors, iter_json_lines, refuse_device, unfinished_lines
from mtb.parquet import is_parquet, iter_rows
from mtb.records import QuestionId, question_id_of
from mtb.tables import record_of
from mtb.validate import field as get_field

HUMAN = "human"
AUTHOR = "author"  # FastChat's paper authors: read, but no comparison uses them
GPT4_PAIR = "gpt4-pair"
# The Hub dataset's `judge` column is a string, so its gpt4_pair split cannot hold FastChat's
# ["gpt-4", "pair-v2"]; the split's name is taken as that judge's name there.
GPT4_PAIR_HUB = "gpt4_pair"
VOTE_COLUMNS = ("question_id", "model_a", "model_b", "winner", "judge", "turn")


@dataclass(frozen=True)
class Vote:
    """One judge's verdict on one (question, model pair, turn), in sorted model order."""

    judge: str
    question_id: QuestionId
    model_a: str  # the smaller name
    model_b: str
    turn: int
    winner: str  # "model_a", "model_b", or a value holding "tie"
    where: str  # path:line, for messages and for the browser

    @property
    def key(self) -> tuple[str, str, str]:
        # str(): 81 and "81" are one question whichever file they come from.
        return (str(self.question_id), self.model_a, self.model_b)


@dataclass
class Votes:
    votes: list[Vote] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # warnings: what was read but not counted


def judge_name(judge: Any) -> str:
    """FastChat's get_judge_name: ["gpt-4", "pair…"] → gpt4-pair, expert* → human, author* → author.

    Other judges keep their own name (a list [model, prompt] is named by its model), so
    FastChat's published names are unchanged and any other judge still has one.
    """
    if isinstance(judge, list):
        if len(judge) == 2 and judge[0] == "gpt-4" and str(judge[1]).startswith("pair"):
            return GPT4_PAIR
        return str(judge[0])
    if judge in (GPT4_PAIR, GPT4_PAIR_HUB):
        return GPT4_PAIR
    if judge.startswith("expert"):
        return HUMAN
    if judge.startswith("author"):
        return AUTHOR
    return str(judge)


def is_tie(winner: str) -> bool:
    return "tie" in winner


def same_vote(first: str, second: str) -> bool:
    """FastChat's equalvote: any tie equals any other tie."""
    return (is_tie(first) and is_tie(second)) or first == second


def sorted_vote(
    judge: str, question_id: QuestionId, model_a: str, model_b: str, turn: int, winner: str, where: str
) -> Vote:
    """The vote keyed by the sorted model pair; a reversed pair flips model_a ↔ model_b (ties stay)."""
    if model_a < model_b:
        return Vote(judge, question_id, model_a, model_b, turn, winner, where)
    flipped = {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)
    return Vote(judge, question_id, model_b, model_a, turn, flipped, where)


def published_vote(obj: dict[str, Any], where: str) -> Vote:
    """A record of human_judgments.json / gpt4_pair_judgments.json (conversations are not needed)."""
    question_id = question_id_of(obj)
    model_a = get_field(obj, "model_a", str, non_empty=True)
    model_b = get_field(obj, "model_b", str, non_empty=True)
    if model_a == model_b:
        raise ValueError(f"model_a and model_b are both '{model_a}'")
    winner = get_field(obj, "winner", str)
    if winner not in ("model_a", "model_b") and not is_tie(winner):
        raise ValueError(f"field 'winner' must be model_a, model_b or a tie, got {winner!r}")
    judge = obj.get("judge")
    if isinstance(judge, list):
        if not judge or not all(isinstance(j, str) for j in judge):
            raise ValueError("field 'judge' must be a string or a list of strings")
    elif not isinstance(judge, str) or not judge:
        raise ValueError("field 'judge' must be a string or a list of strings")
    turn = get_field(obj, "turn", int)
    if turn < 1:
        raise ValueError("field 'turn' must be 1 or more")
    return sorted_vote(judge_name(judge), question_id, model_a, model_b, turn, winner, where)


_SPACE = re.compile(r"\s*")


def iter_json_array(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) for each element of a JSON array, decoded one element at a time.

    One element at a time (C's scanner on a slice of the text) keeps the line of each
    record for `path:line` errors, at the speed of json.loads on the whole file.
    """
    from mtb.jsonl import _no_constants

    decoder = json.JSONDecoder(parse_constant=_no_constants)
    position = _SPACE.match(text).end()  # type: ignore[union-attr]
    line, counted = 1, 0
    if not text.startswith("[", position):
        raise DataError(path, "expected a JSON array of votes", 1)
    position = _SPACE.match(text, position + 1).end()  # type: ignore[union-attr]
    if text.startswith("]", position):
        return
    while True:
        line += text.count("\n", counted, position)
        counted = position
        try:
            obj, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
        except ValueError as exc:  # NaN or Infinity
            raise DataError(path, f"not valid JSON ({exc})", line) from None
        except RecursionError:
            raise DataError(path, "not valid JSON (nested too deeply)", line) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line)
        yield line, obj
        position = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", position):
            position = _SPACE.match(text, position + 1).end()  # type: ignore[union-attr]
            continue
        if text.startswith("]", position):
            if text[position + 1 :].strip():
                raise DataError(path, "text after the end of the JSON array", line)
            return
        raise DataError(
            path, "expected ',' or ']' after a record", line + text.count("\n", counted, position)
        )


def _first_byte(path: Path) -> bytes:
    refuse_device(path)
    with input_errors(path, "a vote file (.json or .jsonl)"), path.open("rb") as handle:
        head = handle.read(4096)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]


def read_votes(path: Path) -> Votes:
    """Every vote in one file: a published JSON array, JSONL or Parquet file of votes, or an mtb pair file.

    An unfinished last line (a pair file `mtb judge` is appending to) is left out, said in `left_out`.
    """
    with unfinished_lines() as unfinished:
        votes = _read_votes(path)
    votes.left_out += map(str, unfinished)
    return votes


def _read_votes(path: Path) -> Votes:
    if is_parquet(path):
        return _parquet_votes(path)
    if _first_byte(path) == b"[":
        text = decode_text(path, path.read_bytes())
        votes = Votes()
        for line, obj in iter_json_array(path, text):
            try:
                votes.votes.append(published_vote(obj, f"{path}:{line}"))
            except ValueError as exc:
                raise DataError(path, str(exc), line) from None
        return votes
    lines = iter_json_lines(path)
    first = next(lines, None)
    if first is None:
        return Votes()
    if "g1_winner" in first[1]:
        return _mtb_pair_votes(path)
    votes = Votes()
    for line, obj in (first, *lines):
        try:
            votes.votes.append(published_vote(obj, f"{path}:{line}"))
        except ValueError as exc:
            raise DataError(path, str(exc), line) from None
    return votes


def _parquet_votes(path: Path) -> Votes:
    """The Hub's Parquet files, streamed by record batch; the conversation columns are not read."""
    votes = Votes()
    for row, obj in iter_rows(path, VOTE_COLUMNS, what="a vote file (.parquet)"):
        try:
            votes.votes.append(published_vote(obj, f"{path}:row {row}"))
        except ValueError as exc:
            raise DataError(path, str(exc), row=row) from None
    return votes


def _mtb_pair_votes(path: Path) -> Votes:
    """An mtb pair file: one vote per match, its two games combined as FastChat's show_result does."""
    from mtb.protocols.mt_bench.records import PairJudgment

    latest: dict[Any, tuple[int, PairJudgment]] = {}
    lines = 0
    for line, obj in iter_json_lines(path):
        try:
            judgment = PairJudgment.from_json(obj)
        except ValueError as exc:
            raise DataError(path, str(exc), line) from None
        lines += 1
        latest[judgment.key] = (line, judgment)  # a repeated match: the last line wins, as in results
    votes = Votes()
    if lines > len(latest):
        votes.left_out.append(
            f"{path} repeats {lines - len(latest)} judgment(s); each is counted once (the last line wins)"
        )
    errors = 0
    for line, j in latest.values():
        if "error" in (j.g1_winner, j.g2_winner):
            errors += 1  # a game named no winner: show_result leaves the match out
            continue
        if j.g1_winner != j.g2_winner:
            winner = "tie (inconsistent)"
        else:
            winner = {"model_1": "model_a", "model_2": "model_b"}.get(j.g1_winner, "tie")
        votes.votes.append(
            sorted_vote(j.judge[0], j.question_id, j.model_1, j.model_2, j.turn, winner, f"{path}:{line}")
        )
    if errors:
        votes.left_out.append(f"{path}: left out {errors} match(es) with a game naming no winner")
    return votes


# ---------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Agreement:
    judge_1: str
    judge_2: str
    turn: int
    ties: str  # "with" (S1) or "without" (S2)
    agree: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.agree / self.total if self.total else None

    def to_json(self) -> dict[str, Any]:
        return record_of(self, "judge_1 judge_2 turn ties agree total ratio")


Grouped = dict[int, dict[tuple[str, str, str], dict[str, list[Vote]]]]  # turn → key → judge → votes


def group(votes: Sequence[Vote]) -> Grouped:
    """Votes by turn, key and judge; a second vote of one non-human judge on a key is an error."""
    grouped: Grouped = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for vote in votes:
        cell = grouped[vote.turn][vote.key][vote.judge]
        if cell and vote.judge not in (HUMAN, AUTHOR):
            raise DataError(
                vote.where,
                f"a second vote by '{vote.judge}' on question {vote.question_id}, "
                f"{vote.model_a} vs {vote.model_b}, turn {vote.turn} (the first is at {cell[0].where}); "
                "a judge other than human has one vote per match",
            )
        cell.append(vote)
    return grouped


def _count(first: list[Vote], second: list[Vote] | None, without_ties: bool) -> tuple[int, int]:
    pairs = combinations(first, 2) if second is None else ((a, b) for a in first for b in second)
    agree = total = 0
    for a, b in pairs:
        if without_ties and (is_tie(a.winner) or is_tie(b.winner)):
            continue
        total += 1
        agree += same_vote(a.winner, b.winner)
    return agree, total


def agreement(grouped: Grouped, judge_1: str, judge_2: str) -> list[Agreement]:
    """Per turn, with and without ties: FastChat's get_mt_bench_agreement for these two judges."""
    rows = []
    for turn in sorted(grouped):
        for ties in ("with", "without"):
            agree = total = 0
            for by_judge in grouped[turn].values():
                if judge_1 not in by_judge or judge_2 not in by_judge:
                    continue
                second = None if judge_1 == judge_2 else by_judge[judge_2]
                a, t = _count(by_judge[judge_1], second, ties == "without")
                agree += a
                total += t
            rows.append(Agreement(judge_1, judge_2, turn, ties, agree, total))
    return rows


def default_pairs(judges: Sequence[str]) -> list[tuple[str, str]]:
    """Each judge against the humans, humans against each other, then the judges among themselves."""
    others = [j for j in judges if j not in (HUMAN, AUTHOR)]
    pairs: list[tuple[str, str]] = []
    if HUMAN in judges:
        pairs += [(j, HUMAN) for j in others]
        pairs.append((HUMAN, HUMAN))
    pairs += list(combinations(others, 2))
    return pairs


@dataclass
class AgreementReport:
    rows: list[Agreement]
    judges: dict[str, int]  # judge → votes read
    warnings: list[str]


def compute(paths: Sequence[Path], judges: tuple[str, str] | None = None) -> AgreementReport:
    """Agreement between the judges found in `paths` (or the two named), per turn, S1 and S2."""
    if not paths:
        raise UsageError("give at least one vote file")
    votes: list[Vote] = []
    warnings: list[str] = []
    for path in paths:
        read = read_votes(path)
        if not read.votes:
            raise DataError(path, "holds no votes")
        votes += read.votes
        warnings += read.left_out
    counts: dict[str, int] = defaultdict(int)
    for vote in votes:
        counts[vote.judge] += 1
    found = sorted(counts, key=lambda j: (j == HUMAN, j))
    if judges is not None:
        missing = [j for j in judges if j not in counts]
        if missing:
            raise UsageError(f"no votes by {', '.join(missing)} (judges found: {', '.join(found)})")
        pairs = [judges]
    else:
        pairs = default_pairs(found)
        if not pairs:
            raise UsageError(
                f"nothing to compare: the files hold votes by {', '.join(found)} only; "
                "give a second judge's file"
            )
    grouped = group(votes)
    rows = [row for j1, j2 in pairs for row in agreement(grouped, j1, j2)]
    for j1, j2 in pairs:
        if not any(r.total for r in rows if (r.judge_1, r.judge_2) == (j1, j2) and r.ties == "with"):
            warnings.append(f"{j1} and {j2} share no judged match (question, model pair, turn)")
    return AgreementReport(rows, dict(counts), warnings)


# ---------------------------------------------------------------- disagreements (for browse)


def disagreements(grouped: Grouped, judge_1: str, judge_2: str) -> list[dict[str, Any]]:
    """The matches where the two judges' votes differ (ties equal), with both sides' votes."""
    found: list[dict[str, Any]] = []
    for turn in sorted(grouped):
        for key, by_judge in grouped[turn].items():
            if judge_1 not in by_judge or judge_2 not in by_judge:
                continue
            first, second = by_judge[judge_1], by_judge[judge_2]
            if all(same_vote(a.winner, b.winner) for a in first for b in second):
                continue
            found.append(
                {
                    "question_id": str(first[0].question_id),
                    "model_a": key[1],
                    "model_b": key[2],
                    "turn": turn,
                    "votes_1": [v.winner for v in first],
                    "votes_2": [v.winner for v in second],
                }
            )
    found.sort(key=lambda d: (_sortable(d["question_id"]), d["turn"], d["model_a"], d["model_b"]))
    return found


def _sortable(question_id: str) -> tuple[int, int | str]:
    return (0, int(question_id)) if question_id.isdigit() else (1, question_id)
