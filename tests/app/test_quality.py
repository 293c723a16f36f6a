"""mtb.app.quality: reading each family's `mtb results --format json` records as scores with intervals."""

from __future__ import annotations

import pytest

from mtb.app.quality import QualitySpec, benchmark_scores
from mtb.errors import UsageError


def test_mt_bench_single_records() -> None:
    records = [
        {"model": "a", "average": 7.5, "ci": {"average": [7.0, 8.0]}},
        {"model": "b", "average": None, "excluded": 160},  # no rated verdict: no score to place
    ]
    found = benchmark_scores(records, "mt_bench")
    assert list(found) == ["a"] and found["a"].interval == (7.0, 8.0) and found["a"].value == 7.5


def test_arena_hard_v2_needs_one_category() -> None:
    row = {"model": "m", "score": 40.0, "ci_low": 35.0, "ci_high": 45.0}
    records = [{**row, "category": "hard_prompt"}, {**row, "category": "creative_writing"}]
    with pytest.raises(UsageError, match="--category"):
        benchmark_scores(records, "arena-hard-v2.0")
    assert benchmark_scores(records[:1], "arena-hard-v2.0")["m"].value == 40.0


def test_results_without_intervals_are_refused() -> None:
    with pytest.raises(UsageError, match="intervals"):
        benchmark_scores([{"model": "m", "win": 3, "loss": 1}], "mt_bench")


def test_exactly_one_reference() -> None:
    with pytest.raises(UsageError, match="--reference"):
        QualitySpec()
    with pytest.raises(UsageError, match="--reference"):
        QualitySpec(reference="a.json", reference_battles="b.json")  # type: ignore[arg-type]
