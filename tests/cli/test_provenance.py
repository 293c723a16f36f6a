"""How every score was made (run files, --strict), judge variance (--samples) and placement,
end to end through the CLI against the HTTP test server. No published data needed."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import judge_responder, model_responder, read_jsonl, write_tiny_benchmark
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply, completion_body

KEY = "sk-secret-judge-key-1234"


def judge(runner: CliRunner, server: OpenAIServer, root: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            "judge",
            "--judge-api-base",
            server.url,
            "--judge-api-key",
            KEY,
            "--data-dir",
            str(root),
            "--no-progress",
            *extra,
        ],
    )


def results(runner: CliRunner, root: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["results", "--data-dir", str(root), *extra])


def judgments_path(root: Path) -> Path:
    return root / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"


def serving(version: str, rating: int = 7):  # type: ignore[no-untyped-def]
    """A judge whose replies say which model version answered (as OpenAI's do: gpt-4 → gpt-4-0613)."""

    def respond(request: RecordedRequest) -> Reply:
        return Reply(body=completion_body(f"Fine. Rating: [[{rating}]]", version))

    return respond


def test_generate_and_judge_write_a_run_file_that_every_record_points_to(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_tiny_benchmark(tmp_path / "data")
    server.responder = model_responder
    result = runner.invoke(
        app,
        [
            "generate",
            "--model",
            "m1",
            "--api-base",
            server.url + "?token=abc",
            "--api-key",
            KEY,
            "--data-dir",
            str(root),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.stderr
    answers = read_jsonl(root / "mt_bench/model_answer/m1.jsonl")
    answer_runs = read_jsonl(root / "mt_bench/model_answer/m1.runs.jsonl")
    started, finished = answer_runs
    assert {a["run_id"] for a in answers} == {started["run_id"]} == {finished["run_id"]}
    settings = started["settings"]
    host = server.url.split("//")[1].split("/")[0]
    assert settings["endpoint"] == host  # the host only: no path, no query, no key
    assert (settings["model"], settings["provider"], settings["max_tokens"]) == ("m1", "openai", 1024)
    assert started["command"] == "generate" and started["mtb_version"] and started["started"].endswith("Z")
    assert finished["completed"] == 3 and finished["failed"] == 0
    # The run file is no model: judging lists m1 only.
    server.responder = serving("gpt-4-0613")
    result = judge(runner, server, root)
    assert result.exit_code == 0, result.stderr
    assert '"models": [\n    "m1"\n  ]' in result.stderr
    runs_file = root / "mt_bench/model_judgment/gpt-4_single.runs.jsonl"
    assert KEY not in runs_file.read_text() and "token=abc" not in repr(answer_runs)
    run = read_jsonl(runs_file)
    assert run[0]["settings"]["model"] == "gpt-4" and run[0]["settings"]["temperature"] == 0
    assert set(run[0]["settings"]["prompts"]) == {"single-v1", "single-v1-multi-turn"}
    assert all(len(h) == 64 for h in run[0]["settings"]["prompts"].values())
    assert run[1]["served_models"] == {"gpt-4-0613": 6}
    assert {r["run_id"] for r in read_jsonl(judgments_path(root))} == {run[0]["run_id"]}
    # A rerun with nothing to do sends nothing and adds no run.
    before = len(server.chat_requests())
    assert judge(runner, server, root).exit_code == 0
    assert len(server.chat_requests()) == before
    assert len(runs_file.read_text().splitlines()) == 2


def test_results_warn_and_strict_refuses_judgments_of_another_judge_version(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_tiny_benchmark(tmp_path / "data", ["m1", "m2"])
    server.responder = serving("gpt-4-0613", 7)
    assert judge(runner, server, root, "--model-list", "m1").exit_code == 0
    server.responder = serving("gpt-4-0125-preview", 8)
    assert judge(runner, server, root, "--model-list", "m2").exit_code == 0

    result = results(runner, root, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "made under different settings" in result.stderr
    assert "gpt-4-0125-preview (6 judgment(s)) vs gpt-4-0613 (6 judgment(s))" in result.stderr.replace(
        "\n", " "
    ) or "gpt-4-0613 (6 judgment(s)) vs gpt-4-0125-preview (6 judgment(s))" in result.stderr.replace(
        "\n", " "
    )
    strict = results(runner, root, "--strict")
    assert strict.exit_code == 2
    assert "--strict" in strict.stderr and "served_models" in strict.stderr and not strict.stdout
    # One run's judgments alone are consistent.
    alone = results(runner, root, "--strict", "--model-list", "m1", "--format", "json")
    assert alone.exit_code == 0, alone.stderr
    assert "different settings" not in alone.stderr


def test_another_judge_prompt_is_a_conflict(runner: CliRunner, server: OpenAIServer, tmp_path: Path) -> None:
    root = write_tiny_benchmark(tmp_path / "data", ["m1", "m2"])
    server.responder = judge_responder
    assert judge(runner, server, root, "--model-list", "m1").exit_code == 0
    prompts = root / "judge_prompts.jsonl"
    prompts.write_text(
        prompts.read_text().replace("Rate the answer from 1 to 10", "Rate the answer, 1 to 10")
    )
    assert judge(runner, server, root, "--model-list", "m2").exit_code == 0
    result = results(runner, root)
    assert result.exit_code == 0
    assert "prompt single-v1:" in result.stderr and "prompt single-v1-multi-turn" not in result.stderr
    assert results(runner, root, "--strict").exit_code == 2


def test_published_records_without_provenance_are_unknown_not_a_conflict(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_tiny_benchmark(tmp_path / "data", ["m1", "m2"])
    server.responder = judge_responder
    assert judge(runner, server, root, "--model-list", "m1").exit_code == 0
    # m2's judgments as a published file has them: FastChat's fields only.
    published = [
        {
            "question_id": q,
            "model": "m2",
            "judge": ["gpt-4", "single-v1" if t == 1 else "single-v1-multi-turn"],
            "user_prompt": "p",
            "judgment": "[[5]]",
            "score": 5,
            "turn": t,
            "tstamp": 0.0,
        }
        for q in (1, 2, 3)
        for t in (1, 2)
    ]
    with judgments_path(root).open("a") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in published)
    result = results(runner, root, "--strict", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "6 judgment(s) carry no record of how they were made" in result.stderr
    assert "not a conflict by itself" in result.stderr


def varied_judge() -> object:
    """A judge whose rating changes from call to call: 4, 5, 6, 7, 8, 4, ..."""
    counter = itertools.count()

    def respond(request: RecordedRequest) -> Reply:
        return Reply(text=f"Rating: [[{next(counter) % 5 + 4}]]")

    return respond


def test_samples_records_each_judgment_and_results_give_the_judges_spread(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_tiny_benchmark(tmp_path / "data", ["m1"])
    server.responder = varied_judge()  # type: ignore[assignment]
    result = judge(runner, server, root, "--samples", "3", "--parallel", "1")
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) == 3 * 2 * 3
    rows = read_jsonl(judgments_path(root))
    assert len(rows) == 18
    # Sample 0 is written as FastChat's record (no field); the others say which they are.
    assert sorted(r.get("sample", 0) for r in rows) == [0] * 6 + [1] * 6 + [2] * 6
    assert "sample" not in rows[0] and rows[1]["sample"] == 1
    by_item: dict[tuple[int, int], list[float]] = defaultdict(list)
    for r in rows:
        by_item[(r["question_id"], r["turn"])].append(r["score"])
    assert any(len(set(scores)) > 1 for scores in by_item.values())  # the judge did vary
    # A rerun does nothing; asking for more samples makes only the new ones.
    assert judge(runner, server, root, "--samples", "3").exit_code == 0
    assert len(server.chat_requests()) == 18
    assert judge(runner, server, root, "--samples", "4").exit_code == 0
    assert len(server.chat_requests()) == 24
    rows = read_jsonl(judgments_path(root))
    by_item = defaultdict(list)
    for r in rows:
        by_item[(r["question_id"], r["turn"])].append(r["score"])

    shown = results(runner, root, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    item_means = [statistics.mean(s) for s in by_item.values()]
    assert row["average"] == pytest.approx(statistics.mean(item_means))
    assert row["judgments"] == 6 and row["samples"] == 24
    assert row["judge_sd"] == pytest.approx(statistics.mean(statistics.stdev(s) for s in by_item.values()))
    low, high = row["ci"]["average"]
    assert low <= row["average"] <= high
    assert "the judge's own spread" in shown.stderr


def test_samples_one_writes_fastchats_records(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    root = write_tiny_benchmark(tmp_path / "data", ["m1"])
    server.responder = judge_responder
    assert judge(runner, server, root).exit_code == 0
    for row in read_jsonl(judgments_path(root)):
        assert list(row) == [
            "question_id",
            "model",
            "judge",
            "user_prompt",
            "judgment",
            "score",
            "turn",
            "tstamp",
            "run_id",
        ]
    shown = json.loads(results(runner, root, "--format", "json").stdout)
    assert "samples" not in shown[0] and "judge_sd" not in shown[0]


def test_samples_is_for_single_grading(runner: CliRunner, server: OpenAIServer, tmp_path: Path) -> None:
    root = write_tiny_benchmark(tmp_path / "data", ["m1", "m2"])
    result = judge(runner, server, root, "--mode", "pairwise-all", "--samples", "2")
    assert result.exit_code == 2 and "--samples applies to single grading" in result.stderr
    assert not server.chat_requests()
