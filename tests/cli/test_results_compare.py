"""`mtb results --compare` per category, and placement among the file's other models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import write_tiny_benchmark
from mtb.cli.main import app

# Tiny benchmark: question 1 and 3 are writing, 2 is roleplay. Scores per (question, turn).
SCORES = {
    "a": {1: (8, 6), 2: (9, 9), 3: (4, 4)},
    "b": {1: (6, 6), 2: (5, 5), 3: (4, 2)},
    "c": {1: (10, 10), 2: (10, 10), 3: (10, 10)},
}


@pytest.fixture
def judged(tmp_path: Path) -> Path:
    root = write_tiny_benchmark(tmp_path / "data")
    rows = [
        {
            "question_id": qid,
            "model": model,
            "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
            "user_prompt": "p",
            "judgment": f"[[{score}]]",
            "score": score,
            "turn": turn,
            "tstamp": 0.0,
        }
        for model, by_question in SCORES.items()
        for qid, pair in by_question.items()
        for turn, score in zip((1, 2), pair, strict=True)
    ]
    path = root / "mt_bench/model_judgment/gpt-4_single.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_compare_gives_per_category_differences_with_intervals(runner: CliRunner, judged: Path) -> None:
    args = ["results", "--data-dir", str(judged), "--compare", "a", "b"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    comparison = json.loads(result.stdout)
    assert comparison["difference"] == pytest.approx(2.0)  # 40/6 - 28/6
    writing, roleplay = comparison["categories"]["writing"], comparison["categories"]["roleplay"]
    assert list(comparison["categories"]) == ["writing", "roleplay"]  # the manifest's order
    assert writing["difference"] == pytest.approx(1.0) and writing["questions"] == 2  # 5.5 - 4.5
    # Question 1 alone gives +1.0, question 3 alone +1.0: every paired resample gives +1.0.
    assert writing["ci_low"] == pytest.approx(1.0) and writing["ci_high"] == pytest.approx(1.0)
    assert roleplay == {
        "difference": pytest.approx(4.0),
        "ci_low": pytest.approx(4.0),
        "ci_high": pytest.approx(4.0),
        "questions": 1,
        "significant": True,
    }
    table = runner.invoke(app, args)
    assert "By category: a − b" in table.stdout and "roleplay" in table.stdout
    flat = runner.invoke(app, [*args, "--format", "csv"]).stdout.splitlines()
    assert flat[0] == "category,difference,ci_low,ci_high,questions"
    assert flat[1].startswith("all,2.0") and flat[3].startswith("roleplay,4.0")


def test_placement_among_the_other_models_of_the_file(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json", "--no-ci"])
    assert result.exit_code == 0, result.stderr
    placed = {row["model"]: row["placement"] for row in json.loads(result.stdout)}
    assert placed == {
        "c": "above every other model here; next: a (6.67)",
        "a": "between c (10.00) and b (4.67)",
        "b": "below every other model here; next: a (6.67)",
    }
    # With --model-list, the listed model is still placed among all of the file's models, on stderr too.
    listed = runner.invoke(app, ["results", "--data-dir", str(judged), "--model-list", "a"])
    assert "a (6.67): between c (10.00) and b (4.67)" in listed.stderr


def test_placement_follows_the_data_not_a_list(runner: CliRunner, judged: Path) -> None:
    path = judged / "mt_bench/model_judgment/gpt-4_single.jsonl"
    kept = [line for line in path.read_text().splitlines() if '"model": "c"' not in line]
    path.write_text("\n".join(kept) + "\n")
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json", "--no-ci"])
    placed = {row["model"]: row["placement"] for row in json.loads(result.stdout)}
    assert placed["a"] == "above every other model here; next: b (4.67)"


def test_a_tie_is_a_tie(runner: CliRunner, judged: Path) -> None:
    path = judged / "mt_bench/model_judgment/gpt-4_single.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    twin = [{**r, "model": "a-twin"} for r in rows if r["model"] == "a"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + twin))
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json", "--no-ci"])
    placed = {row["model"]: row["placement"] for row in json.loads(result.stdout)}
    assert placed["a"] == "tied with a-twin (6.67); next above: c (10.00); next below: b (4.67)"


def test_placement_compares_only_models_judged_on_the_same_questions(runner: CliRunner, judged: Path) -> None:
    """A model run on one question is placed by the others' averages on that question, not on all three."""
    path = judged / "mt_bench/model_judgment/gpt-4_single.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    quick = [{**r, "model": "quick", "score": 7} for r in rows if r["model"] == "a" and r["question_id"] == 1]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + quick))
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json", "--no-ci"])
    placed = {row["model"]: row["placement"] for row in json.loads(result.stdout)}
    # On question 1: a 7.00 (8, 6), b 6.00, c 10.00; quick's 7.00 ties a there, not a's 6.67 overall.
    assert placed["quick"] == "tied with a (7.00); next above: c (10.00); next below: b (6.00) " + (
        "(on the same 2 question turns)"
    )
    # The others are not placed against quick, judged on fewer of their questions.
    assert placed["a"] == "between c (10.00) and b (4.67)"


def test_compare_of_a_model_with_itself_is_a_usage_error(runner: CliRunner, judged: Path) -> None:
    # It printed "+0.000 over 3 questions, not a significant difference": a measurement of nothing.
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--compare", "a", "a"])
    assert result.exit_code == 2
    assert "--compare needs two different models, got 'a' twice" in result.stderr
    assert result.stdout == ""
