"""Arena-Hard v2.0 scores (upstream's show_result.py): mean label scores per category.

Each judgment record whose two games both hold a label becomes score entries:
game 2 (the model shown as A) as the label scores it, game 1 (the baseline
shown as A) as one minus that; a strong verdict is three entries. A model's
score is the mean of its entries' means over bootstrap rounds that resample
its entries, in percent; the interval is the rounds' 5th and 95th percentiles,
a 90% interval. Style control fits Bradley–Terry with length and markdown
features instead and reports the median win rate against the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb.protocols.arena_hard.scanning import scan_judged
from mtb.protocols.arena_hard_v2.records import parse_judgment
from mtb.records import QuestionId
from mtb.tables import record_of

WEIGHT = 3
_STRONG = (1.0,) * WEIGHT, (0.0,) * WEIGHT
# The score of the side shown as A, per label, as upstream's label_to_score.
LABEL_SCORES: dict[str, tuple[float, ...]] = {
    "A>B": (1.0,),
    "A>>B": _STRONG[0],
    "A=B": (0.5,),
    "A<<B": _STRONG[1],
    "A<B": (0.0,),
    "B>A": (0.0,),
    "B>>A": _STRONG[1],
    "B=A": (0.5,),
    "B<<A": _STRONG[0],
    "B<A": (1.0,),
}
LEVEL = 0.90  # the 5th to 95th percentile of the bootstrap rounds, as upstream
CI_LEVEL = "90%"


def record_scores(labels: Sequence[str | None]) -> list[float] | None:
    """The model's score entries for one record, or None when upstream drops it (a null game).

    A label outside label_to_score (which stops upstream with a KeyError) is
    dropped the same way and counted as unscored.
    """
    if len(labels) != 2 or labels[0] is None or labels[1] is None:
        return None
    game_1, game_2 = LABEL_SCORES.get(labels[0]), LABEL_SCORES.get(labels[1])
    if game_1 is None or game_2 is None:
        return None
    return [*game_2, *(1.0 - s for s in game_1)]


@dataclass(frozen=True)
class FileJudgments:
    labels: dict[QuestionId, list[str | None]]  # the last line per uid
    duplicates: int  # lines whose uid an earlier line had
    judges: dict[str, int] = field(default_factory=dict)  # lines per judge named, kept or not


def read_judgment_file(path: Path, judge: str | None = None) -> FileJudgments:
    """Each uid's last line; with `judge`, lines naming another judge are left out (and counted)."""
    labels: dict[QuestionId, list[str | None]] = {}
    duplicates = 0
    judges: dict[str, int] = {}
    for uid, games, named in scan_judged(path, parse_judgment, id_key="uid"):
        if named is not None:
            judges[named] = judges.get(named, 0) + 1
            if judge is not None and named != judge:
                continue
        if uid in labels:
            duplicates += 1
            del labels[uid]  # keep the file's order of last occurrences
        labels[uid] = games
    return FileJudgments(labels, duplicates, judges)


@dataclass(frozen=True)
class V2Score:
    model: str
    category: str
    baseline: str
    score: float  # percent
    ci_low: float
    ci_high: float
    avg_tokens: int | None
    judgments: int  # records scored (both games labelled)

    @property
    def ci_level(self) -> str:
        return CI_LEVEL

    def to_json(self) -> dict[str, Any]:
        return record_of(self, "model category baseline score ci_low ci_high ci_level avg_tokens judgments")


def bootstrap_means(entries: Sequence[float], rounds: int, seed: int, model: str) -> Any:
    """Each round's mean, as upstream's groupby(model).sample(frac=1, replace=True) rounds."""
    import numpy as np

    from mtb.stats.bootstrap import seeded_rng

    values = np.asarray(entries, dtype=float)
    rng = seeded_rng(seed, model)  # one stream per model: adding a model changes no other interval
    return values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)


def bootstrap_mean(
    entries: Sequence[float], rounds: int, seed: int, model: str
) -> tuple[float, float, float]:
    """(mean of the rounds' means, 5th, 95th percentile)."""
    import numpy as np

    means = bootstrap_means(entries, rounds, seed, model)
    low, high = np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return float(means.mean()), float(low), float(high)


# The answer metadata's four totals, in upstream's order: token_len, then markdown counts.
STYLE_KEYS = ("token_len", "header_count", "list_count", "bold_count")
CONTROLS = {"style": (0, 1, 2, 3), "length": (0,), "markdown": (1, 2, 3)}


def style_totals(metadata: dict[str, Any]) -> list[float]:
    return [
        float(v if isinstance(v, (int, float)) else sum(v.values()))
        for v in (metadata[key] for key in STYLE_KEYS)
    ]


@dataclass(frozen=True)
class StyleResult:
    scores: dict[str, tuple[float, float, float]]  # model → (median, 5th, 95th), percent
    coefficients: dict[str, float]


def style_features(model_totals: Any, baseline_totals: Any) -> Any:
    """Upstream's v2 features: length (m−b)/(m+b); markdown densities d=count/(len+1) as (m−b)/(m+b+1)."""
    import numpy as np

    m, b = np.asarray(model_totals, dtype=float), np.asarray(baseline_totals, dtype=float)
    out = np.zeros_like(m)
    total = m[:, 0] + b[:, 0]
    out[:, 0] = np.divide(m[:, 0] - b[:, 0], total, out=np.zeros(len(m)), where=total > 0)
    md, bd = m[:, 1:] / (m[:, :1] + 1), b[:, 1:] / (b[:, :1] + 1)
    out[:, 1:] = (md - bd) / (md + bd + 1)
    return out


def style_controlled(
    rows: dict[str, list[tuple[list[float], list[float], list[float]]]],
    control: str,
    *,
    rounds: int,
    seed: int,
) -> StyleResult:
    """rows: model → (score entries, its answer's totals, the baseline's totals) per record."""
    import numpy as np

    from mtb.stats import bradley_terry as bt

    models = sorted(rows)
    index, outcome, model_totals, baseline_totals = [], [], [], []
    for i, model in enumerate(models):
        for entries, own, base in rows[model]:
            for entry in entries:
                index.append(i)
                outcome.append(entry)
                model_totals.append(own)
                baseline_totals.append(base)
    features = style_features(model_totals, baseline_totals)
    mean = features.mean(axis=0)
    std = features.std(axis=0, ddof=1) if len(features) > 1 else np.ones(features.shape[1])
    features = (features - mean) / np.where(std > 0, std, 1.0)
    columns = CONTROLS[control]
    features = features[:, columns]
    model_of, y = np.array(index), np.array(outcome)
    n = len(y)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(rounds):
        weight = np.bincount(rng.integers(0, n, size=n), minlength=n).astype(float)
        samples.append(bt.fit_against_anchor(model_of, features, y, weight, len(models)))
    fitted = np.array(samples)
    rates = 100.0 * np.exp(-np.logaddexp(0.0, -fitted[:, : len(models)]))
    median = np.quantile(rates, 0.5, axis=0)
    low, high = np.quantile(rates, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2], axis=0)
    gamma = np.quantile(fitted[:, len(models) :], 0.5, axis=0)
    names = [("length", "headers", "lists", "bold")[c] for c in columns]
    return StyleResult(
        {m: (float(median[i]), float(low[i]), float(high[i])) for i, m in enumerate(models)},
        {name: float(g) for name, g in zip(names, gamma, strict=True)},
    )
