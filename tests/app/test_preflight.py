"""The preflight (mtb.app.preflight): every step of `mtb eval` checked before its first paid request.

Each case is what a new user typed; each must stop before any request, say what to
fix without telling them to run the same command again, and leave no file behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from helpers import judge_responder
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

RERUN = "run the same command again"


def respond(request: RecordedRequest) -> Reply:
    if request.body["model"] == "gpt-4":
        return judge_responder(request)
    return Reply(text="an answer")


def every_file(root: Path) -> list[Path]:
    return sorted(root.rglob("*")) if root.exists() else []


def run_eval(runner: CliRunner, data_dir: Path, *args: str) -> Any:
    return runner.invoke(app, ["eval", *args, "--data-dir", str(data_dir), "--no-progress"])


@pytest.mark.parametrize("pipeline", ["--pipeline", "--no-pipeline"])
def test_no_judge_key_stops_before_the_first_generation_request(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, pipeline: str
) -> None:
    server.responder = respond
    before = every_file(data_dir)
    result = run_eval(runner, data_dir, "--model", "m1", "--api-base", server.url, "--first-n", "2", pipeline)
    assert result.exit_code == 2, result.stderr
    assert server.requests == []  # not one generation request
    assert "OPENAI_API_KEY" in result.stderr and "judge" in result.stderr
    assert RERUN not in result.stderr
    assert every_file(data_dir) == before  # no summary, no answer file, no lock


def test_an_empty_data_dir_names_the_download_command(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    empty = tmp_path / "fresh"
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url]
    result = run_eval(runner, empty, *command)
    assert result.exit_code == 2, result.stderr
    assert f"mtb download-baselines --bench mt_bench --data-dir {empty}" in result.stderr
    assert RERUN not in result.stderr
    assert server.requests == []
    assert not empty.exists()  # not even the folder for a summary


def test_missing_judge_prompts_are_said_before_any_model_answers(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    (data_dir / "judge_prompts.jsonl").unlink()
    before = every_file(data_dir)
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url, "--no-pipeline"]
    result = run_eval(runner, data_dir, *command)
    assert result.exit_code == 2, result.stderr
    assert "judge_prompts.jsonl" in result.stderr and "mtb download-baselines" in result.stderr
    assert server.requests == [] and every_file(data_dir) == before


def test_a_judge_that_cannot_be_reached_is_said_before_any_model_answers(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    before = every_file(data_dir)
    result = run_eval(runner, data_dir, "--model", "m1", "--api-base", server.url, "--judge-api-base", closed)
    assert result.exit_code == 2, result.stderr
    assert "cannot be reached" in result.stderr and "--judge-api-base" in result.stderr
    assert RERUN not in result.stderr
    assert server.requests == [] and every_file(data_dir) == before


class _CountingHub(BaseHTTPRequestHandler):
    """A Hugging Face Hub that knows no model, and counts what it is asked."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        body = b'{"error": "Repository not found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def hub() -> Iterator[tuple[str, list[str]]]:
    asked: ClassVar[list[str]] = []
    handler = type("Hub", (_CountingHub,), {"asked": asked})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def run_mtb(
    args: list[str], cwd: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`mtb` in a process of its own: the Hub client reads its variables when it is imported."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mtb", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("command", ["generate", "eval"])
def test_a_local_looking_path_that_is_not_there_is_said_at_once_without_the_network(
    data_dir: Path, tmp_path: Path, hub: tuple[str, list[str]], command: str
) -> None:
    endpoint, asked = hub
    (tmp_path / "output").mkdir()  # where the user's fine-tunes go; this one is not there
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"} | {"HF_ENDPOINT": endpoint}
    done, seconds = run_mtb(
        [command, "--model-path", "output/does-not-exist", "--data-dir", str(data_dir), "--no-progress"],
        tmp_path,
        env,
    )
    assert done.returncode == 2, done.stderr
    assert seconds < 10
    assert "model folder not found" in done.stderr and "output/does-not-exist" in done.stderr
    assert asked == []  # no Hub lookup at all
    assert RERUN not in done.stderr and "Traceback" not in done.stderr


def test_a_name_the_hub_does_not_know_is_said_after_one_lookup(
    data_dir: Path, tmp_path: Path, hub: tuple[str, list[str]]
) -> None:
    endpoint, asked = hub
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"} | {"HF_ENDPOINT": endpoint}
    done, seconds = run_mtb(
        ["generate", "--model-path", "lora-out/r16", "--data-dir", str(data_dir), "--no-progress"],
        tmp_path,
        env,
    )
    assert done.returncode == 2, done.stderr
    assert seconds < 10
    assert "no such model folder here" in done.stderr and "Hub has no model" in done.stderr
    assert [path for path in asked if path.startswith("/api/models/")] == ["/api/models/lora-out/r16"]


def test_offline_a_name_not_in_the_cache_is_said_at_once(
    runner: CliRunner, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no output/ folder here: the name could be a Hub repo id
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    started = time.monotonic()
    result = run_eval(runner, data_dir, "--model-path", "output/does-not-exist")
    assert time.monotonic() - started < 10
    assert result.exit_code == 2, result.stderr
    assert "no such model folder here" in result.stderr and "HF_HUB_OFFLINE=1" in result.stderr


def test_a_missing_extra_is_said_before_the_first_model_loads(
    runner: CliRunner, data_dir: Path, tiny_model: Path
) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    before = every_file(data_dir)
    result = run_eval(runner, data_dir, "--model-path", str(tiny_model), "--backend", "vllm")
    assert result.exit_code == 2, result.stderr
    assert "mtb[vllm]" in result.stderr and RERUN not in result.stderr
    assert every_file(data_dir) == before


def test_a_mistyped_model_leaves_no_empty_answer_file(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    def no_such_model(request: RecordedRequest) -> Reply:
        if request.body["model"] == "gpt-4":
            return judge_responder(request)
        return Reply(status=404, body='{"error": {"message": "The model `gpt-4o-mnii` does not exist"}}')

    server.responder = no_such_model
    command = ["--model", "gpt-4o-mnii", "--api-base", server.url, "--judge-api-base", server.url]
    result = run_eval(runner, data_dir, *command, "--first-n", "2")
    assert result.exit_code == 1, result.stderr
    assert (
        "does not exist" in result.stderr and RERUN not in result.stderr
    )  # the same name fails the same way
    answers = data_dir / "mt_bench" / "model_answer"
    assert not (answers / "gpt-4o-mnii.jsonl").exists()
    assert not list(data_dir.rglob("*.lock"))
