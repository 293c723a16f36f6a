"""Through the CLI: each provider gets its own credentials, and the judge is not captured by OPENAI_BASE_URL.

Built on a small hand-written data directory, so these run without the published data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import judge_responder, model_responder, read_jsonl, write_tiny_benchmark
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer

OPENAI_KEY = "sk-openai-must-not-leak-98765"
CLAUDE = "anthropic/claude-3-5-sonnet-20240620"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_benchmark(tmp_path / "data", answer_models=["m1"])


def judge_args(data: Path, *extra: str) -> list[str]:
    return ["judge", "--data-dir", str(data), "--model-list", "m1", "--first-n", "2", "--no-progress", *extra]


def test_an_anthropic_judge_without_its_key_stops_before_any_call(
    runner: CliRunner, server: OpenAIServer, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    result = runner.invoke(app, judge_args(tiny, "--judge-provider", "litellm", "--judge-model", CLAUDE))
    assert result.exit_code == 2, result.stderr
    assert f"no API key for the judge '{CLAUDE}': set ANTHROPIC_API_KEY" in result.stderr
    assert server.requests == []
    assert OPENAI_KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (tiny / "mt_bench" / "model_judgment").exists() or not any(
        (tiny / "mt_bench" / "model_judgment").iterdir()
    )


def test_the_same_check_in_a_process_without_litellm_loaded(
    server: OpenAIServer, tiny: Path, tmp_path: Path
) -> None:
    """As a user runs it: a real `mtb` process, where litellm (if installed) must not even be imported."""
    stubs = tmp_path / "stubs" / "litellm"
    stubs.mkdir(parents=True)
    (stubs / "__init__.py").write_text("raise SystemExit('litellm was imported')\n")
    env = {
        **os.environ,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": server.url,
        "PYTHONPATH": os.pathsep.join([str(stubs.parent), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "mtb", *judge_args(tiny, "--judge-provider", "litellm")]
    result = subprocess.run(
        [*command, "--judge-model", CLAUDE], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert OPENAI_KEY not in result.stdout + result.stderr
    assert server.requests == []


def test_openai_judge_without_a_key_names_where_to_put_one(
    runner: CliRunner, server: OpenAIServer, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OPENAI_BASE_URL", server.url
    )  # for generation: it makes no key optional for the judge
    result = runner.invoke(app, judge_args(tiny))
    assert result.exit_code == 2
    assert "set OPENAI_API_KEY (or MTB_JUDGE_API_KEY or --judge-api-key)" in result.stderr
    assert server.requests == []


def test_a_generation_server_in_openai_base_url_does_not_capture_the_judge(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_tiny_benchmark(tmp_path / "data")
    with OpenAIServer(responder=model_responder) as models, OpenAIServer(responder=judge_responder) as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", models.url)
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("MTB_JUDGE_API_BASE", judge.url)
        monkeypatch.setenv("MTB_JUDGE_API_KEY", "sk-judge-key")

        generated = runner.invoke(
            app, ["generate", "--model", "m1", "--data-dir", str(data), "--first-n", "2", "--no-progress"]
        )
        assert generated.exit_code == 0, generated.stderr
        asked_models = len(models.chat_requests())
        assert asked_models == 4  # 2 questions × 2 turns

        judged = runner.invoke(app, judge_args(data))
        assert judged.exit_code == 0, judged.stderr

    assert len(models.chat_requests()) == asked_models  # the judge sent nothing to the generation server
    rows = read_jsonl(data / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl")
    assert len(judge.chat_requests()) == len(rows) == 4
    assert {r.headers["authorization"] for r in models.chat_requests()} == {f"Bearer {OPENAI_KEY}"}
    assert {r.headers["authorization"] for r in judge.chat_requests()} == {"Bearer sk-judge-key"}
    assert OPENAI_KEY not in judged.stdout + judged.stderr + generated.stdout + generated.stderr


def test_judge_flags_beat_the_judge_variables(
    runner: CliRunner, server: OpenAIServer, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.responder = judge_responder
    monkeypatch.setenv("MTB_JUDGE_API_BASE", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("MTB_JUDGE_API_KEY", "sk-from-env")
    result = runner.invoke(
        app, judge_args(tiny, "--judge-api-base", server.url, "--judge-api-key", "sk-from-flag")
    )
    assert result.exit_code == 0, result.stderr
    assert {r.headers["authorization"] for r in server.chat_requests()} == {"Bearer sk-from-flag"}


def test_help_names_the_judge_variables_and_shows_no_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MTB_JUDGE_API_KEY", "sk-judge-secret-4321")
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    result = runner.invoke(app, ["judge", "--help"])
    assert result.exit_code == 0
    assert "MTB_JUDGE_API_BASE" in result.stdout and "MTB_JUDGE_API_KEY" in result.stdout
    assert "sk-judge-secret-4321" not in result.stdout and OPENAI_KEY not in result.stdout


def test_a_litellm_openai_judge_goes_to_its_own_server(
    runner: CliRunner, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("litellm", reason="the mtb[litellm] extra is not installed")
    with OpenAIServer() as models, OpenAIServer(responder=judge_responder) as judge:
        monkeypatch.setenv("OPENAI_BASE_URL", models.url)
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("MTB_JUDGE_API_BASE", judge.url)
        result = runner.invoke(
            app, judge_args(tiny, "--judge-provider", "litellm", "--judge-model", "openai/judge-x")
        )
    assert result.exit_code == 0, result.stderr
    assert models.requests == []
    assert len(judge.chat_requests()) == 4
    assert {r.body["model"] for r in judge.chat_requests()} == {"judge-x"}
    # openai/ models are the one litellm route that reads the OpenAI key.
    assert {r.headers["authorization"] for r in judge.chat_requests()} == {f"Bearer {OPENAI_KEY}"}
