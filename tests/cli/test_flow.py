"""The README's flow, generate → judge → results, on a slice of the real data."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from helpers import judge_rating_for, judge_responder, model_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply


def test_generate_judge_results(runner: CliRunner, server: OpenAIServer, data_dir: Path) -> None:
    def respond(request: RecordedRequest) -> Reply:
        return judge_responder(request) if request.body["model"] == "judge-x" else model_responder(request)

    server.responder = respond
    common = ["--data-dir", str(data_dir), "--first-n", "25"]
    generated = runner.invoke(app, ["generate", "--model", "my-model", "--api-base", server.url, *common])
    assert generated.exit_code == 0, generated.stderr

    judged = runner.invoke(
        app,
        [
            "judge",
            "--model-list",
            "my-model",
            "--judge-model",
            "judge-x",
            "--judge-api-base",
            server.url,
            *common,
        ],
    )
    assert judged.exit_code == 0, judged.stderr
    judgments = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "judge-x_single.jsonl")
    assert len(judgments) == 50
    # The judge saw our model's own answers, turn 2 included.
    answers = {
        a["question_id"]: a for a in read_jsonl(data_dir / "mt_bench" / "model_answer" / "my-model.jsonl")
    }
    for row in judgments:
        for text in answers[row["question_id"]]["choices"][0]["turns"][: row["turn"]]:
            assert text in row["user_prompt"]

    shown = runner.invoke(app, ["results", "--judge-model", "judge-x", "--format", "json", *common[:2]])
    assert shown.exit_code == 0, shown.stderr
    (score,) = json.loads(shown.stdout)
    expected = [judge_rating_for(r["user_prompt"]) for r in judgments]
    assert score["model"] == "my-model"
    assert score["average"] == sum(expected) / len(expected)
    assert score["judgments"] == 50 and score["excluded"] == 0
    assert set(score["categories"]) == {"writing", "roleplay", "reasoning"}
