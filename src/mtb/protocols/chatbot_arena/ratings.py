"""Chatbot Arena ratings: FastChat 0.2.36's Bradley–Terry fit and online Elo, computed on counts.

Bradley–Terry. FastChat 0.2.36 (`compute_elo_mle_with_tie`) duplicates every
battle, writes a tie as an A-win in one copy and a B-win in the other, and fits
scikit-learn's `LogisticRegression(fit_intercept=False)` (L2, C=1) with +ln10 at
model_a and −ln10 at model_b. Because the log-loss is linear in the label, that
objective is exactly

    Σ_cells 2·n·BCE(y, σ(ln10·(β_a − β_b) + f·γ)) + ½‖β, γ‖²

over the distinct (model_a, model_b, outcome) cells, with y = 1, ½ or 0 and n the
cell's count. It is fitted here by Newton's method on those few thousand cells
instead of a dense matrix of two rows per battle. Rating = 400·β + 1000.

Bootstrap. Resampling battles with replacement draws the cell counts from a
multinomial with the observed proportions, so drawing the counts directly gives
the same distribution of fits (tests/protocols/chatbot_arena/test_ratings.py
shows it empirically; docs/benchmarks.md).

Online Elo (`compute_elo`): K=4, scale 400, base 10, initial 1000, in the order
given, a tie counting ½. Its bootstrap (`--rating elo`) runs every round at once:
one vectorised step per battle position over all rounds' rating rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtb.protocols.chatbot_arena.records import A_WINS, B_WINS, TIE, Battles
from mtb.tables import record_of

K, SCALE, BASE, INIT = 4.0, 400.0, 10.0, 1000.0
LN_BASE = math.log(BASE)
FASTCHAT_ANCHOR = ("llama-13b", 800.0)  # 0.2.36 shifts every rating so that llama-13b = 800
ELO_CHUNK = 4096  # battle positions per block of bootstrap indices


@dataclass(frozen=True)
class Cells:
    """Distinct (model_a, model_b) pairs with how often A won, B won, and they tied."""

    a: np.ndarray
    b: np.ndarray
    counts: np.ndarray  # (pairs, 3): A_WINS, B_WINS, TIE columns

    def score_and_weight(self, counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        c = self.counts if counts is None else counts
        n = c.sum(axis=1).astype(np.float64)
        y = np.divide(c[:, A_WINS] + 0.5 * c[:, TIE], n, out=np.zeros_like(n), where=n > 0)
        return y, n


def cells_of(battles: Battles) -> Cells:
    m = len(battles.models)
    code = (battles.model_a.astype(np.int64) * m + battles.model_b) * 3 + battles.outcome
    counts = np.bincount(code, minlength=m * m * 3).reshape(m * m, 3)
    pairs = np.flatnonzero(counts.sum(axis=1))
    return Cells(a=pairs // m, b=pairs % m, counts=counts[pairs])


def fit(
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    n_models: int,
    features: np.ndarray | None = None,
    start: np.ndarray | None = None,
    *,
    iterations: int = 100,
    tol: float = 1e-10,
) -> np.ndarray:
    """β (one per model) then γ (one per feature column), minimising FastChat 0.2.36's objective."""
    k = 0 if features is None else features.shape[1]
    size = n_models + k
    params = np.zeros(size) if start is None else start.copy()
    pair_code = a * n_models + b
    for _ in range(iterations):
        beta = params[:n_models]
        eta = LN_BASE * (beta[a] - beta[b])
        if features is not None:
            eta = eta + features @ params[n_models:]
        p = np.exp(-np.logaddexp(0.0, -eta))  # the logistic function, without overflow
        g = 2.0 * weight * (p - y)
        h = 2.0 * weight * p * (1.0 - p)
        gradient = params.copy()  # the L2 penalty ½‖params‖²
        gradient[:n_models] += LN_BASE * (
            np.bincount(a, g, minlength=n_models) - np.bincount(b, g, minlength=n_models)
        )
        hessian = np.eye(size)
        w = np.bincount(pair_code, h, minlength=n_models * n_models).reshape(n_models, n_models)
        block = np.diag(w.sum(axis=0) + w.sum(axis=1)) - w - w.T
        hessian[:n_models, :n_models] += LN_BASE**2 * block
        if features is not None:
            gradient[n_models:] += features.T @ g
            hf = features * h[:, None]
            cross = np.stack(
                [
                    np.bincount(a, hf[:, j], minlength=n_models)
                    - np.bincount(b, hf[:, j], minlength=n_models)
                    for j in range(k)
                ],
                axis=1,
            )
            hessian[:n_models, n_models:] += LN_BASE * cross
            hessian[n_models:, :n_models] += LN_BASE * cross.T
            hessian[n_models:, n_models:] += features.T @ hf
        step = np.linalg.solve(hessian, gradient)
        largest = float(np.max(np.abs(step))) if step.size else 0.0
        if largest > 2.0:  # damped far from the optimum, where a full Newton step overshoots
            step *= 2.0 / largest
        params -= step
        if largest < tol:
            break
    return params


