"""Style control: scores with answer length and markdown held equal, as upstream's --style-control."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb.errors import DataError, UsageError
from mtb.jsonl import iter_json_lines
from mtb.protocols.arena_hard.answers import conv_metadata
from mtb.protocols.arena_hard.scanning import map_files
from mtb.protocols.arena_hard.scoring import GAME_1, GAME_2, WEIGHT, ArenaScore
from mtb.records import QuestionId

# Which conv_metadata totals each control uses, as upstream's show_result flags:
# --style-control (all four), --length-control-only, --markdown-control-only.
STYLE_CONTROLS = {
    "style": ("token_len", "header_count", "list_count", "bold_count"),
    "length": ("token_len",),
    "markdown": ("header_count", "list_count", "bold_count"),
}


def style_totals(answer: dict[str, Any]) -> dict[str, float]:
    """conv_metadata's four totals for one answer record (computed when the record has none)."""
    metadata = answer.get("conv_metadata")
    if not isinstance(metadata, dict):
        turn = answer["choices"][0]["turns"][0]
        metadata = conv_metadata(turn if isinstance(turn, str) else turn["content"])
    totals = {}
    for name in STYLE_CONTROLS["style"]:
        value = metadata[name]
        totals[name] = float(value if isinstance(value, (int, float)) else sum(value.values()))
    return totals


def load_style_totals(path: Path) -> dict[QuestionId, dict[str, float]]:
    totals = {}
    for number, obj in iter_json_lines(path):
        try:
            totals[obj["question_id"]] = style_totals(obj)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise DataError(path, "answer without conv_metadata or a first turn", number) from None
    return totals


@dataclass(frozen=True)
class StyleResult:
    scores: list[ArenaScore]
    coefficients: dict[str, float]  # style coefficient per feature (on the z-scored features)
    left_out: list[str] = field(default_factory=list)  # models without a scored battle with style data


def style_controlled_scores(
    battles: dict[str, list[tuple[QuestionId, list[str | None]]]],
    style: dict[str, dict[QuestionId, dict[str, float]]],
    baseline: str,
    control: str,
    *,
    rounds: int = 100,
    seed: int = 42,
    weight: int = WEIGHT,
    avg_tokens: dict[str, int | None] | None = None,
) -> StyleResult:
    """Scores with style held equal, as upstream's --style-control and its two variants.

    For each battle the style features are (baseline − model) / (baseline + model + 1)
    per total, z-scored over all battles; the fit adds one coefficient per
    feature to the Bradley–Terry model (`bradley_terry.fit_with_features`).
    """
    import numpy as np

    from mtb.stats import bradley_terry as bt

    names = STYLE_CONTROLS[control]

    def usable(model: str) -> bool:
        return any(
            (GAME_1 if g == 0 else GAME_2).get(label or "") is not None
            and question_id in style[model]
            and question_id in style[baseline]
            for question_id, labels in battles[model]
            for g, label in enumerate(labels[:2])
        )

    candidates = sorted(m for m in battles if m != baseline)
    # A model without a scored battle has no estimate: it gets no row (never 50.0 from no data).
    models = [m for m in candidates if usable(m)]
    left_out = [m for m in candidates if m not in models]
    index = {m: i for i, m in enumerate([baseline, *models], start=0)}
    rows: dict[tuple[int, QuestionId, float], float] = {}
    for model in models:
        for question_id, labels in battles[model]:
            for table, label in zip((GAME_1, GAME_2), labels, strict=False):
                verdict = table.get(label or "")
                if verdict is None or question_id not in style[model] or question_id not in style[baseline]:
                    continue
                side, strong = verdict
                y = {"baseline": 1.0, "model": 0.0, "tie": 0.5}[side]
                key = (index[model], question_id, y)
                rows[key] = rows.get(key, 0.0) + (weight if strong else 1)
    if not rows:
        raise UsageError(f"no battles with style data against {baseline}")
    keys = list(rows)
    model_of = np.array([k[0] for k in keys])
    outcome = np.array([k[2] for k in keys])
    counts = np.array([rows[k] for k in keys])
    a = np.array([[style[baseline][k[1]][n] for n in names] for k in keys])
    b = np.array([[style[[baseline, *models][k[0]]][k[1]][n] for n in names] for k in keys])
    diff = (a - b) / (a + b + 1)
    # z-scored over every battle (weighted by how often each occurs), as upstream does over its rows.
    mean = np.average(diff, axis=0, weights=counts)
    std = np.sqrt(np.average((diff - mean) ** 2, axis=0, weights=counts))
    features = (diff - mean) / np.where(std > 0, std, 1.0)

    n_models = len(models) + 1
    point = bt.fit_with_features(model_of, features, outcome, counts, n_models)
    rng = np.random.default_rng(seed)
    total = int(counts.sum())
    samples = []
    for redrawn in rng.multinomial(total, counts / counts.sum(), size=rounds):
        present = redrawn > 0
        fitted = bt.fit_with_features(
            model_of[present], features[present], outcome[present], redrawn[present], n_models, start=point
        )
        samples.append(fitted[:n_models] - fitted[0])
    low, high = np.percentile(np.array(samples), [2.5, 97.5], axis=0)
    ln10 = np.log(bt.ELO_BASE)
    strength = (point[:n_models] - point[0]) * ln10
    tokens = avg_tokens or {}
    scores = [ArenaScore(baseline, 50.0, 50.0, 50.0, tokens.get(baseline), 0.0)]
    for model in models:
        i = index[model]
        scores.append(
            ArenaScore(
                model=model,
                score=float(100 * bt.win_rate(strength[i])),
                ci_low=float(100 * bt.win_rate(low[i] * ln10)),
                ci_high=float(100 * bt.win_rate(high[i] * ln10)),
                avg_tokens=tokens.get(model),
                battles=float(counts[model_of == i].sum()),
            )
        )
    scores.sort(key=lambda s: s.score, reverse=True)
    coefficients = {n: float(c) for n, c in zip(names, point[n_models:], strict=True)}
    return StyleResult(scores, coefficients, left_out)


def style_totals_by_model(paths: dict[str, Path]) -> dict[str, dict[QuestionId, dict[str, float]]]:
    return dict(zip(paths, map_files(load_style_totals, list(paths.values())), strict=True))
