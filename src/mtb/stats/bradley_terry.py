"""Bradley–Terry strengths from win counts, and bootstrap intervals by resampling the counts.

Fitting on per-pair counts, instead of one row per battle as arena-hard-auto
does with a logistic regression, gives the same maximum-likelihood strengths:
the likelihood only depends on how often each side of each pair won. A tie is
half a win for each side (arena-hard-auto writes it as one win in one of two
copies of every battle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ELO_SCALE = 400.0
ELO_BASE = 10.0
ELO_ANCHOR = 1000.0
# Keeps a model that never lost (or never won) at a finite, extreme strength
# instead of letting Newton's method run to infinity; far below anything a
# model with both wins and losses is affected by.
RIDGE = 1e-8


@dataclass(frozen=True)
class PairCounts:
    """Wins of `first[k]` over `second[k]`, and the reverse, per pair k (ties already split in halves)."""

    first: np.ndarray  # model index
    second: np.ndarray
    first_wins: np.ndarray
    second_wins: np.ndarray


def fit(
    counts: PairCounts, n_models: int, anchor: int, iterations: int = 100, tol: float = 1e-10
) -> np.ndarray:
    """Strengths θ (natural-log odds scale) with θ[anchor] = 0, by Newton's method."""
    free = np.array([m for m in range(n_models) if m != anchor])
    total = counts.first_wins + counts.second_wins
    # Start from each model's overall log-odds of winning (half a win and half
    # a loss added, so that it is finite): close to the answer in few steps.
    won, lost = np.full(n_models, 0.5), np.full(n_models, 0.5)
    np.add.at(won, counts.first, counts.first_wins)
    np.add.at(won, counts.second, counts.second_wins)
    np.add.at(lost, counts.first, counts.second_wins)
    np.add.at(lost, counts.second, counts.first_wins)
    theta: np.ndarray = np.log(won / lost)
    theta -= theta[anchor]
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(theta[counts.second] - theta[counts.first]))
        # Gradient of the log-likelihood, minus the small ridge pulling towards 0.
        residual = counts.first_wins - total * p
        gradient = np.zeros(n_models)
        np.add.at(gradient, counts.first, residual)
        np.add.at(gradient, counts.second, -residual)
        gradient -= RIDGE * theta
        curvature = total * p * (1.0 - p)
        hessian = np.zeros((n_models, n_models))
        np.add.at(hessian, (counts.first, counts.first), -curvature)
        np.add.at(hessian, (counts.second, counts.second), -curvature)
        np.add.at(hessian, (counts.first, counts.second), curvature)
        np.add.at(hessian, (counts.second, counts.first), curvature)
        hessian -= RIDGE * np.eye(n_models)
        step = np.linalg.solve(hessian[np.ix_(free, free)], gradient[free])
        theta[free] -= step
        if np.max(np.abs(step)) < tol:
            break
    return theta


def to_elo(theta: np.ndarray) -> np.ndarray:
    """Elo-style ratings (400 points = a factor of 10 in odds), the anchor at 1000."""
    ratings: np.ndarray = ELO_ANCHOR + ELO_SCALE * theta / np.log(ELO_BASE)
    return ratings


def win_rate(theta: Any, theta_baseline: float = 0.0) -> Any:
    """Predicted probability of beating the baseline."""
    return 1.0 / (1.0 + np.exp(theta_baseline - np.asarray(theta)))


