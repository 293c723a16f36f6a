"""Arena-Hard v0.1 scores: battle counts, Bradley–Terry against the baseline, bootstrap intervals.

Each game is a battle of model against baseline; a strong verdict counts
`weight` (3) times and a tie is half a win. Bradley–Terry strengths are fitted
anchored at the baseline, 95% intervals come from bootstrap rounds, and a
model's score is its predicted win rate against the baseline, in percent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from mtb.errors import UsageError
from mtb.protocols.arena_hard.answers import token_length
from mtb.protocols.arena_hard.records import parse_judgment
from mtb.protocols.arena_hard.scanning import Games, map_files, scan_judged, scan_token_lengths
from mtb.records import QuestionId
from mtb.tables import record_of

WEIGHT = 3  # how many battles a strong verdict (A>>B, B>>A) counts for, as upstream
# Game 1 shows the baseline as A; game 2 shows the model as A. For each label:
# who won ("model", "baseline" or "tie"), and whether the verdict was a strong one.
GAME_1 = {
    "A>>B": ("baseline", True),
    "A>B": ("baseline", False),
    "A=B": ("tie", False),
    "B>A": ("model", False),
    "B>>A": ("model", True),
}
GAME_2 = {
    "A>>B": ("model", True),
    "A>B": ("model", False),
    "A=B": ("tie", False),
    "B>A": ("baseline", False),
    "B>>A": ("baseline", True),
}


@dataclass
class BattleCounts:
    model_wins: float = 0
    baseline_wins: float = 0
    ties: float = 0
    unscored_games: int = 0
    lines: int = 0  # judgment lines read, before duplicates and unknown questions are left out
    duplicates: int = 0  # lines repeating an earlier line's question; the last one counts
    unknown: int = 0  # lines for a question not in the question file
    judges: dict[str, int] = field(default_factory=dict)  # lines per judge named (others left out)
    questions: int = 0  # questions judged (each once, by the judge asked for)

    @property
    def battles(self) -> float:
        return self.model_wins + self.baseline_wins + self.ties


@dataclass(frozen=True)
class FileGames:
    """One judgment file's games, one judgment per question (the last line wins)."""

    games: Games
    lines: int
    duplicates: int
    unknown: int
    unknown_ids: list[QuestionId] = field(default_factory=list)
    judges: dict[str, int] = field(default_factory=dict)  # lines per judge named, kept or not


def once_each(
    games: Iterable[tuple[QuestionId, list[str | None], str | None]],
    known: frozenset[QuestionId] | None = None,
    judge: str | None = None,
) -> FileGames:
    """Each question's last judgment, in first-seen order; lines for questions not in `known`, and
    lines naming a judge other than `judge` (when given), left out.

    A line repeated in a file (an appended rerun, a concatenation) would
    otherwise count its battles twice; judge names that differ only by '/'
    share a folder, so a file may hold another judge's lines.
    """
    latest: dict[QuestionId, list[str | None]] = {}
    lines, kept, unknown_ids = 0, 0, []
    judges: dict[str, int] = {}
    for question_id, labels, named in games:
        lines += 1
        if named is not None:
            judges[named] = judges.get(named, 0) + 1
            if judge is not None and named != judge:
                continue
        if known is not None and question_id not in known:
            unknown_ids.append(question_id)
            continue
        kept += 1
        latest[question_id] = labels
    return FileGames(
        list(latest.items()), lines, kept - len(latest), len(unknown_ids), unknown_ids[:5], judges
    )


def count_battles(
    games: Iterator[tuple[QuestionId, Sequence[str | None]]],
    weight: int = WEIGHT,
    first_game_only: bool = False,
) -> BattleCounts:
    counts = BattleCounts()
    for _, labels in games:
        for table, label in zip((GAME_1, GAME_2), labels[:1] if first_game_only else labels, strict=False):
            outcome = table.get(label or "")
            if outcome is None:
                counts.unscored_games += 1
                continue
            side, strong = outcome
            battles = weight if strong else 1
            if side == "model":
                counts.model_wins += battles
            elif side == "baseline":
                counts.baseline_wins += battles
            else:
                counts.ties += battles
    return counts


@dataclass(frozen=True)
class ArenaScore:
    model: str
    score: float  # predicted win rate against the baseline, in percent
    ci_low: float
    ci_high: float
    avg_tokens: int | None
    battles: float
    # The score in each bootstrap round (all models' rounds drawn together), for `mtb quality`.
    rounds: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return record_of(self, "model score ci_low ci_high avg_tokens")


