"""Score aggregation: FastChat's pairwise numbers, bias diagnostics, bootstrap intervals."""

from __future__ import annotations

import pytest

from mtb.protocols.mt_bench.records import PairJudgment, SingleJudgment
from mtb.protocols.mt_bench.scoring import bootstrap_intervals, compare_models, pair_scores, single_scores


def pair(m1: str, m2: str, g1: str, g2: str, qid: int = 81, turn: int = 1) -> PairJudgment:
    return PairJudgment(qid, m1, m2, g1, g2, ("gpt-4", "pair-v2"), "", "", "", "", turn, 0.0)


def test_pairwise_counts_follow_show_result() -> None:
    judgments = [
        pair("a", "base", "model_1", "model_1", 81),  # a wins
        pair("a", "base", "model_2", "model_2", 82),  # a loses
        pair("a", "base", "tie", "tie", 83),  # tie
        pair("a", "base", "model_1", "model_2", 84),  # flipped with position: a tie
        pair("a", "base", "tie", "model_1", 85),  # game 1 tie: a tie
        pair("a", "base", "model_1", "error", 86),  # left out
        pair("b", "base", "model_1", "model_1", 81),
        pair("a", "b", "model_1", "model_1", 81),  # not against the baseline: ignored
    ]
    scores = {s.model: s for s in pair_scores(judgments, baseline="base")}
    assert set(scores) == {"a", "b"}  # the baseline gets no row
    a = scores["a"]
    assert (a.win, a.loss, a.tie, a.excluded) == (1, 1, 3, 1)
    assert a.win_rate == pytest.approx(1 / 5)
    assert a.loss_rate == pytest.approx(1 / 5)
    assert a.win_rate_adjusted == pytest.approx((1 + 1.5) / 5)
    assert a.inconsistent_rate == pytest.approx(2 / 5)
    assert [s.model for s in pair_scores(judgments, baseline="base")] == ["b", "a"]


def test_first_position_preference_and_longer_answer() -> None:
    # Game 1 shows model_1 first; game 2 shows model_2 first.
    judgments = [
        pair("a", "b", "model_1", "model_2", 81),  # both games won by the first answer
        pair("a", "b", "model_1", "model_1", 82),  # a wins consistently: first, then second position
        pair("a", "b", "tie", "tie", 83),
    ]
    lengths = {("a", 81): 10, ("b", 81): 5, ("a", 82): 100, ("b", 82): 10}
    (score_a, score_b) = sorted(
        pair_scores(judgments, baseline=None, answer_length=lambda m, q, t: lengths.get((m, q))),
        key=lambda s: s.model,
    )
    assert score_a.first_position_rate == pytest.approx(3 / 4)
    assert score_a.longer_answer_win_rate == 1.0  # only match 82 was decided, by the longer answer
    assert score_a.inconsistent_rate == pytest.approx(1 / 3)
    assert score_b.first_position_rate == score_a.first_position_rate


def single(model: str, qid: int, turn: int, score: float) -> SingleJudgment:
    return SingleJudgment(qid, model, ("gpt-4", "single-v1"), "", "", score, turn, 0.0)


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_agreement() -> None:
    varied = [single("m", q, t, (q * 7 + t * 3) % 10 + 1) for q in range(80) for t in (1, 2)]
    steady = [single("m", q, t, 6) for q in range(80) for t in (1, 2)]
    wide = bootstrap_intervals(varied, 2, rounds=500, seed=0, model="m")
    flat = bootstrap_intervals(steady, 2, rounds=500, seed=0, model="m")
    mean = sum(j.score for j in varied) / len(varied)
    assert wide["average"][0] < mean < wide["average"][1]
    assert set(wide) == {"average", "turn_1", "turn_2"}
    assert flat["average"] == (6.0, 6.0)
    assert bootstrap_intervals(varied, 2, rounds=500, seed=0, model="m") == wide


def test_paired_comparison_sees_a_consistent_small_gap() -> None:
    # b is always exactly 0.5 better on the same questions: unpaired intervals would overlap,
    # the paired difference is exactly -0.5 in every resample.
    a = [single("a", q, t, (q % 9) + 1) for q in range(80) for t in (1, 2)]
    b = [single("b", q, t, (q % 9) + 1.5) for q in range(80) for t in (1, 2)]
    result = compare_models(a + b, "a", "b", turns=2, rounds=300, seed=0)
    assert result.difference == pytest.approx(-0.5)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.5, -0.5))
    assert result.significant
    scores = {s.model: s for s in single_scores(a + b, {}, turns=2)}
    assert scores["b"].average - scores["a"].average == pytest.approx(0.5)