def fit_with_features(
    model: np.ndarray,
    features: np.ndarray,
    outcome: np.ndarray,
    weight: np.ndarray,
    n_models: int,
    *,
    anchor: int = 0,
    iterations: int = 50,
    tol: float = 1e-9,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Contextual Bradley–Terry: every battle pits `anchor` against `model[r]`, with style features.

    This is arena-hard-auto's style control, fitted by Newton's method on its own
    objective: scikit-learn's default logistic regression (no intercept, L2 with
    C=1 on every coefficient) over battle rows that each appear twice, where
    the logit of the anchor winning is ln(10)·(β_anchor − β_model) + features·γ
    and a tie is a win in one copy and a loss in the other (outcome 0.5 here).
    `weight` counts how many times each row occurs. Returns β (models) then γ.
    """
    k = features.shape[1]
    ln10 = np.log(ELO_BASE)
    params = np.zeros(n_models + k) if start is None else start.copy()
    w2 = 2.0 * weight  # every battle row appears twice in upstream's design
    for _ in range(iterations):
        beta, gamma = params[:n_models], params[n_models:]
        eta = ln10 * (beta[anchor] - beta[model]) + features @ gamma
        p = 1.0 / (1.0 + np.exp(-eta))
        r = w2 * (p - outcome)  # d(loss)/d(eta) per row
        s = w2 * p * (1.0 - p)  # d²(loss)/d(eta)² per row
        gradient = params.copy()  # the L2 penalty, 0.5·||params||²
        per_model_r = np.bincount(model, weights=r, minlength=n_models)
        gradient[anchor] += ln10 * r.sum()
        gradient[:n_models] -= ln10 * per_model_r
        gradient[n_models:] += features.T @ r
        hessian = np.eye(n_models + k)
        per_model_s = np.bincount(model, weights=s, minlength=n_models)
        hessian[anchor, anchor] += ln10**2 * s.sum()
        hessian[np.arange(n_models), np.arange(n_models)] += ln10**2 * per_model_s
        hessian[anchor, :n_models] -= ln10**2 * per_model_s
        hessian[:n_models, anchor] -= ln10**2 * per_model_s
        # The anchor's own rows were counted on both sides above; put its diagonal right.
        hessian[anchor, anchor] += ln10**2 * per_model_s[anchor]
        sf = features * s[:, None]
        # Per model sums of each feature column (bincount is far faster than np.add.at here).
        cross = np.stack([np.bincount(model, weights=sf[:, j], minlength=n_models) for j in range(k)], axis=1)
        hessian[anchor, n_models:] += ln10 * sf.sum(axis=0)
        hessian[n_models:, anchor] += ln10 * sf.sum(axis=0)
        hessian[:n_models, n_models:] -= ln10 * cross
        hessian[n_models:, :n_models] -= ln10 * cross.T
        hessian[n_models:, n_models:] += features.T @ sf
        step = np.linalg.solve(hessian, gradient)
        params -= step
        if np.max(np.abs(step)) < tol:
            break
    return params


def fit_against_anchor(
    model: np.ndarray,
    features: np.ndarray,
    outcome: np.ndarray,
    weight: np.ndarray,
    n_models: int,
    *,
    iterations: int = 100,
    tol: float = 1e-9,
    ridge: float = RIDGE,
) -> np.ndarray:
    """Bradley–Terry with style features, every battle `model[r]` against one anchor fixed at 0.

    The logit of model[r] winning row r is θ[model[r]] + features[r]·γ, fitted
    by maximum likelihood on fractional outcomes (1 win, 0.5 tie, 0 loss) with
    no penalty but `ridge` (which only keeps a model that never lost finite):
    arena-hard-auto v2.0's style-control objective (binary cross-entropy on
    logits over one-hot model columns, the baseline's left out), fitted by
    Newton's method. `weight` counts how many times each row occurs.
    Returns θ (one per model index) then γ.
    """
    k = features.shape[1]
    params = np.zeros(n_models + k)
    design_models = np.arange(n_models)
    for _ in range(iterations):
        theta, gamma = params[:n_models], params[n_models:]
        eta = theta[model] + features @ gamma
        p = np.exp(-np.logaddexp(0.0, -eta))  # the logistic function, without overflow
        r = weight * (p - outcome)
        s = weight * p * (1.0 - p)
        gradient = ridge * params
        gradient[:n_models] += np.bincount(model, weights=r, minlength=n_models)
        gradient[n_models:] += features.T @ r
        hessian = ridge * np.eye(n_models + k)
        hessian[design_models, design_models] += np.bincount(model, weights=s, minlength=n_models)
        sf = features * s[:, None]
        cross = np.zeros((n_models, k))
        for j in range(k):
            cross[:, j] = np.bincount(model, weights=sf[:, j], minlength=n_models)
        hessian[:n_models, n_models:] += cross
        hessian[n_models:, :n_models] += cross.T
        hessian[n_models:, n_models:] += features.T @ sf
        step = np.linalg.solve(hessian, gradient)
        # Damped: far from the optimum (a model that won every battle) a full step overshoots.
        largest = np.max(np.abs(step)) if step.size else 0.0
        if largest > 5.0:
            step *= 5.0 / largest
        params -= step
        if largest < tol:
            break
    return params
