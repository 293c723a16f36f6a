"""Bradley–Terry on counts, checked on tables small enough to work out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtb.stats import bradley_terry as bt


def counts(pairs: list[tuple[int, int, float, float]]) -> bt.PairCounts:
    first, second, w1, w2 = zip(*pairs, strict=True)
    return bt.PairCounts(np.array(first), np.array(second), np.array(w1, float), np.array(w2, float))


def test_two_models_have_the_closed_form_log_odds() -> None:
    # 30 wins to 10: the MLE of P(win) is 0.75, so θ = log(3) and the win rate is 75%.
    theta = bt.fit(counts([(1, 0, 30, 10)]), 2, anchor=0)
    assert theta[0] == 0
    assert theta[1] == pytest.approx(math.log(3), abs=1e-6)
    assert bt.win_rate(theta[1]) == pytest.approx(0.75, abs=1e-6)
    assert bt.to_elo(theta)[1] == pytest.approx(1000 + 400 * math.log10(3), abs=1e-3)


def test_anchor_choice_only_shifts_strengths() -> None:
    table = counts([(0, 1, 12, 8), (1, 2, 9, 11), (0, 2, 15, 5)])
    by_0 = bt.fit(table, 3, anchor=0)
    by_2 = bt.fit(table, 3, anchor=2)
    assert by_2[2] == 0 and by_0[0] == 0
    assert by_0 - by_0[2] == pytest.approx(by_2, abs=1e-6)


def test_a_cycle_matches_an_independent_minorize_maximize_fit() -> None:
    table = counts([(0, 1, 12, 8), (1, 2, 9, 11), (0, 2, 15, 5), (2, 3, 7, 7), (1, 3, 3, 9)])
    theta = bt.fit(table, 4, anchor=0)
    # Hunter's MM algorithm: p_i ← W_i / Σ_j n_ij / (p_i + p_j).
    wins = np.zeros(4)
    n = np.zeros((4, 4))
    for i, j, wi, wj in zip(table.first, table.second, table.first_wins, table.second_wins, strict=True):
        wins[i] += wi
        wins[j] += wj
        n[i, j] += wi + wj
        n[j, i] += wi + wj
    p = np.ones(4)
    for _ in range(5000):
        p = wins / (n / (p[:, None] + p[None, :])).sum(axis=1)
        p /= p[0]
    assert theta == pytest.approx(np.log(p), abs=1e-6)


def test_weights_are_counts() -> None:
    # A strong verdict counted three times equals three ordinary wins.
    assert bt.fit(counts([(1, 0, 3 + 1, 2)]), 2, anchor=0)[1] == pytest.approx(math.log(2), abs=1e-6)


def test_a_model_that_never_lost_stays_finite() -> None:
    theta = bt.fit(counts([(1, 0, 20, 0), (2, 0, 10, 10)]), 3, anchor=0)
    assert np.isfinite(theta).all()
    assert bt.win_rate(theta[1]) > 0.999
    assert theta[2] == pytest.approx(0, abs=1e-6)


def test_style_fit_equals_scikit_learns_objective_on_duplicated_rows() -> None:
    """Upstream's style control: L2 (C=1) logistic regression, no intercept, every battle row twice."""
    rng = np.random.default_rng(0)
    n_models, k, n = 4, 2, 300
    model = rng.integers(1, n_models, n)
    features = rng.normal(size=(n, k))
    outcome = rng.choice([0.0, 0.5, 1.0], n)
    weight = rng.integers(1, 4, n).astype(float)
    fitted = bt.fit_with_features(model, features, outcome, weight, n_models)
    # The same objective on upstream's explicit rows, by plain Newton on a dense design matrix.
    rows, labels = [], []
    for r in range(n):
        x = np.zeros(n_models + k)
        x[0], x[model[r]] = np.log(10), -np.log(10)
        x[n_models:] = features[r]
        for _ in range(int(weight[r])):
            first, second = (1.0, 1.0) if outcome[r] == 1 else (0.0, 0.0) if outcome[r] == 0 else (1.0, 0.0)
            rows += [x, x]
            labels += [first, second]
    design, y = np.array(rows), np.array(labels)
    beta = np.zeros(n_models + k)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (p - y) + beta
        hessian = (design.T * (p * (1 - p))) @ design + np.eye(n_models + k)
        beta -= np.linalg.solve(hessian, gradient)
    assert fitted == pytest.approx(beta, abs=1e-7)
