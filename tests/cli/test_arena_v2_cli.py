"""Arena-Hard-Auto v2.0 end to end on the real questions and baseline: generate 750 answers,
judge hard_prompt in both game orders, and score it."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app
from mtb.protocols.arena_hard_v2.settings import read_judge_settings
from mtb.testing.file_server import FileServer
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

BENCH = ["--bench", "arena-hard-v2.0"]
BASELINE = "o3-mini-2025-01-31"
LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
# label_to_score, written out here independently of mtb's table.
SIDE_A = {"A>B": [1], "A>>B": [1, 1, 1], "A=B": [0.5], "B>A": [0], "B>>A": [0, 0, 0]}


def digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def judge_reply(user_prompt: str) -> tuple[str, str | None]:
    """The test judge's reply to a prompt, and the label upstream reads from it."""
    h = digest(user_prompt)
    kind, label = h % 8, LABELS[(h >> 8) % 5]
    if kind == 0:
        return "I cannot decide between them.", None
    if kind == 1:
        return f"Single brackets only: [{label}]", label
    if kind == 2:
        return f"First [[A=B]], on reflection: [[{label.lower()}]]", label  # the last, upper-cased
    return f"My final verdict is [[{label}]]", label


def responder(request: RecordedRequest) -> Reply:
    if request.body["model"] == "my-model":
        prompt = request.last_user_message
        return Reply(
            text=f"# Answer\n\n- point {digest(prompt) % 97}\n- **bold** point\n\nmy answer {digest(prompt)}"
        )
    return Reply(text=judge_reply(request.messages[1]["content"])[0])


def test_generate_judge_and_score_hard_prompt(
    runner: CliRunner, server: OpenAIServer, arena_v2_dir: Path, arena_v2_source: Path
) -> None:
    server.responder = responder
    data = ["--data-dir", str(arena_v2_dir)]
    folder = arena_v2_dir / "arena-hard-v2.0"
    made = runner.invoke(
        app,
        ["generate", *BENCH, "--model", "my-model", "--api-base", server.url, "--parallel", "64", *data],
    )
    assert made.exit_code == 0, made.stderr
    answers = read_jsonl(folder / "model_answer" / "my-model.jsonl")
    assert len(answers) == 750
    assert all(
        list(a) == ["uid", "ans_id", "model", "messages", "tstamp", "metadata", "run_id"] for a in answers
    )
    assert all(a["model"] == "my-model" for a in answers)
    assert all(
        list(a["metadata"]) == ["token_len", "header_count", "list_count", "bold_count"] for a in answers
    )
    assert {a["metadata"]["list_count"]["unordered"] for a in answers} == {2}
    generation = server.chat_requests()
    assert len(generation) == 750
    assert {(r.body["temperature"], r.body["max_tokens"]) for r in generation} == {(0.0, 8196)}

    judged = runner.invoke(
        app,
        [
            "judge",
            *BENCH,
            "--category",
            "hard_prompt",
            "--model-list",
            "my-model",
            "--judge-api-base",
            server.url,
            "--judge-api-key",
            "k",
            "--parallel",
            "64",
            *data,
        ],
    )
    assert judged.exit_code == 0, judged.stderr
    requests = server.chat_requests()[750:]
    assert len(requests) == 1000
    questions = {q["uid"]: q for q in read_jsonl(folder / "question.jsonl")}
    baseline = {
        a["uid"]: a["messages"][-1]["content"]["answer"]
        for a in read_jsonl(folder / "model_answer" / f"{BASELINE}.jsonl")
    }
    mine = {a["uid"]: a["messages"][-1]["content"]["answer"] for a in answers}
    system = read_judge_settings(arena_v2_source / "utils" / "judge_utils.py")["hard_prompt"].system_prompt
    import yaml

    template = yaml.safe_load((arena_v2_source / "config" / "arena-hard-v2.0.yaml").read_text())[
        "prompt_template"
    ]
    hard = [uid for uid, q in questions.items() if q["category"] == "hard_prompt"]
    expected = set()
    for uid in hard:
        q, b, m = questions[uid]["prompt"], baseline[uid], mine[uid]
        expected.add(template.replace("{QUESTION}", q).replace("{ANSWER_A}", b).replace("{ANSWER_B}", m))
        expected.add(template.replace("{QUESTION}", q).replace("{ANSWER_A}", m).replace("{ANSWER_B}", b))
    assert {r.messages[1]["content"] for r in requests} == expected
    for request in requests:
        assert request.body["model"] == "gpt-4.1"
        assert (request.body["temperature"], request.body["max_tokens"]) == (0.0, 16000)
        assert [m["role"] for m in request.messages] == ["system", "user"]
        assert request.messages[0]["content"] == system

    records = read_jsonl(folder / "model_judgment" / "gpt-4.1" / "my-model.jsonl")
    assert len(records) == 500 and {r["uid"] for r in records} == set(hard)
    for record in records:
        assert list(record) == ["uid", "category", "judge", "model", "baseline", "games", "run_id"]
        assert (record["category"], record["judge"], record["model"], record["baseline"]) == (
            "hard_prompt",
            "gpt-4.1",
            "my-model",
            BASELINE,
        )
        first, second = record["games"]
        # Game 1 shows the baseline as A; game 2 the model.
        assert baseline[record["uid"]] in first["prompt"][1]["content"].split("<|The Start of Assistant B")[0]
        assert mine[record["uid"]] in second["prompt"][1]["content"].split("<|The Start of Assistant B")[0]
        for game in (first, second):
            assert list(game) == ["score", "judgment", "prompt"]
            reply, label = judge_reply(game["prompt"][1]["content"])
            assert game["judgment"] == {"answer": reply} and game["score"] == label

    # Resume: nothing left; --retry-unparsed judges again exactly the records with a null score.
    again = runner.invoke(
        app,
        judged_args := [
            "judge",
            *BENCH,
            "--category",
            "hard_prompt",
            "--model-list",
            "my-model",
            "--judge-api-base",
            server.url,
            "--judge-api-key",
            "k",
            "--parallel",
            "64",
            *data,
        ],
    )
    assert again.exit_code == 0 and len(server.chat_requests()) == 1750
    unparsed = sum(1 for r in records if any(g["score"] is None for g in r["games"]))
    assert unparsed > 0
    retried = runner.invoke(app, [*judged_args, "--retry-unparsed"])
    # The test judge answers the same prompt the same way: not one retried verdict reads, a failure.
    assert retried.exit_code == 1, retried.stderr
    assert f"none of the {unparsed} judgment(s) made holds a readable verdict" in retried.stderr
    assert len(server.chat_requests()) == 1750 + 2 * unparsed
    assert len(read_jsonl(folder / "model_judgment" / "gpt-4.1" / "my-model.jsonl")) == 500

    entries = []
    for record in records:
        first, second = (g["score"] for g in record["games"])
        if first is not None and second is not None:
            entries += SIDE_A[second] + [1 - s for s in SIDE_A[first]]
    expected_score = 100 * sum(entries) / len(entries)
    shown = runner.invoke(app, ["results", *BENCH, "--category", "hard_prompt", "--format", "json", *data])
    assert shown.exit_code == 0, shown.stderr
    scores = {s["model"]: s for s in json.loads(shown.stdout)}
    assert set(scores) == {"my-model", BASELINE}
    mine_score = scores["my-model"]
    assert abs(mine_score["score"] - expected_score) < 0.5
    assert mine_score["ci_low"] < mine_score["score"] < mine_score["ci_high"]
    assert mine_score["ci_level"] == "90%" and mine_score["category"] == "hard_prompt"
    assert mine_score["judgments"] == 500 - unparsed
    assert scores[BASELINE]["score"] == 50.0
    table = runner.invoke(app, ["results", *BENCH, *data])
    assert table.exit_code == 0, table.stderr
    assert "90% CI" in table.stdout and "hard_prompt" in table.stdout
    held = runner.invoke(app, ["results", *BENCH, "--style-control", "--format", "json", *data])
    assert held.exit_code == 0, held.stderr
    assert "style coefficients" in held.stderr
    assert {s["model"] for s in json.loads(held.stdout)} == {"my-model", BASELINE}


