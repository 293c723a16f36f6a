"""Cost before, during and after a run: the plan's estimate, --max-cost, the run log and `results`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import bpe_openai
from typer.testing import CliRunner

from helpers import TINY_JUDGE_PROMPTS, judge_responder, model_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, Reply

PRICE_FLAGS = ("--price-in", "1", "--price-out", "2")
CAP = ("--max-cost", "1")
GPT4 = (30.0, 60.0)  # USD per million input / output tokens, as in prices/prices.toml


def plan_json(result: Any) -> dict[str, Any]:
    """The plan JSON: alone on stdout for a dry run, on stderr before the calls of a real run."""
    stderr = result.stdout if result.stdout.lstrip().startswith("{") else result.stderr
    start = stderr.index("{")
    plan, _ = json.JSONDecoder().raw_decode(stderr[start:])
    assert isinstance(plan, dict)
    return plan


def cost_log(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "mt_bench" / "runs" / "cost.jsonl"
    return read_jsonl(path) if path.exists() else []


# -- before: the estimate ----------------------------------------------------------


def test_dry_run_estimates_the_cost_of_judging_all_31_published_models(
    runner: CliRunner, data_dir: Path
) -> None:
    result = runner.invoke(app, ["judge", "--dry-run", "--judge-model", "gpt-4", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.stderr
    plan = plan_json(result)
    assert len(plan["models"]) == 31
    assert plan["judge_calls"] == 31 * 80 * 2
    tokens = plan["estimated_tokens"]
    # Every prompt holds a question and an answer: hundreds of tokens each, not a handful.
    assert 300 * plan["judge_calls"] < tokens["input"] < 3000 * plan["judge_calls"]
    assert tokens["output"] > 0
    assert 100 < plan["estimated_cost_usd"] < 400
    expected = (tokens["input"] * GPT4[0] + tokens["output"] * GPT4[1]) / 1e6
    assert abs(plan["estimated_cost_usd"] - expected) < 0.01
    assert plan["price"]["entry"] == "gpt-4" and plan["price"]["source"].startswith("https://")
    assert any("cl100k" in note for note in plan["estimate_notes"])
    assert not (data_dir / "mt_bench" / "model_judgment").exists()  # a dry run writes nothing


def test_the_estimate_learns_reply_length_from_past_judgments(runner: CliRunner, tmp_path: Path) -> None:
    root = write_bench(tmp_path / "data", questions=4, models=1)
    first = runner.invoke(app, ["judge", "--dry-run", "--data-dir", str(root)])
    default = plan_json(first)["estimated_tokens"]["output"]
    folder = root / "mt_bench" / "model_judgment"
    folder.mkdir()
    long_reply = " ".join(["word"] * 600)  # 600 tokens under cl100k
    rows = [
        {
            "question_id": 1,
            "model": "other",
            "judge": ["gpt-4", "single-v1"],
            "user_prompt": "p",
            "judgment": long_reply,
            "score": 5,
            "turn": 1,
            "tstamp": 0,
        }
    ]
    (folder / "gpt-4_single.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    second = runner.invoke(app, ["judge", "--dry-run", "--data-dir", str(root), "--model-list", "model-0"])
    plan = plan_json(second)
    assert plan["estimated_tokens"]["output"] == plan["judge_calls"] * 600 != default
    assert any("median of this judge's past replies" in note for note in plan["estimate_notes"])


def test_an_unknown_judge_gets_no_estimate_and_a_note_naming_the_price_flags(
    runner: CliRunner, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=3, models=1)
    result = runner.invoke(app, ["judge", "--dry-run", "--judge-model", "my-judge", "--data-dir", str(root)])
    assert result.exit_code == 0, result.stderr
    plan = plan_json(result)
    assert plan["estimated_cost_usd"] is None
    assert plan["estimated_tokens"]["input"] > 0
    assert any("--price-in" in n and "--price-out" in n for n in plan["estimate_notes"])

    priced = runner.invoke(
        app,
        ["judge", "--dry-run", "--judge-model", "my-judge", "--data-dir", str(root), *PRICE_FLAGS],
    )
    plan = plan_json(priced)
    tokens = plan["estimated_tokens"]
    assert plan["estimated_cost_usd"] == round((tokens["input"] * 1 + tokens["output"] * 2) / 1e6, 2)


def test_max_cost_without_a_price_is_a_usage_error_before_any_call(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=3, models=1)
    result = runner.invoke(
        app,
        ["judge", "--judge-model", "my-judge", "--judge-api-base", server.url, "--data-dir", str(root), *CAP],
    )
    assert result.exit_code == 2
    assert "--price-in" in result.stderr and "my-judge" in result.stderr
    assert server.chat_requests() == []
    for bad in ("0", "-1", "nan"):
        result = runner.invoke(app, ["judge", "--data-dir", str(root), "--max-cost", bad])
        assert result.exit_code == 2, (bad, result.stderr)
        assert "--max-cost" in result.stderr


# -- during: --max-cost --------------------------------------------------------------

PADDING = "The answer goes on with a few plain words of detail so that the prompt has some length. "


LONG = PADDING * 3


def write_bench(root: Path, *, questions: int = 80, models: int = 8) -> Path:
    """An MT-bench layout with `questions` two-turn questions and `models` models' answers (no reference)."""
    bench = root / "mt_bench"
    (bench / "model_answer").mkdir(parents=True)
    (root / "judge_prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in TINY_JUDGE_PROMPTS))
    rows = [
        {"question_id": q, "category": "writing", "turns": [f"Question {q}, turn one?", f"Turn two of {q}?"]}
        for q in range(1, questions + 1)
    ]
    (bench / "question.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for m in range(models):
        answers = [
            {
                "question_id": q,
                "answer_id": f"{m}-{q}",
                "model_id": f"model-{m}",
                "choices": [{"index": 0, "turns": [f"model-{m} on {q}: {LONG}", f"again {q}: {LONG}"]}],
                "tstamp": 0,
            }
            for q in range(1, questions + 1)
        ]
        path = bench / "model_answer" / f"model-{m}.jsonl"
        path.write_text("".join(json.dumps(a) + "\n" for a in answers))
    return root


def test_max_cost_stops_gpt4_judging_and_a_rerun_completes_without_duplicates(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data")  # 8 models × 80 questions × 2 turns = 1,280 judgments
    server.responder = judge_responder  # the server reports usage in every reply
    args = ["judge", "--judge-model", "gpt-4", "--judge-api-base", server.url, "--data-dir", str(root)]
    args += ["--parallel", "64", "--no-progress"]
    output = root / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"

    capped = runner.invoke(app, [*args, "--max-cost", "0.50"])
    assert capped.exit_code == 1, capped.stderr
    assert "--max-cost" in capped.stderr
    first = len(server.chat_requests())
    (run,) = cost_log(root)
    assert run["stopped_by_max_cost"] and run["max_cost_usd"] == 0.5
    assert run["requests"] == first and run["replies_without_usage"] == 0
    # Each request in flight holds its worst case against the cap (its prompt and all 2,048
    # max_tokens at gpt-4's price, about $0.14), however many --parallel allows: the spend
    # never passes the cap (was: up to $0.51), and the run stops once one more would not fit.
    said = " ".join(capped.stderr.split())
    found = re.search(r"up to \$([0-9.]+) with all of its max_tokens", said)
    assert found, said
    worst = float(found[1])
    assert 0.12 < worst < 0.16
    assert 0.50 - worst < run["cost_usd"] <= 0.50
    assert 50 < first < 100
    kept = read_jsonl(output)
    assert len(kept) == first  # every paid reply was written: none in flight was thrown away

    rerun = runner.invoke(app, args)
    assert rerun.exit_code == 0, rerun.stderr
    assert len(server.chat_requests()) == 1280  # the rerun sent only what was missing
    rows = read_jsonl(output)
    keys = [(r["model"], r["question_id"], r["turn"]) for r in rows]
    assert len(rows) == 1280 and len(set(keys)) == 1280
    assert len(cost_log(root)) == 2

    shown = runner.invoke(app, ["results", "--data-dir", str(root), "--no-ci"])
    assert shown.exit_code == 0, shown.stderr
    total = sum(r["cost_usd"] for r in cost_log(root))
    assert "cost of the judgments shown: " in shown.stderr and "from 2 logged run(s)" in shown.stderr
    assert f"${total:,.2f}" in shown.stderr


def test_max_cost_holds_against_a_server_counting_more_tokens_than_the_prompt_has(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Was: each request reserved its expected reply at mtb's own count of the prompt, and
    # a server counting more took the spend past the cap ($0.0512 against $0.05).
    root = write_bench(tmp_path / "data", questions=40, models=1)
    args = ["judge", "--judge-model", "gpt-4o", "--data-dir", str(root), "--parallel", "16"]
    with OpenAIServer(responder=judge_responder, usage_scale=3.0) as server:
        result = runner.invoke(app, [*args, "--judge-api-base", server.url, "--max-cost", "0.05"])
        sent = len(server.chat_requests())
    assert result.exit_code == 1, result.stderr
    (run,) = cost_log(root)
    assert run["stopped_by_max_cost"] and run["requests"] == sent
    assert 0.02 < run["cost_usd"] <= 0.05


def test_a_cap_below_one_request_sends_nothing(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=2, models=1)
    result = runner.invoke(
        app,
        ["judge", "--judge-api-base", server.url, "--data-dir", str(root), "--max-cost", "0.0001"],
    )
    assert result.exit_code == 1
    assert "--max-cost $0.00 reached" in result.stderr
    assert server.chat_requests() == []


def test_replies_without_usage_are_counted_here(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=3, models=1)
    reply = "Fine. Rating: [[6]]"
    server.responder = lambda request: Reply(text=reply, no_usage=True)
    result = runner.invoke(app, ["judge", "--judge-api-base", server.url, "--data-dir", str(root)])
    assert result.exit_code == 0, result.stderr
    (run,) = cost_log(root)
    assert run["replies_without_usage"] == run["requests"] == 6
    assert run["output_tokens"] == 6 * len(bpe_openai.get_encoding("cl100k_base").encode(reply))
    assert run["input_tokens"] > 6 * 50
    assert run["cost_usd"] == round((run["input_tokens"] * 30 + run["output_tokens"] * 60) / 1e6, 6)
    assert "6 replies without usage" in result.stderr


def test_server_usage_is_what_is_counted(runner: CliRunner, server: OpenAIServer, tmp_path: Path) -> None:
    root = write_bench(tmp_path / "data", questions=3, models=1)
    server.responder = lambda request: Reply(text="Rating: [[6]]", usage=(1000, 100))
    result = runner.invoke(app, ["judge", "--judge-api-base", server.url, "--data-dir", str(root)])
    assert result.exit_code == 0, result.stderr
    (run,) = cost_log(root)
    assert (run["input_tokens"], run["output_tokens"]) == (6000, 600)
    assert run["cost_usd"] == 6 * (1000 * 30 + 100 * 60) / 1e6
    assert "cost: 6,000 input + 600 output tokens, $0.2160" in result.stderr


# -- generation through an API ------------------------------------------------------------


def test_generate_prints_an_estimate_and_stops_at_max_cost(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=40, models=0)
    server.responder = model_responder
    args = ["generate", "--model", "gpt-4", "--api-base", server.url, "--data-dir", str(root)]
    args += ["--parallel", "8", "--no-progress"]

    capped = runner.invoke(app, [*args, "--max-cost", "0.02", "--max-tokens", "64"])
    assert capped.exit_code == 1, capped.stderr
    assert "estimate:" in capped.stderr and "about $" in capped.stderr
    assert "--max-cost" in capped.stderr
    sent = len(server.chat_requests())
    assert 0 < sent < 80
    (run,) = cost_log(root)
    assert run["command"] == "generate" and run["model"] == "gpt-4" and run["stopped_by_max_cost"]
    assert run["cost_usd"] <= 0.021
    answers = root / "mt_bench" / "model_answer" / "gpt-4.jsonl"
    done = read_jsonl(answers)
    assert all(len(a["choices"][0]["turns"]) == 2 for a in done)
    # Questions stopped after their first turn keep it for the next run (mtb.replies).
    partial = answers.with_name("gpt-4.jsonl.partial")
    kept = len(partial.read_text().splitlines()) if partial.exists() else 0
    assert sent == 2 * len(done) + kept

    rerun = runner.invoke(app, [*args, "--max-tokens", "64"])
    assert rerun.exit_code == 0, rerun.stderr
    rows = read_jsonl(answers)
    assert sorted(r["question_id"] for r in rows) == list(range(1, 41))
    # Only what was not paid for the first time was asked: two turns for the questions not
    # begun, the second turn for those stopped after the first.
    assert len(server.chat_requests()) - sent == 2 * (40 - len(done)) - kept
    assert not partial.exists()


def test_cost_flags_are_for_api_models(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--model-path", str(tmp_path), "--max-cost", "1"])
    assert result.exit_code == 2
    assert "--max-cost" in result.stderr and "API models" in result.stderr


# -- after: what the judgments shown cost, per model ----------------------------------


def judge_at_a_fixed_usage(request: Any) -> Reply:
    """100 prompt and 20 reply tokens a judgment: $0.0042 at gpt-4's prices."""
    return Reply(text=judge_responder(request).text, usage=(100, 20))


def test_results_shows_a_models_own_judgments_cost_not_the_files(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=2, models=3)
    server.responder = judge_at_a_fixed_usage
    base = ["judge", "--judge-api-base", server.url, "--data-dir", str(root), "--no-progress"]
    assert runner.invoke(app, [*base, "--model-list", "model-0"]).exit_code == 0  # 4 judgments
    assert runner.invoke(app, [*base, "--model-list", "model-1", "model-2"]).exit_code == 0  # 8, one run
    assert sum(r["cost_usd"] for r in cost_log(root)) == 12 * 0.0042  # the file's cost: $0.0504

    alone = runner.invoke(app, ["results", "--model-list", "model-0", "--data-dir", str(root), "--no-ci"])
    assert alone.exit_code == 0, alone.stderr
    assert "cost: model-0: $0.0168 for 4 judgment(s) (1 run)" in alone.stderr
    assert "$0.0504" not in alone.stderr and "shared" not in alone.stderr

    shared = runner.invoke(app, ["results", "--model-list", "model-1", "--data-dir", str(root), "--no-ci"])
    assert "cost: model-1: $0.0168 for 4 judgment(s) (1 run, shared with other judgments: $0.0336" in (
        shared.stderr
    )

    every = runner.invoke(app, ["results", "--data-dir", str(root), "--no-ci"])
    assert "cost of the judgments shown: $0.0504 from 2 logged run(s)" in every.stderr
    compared = runner.invoke(
        app, ["results", "--compare", "model-0", "model-1", "--data-dir", str(root), "--rounds", "10"]
    )
    assert compared.exit_code == 0, compared.stderr
    assert compared.stderr.count("cost of the judgments shown: $0.0336") == 1


def test_the_estimate_is_unchanged_by_another_judges_past_run(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_bench(tmp_path / "data", questions=3, models=1)
    dry_run = ["judge", "--dry-run", "--judge-model", "gpt-4", "--data-dir", str(root)]
    before = plan_json(runner.invoke(app, dry_run))
    server.responder = lambda request: Reply(text="Rating: [[5]]")  # a smoke run's short replies
    other = ["judge", "--judge-model", "fake-judge", "--judge-api-base", server.url, "--data-dir", str(root)]
    assert runner.invoke(app, [*other, "--no-progress"]).exit_code == 0
    after = plan_json(runner.invoke(app, dry_run))
    assert after["estimated_tokens"] == before["estimated_tokens"]
    assert after["estimated_cost_usd"] == before["estimated_cost_usd"]
    assert any("the benchmark's default" in note for note in after["estimate_notes"])
