"""Scores from judgment files, with FastChat's show_result semantics.

Single mode: judgments whose verdict could not be parsed (score -1) are left
out and counted; turn means are over each turn's rows; the average is over
every remaining row pooled (FastChat's "Average"), not the mean of turn means.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.jsonl import read_records
from mtb.records import QuestionId, SingleJudgment
from mtb.verdicts import UNPARSED


@dataclass(frozen=True)
class LoadedJudgments:
    judgments: list[SingleJudgment]
    duplicates: int  # lines repeating an earlier (model, question, turn, judge); the last one counts


def load_single_judgments(path: Path) -> LoadedJudgments:
    latest: dict[tuple[Any, ...], SingleJudgment] = {}
    lines = 0
    for judgment in read_records(path, SingleJudgment.from_json):
        lines += 1
        latest[judgment.key] = judgment
    return LoadedJudgments(list(latest.values()), lines - len(latest))


@dataclass(frozen=True)
class ModelScore:
    model: str
    turn_means: dict[int, float]
    average: float
    judgments: int  # judgments counted in the average
    excluded: int  # judgments left out because their verdict had no rating
    categories: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"model": self.model}
        for turn, mean in sorted(self.turn_means.items()):
            row[f"turn_{turn}"] = mean
        row.update(
            average=self.average,
            judgments=self.judgments,
            excluded=self.excluded,
            categories=dict(self.categories),
        )
        return row


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def single_scores(
    judgments: Iterable[SingleJudgment],
    categories: dict[QuestionId, str],
    *,
    turns: int,
    category_order: Sequence[str] = (),
    model_list: Sequence[str] | None = None,
) -> list[ModelScore]:
    by_model: dict[str, list[SingleJudgment]] = defaultdict(list)
    for judgment in judgments:
        if model_list is None or judgment.model in model_list:
            by_model[judgment.model].append(judgment)

    scores = []
    for model, rows in by_model.items():
        kept = [j for j in rows if j.score != UNPARSED]
        if not kept:
            continue
        turn_means = {}
        for turn in range(1, turns + 1):
            turn_scores = [j.score for j in kept if j.turn == turn]
            if turn_scores:
                turn_means[turn] = _mean(turn_scores)
        per_category: dict[str, list[float]] = defaultdict(list)
        for j in kept:
            per_category[categories.get(j.question_id, "unknown")].append(j.score)
        rank = {name: i for i, name in enumerate(category_order)}
        ordered = sorted(per_category, key=lambda c: (rank.get(c, len(rank)), c))
        scores.append(
            ModelScore(
                model=model,
                turn_means=turn_means,
                average=_mean([j.score for j in kept]),
                judgments=len(kept),
                excluded=len(rows) - len(kept),
                categories={c: _mean(per_category[c]) for c in ordered},
            )
        )
    scores.sort(key=lambda s: s.average, reverse=True)
    return scores


def _columns(scores: Sequence[ModelScore], turns: int) -> list[str]:
    return [
        "model",
        *[f"turn_{t}" for t in range(1, turns + 1)],
        "average",
        "judgments",
        "excluded",
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _flat_rows(
    scores: Sequence[ModelScore], turns: int, with_categories: bool
) -> tuple[list[str], list[list[Any]]]:
    columns = _columns(scores, turns)
    category_names: list[str] = []
    if with_categories:
        for score in scores:
            category_names += [c for c in score.categories if c not in category_names]
    rows = []
    for score in scores:
        flat = score.to_json()
        row = [flat.get(c) for c in columns]
        row += [score.categories.get(c) for c in category_names]
        rows.append(row)
    return columns + category_names, rows


def to_json(scores: Sequence[ModelScore]) -> str:
    return json.dumps([s.to_json() for s in scores], indent=2)


def to_csv(scores: Sequence[ModelScore], turns: int) -> str:
    header, rows = _flat_rows(scores, turns, with_categories=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def to_markdown(scores: Sequence[ModelScore], turns: int) -> str:
    header, rows = _flat_rows(scores, turns, with_categories=True)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_tables(scores: Sequence[ModelScore], turns: int, title: str) -> list[Any]:
    """Two rich tables: the scores, then the per-category breakdown."""
    from rich.table import Table

    header, rows = _flat_rows(scores, turns, with_categories=False)
    main = Table(title=title)
    for name in header:
        main.add_column(name, justify="left" if name == "model" else "right")
    for row in rows:
        main.add_row(*(_cell(v) for v in row))
    header, rows = _flat_rows(scores, turns, with_categories=True)
    split = len(_columns(scores, turns))
    by_category = Table(title="Mean score by category")
    by_category.add_column("model")
    for name in header[split:]:
        by_category.add_column(name, justify="right")
    for row in rows:
        by_category.add_row(_cell(row[0]), *(_cell(v) for v in row[split:]))
    return [main, by_category]
