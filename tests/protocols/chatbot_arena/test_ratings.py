"""Chatbot Arena ratings against FastChat 0.2.36's method (tests/fastchat_arena_reference.py),
and the count bootstrap against row resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fastchat_arena_reference as reference
from mtb.protocols.chatbot_arena import ratings
from mtb.protocols.chatbot_arena.battles import read_battles
from mtb.protocols.chatbot_arena.records import Battles, Filters
from mtb.protocols.chatbot_arena.report import compute
from mtb.testing.arena_battles import generate, load_rows


@pytest.fixture(scope="module")
def battle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arena") / "battles.json"
    generate(path, 12_000, 12, seed=3)
    return path


def test_ratings_match_fastchat_0_2_36(battle_file: Path) -> None:
    rows = reference.sorted_by_time(reference.anonymous(load_rows(battle_file)))
    expected_bt = reference.bt_mle_with_tie(rows)
    expected_online = reference.online_elo(rows)
    expected_battles = reference.battle_counts(rows)
    ours, _ = compute(read_battles(battle_file, Filters()), rounds=100, seed=0)
    assert {r.model for r in ours} == set(expected_bt)
    for r in ours:
        assert abs(r.rating - expected_bt[r.model]) < 1.0, r.model
        assert abs(r.online_elo - expected_online[r.model]) < 0.01, r.model
        assert r.battles == expected_battles[r.model]
    # The order is by rating, and a model's rank counts the models clearly above it.
    assert [r.rating for r in ours] == sorted((r.rating for r in ours), reverse=True)
    assert ours[0].rank == 1


@pytest.mark.slow
def test_bounds_agree_with_fastchats_row_bootstrap(battle_file: Path) -> None:
    rows = reference.sorted_by_time(reference.anonymous(load_rows(battle_file)))
    theirs = reference.bootstrap_bounds(rows, rounds=100, seed=1)
    ours, _ = compute(read_battles(battle_file, Filters()), rounds=100, seed=0)
    diffs = [abs(r.ci_low - theirs[r.model][0]) for r in ours] + [  # type: ignore[operator]
        abs(r.ci_high - theirs[r.model][1])
        for r in ours  # type: ignore[operator]
    ]
    width = np.mean([r.ci_high - r.ci_low for r in ours])  # type: ignore[operator]
    # Two independent 100-round bootstraps differ by about a tenth of the interval's width per
    # bound (1.5 points at 200k battles); the 2.0 / 8.0 points, scaled to this file.
    assert np.mean(diffs) <= 0.15 * width
    assert max(diffs) <= 0.6 * width


def _row_bootstrap(battles: Battles, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Our fit on battles resampled row by row, as FastChat's battles.sample(frac=1, replace=True)."""
    m = len(battles.models)
    out = np.full((rounds, m), np.nan)
    for r in range(rounds):
        idx = rng.integers(0, len(battles), len(battles))
        picked = Battles(
            battles.models,
            battles.model_a[idx],
            battles.model_b[idx],
            battles.outcome[idx],
            battles.tstamp[idx],
        )
        cells = ratings.cells_of(picked)
        y, n = cells.score_and_weight()
        out[r] = ratings.to_ratings(ratings.fit(cells.a, cells.b, y, n, m)[:m])
    return out


