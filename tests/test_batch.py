"""`--batch`: judging and generation through the Batch API of the project's test server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import judge_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply


def respond(request: RecordedRequest) -> Reply:
    if request.body["model"] == "gpt-4":
        return judge_responder(request)
    turn = sum(1 for m in request.messages if m["role"] == "user")
    return Reply(text=f"{request.body['model']} answers turn {turn}")


def judge(runner: CliRunner, server: OpenAIServer, data_dir: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            *("judge", "--judge-api-base", server.url, "--judge-api-key", "sk-judge"),
            *(
                "--data-dir",
                str(data_dir),
                "--model-list",
                "vicuna-7b-v1.3",
                "--first-n",
                "10",
                "--no-progress",
            ),
            *extra,
        ],
    )


def judgments(data_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    return read_jsonl(data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl")


def verdicts(rows: list[dict]) -> set[tuple]:  # type: ignore[type-arg]
    return {(r["question_id"], r["turn"], r["score"]) for r in rows}


def test_a_batch_judge_writes_what_a_direct_run_writes_and_failed_lines_go_in_a_new_batch(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    server.responder = respond
    server.batches.fail_every = 7  # the provider fails some lines: they go into a second batch
    batched = judge(runner, server, data_dir, "--batch")
    assert batched.exit_code == 0, batched.stderr
    assert server.chat_requests() == []  # nothing went directly
    assert len(server.batches.created) == 2
    assert len(server.batches.lines) == 20 + 2  # 20 judgments, 2 lines of the first batch failed
    rows = judgments(data_dir)
    assert len(rows) == 20
    # The same verdicts as a direct run on a copy of the data.
    import shutil

    direct_dir = tmp_path / "direct"
    shutil.copytree(data_dir, direct_dir)
    (direct_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl").unlink()
    direct = judge(runner, server, direct_dir)
    assert direct.exit_code == 0, direct.stderr
    assert verdicts(judgments(direct_dir)) == verdicts(rows)
    # The run file names the batches; the state file maps every line to its item.
    runs = read_jsonl(data_dir / "mt_bench/model_judgment/gpt-4_single.runs.jsonl")
    assert any(r.get("batches") == server.batches.created for r in runs)
    state = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl.batches"
    assert [json.loads(line)["batch_id"] for line in state.read_text().splitlines()] == server.batches.created


def test_no_wait_submits_and_a_rerun_collects_without_sending_anything_again(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    server.batches.delay = 0.5
    submitted = judge(runner, server, data_dir, "--batch", "--no-wait")
    assert submitted.exit_code == 0, submitted.stderr
    assert "wait in batch(es)" in submitted.stderr
    assert (
        judgments(data_dir) == []
        if (data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl").exists()
        else True
    )
    assert len(server.batches.created) == 1
    collected = judge(runner, server, data_dir, "--batch")
    assert collected.exit_code == 0, collected.stderr
    assert len(server.batches.created) == 1 and server.chat_requests() == []
    assert len(judgments(data_dir)) == 20


def test_dry_run_with_batch_estimates_half_the_direct_price(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    direct = json.loads(judge(runner, server, data_dir, "--dry-run").stdout)
    batch = json.loads(judge(runner, server, data_dir, "--dry-run", "--batch").stdout)
    # Rounded to cents in the plan: half, to within the rounding of each.
    assert abs(batch["estimated_cost_usd"] - direct["estimated_cost_usd"] / 2) <= 0.01
    assert batch["estimated_tokens"] == direct["estimated_tokens"]


def test_generation_in_batches_asks_each_turn_in_its_own_batch(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    result = runner.invoke(
        app,
        [
            *("generate", "--model", "m1", "--api-base", server.url, "--api-key", "sk"),
            *("--first-n", "4", "--batch", "--data-dir", str(data_dir), "--no-progress"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert len(server.batches.created) == 2 and server.chat_requests() == []
    rows = read_jsonl(data_dir / "mt_bench" / "model_answer" / "m1.jsonl")
    assert rows[0]["choices"][0]["turns"] == ["m1 answers turn 1", "m1 answers turn 2"]


def test_a_bad_state_file_is_path_and_line_with_the_way_out(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    state = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl.batches"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"batch_id": "b1", "input_file_id": "f", "requests": {}}\n{"batch_id": 3}\n')
    result = judge(runner, server, data_dir, "--batch")
    assert result.exit_code == 2
    assert f"{state}:2:" in result.stderr and "--forget-batches" in result.stderr
    # An unfinished last line (a kill while it was written) is left out with a note.
    state.write_text('{"batch_id": "b1", "input_file_id": "f", "requests": {}}\n{"batch_id": "b2", "inp')
    server.responder = respond
    result = judge(runner, server, data_dir, "--batch")
    assert result.exit_code == 0, result.stderr
    # Recording its batch, the run cut the unfinished line first: the batch's line was joined to
    # it, so the next run found a bad line in the middle and lost the batch paid for.
    assert "removed an incomplete last line" in result.stderr
    lines = state.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["batch_id"] == server.batches.created[-1]
    again = judge(runner, server, data_dir, "--batch")
    assert again.exit_code == 0, again.stderr


def test_batch_is_refused_for_local_models_and_other_providers(runner: CliRunner, data_dir: Path) -> None:
    local = runner.invoke(app, ["generate", "--model-path", "x", "--batch", "--data-dir", str(data_dir)])
    assert local.exit_code == 2 and "--batch applies to models behind an API" in local.stderr
    other = runner.invoke(
        app, ["generate", "--model", "m", "--provider", "fake", "--batch", "--data-dir", str(data_dir)]
    )
    assert other.exit_code == 2 and "--batch needs --provider openai" in other.stderr
    no_wait = runner.invoke(app, ["judge", "--no-wait", "--data-dir", str(data_dir)])
    assert no_wait.exit_code == 2 and "--no-wait goes with --batch" in no_wait.stderr


def test_an_eval_in_batches_sends_nothing_directly_and_logs_the_batch_price(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    result = runner.invoke(
        app,
        [
            *("eval", "--model", "m1", "--api-base", server.url, "--api-key", "sk"),
            *("--judge-api-base", server.url, "--judge-api-key", "sk", "--first-n", "3", "--batch"),
            *("--data-dir", str(data_dir), "--no-progress", "--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert server.chat_requests() == []
    assert len(server.batches.lines) == 6 + 6  # 3 questions × 2 turns, then 6 judgments
    assert [r["model"] for r in json.loads(result.stdout)] == ["m1"]
    logged = read_jsonl(data_dir / "mt_bench" / "runs" / "cost.jsonl")
    judge_run = next(r for r in logged if r["command"] == "judge")
    assert judge_run["price"]["entry"] == "gpt-4 (batch)"
    assert judge_run["price"]["input_per_million"] == 15.0


def test_a_batch_the_provider_does_not_know_stops_the_run_naming_the_record(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    assert judge(runner, server, data_dir, "--batch").exit_code == 0
    state = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl.batches"
    (data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl").unlink()
    state.write_text(state.read_text().replace(server.batches.created[0], "batch_gone"))
    result = judge(runner, server, data_dir, "--batch")
    assert result.exit_code == 1
    assert f"{state}:1: batch batch_gone is unknown at the provider" in result.stderr
    assert len(server.batches.created) == 1  # nothing resubmitted behind the user's back


# ---------------------------------------------------------------- the provider's files, damaged


def foreign(kind: str, lines: list[str]) -> list[str]:
    stranger = {**json.loads(lines[0]), "custom_id": "mtb-not-one-of-ours"}
    return [json.dumps(stranger), *lines]


DAMAGE = {
    "reordered": lambda kind, lines: lines[::-1],
    "duplicated": lambda kind, lines: [line for line in lines for _ in (1, 2)],
    "unknown-custom-id": foreign,
    "truncated": lambda kind, lines: [*lines[:-1], lines[-1][: len(lines[-1]) // 2]],
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_the_providers_damaged_files_lose_no_reply_paid_for(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, kind: str
) -> None:
    server.responder = respond
    damaged: list[str] = []

    def damage(file_kind: str, lines: list[str]) -> list[str]:
        if damaged:  # the first batch's output file only
            return lines
        damaged.append(file_kind)
        return DAMAGE[kind](file_kind, lines)

    server.batches.damage = damage
    result = judge(runner, server, data_dir, "--batch")
    assert result.exit_code == 0, result.stderr
    rows = judgments(data_dir)
    assert len(rows) == len({(r["question_id"], r["turn"]) for r in rows}) == 20
    said = " ".join(result.stderr.split())
    if kind == "truncated":  # the line that cannot be read is asked again, in a second batch
        assert len(server.batches.created) == 2 and len(server.batches.lines) == 21
        assert "1 line(s) that could not be read (their requests go into a new batch)" in said
    else:  # every reply was there: nothing asked twice
        assert len(server.batches.created) == 1 and len(server.batches.lines) == 20
    if kind == "duplicated":
        assert "20 line(s) naming a request again" in said
    if kind == "unknown-custom-id":
        assert "1 line(s) naming a request this batch did not hold (ignored)" in said


def test_a_reply_wins_over_an_error_line_naming_the_same_request(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond

    def damage(file_kind: str, lines: list[str]) -> list[str]:
        # A line failing the first request, before the line that answers it: the reply is paid for.
        error = {"code": "server_error", "message": "a stray error line"}
        stray = {**json.loads(lines[0]), "response": None, "error": error}
        return [json.dumps(stray), *lines]

    server.batches.damage = damage
    result = judge(runner, server, data_dir, "--batch")
    assert result.exit_code == 0, result.stderr
    assert len(server.batches.created) == 1 and len(server.batches.lines) == 20  # nothing asked twice
    assert len(judgments(data_dir)) == 20


def test_a_state_file_reordered_or_repeated_still_finds_every_reply(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    server.batches.fail_every = 7  # 2 lines of the first batch fail and go into a second
    assert judge(runner, server, data_dir, "--batch").exit_code == 0
    assert len(server.batches.created) == 2
    output = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl"
    state = output.with_name(output.name + ".batches")
    first, second = state.read_text().splitlines()
    # The judgments lost, the state file's lines reordered and one repeated: the failed requests'
    # replies are in the second batch, whichever line the file names it on.
    output.unlink()
    state.write_text(f"{second}\n{first}\n{second}\n")
    server.batches.fail_every = 0
    again = judge(runner, server, data_dir, "--batch")
    assert again.exit_code == 0, again.stderr
    assert len(server.batches.created) == 2  # nothing submitted again: every reply was paid for once
    assert len(judgments(data_dir)) == 20
    assert (
        f"{state}:3: batch {json.loads(second)['batch_id']} is recorded on line 1 too; read as one batch"
        in (" ".join(again.stderr.split()))
    )
    # The same batch naming one request for two items cannot be read as one: path:line.
    conflicting = json.loads(second)
    custom_id = next(iter(conflicting["requests"]))
    conflicting["requests"][custom_id] = "another item"
    state.write_text(f"{second}\n{json.dumps(conflicting)}\n")
    bad = judge(runner, server, data_dir, "--batch")
    assert bad.exit_code == 2 and f"{state}:2: batch" in bad.stderr and "--forget-batches" in bad.stderr
