"""`mtb agreement --win-rates`: each judge's wins, losses and win rate without ties, per model
(the seed paper's self-enhancement comparison), checked against hand counts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mtb.cli.main import app
from mtb.protocols.mt_bench.win_rates import compute


def vote(qid: int, a: str, b: str, winner: str, judge: object, turn: int = 1) -> dict[str, object]:
    return {"question_id": qid, "model_a": a, "model_b": b, "winner": winner, "judge": judge, "turn": turn}


def write_votes(tmp_path: Path) -> tuple[Path, Path]:
    human = [
        vote(81, "gpt-4", "claude-v1", "model_a", "expert_1"),
        vote(81, "gpt-4", "claude-v1", "model_b", "expert_2"),
        vote(82, "claude-v1", "gpt-4", "model_a", "expert_1"),  # stored the other way round
        vote(83, "gpt-4", "claude-v1", "tie", "expert_3"),
        vote(84, "gpt-4", "claude-v1", "model_a", "author_0"),  # authors are left out
    ]
    gpt4 = [
        vote(81, "gpt-4", "claude-v1", "model_a", ["gpt-4", "pair-v2"]),
        vote(82, "gpt-4", "claude-v1", "model_a", ["gpt-4", "pair-v2"]),
        vote(83, "gpt-4", "claude-v1", "tie (bothbad)", ["gpt-4", "pair-v2"]),
        vote(81, "gpt-4", "claude-v1", "model_b", ["gpt-4", "pair-v2-multi-turn"], turn=2),
    ]
    human_path, gpt4_path = tmp_path / "human.json", tmp_path / "gpt4.jsonl"
    human_path.write_text(json.dumps(human))
    gpt4_path.write_text("".join(json.dumps(v) + "\n" for v in gpt4))
    return human_path, gpt4_path


def test_hand_counts(tmp_path: Path) -> None:
    rows, warnings = compute(list(write_votes(tmp_path)))
    found = {(r.judge, r.model): (r.wins, r.losses, r.win_rate) for r in rows}
    assert found == {
        ("gpt4-pair", "claude-v1"): (1, 2, 1 / 3),
        ("gpt4-pair", "gpt-4"): (2, 1, 2 / 3),
        ("human", "claude-v1"): (2, 1, 2 / 3),
        ("human", "gpt-4"): (1, 2, 1 / 3),
    }
    assert [r.judge for r in rows][-1] == "human" and not warnings


def test_cli_json_and_side_by_side_table(runner: CliRunner, tmp_path: Path) -> None:
    files = [str(p) for p in write_votes(tmp_path)]
    result = runner.invoke(app, ["agreement", *files, "--win-rates", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert all(set(r) == {"judge", "model", "wins", "losses", "win_rate"} for r in rows)
    assert {"judge": "gpt4-pair", "model": "gpt-4", "wins": 2, "losses": 1, "win_rate": 2 / 3} in rows
    table = runner.invoke(app, ["agreement", *files, "--win-rates"])
    assert table.exit_code == 0, table.stderr
    assert "gpt4-pair" in table.stdout and "human" in table.stdout and "0.667 (2-1)" in table.stdout
    one = runner.invoke(
        app, ["agreement", *files, "--win-rates", "--judges", "human", "human", "--format", "json"]
    )
    assert {r["judge"] for r in json.loads(one.stdout)} == {"human"}
