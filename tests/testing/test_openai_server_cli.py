"""`python -m mtb.testing.openai_server` from a shell: its usage, and a whole eval against it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mtb.cli.main import app


def test_help_prints_its_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mtb.testing.openai_server", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m mtb.testing.openai_server")
    assert "--port" in done.stdout and "mtb eval --model my-model" in done.stdout


def test_an_eval_against_the_server_from_a_shell(runner: CliRunner, data_dir: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "mtb.testing.openai_server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            assert line.startswith("serving at http://127.0.0.1:"), line
            url = line.split()[2]
            common = [
                "--api-base",
                url,
                "--judge-api-base",
                url,
                "--data-dir",
                str(data_dir),
                "--no-progress",
            ]
            command = ["eval", "--model", "my-model", "--judge-model", "fake", "--first-n", "2", *common]
            result = runner.invoke(app, [*command, "--format", "json"])
            assert result.exit_code == 0, result.stderr
            (row,) = json.loads(result.stdout)
            assert row["model"] == "my-model" and row["judgments"] == 4 and row["excluded"] == 0

            # A judge with a real judge's name gets no verdict: fake ones never land in its file.
            named = runner.invoke(app, ["eval", "--model", "other", "--first-n", "1", *common])
            assert named.exit_code == 1 and "no readable verdict" in named.stderr
        finally:
            server.terminate()
            server.wait(timeout=10)
