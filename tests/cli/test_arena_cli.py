"""Arena-Hard-Auto v0.1 end to end on a slice of the real data: generate, judge both game orders, results."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

BENCH = ["--bench", "arena-hard-v0.1"]


def test_generate_records_token_counts_and_markdown(
    runner: CliRunner, server: OpenAIServer, arena_dir: Path
) -> None:
    server.responder = lambda request: Reply(text="# Title\n\n- one\n- two\n\n**bold** answer")
    result = runner.invoke(
        app,
        [
            "generate",
            "--model",
            "new-model",
            "--api-base",
            server.url,
            "--first-n",
            "3",
            "--data-dir",
            str(arena_dir),
            *BENCH,
        ],
    )
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(arena_dir / "arena-hard-v0.1" / "model_answer" / "new-model.jsonl")
    assert len(rows) == 3
    turn = rows[0]["choices"][0]["turns"][0]
    assert turn == {"content": "# Title\n\n- one\n- two\n\n**bold** answer", "token_len": turn["token_len"]}
    assert turn["token_len"] > 5
    assert rows[0]["conv_metadata"]["header_count"]["h1"] == 1
    assert rows[0]["conv_metadata"]["list_count"] == {"ordered": 0, "unordered": 2}
    assert rows[0]["conv_metadata"]["bold_count"] == {"**": 1, "__": 0}
    assert {(r.body["temperature"], r.body["max_tokens"]) for r in server.chat_requests()} == {(0.0, 4096)}


def test_judge_and_results_in_both_directions(
    runner: CliRunner, server: OpenAIServer, arena_dir: Path
) -> None:
    answers = arena_dir / "arena-hard-v0.1" / "model_answer"
    strong = {
        a["choices"][0]["turns"][0]["content"][:200]
        for a in read_jsonl(answers / "claude-3-haiku-20240307.jsonl")
    }
    weak = {
        a["choices"][0]["turns"][0]["content"][:200] for a in read_jsonl(answers / "gpt-3.5-turbo-0125.jsonl")
    }
    hesitated: list[str] = []

    def judge(request: RecordedRequest) -> Reply:
        prompt = request.messages[1]["content"]
        a_part = prompt.split("<|The Start of Assistant B's Answer|>")[0]
        if len(request.messages) == 2 and not hesitated:
            hesitated.append(prompt)
            return Reply(text="Let me think about it.")  # no label: the judge is asked to finish
        if any(text in a_part for text in strong):
            return Reply(text="My final verdict: [[A>>B]]")
        if any(text in prompt for text in strong):
            return Reply(text="My final verdict: [[B>>A]]")
        if "Use ABC notation to write a melody" in prompt:
            return Reply(text="Equally good: [[A=B]]")
        if any(text in a_part for text in weak):
            return Reply(text="[[B>A]]")
        return Reply(text="[[A>B]]")

    server.responder = judge
    args = [
        "judge",
        "--model-list",
        "claude-3-haiku-20240307",
        "gpt-3.5-turbo-0125",
        "--first-n",
        "8",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
        "--data-dir",
        str(arena_dir),
        *BENCH,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    folder = arena_dir / "arena-hard-v0.1" / "model_judgment" / "gpt-4-1106-preview"
    claude = read_jsonl(folder / "claude-3-haiku-20240307.jsonl")
    gpt35 = read_jsonl(folder / "gpt-3.5-turbo-0125.jsonl")
    assert len(claude) == len(gpt35) == 8
    assert set(claude[0]) == {"question_id", "model", "judge", "games", "tstamp", "run_id"}
    assert claude[0]["judge"] == "gpt-4-1106-preview"
    assert {tuple(g["score"] for g in r["games"]) for r in claude} == {("B>>A", "A>>B")}
    assert {tuple(g["score"] for g in r["games"]) for r in gpt35} == {("A>B", "B>A"), ("A=B", "A=B")}
    assert all(g["judgment"].startswith("\n") for r in claude + gpt35 for g in r["games"])
    # The hesitant game was asked once more, with upstream's words, and both replies were kept.
    followed = [r for r in server.chat_requests() if len(r.messages) == 4]
    assert len(followed) == 1
    assert (
        followed[0].messages[3]["content"]
        == "continue your judgment and finish by outputting a final verdict label"
    )
    assert any(
        g["judgment"].startswith("\nLet me think about it.\n") for r in claude + gpt35 for g in r["games"]
    )
    # Game 1 shows the baseline as A, game 2 the model as A.
    first = claude[0]["games"]
    assert (
        first[0]["user_prompt"].split("<|The Start of Assistant B")[0]
        != first[1]["user_prompt"].split("<|The Start of Assistant B")[0]
    )
    assert len(server.chat_requests()) == 2 * 16 + 1

    rerun = runner.invoke(app, args)
    assert rerun.exit_code == 0 and len(server.chat_requests()) == 33  # nothing left to judge

    shown = runner.invoke(app, ["results", "--data-dir", str(arena_dir), "--format", "json", *BENCH])
    assert shown.exit_code == 0, shown.stderr
    scores = {s["model"]: s for s in json.loads(shown.stdout)}
    assert set(scores["gpt-4-0314"]) == {"model", "score", "ci_low", "ci_high", "avg_tokens"}
    assert scores["gpt-4-0314"]["score"] == 50.0
    assert scores["claude-3-haiku-20240307"]["score"] > 99
    # 14 lost games and 2 ties out of 16: (0 + 2 / 2) / 16.
    assert abs(scores["gpt-3.5-turbo-0125"]["score"] - 6.25) < 1e-3
    assert scores["gpt-3.5-turbo-0125"]["avg_tokens"] == 329  # leaderboard CSV: 329.0
    table = runner.invoke(app, ["results", "--data-dir", str(arena_dir), *BENCH])
    assert "gpt-4-0314" in table.stdout and "95% CI" in table.stdout
    for control in ("--style-control", "--length-control", "--markdown-control"):
        held = runner.invoke(
            app, ["results", "--data-dir", str(arena_dir), control, "--format", "json", *BENCH]
        )
        assert held.exit_code == 0, held.stderr
        assert "style coefficients" in held.stderr
        assert {s["model"] for s in json.loads(held.stdout)} == set(scores)
    both = runner.invoke(
        app, ["results", "--data-dir", str(arena_dir), "--style-control", "--length-control", *BENCH]
    )
    assert both.exit_code == 2 and "at most one" in both.stderr
