"""The README's quickstart: every command it shows has the flags it uses, and the free run runs."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from mtb.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_commands() -> list[list[str]]:
    """Each `mtb ...` line of the quickstart's code blocks, as arguments (comments cut)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quickstart") : text.index("\n## ", text.index("## Quickstart") + 1)]
    commands = []
    for line in section.splitlines():
        if line.startswith("mtb "):
            commands.append(shlex.split(line.split("  #")[0])[1:])
    return commands


def test_the_quickstart_comes_first_and_names_only_flags_its_commands_have() -> None:
    text = README.read_text(encoding="utf-8")
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Quickstart"  # the first screen
    commands = quickstart_commands()
    assert {c[0] for c in commands} >= {"download-baselines", "eval", "results"}
    group = typer.main.get_command(app)
    for args in commands:
        command = group.commands[args[0]]  # type: ignore[attr-defined]
        known = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
        used = {arg for arg in args if arg.startswith("--")}
        assert used <= known, (args[0], used - known)


def test_the_quickstarts_free_run_runs(runner: CliRunner, data_dir: Path) -> None:
    (free,) = [c for c in quickstart_commands() if "--provider" in c and "fake" in c]
    result = runner.invoke(app, [*free, "--data-dir", str(data_dir), "--no-progress", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["model"] == "smoke" and row["judgments"] == 10