def to_ratings(beta: np.ndarray) -> np.ndarray:
    ratings: np.ndarray = SCALE * beta + INIT
    return ratings


def anchor_shift(ratings: np.ndarray, models: list[str], anchor: tuple[str, float] | None) -> np.ndarray:
    """`ratings` shifted so that the anchor model has its rating (none: unchanged)."""
    if anchor is None or anchor[0] not in models:
        return ratings
    shifted: np.ndarray = ratings + (anchor[1] - ratings[..., models.index(anchor[0])][..., None])
    return shifted


def bootstrap_counts(cells: Cells, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """(rounds, pairs, 3) cell counts, each a multinomial draw of the total with the observed shares."""
    flat = cells.counts.reshape(-1)
    total = int(flat.sum())
    draws = rng.multinomial(total, flat / total, size=rounds)
    return draws.reshape(rounds, *cells.counts.shape)


def bt_bootstrap(
    cells: Cells, n_models: int, rounds: int, rng: np.random.Generator, start: np.ndarray
) -> np.ndarray:
    """(rounds, models) unanchored ratings; NaN for a model with no battle in that round."""
    out = np.full((rounds, n_models), np.nan)
    for r, counts in enumerate(bootstrap_counts(cells, rounds, rng)):
        y, n = cells.score_and_weight(counts)
        beta = fit(cells.a, cells.b, y, n, n_models, start=start)[:n_models]
        present = (
            np.bincount(cells.a, n, minlength=n_models) + np.bincount(cells.b, n, minlength=n_models)
        ) > 0
        out[r, present] = to_ratings(beta[present])
    return out


def scores_of(outcome: np.ndarray) -> np.ndarray:
    """Model A's score per battle: 1 for a win, 0 for a loss, ½ for a tie."""
    table = np.zeros(3)
    table[A_WINS], table[B_WINS], table[TIE] = 1.0, 0.0, 0.5
    scores: np.ndarray = table[outcome]
    return scores


def online_elo(model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray, n_models: int) -> np.ndarray:
    """FastChat's `compute_elo` in the order given; NaN for a model that never played."""
    ratings = [INIT] * n_models
    seen = np.zeros(n_models, dtype=bool)
    seen[model_a] = True
    seen[model_b] = True
    for a, b, sa in zip(model_a.tolist(), model_b.tolist(), scores_of(outcome).tolist(), strict=True):
        ra, rb = ratings[a], ratings[b]
        ea = 1 / (1 + BASE ** ((rb - ra) / SCALE))
        eb = 1 / (1 + BASE ** ((ra - rb) / SCALE))
        ratings[a] = ra + K * (sa - ea)
        ratings[b] = rb + K * (1 - sa - eb)
    result = np.array(ratings)
    result[~seen] = np.nan
    return result


def elo_bootstrap(
    model_a: np.ndarray,
    model_b: np.ndarray,
    outcome: np.ndarray,
    n_models: int,
    rounds: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(rounds, models) online Elo over resampled battles in resampled order, as FastChat's
    `battles.sample(frac=1, replace=True)`; every round advances one battle per numpy step."""
    n = model_a.size
    flat = np.full(rounds * n_models, INIT)
    offsets = np.arange(rounds) * n_models
    seen = np.zeros(rounds * n_models, dtype=bool)
    sa_all = scores_of(outcome)
    for begin in range(0, n, ELO_CHUNK):
        size = min(ELO_CHUNK, n - begin)
        idx = rng.integers(0, n, size=(size, rounds))
        ia = model_a[idx] + offsets
        ib = model_b[idx] + offsets
        sa = sa_all[idx]
        seen[ia.ravel()] = True
        seen[ib.ravel()] = True
        for t in range(size):
            xa, xb = ia[t], ib[t]
            ra, rb = flat[xa], flat[xb]
            delta = K * (sa[t] - 1 / (1 + BASE ** ((rb - ra) / SCALE)))
            flat[xa] = ra + delta
            flat[xb] = rb - delta  # 1 − sa − e_b = −(sa − e_a): the same update, one power fewer
    flat[~seen] = np.nan
    return flat.reshape(rounds, n_models)


def style_features(style_a: np.ndarray, style_b: np.ndarray) -> np.ndarray:
    """Arena's style features: (a − b) / (a + b + 1) of tokens, headers, lists and bold, z-normalised."""
    diff = (style_a - style_b) / (style_a + style_b + 1.0)
    std = diff.std(axis=0)
    normalised: np.ndarray = (diff - diff.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return normalised


def rank_of(ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """1 + the number of models whose lower bound is above this model's upper bound."""
    ranks: np.ndarray = 1 + (ci_low[None, :] > ci_high[:, None]).sum(axis=1)
    return ranks


# One model's line of the results: here, below both the report that computes it and the
# plot that draws it.
@dataclass(frozen=True)
class ModelRating:
    model: str
    rating: float
    ci_low: float | None
    ci_high: float | None
    rank: int | None
    battles: int
    online_elo: float

    def to_json(self) -> dict[str, Any]:
        return record_of(self, "model rating ci_low ci_high rank battles online_elo")