def arena_scores(
    counts: dict[str, BattleCounts],
    baseline: str,
    *,
    rounds: int = 100,
    seed: int = 42,
    avg_tokens: dict[str, int | None] | None = None,
) -> list[ArenaScore]:
    """Bradley–Terry scores against `baseline`, with bootstrap 95% intervals."""
    import numpy as np

    from mtb.stats import bradley_terry as bt

    # A model without a scored battle has no estimate: it gets no row (never 50.0 from no data).
    models = sorted(m for m in counts if m != baseline and counts[m].battles > 0)
    if not models:
        raise UsageError(f"no scored judgments against {baseline} to score")
    names = [baseline, *models]
    index = np.arange(1, len(names))
    table = np.array(
        [[counts[m].model_wins, counts[m].baseline_wins, counts[m].ties] for m in models], dtype=float
    )

    def strengths(cells: np.ndarray) -> np.ndarray:
        pairs = bt.PairCounts(
            first=index,
            second=np.zeros(len(models), dtype=int),
            first_wins=cells[:, 0] + cells[:, 2] / 2,
            second_wins=cells[:, 1] + cells[:, 2] / 2,
        )
        return bt.fit(pairs, len(names), anchor=0)

    point = strengths(table)
    # A bootstrap round redraws every battle of the table with replacement,
    # as upstream resamples its battle rows: a multinomial over the cells.
    rng = np.random.default_rng(seed)
    total = table.sum()
    cells = rng.multinomial(int(total), (table / total).ravel(), size=rounds).reshape(rounds, *table.shape)
    samples = np.array([strengths(c) for c in cells])
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    tokens = avg_tokens or {}
    scores = [ArenaScore(baseline, 50.0, 50.0, 50.0, tokens.get(baseline), 0.0, (50.0,) * rounds)]
    for k, model in enumerate(models, start=1):
        scores.append(
            ArenaScore(
                model=model,
                score=float(100 * bt.win_rate(point[k])),
                ci_low=float(100 * bt.win_rate(low[k])),
                ci_high=float(100 * bt.win_rate(high[k])),
                avg_tokens=tokens.get(model),
                battles=float(table[k - 1].sum()),
                rounds=tuple(float(v) for v in 100 * bt.win_rate(samples[:, k])),
            )
        )
    scores.sort(key=lambda s: s.score, reverse=True)
    return scores


def file_games(path: Path, known: frozenset[QuestionId] | None = None, judge: str | None = None) -> FileGames:
    return once_each(scan_judged(path, parse_judgment), known, judge)


def file_battles(
    path: Path, known: frozenset[QuestionId] | None = None, judge: str | None = None
) -> BattleCounts:
    read = file_games(path, known, judge)
    counts = count_battles(iter(read.games))
    counts.lines, counts.duplicates, counts.unknown = read.lines, read.duplicates, read.unknown
    counts.judges, counts.questions = read.judges, len(read.games)
    return counts


def _first_turn_tokens(line: bytes) -> int:
    """A v0.1 answer line without a token_len field: counted from the first turn's text."""
    obj = json.loads(line.decode("utf-8"), parse_constant=float)
    turn = obj["choices"][0]["turns"][0]
    return token_length(turn if isinstance(turn, str) else turn["content"])


def file_avg_tokens(path: Path) -> int | None:
    lengths = scan_token_lengths(path, _first_turn_tokens) if path.exists() else []
    # Upstream prints the mean as an int, truncating.
    return int(sum(lengths) / len(lengths)) if lengths else None


def games_by_model(
    paths: Sequence[Path], known: frozenset[QuestionId] | None = None, judge: str | None = None
) -> dict[str, FileGames]:
    """Every judgment's game labels, per judgment file (for style control, which needs each battle)."""
    read = map_files(partial(file_games, known=known, judge=judge), paths)
    return dict(zip((p.stem for p in paths), read, strict=True))


def battles_by_model(
    paths: Sequence[Path], known: frozenset[QuestionId] | None = None, judge: str | None = None
) -> dict[str, BattleCounts]:
    """Battle counts per judgment file, named after the file (the model), each question once."""
    read = map_files(partial(file_battles, known=known, judge=judge), paths)
    return dict(zip((p.stem for p in paths), read, strict=True))


def avg_tokens_by_model(paths: dict[str, Path]) -> dict[str, int | None]:
    return dict(zip(paths, map_files(file_avg_tokens, list(paths.values())), strict=True))
