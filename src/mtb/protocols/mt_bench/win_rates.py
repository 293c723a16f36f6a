"""Self-enhancement, as the seed paper compares it (§4.2, Figure 4): for each judge in the vote
files, each model's wins, losses and win rate without ties, side by side with the other judges'.

A judge that rates its own model higher than the others (and the humans) do prefers itself.
The votes are `mtb agreement`'s (`read_votes`): published vote files, the Hub's Parquet, or
mtb pair files (each match's two games one vote, a disagreement a tie). Ties count for
neither side and are left out of the rate; author votes are read and left out, as there.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.errors import DataError, UsageError
from mtb.protocols.mt_bench.agreement import AUTHOR, HUMAN, Vote, is_tie, read_votes
from mtb.tables import Table, record_of


@dataclass(frozen=True)
class WinRate:
    judge: str
    model: str
    wins: int
    losses: int
    ties: int

    @property
    def win_rate(self) -> float | None:
        decided = self.wins + self.losses
        return self.wins / decided if decided else None

    def to_json(self) -> dict[str, Any]:
        return record_of(self, "judge model wins losses win_rate")


def win_rates(votes: Sequence[Vote]) -> list[WinRate]:
    """Per judge and model, in the order judges are named (humans last) and models by name."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for vote in votes:
        if vote.judge == AUTHOR:
            continue
        if is_tie(vote.winner):
            counts[(vote.judge, vote.model_a)]["ties"] += 1
            counts[(vote.judge, vote.model_b)]["ties"] += 1
            continue
        winner, loser = (
            (vote.model_a, vote.model_b) if vote.winner == "model_a" else (vote.model_b, vote.model_a)
        )
        counts[(vote.judge, winner)]["wins"] += 1
        counts[(vote.judge, loser)]["losses"] += 1
    rows = [WinRate(judge, model, c["wins"], c["losses"], c["ties"]) for (judge, model), c in counts.items()]
    rows.sort(key=lambda r: (r.judge == HUMAN, r.judge, r.model))
    return rows


def compute(paths: Sequence[Path], judges: Sequence[str] | None = None) -> tuple[list[WinRate], list[str]]:
    """The win rates in the vote files (of `judges` only, when given), and warnings on what was left out."""
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
    found = sorted({v.judge for v in votes})
    if judges is not None:
        missing = [j for j in judges if j not in found]
        if missing:
            raise UsageError(f"no votes by {', '.join(missing)} (judges found: {', '.join(found)})")
        votes = [v for v in votes if v.judge in judges]
    return win_rates(votes), warnings


def side_by_side(rows: Sequence[WinRate]) -> Table:
    """One row per model, one column per judge: the win rates the paper sets beside each other."""
    judges = list(dict.fromkeys(r.judge for r in rows))
    models = sorted({r.model for r in rows})
    rate = {(r.judge, r.model): r for r in rows}

    def cell(judge: str, model: str) -> str:
        found = rate.get((judge, model))
        if found is None or found.win_rate is None:
            return "-"
        return f"{found.win_rate:.3f} ({found.wins}-{found.losses})"

    return Table(
        "Win rate without ties, per judge (wins-losses)",
        ["model", *judges],
        [[model, *(cell(judge, model) for judge in judges)] for model in models],
    )
