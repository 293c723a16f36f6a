"""`python -m mtb.testing.tiny_model FOLDER`: a model and an adapter for the LoRA path, and its eval."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtb.cli.main import app
from mtb.testing.tiny_model import main


def test_the_one_liner_builds_a_model_and_adapter_and_its_eval_runs(
    runner: CliRunner, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("peft", reason="needs the local extra: pip install -e '.[local]'")
    assert main([str(tmp_path / "try")]) == 0
    printed = capsys.readouterr().out
    adapter = tmp_path / "try" / "tiny-lora"
    assert (adapter / "adapter_config.json").is_file() and (
        tmp_path / "try" / "tiny" / "config.json"
    ).is_file()

    # The command it prints, as printed, with the test's data directory.
    line = next(line.strip() for line in printed.splitlines() if line.strip().startswith("mtb eval"))
    args = shlex.split(line)[1:]
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir), "--no-progress"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(next((data_dir / "mt_bench" / "eval").glob("*.json")).read_text())
    assert summary["adapters"]["tiny-lora"]["base_model"] == str(tmp_path / "try" / "tiny")
    assert re.fullmatch(r"[0-9a-f]{64}", summary["adapters"]["tiny-lora"]["adapter_sha256"])
