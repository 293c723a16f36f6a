"""FastChat 0.2.36's Arena ratings, written from its documented behaviour (anchor-behavior.md PART E)
as plainly as possible: one row per battle, a dense design matrix, scikit-learn's logistic regression.

It is the yardstick mtb's fit on counts is checked against (tests and bench/arena_ratings.py),
so it follows the description literally and is slow on purpose.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

K, SCALE, BASE, INIT = 4, 400, 10, 1000


def anonymous(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["anony"]]


def sorted_by_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["tstamp"])


def online_elo(rows: list[dict[str, Any]]) -> dict[str, float]:
    rating: dict[str, float] = {}
    for r in rows:
        a, b, w = r["model_a"], r["model_b"], r["winner"]
        ra, rb = rating.get(a, INIT), rating.get(b, INIT)
        ea = 1 / (1 + BASE ** ((rb - ra) / SCALE))
        eb = 1 / (1 + BASE ** ((ra - rb) / SCALE))
        if w == "model_a":
            sa = 1.0
        elif w == "model_b":
            sa = 0.0
        elif w in ("tie", "tie (bothbad)"):
            sa = 0.5
        else:
            raise ValueError(w)
        rating[a] = ra + K * (sa - ea)
        rating[b] = rb + K * (1 - sa - eb)
    return rating


def bt_mle_with_tie(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Every battle twice; Y=1 for an A win in both copies, for a tie in the first copy only."""
    from sklearn.linear_model import LogisticRegression

    models = sorted({r["model_a"] for r in rows} | {r["model_b"] for r in rows})
    index = {m: i for i, m in enumerate(models)}
    n = len(rows)
    x = np.zeros((2 * n, len(models)))
    y = np.zeros(2 * n)
    for copy in range(2):
        for i, r in enumerate(rows):
            row = copy * n + i
            x[row, index[r["model_a"]]] = +math.log(BASE)
            x[row, index[r["model_b"]]] = -math.log(BASE)
            if r["winner"] == "model_a" or (copy == 0 and r["winner"] in ("tie", "tie (bothbad)")):
                y[row] = 1.0
    fit = LogisticRegression(fit_intercept=False)  # L2, C=1: scikit-learn's defaults
    fit.fit(x, y)
    ratings = SCALE * fit.coef_[0] + INIT
    if "llama-13b" in index:
        ratings += 800 - ratings[index["llama-13b"]]
    return dict(zip(models, ratings.tolist(), strict=True))


def battle_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["model_a"]] = counts.get(r["model_a"], 0) + 1
        counts[r["model_b"]] = counts.get(r["model_b"], 0) + 1
    return counts


def bootstrap_bounds(rows: list[dict[str, Any]], rounds: int, seed: int) -> dict[str, tuple[float, float]]:
    """Rows resampled with replacement, refitted each round; the 2.5% and 97.5% quantiles."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        picked = [rows[i] for i in rng.integers(0, len(rows), len(rows))]
        for model, rating in bt_mle_with_tie(picked).items():
            samples.setdefault(model, []).append(rating)
    return {m: (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))) for m, v in samples.items()}
