"""`mtb generate` end to end through the CLI, against the HTTP test server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from helpers import model_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, Reply


def generate(runner: CliRunner, server: OpenAIServer, data_dir: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "generate",
            "--model",
            "org/test-model",
            "--api-base",
            server.url,
            "--api-key",
            "sk-test",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
    )


def test_generates_both_turns_with_turn_two_conditioned_on_turn_one(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = model_responder
    result = generate(runner, server, data_dir, "--first-n", "3", "--parallel", "2")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert [r["question_id"] for r in rows] == [81, 82, 83]
    assert set(rows[0]) == {"question_id", "answer_id", "model_id", "choices", "tstamp", "run_id"}
    assert rows[0]["model_id"] == "test-model"
    first_turn, second_turn = rows[0]["choices"][0]["turns"]
    assert first_turn.startswith("turn 1 answer to: Compose an engaging travel")
    assert second_turn.startswith("turn 2 answer to: Rewrite your previous")

    requests = server.chat_requests()
    assert len(requests) == 6
    turn_two = next(
        r for r in requests if len(r.messages) == 3 and "Rewrite your previous" in r.messages[2]["content"]
    )
    assert [m["role"] for m in turn_two.messages] == ["user", "assistant", "user"]
    assert turn_two.messages[1]["content"] == first_turn  # the model's own turn-1 answer
    assert all(r.body["model"] == "org/test-model" for r in requests)
    assert all(r.body["max_tokens"] == 1024 for r in requests)
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in requests)


def test_temperature_follows_the_category_table(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    result = generate(runner, server, data_dir, "--max-tokens", "64")
    assert result.exit_code == 0, result.stderr
    categories = {}
    for line in (data_dir / "mt_bench" / "question.jsonl").read_text().splitlines():
        question = json.loads(line)
        categories[question["turns"][0][:60]] = question["category"]
    expected = {
        "writing": 0.7,
        "roleplay": 0.7,
        "extraction": 0.0,
        "math": 0.0,
        "coding": 0.0,
        "reasoning": 0.0,
        "stem": 0.1,
        "humanities": 0.1,
    }
    seen = {}
    for request in server.chat_requests():
        first_user = request.messages[0]["content"]
        seen[categories[first_user[:60]]] = request.body["temperature"]
        assert request.body["max_tokens"] == 64
    assert seen == expected


def test_force_temperature_system_prompt_and_choices(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    result = generate(
        runner,
        server,
        data_dir,
        "--first-n",
        "2",
        "--force-temperature",
        "0.3",
        "--system-prompt",
        "Be brief.",
        "--num-choices",
        "2",
        "--model-id",
        "brief",
    )
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(data_dir / "mt_bench" / "model_answer" / "brief.jsonl")
    assert [[c["index"] for c in r["choices"]] for r in rows] == [[0, 1], [0, 1]]
    requests = server.chat_requests()
    assert len(requests) == 2 * 2 * 2
    assert {r.body["temperature"] for r in requests} == {0.3}
    assert all(r.messages[0] == {"role": "system", "content": "Be brief."} for r in requests)


def test_rerun_only_asks_for_what_is_missing(runner: CliRunner, server: OpenAIServer, data_dir: Path) -> None:
    assert generate(runner, server, data_dir, "--first-n", "4").exit_code == 0
    before = len(server.chat_requests())
    result = generate(runner, server, data_dir, "--first-n", "6")
    assert result.exit_code == 0, result.stderr
    new = server.chat_requests()[before:]
    assert len(new) == 4  # questions 85 and 86, two turns each
    assert {r.messages[0]["content"][:30] for r in new} == {
        "Describe a vivid and unique ch",  # 85
        "Write a descriptive paragraph ",  # 86
    }
    rows = read_jsonl(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert [r["question_id"] for r in rows] == [81, 82, 83, 84, 85, 86]


def test_failed_questions_are_not_written_and_exit_1(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    def flaky(request):
        if "Draft a professional email" in request.messages[0]["content"]:
            return Reply(status=400)
        return model_responder(request)

    server.responder = flaky
    result = generate(runner, server, data_dir, "--first-n", "3")
    assert result.exit_code == 1
    assert "1 answers failed" in result.stderr and "question 82: HTTP 400" in result.stderr
    rows = read_jsonl(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    assert [r["question_id"] for r in rows] == [81, 83]
    assert "$ERROR$" not in (data_dir / "mt_bench" / "model_answer" / "test-model.jsonl").read_text()

    server.responder = model_responder
    before = len(server.chat_requests())
    assert generate(runner, server, data_dir, "--first-n", "3").exit_code == 0
    assert len(server.chat_requests()) - before == 2  # only question 82's two turns
    assert [
        r["question_id"] for r in read_jsonl(data_dir / "mt_bench" / "model_answer" / "test-model.jsonl")
    ] == [81, 82, 83]


def test_auth_failure_fails_fast_and_names_the_variable(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(status=401)
    result = generate(runner, server, data_dir, "--first-n", "10", "--parallel", "1")
    assert result.exit_code == 1
    assert "OPENAI_API_KEY or --api-key" in result.stderr
    assert len(server.chat_requests()) == 1


def test_env_vars_are_the_defaults(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("MTB_DATA_DIR", str(data_dir))
    result = runner.invoke(app, ["generate", "--model", "m", "--first-n", "1"])
    assert result.exit_code == 0, result.stderr
    assert server.chat_requests()[0].headers["authorization"] == "Bearer sk-from-env"
    assert (data_dir / "mt_bench" / "model_answer" / "m.jsonl").exists()


def test_bad_question_file_gives_path_line_and_exit_2(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    path = data_dir / "mt_bench" / "question.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace('"category": "writing", ', "")
    path.write_text("\n".join(lines) + "\n")
    result = generate(runner, server, data_dir)
    assert result.exit_code == 2
    assert f"{path}:5: missing field 'category'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not server.chat_requests()


def test_missing_data_dir_says_how_to_provide_it(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    result = generate(runner, server, tmp_path / "empty")
    assert result.exit_code == 2
    assert "question.jsonl: not found" in result.stderr and "--data-dir" in result.stderr


def test_retries_are_counted_in_the_summary(runner: CliRunner, server: OpenAIServer, data_dir: Path) -> None:
    server.script([Reply(status=429, headers={"Retry-After": "0"}), Reply(status=503), Reply(status=503)])
    result = generate(runner, server, data_dir, "--first-n", "2", "--parallel", "1")
    assert result.exit_code == 0, result.stderr
    assert "4 answers: 2 new" not in result.stderr
    assert "7 requests; 3 retries (2× HTTP 503, 1× HTTP 429)" in result.stderr


def test_the_key_never_reaches_output_or_files(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    key = "sk-very-secret-0123456789"

    def echo_key(request):
        message = f"bad key {request.headers['authorization']}"
        return Reply(status=401, body=json.dumps({"error": {"message": message}}))

    server.responder = echo_key
    result = runner.invoke(
        app,
        [
            "generate",
            "--model",
            "m",
            "--api-base",
            server.url,
            "--api-key",
            key,
            "--data-dir",
            str(data_dir),
            "--first-n",
            "1",
        ],
    )
    assert result.exit_code == 1
    assert "bad key Bearer ***" in result.stderr
    assert key not in result.stderr + result.stdout
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="ignore"), path


def test_replicas_share_the_load_and_a_failing_one_leaves_rotation(runner: CliRunner, data_dir: Path) -> None:
    def slow(request):
        return Reply(text=model_responder(request).text, delay=0.02)

    with (
        OpenAIServer(responder=slow) as first,
        OpenAIServer(responder=lambda request: Reply(status=503)) as broken,
        OpenAIServer(responder=slow) as second,
    ):
        args = ["--api-base", first.url, "--api-base", broken.url, "--api-base", second.url]
        result = runner.invoke(
            app,
            [
                "generate",
                "--model",
                "m",
                "--data-dir",
                str(data_dir),
                "--first-n",
                "12",
                "--parallel",
                "2",
                *args,
            ],
        )
        assert result.exit_code == 0, result.stderr
        assert "on 3 replicas" in result.stderr
        rows = read_jsonl(data_dir / "mt_bench" / "model_answer" / "m.jsonl")
        assert len(rows) == 12 and "$ERROR$" not in json.dumps(rows)
        # The broken replica failed its first requests, then was left out of rotation.
        assert 1 <= len(broken.chat_requests()) <= 2
        healthy = [len(first.chat_requests()), len(second.chat_requests())]
        assert sum(healthy) == 24 and min(healthy) >= 8  # least in flight first: both kept busy
        assert first.max_in_flight == second.max_in_flight == 2  # each replica's own bound


def test_an_answer_cut_at_the_token_limit_before_any_text_is_not_written(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # Was: written as an empty answer (then judged, and scored, as if the model had said nothing).
    choice = {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "length"}
    server.responder = lambda request: Reply(body=json.dumps({"id": "x", "choices": [choice]}))
    result = generate(runner, server, data_dir, "--first-n", "2")
    assert result.exit_code == 1
    assert "2 answers failed" in result.stderr
    assert "token limit was reached before any text" in result.stderr
    assert len(server.chat_requests()) == 2
    answers = data_dir / "mt_bench" / "model_answer" / "test-model.jsonl"
    assert not answers.exists() or not read_jsonl(answers)


def test_a_first_turn_paid_for_is_kept_when_the_second_fails(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    """Turn 2 fails: nothing is written, and the next run asks only for turn 2 (mtb.replies)."""

    def second_turn_fails(request):
        return Reply(status=400) if len(request.messages) > 1 else model_responder(request)

    server.responder = second_turn_fails
    result = generate(runner, server, data_dir, "--first-n", "3")
    assert result.exit_code == 1
    answers = data_dir / "mt_bench" / "model_answer" / "test-model.jsonl"
    assert not answers.exists() or read_jsonl(answers) == []
    kept = answers.with_name("test-model.jsonl.partial")
    assert len(kept.read_text().splitlines()) == 3
    assert f"3 replies paid for by unfinished items kept in {kept}" in result.stderr

    server.requests.clear()
    server.responder = model_responder
    result = generate(runner, server, data_dir, "--first-n", "3")
    assert result.exit_code == 0, result.stderr
    assert all(len(r.messages) == 3 for r in server.chat_requests())  # turn 2 only, three times
    assert len(server.chat_requests()) == 3
    assert "3 replies kept from an earlier run" in result.stderr
    rows = read_jsonl(answers)
    assert [r["question_id"] for r in rows] == [81, 82, 83]
    first_turn, second_turn = rows[0]["choices"][0]["turns"]
    assert first_turn.startswith("turn 1 answer to:") and second_turn.startswith("turn 2 answer to:")
    assert not kept.exists()