def test_count_bootstrap_matches_row_resampling(battle_file: Path) -> None:
    """Multinomial draws over count cells and row resampling give the same spread of ratings.

    Over 8 seeds × 100 rounds each, per model: the bootstrap means agree to within a small
    fraction of the standard deviation, and the standard deviations (interval widths) agree
    within 6%; a bootstrap that, say, drew every cell independently (Poisson) or drew half as
    many battles would fail (the check on a deliberately wrong draw below shows it can fail).
    """
    battles = read_battles(battle_file, Filters())
    m = len(battles.models)
    cells = ratings.cells_of(battles)
    y, n = cells.score_and_weight()
    start = ratings.fit(cells.a, cells.b, y, n, m)
    by_counts, by_rows = [], []
    for seed in range(8):
        by_counts.append(ratings.bt_bootstrap(cells, m, 100, np.random.default_rng(seed), start))
        by_rows.append(_row_bootstrap(battles, 100, np.random.default_rng(100 + seed)))
    counts, rows = np.concatenate(by_counts), np.concatenate(by_rows)
    sd_counts, sd_rows = counts.std(axis=0), rows.std(axis=0)
    assert np.all(np.abs(counts.mean(axis=0) - rows.mean(axis=0)) < 0.25 * sd_rows)
    assert np.mean(np.abs(sd_counts / sd_rows - 1)) < 0.06
    # 95% interval widths, as reported, agree too.
    w_counts = np.subtract(*np.percentile(counts, [97.5, 2.5], axis=0))
    w_rows = np.subtract(*np.percentile(rows, [97.5, 2.5], axis=0))
    assert np.mean(np.abs(w_counts / w_rows - 1)) < 0.08
    # The same comparison catches a wrong bootstrap: half the battles widens intervals by √2.
    half = ratings.Cells(cells.a, cells.b, cells.counts)
    rng = np.random.default_rng(0)
    wrong = []
    for _ in range(100):
        draw = rng.multinomial(int(cells.counts.sum()) // 2, (cells.counts / cells.counts.sum()).ravel())
        yy, nn = half.score_and_weight(draw.reshape(cells.counts.shape))
        wrong.append(ratings.to_ratings(ratings.fit(cells.a, cells.b, yy, nn, m)[:m]))
    assert np.mean(np.abs(np.std(wrong, axis=0) / sd_rows - 1)) > 0.2


def test_elo_rating_is_the_median_of_bootstrap_online_elo(battle_file: Path) -> None:
    battles = read_battles(battle_file, Filters())
    results, _ = compute(battles, rating="elo", rounds=50, seed=0)
    rng = np.random.default_rng(0)
    boot = ratings.elo_bootstrap(
        battles.model_a[np.argsort(battles.tstamp, kind="stable")],
        battles.model_b[np.argsort(battles.tstamp, kind="stable")],
        battles.outcome[np.argsort(battles.tstamp, kind="stable")],
        len(battles.models),
        50,
        rng,
    )
    medians = dict(zip(battles.models, np.floor(np.median(boot, axis=0) + 0.5), strict=True))
    for r in results:
        assert r.rating == medians[r.model]
        assert r.ci_low is not None and r.ci_high is not None and r.ci_low <= r.rating <= r.ci_high


def test_one_bootstrap_round_of_online_elo_is_fastchats_compute_elo_on_that_resample() -> None:
    """The vectorised bootstrap computes, per round, exactly the sequential Elo of its resample."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 5, 400).astype(np.int32)
    b = ((a + 1 + rng.integers(0, 4, 400)) % 5).astype(np.int32)
    outcome = rng.integers(0, 3, 400).astype(np.int8)
    boot = ratings.elo_bootstrap(a, b, outcome, 5, 3, np.random.default_rng(9))
    idx = np.random.default_rng(9).integers(0, 400, size=(400, 3))  # the same draws, one block
    for r in range(3):
        expected = ratings.online_elo(a[idx[:, r]], b[idx[:, r]], outcome[idx[:, r]], 5)
        np.testing.assert_allclose(boot[r], expected, atol=1e-9)


def test_anchor_and_rank() -> None:
    low, high = np.array([10.0, 5.0, 0.0]), np.array([20.0, 12.0, 4.0])
    assert ratings.rank_of(low, high).tolist() == [1, 1, 3]
    shifted = ratings.anchor_shift(np.array([1000.0, 1100.0]), ["x", "llama-13b"], ratings.FASTCHAT_ANCHOR)
    assert shifted.tolist() == [700.0, 800.0]
