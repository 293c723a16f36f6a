"""mtb.stats.quality: the benchmark-quality measures on small hand-made cases."""

from __future__ import annotations

import pytest

from mtb.stats.quality import Rated, apart, kendall_tau_b, quality, share_above, spearman


def test_intervals_apart_only_when_they_do_not_touch() -> None:
    assert apart((0, 1), (2, 3)) and apart((2, 3), (0, 1))
    assert not apart((0, 2), (2, 3)) and not apart((0, 5), (1, 2))


def test_rank_correlations_with_ties() -> None:
    x, y = [1.0, 2.0, 2.0, 4.0, 5.0], [1.0, 3.0, 2.0, 2.0, 5.0]
    stats = pytest.importorskip("scipy.stats")
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None  # one side constant: undefined


def test_measures_by_hand() -> None:
    bench = {"a": Rated(10, 9, 11), "b": Rated(5, 4, 6), "c": Rated(5.5, 5, 7), "d": Rated(1, 0, 2)}
    ref = {"a": Rated(100, 95, 105), "b": Rated(50, 45, 55), "c": Rated(200, 190, 210), "z": Rated(0, 0, 0)}
    rounds = {"a": [10, 11, 9, 10], "b": [5, 6, 4, 5], "c": [6, 5, 7, 4]}
    q = quality(bench, ref, rounds)
    assert q.models == ["a", "b", "c"] and q.pairs == 3
    # Benchmark intervals: a-b apart, a-c apart, b-c overlap.
    assert q.separability == pytest.approx(2 / 3)
    # Reference separates all three pairs: a>b (bench a>b: +1), a<c (bench a>c: −1), b<c (overlap: 0).
    assert q.agreement == pytest.approx(0.0)
    # p(a>b) = 1, y = 1; p(a>c) = 1, y = 0; p(b>c) = 2/4 (rounds 2 and 4), y = 0.
    assert q.brier == pytest.approx((0 + 1 + (2 / 4) ** 2) / 3)
    assert share_above([1, 2], [2, 1]) == 0.5
    assert quality(bench, ref).brier is None
