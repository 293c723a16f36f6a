"""--rpm/--tpm (and eval's --judge-rpm, a models file's rpm) reach the endpoint's rate controller."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from helpers import judge_responder
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer


def spread(server: OpenAIServer) -> float:
    arrived = [r.arrived for r in server.chat_requests()]
    return max(arrived) - min(arrived)


def test_a_known_request_rate_paces_the_judge_from_its_first_request(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = judge_responder
    command = [
        *("judge", "--judge-api-base", server.url, "--judge-api-key", "sk", "--model-list", "vicuna-7b-v1.3"),
        *("--first-n", "3", "--parallel", "8", "--data-dir", str(data_dir), "--no-progress"),
    ]
    # 4 a second, a second's worth at once: 4 requests, then 2 more 0.25 s apart.
    result = runner.invoke(app, [*command, "--rpm", "240"])
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) == 6
    assert spread(server) >= 0.4


def test_bad_limits_are_usage_errors_naming_the_flag(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["judge", "--rpm", "0", "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "--rpm must be a number above 0" in result.stderr
    result = runner.invoke(app, ["eval", "--model", "m", "--judge-tpm", "-5", "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "--judge-tpm must be a number above 0" in result.stderr
    models = tmp_path / "models.toml"
    models.write_text('[[model]]\nmodel = "m"\nrpm = 0\n')
    result = runner.invoke(app, ["eval", "--models-file", str(models), "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "rpm" in result.stderr and str(models) in result.stderr
