"""How well a benchmark separates models and agrees with a reference ranking (the Arena-Hard paper, §3).

Over every pair of the models both sides rate:

    separability   the share of pairs whose benchmark intervals do not overlap
    agreement      over the pairs the reference separates (intervals apart): the mean of
                   +1 (the benchmark separates them the same way), −1 (the opposite way)
                   and 0 (it does not separate them)
    spearman       rank correlation of score and rating
    kendall        Kendall's tau-b of score and rating (ties counted as tau-b counts them)
    brier          over the pairs the reference separates: the mean of (p − y)², p the share
                   of the benchmark's bootstrap rounds in which the first model scores above
                   the second, y 1 when the reference rates the first above the second

Pure functions on numbers: which file the numbers came from is the caller's business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

Interval = tuple[float, float]


def apart(first: Interval, second: Interval) -> bool:
    """Whether two closed intervals do not overlap (touching ends overlap)."""
    return first[1] < second[0] or second[1] < first[0]


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span (as Spearman's rho needs)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = shared
        start = end + 1
    return ranks


def _pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    mean_x, mean_y = sum(x) / n, sum(y) / n
    covariance = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y, strict=True))
    spread_x = math.sqrt(sum((a - mean_x) ** 2 for a in x))
    spread_y = math.sqrt(sum((b - mean_y) ** 2 for b in y))
    if spread_x == 0 or spread_y == 0:
        return None  # a constant side: no correlation is defined
    return covariance / (spread_x * spread_y)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: the Pearson correlation of the (tie-averaged) ranks."""
    if len(x) < 2:
        return None
    return _pearson(_ranks(x), _ranks(y))


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b: (concordant − discordant) / sqrt((n0 − ties in x)(n0 − ties in y))."""
    concordant = discordant = tied_x = tied_y = 0
    pairs = 0
    for i, j in combinations(range(len(x)), 2):
        pairs += 1
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0:
            tied_x += 1
        if dy == 0:
            tied_y += 1
        if dx == 0 or dy == 0:
            continue
        if (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return (concordant - discordant) / denominator if denominator else None


@dataclass(frozen=True)
class Rated:
    """One model's number on one side, with its interval."""

    value: float
    low: float
    high: float

    @property
    def interval(self) -> Interval:
        return (self.low, self.high)


@dataclass(frozen=True)
class Quality:
    models: list[str]
    pairs: int
    separability: float | None
    agreement: float | None
    reference_separated: int  # the pairs agreement and brier are taken over
    spearman: float | None
    kendall: float | None
    brier: float | None  # None without the benchmark's bootstrap rounds

    def to_json(self) -> dict[str, object]:
        return {
            "models": self.models,
            "pairs": self.pairs,
            "separability": self.separability,
            "agreement": self.agreement,
            "spearman": self.spearman,
            "kendall": self.kendall,
            "brier": self.brier,
            "reference_separated_pairs": self.reference_separated,
        }


def share_above(first: Sequence[float], second: Sequence[float]) -> float:
    """The share of bootstrap rounds in which `first` is strictly above `second` (round by round)."""
    rounds = min(len(first), len(second))
    return sum(1 for a, b in zip(first[:rounds], second[:rounds], strict=True) if a > b) / rounds


def quality(
    benchmark: Mapping[str, Rated],
    reference: Mapping[str, Rated],
    rounds: Mapping[str, Sequence[float]] | None = None,
) -> Quality:
    """The measures over the models both sides rate, in sorted order of name.

    `rounds`, when given, holds each model's benchmark score in each bootstrap round
    (round r of one model beside round r of another); without it brier is None.
    """
    models = sorted(set(benchmark) & set(reference))
    pairs = list(combinations(models, 2))
    bench_apart = [apart(benchmark[a].interval, benchmark[b].interval) for a, b in pairs]
    signs: list[int] = []
    squared: list[float] = []
    have_rounds = rounds is not None and all(len(rounds.get(m, ())) > 0 for m in models)
    for (a, b), separated in zip(pairs, bench_apart, strict=True):
        if not apart(reference[a].interval, reference[b].interval):
            continue
        reference_says = reference[a].value > reference[b].value
        if separated:
            signs.append(1 if (benchmark[a].value > benchmark[b].value) == reference_says else -1)
        else:
            signs.append(0)
        if have_rounds:
            assert rounds is not None
            p = share_above(rounds[a], rounds[b])
            squared.append((p - (1.0 if reference_says else 0.0)) ** 2)
    scores = [benchmark[m].value for m in models]
    ratings = [reference[m].value for m in models]
    return Quality(
        models=models,
        pairs=len(pairs),
        separability=sum(bench_apart) / len(pairs) if pairs else None,
        agreement=sum(signs) / len(signs) if signs else None,
        reference_separated=len(signs),
        spearman=spearman(scores, ratings),
        kendall=kendall_tau_b(scores, ratings),
        brier=sum(squared) / len(squared) if squared else None,
    )
