"""A zero-cost smoke run of the whole flow with the in-process fake provider: no server, no key, no data.

Nothing here is a hard-coded score: every check recomputes what the fake says
for the request that was made, or reads back what it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from helpers import TINY_JUDGE_PROMPTS, TINY_QUESTIONS, read_jsonl, write_tiny_benchmark
from mtb.backends.fake import fake_reply, parse_fake_model
from mtb.cli.main import app
from mtb.protocols.mt_bench.verdicts import parse_rating

PROMPTS = {p["name"]: p for p in TINY_JUDGE_PROMPTS}


def generate(runner: CliRunner, data: Path, model: str, model_id: str) -> None:
    args = ["--provider", "fake", "--model", model, "--model-id", model_id, "--data-dir", str(data)]
    result = runner.invoke(app, ["generate", *args, "--no-progress"])
    assert result.exit_code == 0, result.stderr


def judge(runner: CliRunner, data: Path, *args: str) -> Result:
    common = ["--judge-provider", "fake", "--data-dir", str(data), "--no-progress"]
    return runner.invoke(app, ["judge", *common, *args])


def test_generate_judge_and_results_with_the_fake(runner: CliRunner, tmp_path: Path) -> None:
    data = write_tiny_benchmark(tmp_path / "data")
    generate(runner, data, "fake", "alpha")
    generate(runner, data, "fake/echo", "beta")
    answers = read_jsonl(data / "mt_bench" / "model_answer" / "beta.jsonl")
    # fake/echo repeats each turn's question: the conversation really went through the engine.
    assert [a["choices"][0]["turns"] for a in answers] == [
        [f"echo: {turn}" for turn in q["turns"]] for q in TINY_QUESTIONS
    ]

    result = judge(runner, data, "--judge-model", "fake", "--first-n", "2", "--model-list", "alpha", "beta")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(data / "mt_bench" / "model_judgment" / "fake_single.jsonl")
    assert len(rows) == 2 * 2 * 2  # models × questions × turns
    assert {r["question_id"] for r in rows} == {1, 2}
    for row in rows:
        judge_name, prompt_name = row["judge"]
        assert judge_name == "fake"
        system = PROMPTS[prompt_name]["system_prompt"]
        messages = [{"role": "system", "content": system}, {"role": "user", "content": row["user_prompt"]}]
        # What the fake answers for exactly the request mtb made, and the score mtb read from it.
        assert row["judgment"] == fake_reply(messages, parse_fake_model("fake"))
        assert row["score"] == parse_rating(row["judgment"])
        assert 1 <= row["score"] <= 10

    shown = runner.invoke(
        app, ["results", "--judge-model", "fake", "--data-dir", str(data), "--format", "json"]
    )
    assert shown.exit_code == 0, shown.stderr
    by_model = {entry["model"]: entry for entry in json.loads(shown.stdout)}
    for model in ("alpha", "beta"):
        scores = [r["score"] for r in rows if r["model"] == model]
        assert by_model[model]["average"] == pytest.approx(sum(scores) / len(scores))
        assert by_model[model]["judgments"] == len(scores)


def test_pairwise_with_a_fixed_winner(runner: CliRunner, tmp_path: Path) -> None:
    data = write_tiny_benchmark(tmp_path / "data", answer_models=["alpha", "beta"])
    result = judge(runner, data, "--mode", "pairwise-all", "--judge-model", "fake/always-A", "--first-n", "2")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(data / "mt_bench" / "model_judgment" / "fake_always-A_pair.jsonl")
    assert len(rows) == 2 * 2  # questions × turns, one pair
    for row in rows:
        # Assistant A always wins: model_1 in game 1, model_2 in game 2 (positions swapped).
        assert (row["g1_winner"], row["g2_winner"]) == ("model_1", "model_2")
        assert row["g1_judgment"].endswith("[[A]]") and row["g2_judgment"].endswith("[[A]]")


def test_the_fake_refuses_a_real_judges_name(runner: CliRunner, tmp_path: Path) -> None:
    data = write_tiny_benchmark(tmp_path / "data", answer_models=["alpha"])
    result = judge(runner, data, "--model-list", "alpha")  # and the benchmark's judge name, gpt-4
    assert result.exit_code == 2
    assert "the fake provider has no model 'gpt-4'" in result.stderr
    assert not (data / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl").exists()


def test_a_bad_retry_delay_is_a_usage_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_tiny_benchmark(tmp_path / "data")
    monkeypatch.setenv("MTB_RETRY_BASE_DELAY", "soon")
    result = runner.invoke(
        app, ["generate", "--provider", "fake", "--model", "fake", "--data-dir", str(data), "--no-progress"]
    )
    assert result.exit_code == 2
    assert "MTB_RETRY_BASE_DELAY must be a number of seconds, 0 or more (got 'soon')" in result.stderr
    assert not list((data / "mt_bench" / "model_answer").iterdir())