def test_download_baselines_plans_the_pinned_files(
    runner: CliRunner, arena_v2_source: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(arena_v2_source, mirror / "arena-hard-v2.0")
    target = tmp_path / "data"
    with FileServer({"/mirror": mirror}) as server:
        result = runner.invoke(
            app,
            [
                "download-baselines",
                "--no-progress",
                *BENCH,
                "--data-dir",
                str(target),
                "--mirror",
                f"{server.url}/mirror",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "4 fetched" in result.output
    for name in (
        "question.jsonl",
        "config/arena-hard-v2.0.yaml",
        "utils/judge_utils.py",
        f"model_answer/{BASELINE}.jsonl",
    ):
        assert (target / "arena-hard-v2.0" / name).read_bytes() == (arena_v2_source / name).read_bytes()


def test_judging_a_category_without_its_baseline_stops_before_any_call(
    runner: CliRunner, server: OpenAIServer, arena_v2_dir: Path
) -> None:
    answers = arena_v2_dir / "arena-hard-v2.0" / "model_answer"
    shutil.copy(answers / f"{BASELINE}.jsonl", answers / "my-model.jsonl")
    result = runner.invoke(
        app,
        [
            "judge",
            *BENCH,
            "--category",
            "creative_writing",
            "--model-list",
            "my-model",
            "--judge-api-base",
            server.url,
            "--data-dir",
            str(arena_v2_dir),
        ],
    )
    assert result.exit_code == 2
    assert "gemini-2.0-flash-001" in result.stderr and "creative_writing" in result.stderr
    assert server.chat_requests() == []


def test_generate_without_the_arena_extra_stops_before_any_request(
    runner: CliRunner, server: OpenAIServer, arena_v2_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtb.protocols.arena_hard import answers

    # As if bpe-openai were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "bpe_openai", None)
    monkeypatch.setattr(answers, "_ENCODINGS", {})
    result = runner.invoke(
        app,
        [
            "generate",
            *BENCH,
            "--model",
            "my-model",
            "--api-base",
            server.url,
            "--data-dir",
            str(arena_v2_dir),
        ],
    )
    assert result.exit_code != 0
    assert "bpe-openai" in result.stderr and "mtb[arena]" in result.stderr
    assert server.chat_requests() == []
    assert not (arena_v2_dir / "arena-hard-v2.0" / "model_answer" / "my-model.jsonl").exists()
