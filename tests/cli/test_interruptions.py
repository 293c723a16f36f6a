"""Kill, Ctrl-C and a second writer, with real processes."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from helpers import judge_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, Reply


def slow_judge(request) -> Reply:
    reply = judge_responder(request)
    return Reply(text=reply.text, delay=0.05)


def judge_args(server: OpenAIServer, data_dir: Path) -> list[str]:
    return [
        "judge",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "sk-test",
        "--data-dir",
        str(data_dir),
        "--model-list",
        "vicuna-7b-v1.3",
        "--parallel",
        "2",
        "--no-progress",
    ]


def start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mtb", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {count} lines")


def output(data_dir: Path) -> Path:
    return data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"


def test_killed_run_resumes_without_duplicates(server: OpenAIServer, data_dir: Path) -> None:
    server.responder = slow_judge
    process = start(judge_args(server, data_dir))
    wait_for_lines(output(data_dir), 20, process)
    process.kill()
    process.communicate(timeout=10)

    kept = read_jsonl(output(data_dir))  # every line is whole JSON
    assert 20 <= len(kept) < 160
    before = len(server.chat_requests())

    server.responder = judge_responder
    result = CliRunner().invoke(app, judge_args(server, data_dir))
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) - before == 160 - len(kept)
    rows = read_jsonl(output(data_dir))
    keys = [(r["question_id"], r["turn"]) for r in rows]
    assert len(keys) == len(set(keys)) == 160
    assert keys == sorted(keys)


def test_ctrl_c_keeps_completed_items_and_exits_130(server: OpenAIServer, data_dir: Path) -> None:
    server.responder = slow_judge
    process = start(judge_args(server, data_dir))
    wait_for_lines(output(data_dir), 10, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    rows = read_jsonl(output(data_dir))
    assert 10 <= len(rows) < 160
    assert all(json.dumps(r) for r in rows)


def test_a_second_process_cannot_write_the_same_file(server: OpenAIServer, data_dir: Path) -> None:
    server.responder = slow_judge
    first = start(judge_args(server, data_dir))
    try:
        wait_for_lines(output(data_dir), 2, first)
        second = subprocess.run(
            [sys.executable, "-m", "mtb", *judge_args(server, data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "being written by another mtb process" in second.stderr
    finally:
        first.kill()
        first.communicate(timeout=10)


def test_sigterm_ends_the_run_like_ctrl_c(server: OpenAIServer, data_dir: Path) -> None:
    # `timeout`, `kill`, a batch scheduler: before, the default action killed the process
    # with no summary and no cost-log line for the requests already paid for.
    server.responder = slow_judge
    process = start(judge_args(server, data_dir))
    wait_for_lines(output(data_dir), 10, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "cost:" in stderr
    rows = read_jsonl(output(data_dir))
    assert 10 <= len(rows) < 160
    cost_log = read_jsonl(data_dir / "mt_bench" / "runs" / "cost.jsonl")
    assert len(cost_log) == 1

    result = CliRunner().invoke(app, judge_args(server, data_dir))
    assert result.exit_code == 0, result.stderr
    keys = [(r["question_id"], r["turn"]) for r in read_jsonl(output(data_dir))]
    assert len(keys) == len(set(keys)) == 160


def test_a_full_disk_stops_the_run_leaving_whole_lines_and_a_message(
    server: OpenAIServer, data_dir: Path
) -> None:
    # A file size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail with
    # EFBIG as they would with ENOSPC. Was: a traceback, and a last line cut in the middle.
    limit = 20_000
    server.responder = judge_responder  # verdicts that read: the run is judged by its writes alone

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    completed = subprocess.run(
        [sys.executable, "-m", "mtb", *judge_args(server, data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_file_size,
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "gpt-4_single.jsonl: cannot be written (File too large); free some space" in completed.stderr
    assert "was received but not kept" in completed.stderr
    text = output(data_dir).read_text()
    assert text.endswith("\n") and len(text.encode()) <= limit
    kept = read_jsonl(output(data_dir))  # every line is whole JSON
    assert 1 <= len(kept) < 160
    sent = len(server.chat_requests())
    assert sent < 40  # the run stopped at the first write that failed

    result = CliRunner().invoke(app, judge_args(server, data_dir))
    assert result.exit_code == 0, result.stderr
    keys = [(r["question_id"], r["turn"]) for r in read_jsonl(output(data_dir))]
    assert len(keys) == len(set(keys)) == 160


def eval_args(server: OpenAIServer, data_dir: Path) -> list[str]:
    return [
        *("eval", "--model", "m1", "--api-base", server.url, "--api-key", "sk-test"),
        *("--judge-api-base", server.url, "--judge-api-key", "sk-test", "--first-n", "20"),
        *("--parallel", "2", "--judge-parallel", "2", "--data-dir", str(data_dir), "--no-progress"),
    ]


def slow_model_and_judge(request) -> Reply:
    if request.body["model"] == "gpt-4":
        return slow_judge(request)
    return Reply(text="an answer " * 5, delay=0.05)


def test_a_pipelined_eval_killed_mid_way_loses_nothing_and_a_rerun_sends_only_what_is_missing(
    server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = slow_model_and_judge
    process = start(eval_args(server, data_dir))
    # Killed once judgments are being written while answers still come.
    wait_for_lines(output(data_dir), 6, process)
    process.kill()
    process.communicate(timeout=10)
    answers = data_dir / "mt_bench" / "model_answer" / "m1.jsonl"
    kept_answers, kept_judgments = read_jsonl(answers), read_jsonl(output(data_dir))
    assert 3 <= len(kept_answers) < 20 and 6 <= len(kept_judgments) < 40

    before = len(server.chat_requests())
    server.responder = slow_model_and_judge
    result = CliRunner().invoke(app, eval_args(server, data_dir))
    assert result.exit_code == 0, result.stderr
    sent = server.chat_requests()[before:]
    # Two turns per missing answer, one judgment per missing (question, turn); kept replies may save some.
    assert len(sent) <= 2 * (20 - len(kept_answers)) + (40 - len(kept_judgments))
    rows = read_jsonl(output(data_dir))
    keys = [(r["question_id"], r["turn"]) for r in rows if r["model"] == "m1"]
    assert len(keys) == len(set(keys)) == 40


def test_ctrl_c_in_a_pipelined_eval_exits_130_with_whole_files(server: OpenAIServer, data_dir: Path) -> None:
    server.responder = slow_model_and_judge
    process = start(eval_args(server, data_dir))
    wait_for_lines(output(data_dir), 4, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert read_jsonl(output(data_dir))  # whole JSON lines
    assert read_jsonl(data_dir / "mt_bench" / "model_answer" / "m1.jsonl")


def test_a_batch_judge_killed_once_submitted_is_collected_by_a_rerun_that_sends_nothing(
    server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = judge_responder
    server.batches.delay = 1.5
    state = output(data_dir).with_name(output(data_dir).name + ".batches")
    process = start([*judge_args(server, data_dir), "--batch", "--first-n", "20"])
    deadline = time.monotonic() + 30
    while not (state.exists() and state.read_text().endswith("\n")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.kill()
    process.communicate(timeout=10)
    assert len(server.batches.created) == 1

    result = CliRunner().invoke(app, [*judge_args(server, data_dir), "--batch", "--first-n", "20"])
    assert result.exit_code == 0, result.stderr
    assert len(server.batches.created) == 1  # no new batch
    assert server.chat_requests() == []  # and no direct request
    rows = read_jsonl(output(data_dir))
    assert len({(r["question_id"], r["turn"]) for r in rows}) == len(rows) == 40
