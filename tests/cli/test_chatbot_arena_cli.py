"""`mtb results --bench chatbot-arena --battles FILE`: output, filters, and bad input as path:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtb.cli.main import app
from mtb.testing.arena_battles import generate, load_rows

BENCH = ["--bench", "chatbot-arena"]


@pytest.fixture(scope="module")
def battle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arena") / "battles.jsonl"
    generate(path, 3_000, 6, seed=7, layout="jsonl")
    return path


def _json(runner: CliRunner, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["results", *BENCH, "--format", "json", *args])
    assert result.exit_code == 0, result.output
    records: list[dict[str, object]] = json.loads(result.stdout)
    return records


def test_json_has_one_object_per_model_with_the_issues_keys(runner: CliRunner, battle_file: Path) -> None:
    records = _json(runner, "--battles", str(battle_file), "--rounds", "20")
    rows = [r for r in load_rows(battle_file) if r["anony"]]
    assert len(records) == len({r["model_a"] for r in rows} | {r["model_b"] for r in rows})
    for record in records:
        assert set(record) == {"model", "rating", "ci_low", "ci_high", "rank", "battles", "online_elo"}
        assert record["ci_low"] <= record["rating"] <= record["ci_high"]  # type: ignore[operator]
        assert record["battles"] == sum(1 for r in rows if record["model"] in (r["model_a"], r["model_b"]))
    assert sum(r["battles"] for r in records) == 2 * len(rows)  # type: ignore[misc]


def test_filters_change_what_is_counted(runner: CliRunner, battle_file: Path) -> None:
    rows = load_rows(battle_file)

    def total(*flags: str) -> int:
        return sum(
            r["battles"] for r in _json(runner, "--battles", str(battle_file), "--rounds", "10", *flags)
        )  # type: ignore[misc]

    ties = ("tie", "tie (bothbad)")
    assert total("--include-non-anonymous") == 2 * len(rows)
    assert total("--exclude-ties") == 2 * sum(1 for r in rows if r["anony"] and r["winner"] not in ties)
    assert total("--language", "English") == 2 * sum(
        1 for r in rows if r["anony"] and r["language"] == "English"
    )
    assert total("--dedup") == 2 * sum(1 for r in rows if r["anony"] and r["dedup_tag"]["sampled"])


def test_anchor_pins_a_model_and_min_battles_drops_rare_ones(runner: CliRunner, battle_file: Path) -> None:
    records = _json(runner, "--battles", str(battle_file), "--rounds", "10", "--anchor", "model-002=1114")
    assert next(r["rating"] for r in records if r["model"] == "model-002") == pytest.approx(1114.0)
    fewest = min(r["battles"] for r in records)  # type: ignore[type-var]
    kept = _json(runner, "--battles", str(battle_file), "--rounds", "10", "--min-battles", str(fewest + 1))
    assert len(kept) == len(records) - 1


def test_style_control_and_elo_run(runner: CliRunner, battle_file: Path) -> None:
    result = runner.invoke(
        app, ["results", *BENCH, "--battles", str(battle_file), "--rounds", "10", "--style-control"]
    )
    assert result.exit_code == 0, result.output
    assert "style coefficients: length +" in result.stderr  # the generator favours longer answers
    elo = _json(runner, "--battles", str(battle_file), "--rounds", "10", "--rating", "elo")
    assert all(float(r["rating"]).is_integer() for r in elo)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '[\n  {"model_a": "x", "model_b": "y", "winner": "model_a", "anony": true, "tstamp": 1},\n'
            '  {"model_a": "x",\n   "model_b": "y", "winner": "bad", "anony": true, "tstamp": 2}\n]\n',
            "b.json:3: winner must be one of model_a, model_b, tie, tie (bothbad); got 'bad'",
        ),
        (
            '{"model_a": "x", "model_b": "y", "winner": "tie", "anony": true, "tstamp": 1}\n'
            '{"model_a": "x", "model_b": "y", "winner": "tie", "anony": true}\n',
            "b.json:2: missing field 'tstamp'",
        ),
        (
            '[{"model_a": "x", "model_b": "y", "winner": "tie", "anony": true, "tstamp": 1},\n',
            "b.json:2: the JSON array is not closed",
        ),
        (
            '{"model_a": "x", "model_b": "y", "winner": "tie", "anony": true, "tstamp": NaN}\n',
            "b.json:1: NaN is not a JSON number",
        ),
        (
            '{"model_a": "x", "model_b": "y", "winner": "tie", "anony": true, "tstamp": 1}\n{oops\n',
            "b.json:2: not valid JSON",
        ),
        (
            '{"model_a": "x", "model_b": "y", "winner": "tie", "anony": "yes", "tstamp": 1}\n',
            "b.json:1: field 'anony' must be true or false",
        ),
        (
            '{"model_a": "x", "model_b": "y", "winner": "tie", "anony": false, "tstamp": 1}\n',
            "b.json: no battle left to rate after the filters",
        ),
        ("[]", "b.json: has no battle"),
    ],
)
def test_bad_battle_files_are_path_line_exit_2(
    runner: CliRunner, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "b.json"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["results", *BENCH, "--battles", str(path)])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.stderr.split()).replace(str(tmp_path) + "/", "")
    assert "Traceback" not in result.output


def test_non_utf8_battle_file_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"model_a": "x\xff", "model_b": "y", "winner": "tie", "anony": true, "tstamp": 1}\n')
    result = runner.invoke(app, ["results", *BENCH, "--battles", str(path)])
    assert result.exit_code == 2 and "not valid UTF-8" in result.stderr


def test_flags_that_mean_nothing_here_are_usage_errors(runner: CliRunner, battle_file: Path) -> None:
    for extra in (["--anchor", "nosuch=1000"], ["--anchor", "x"], ["--mode", "single"], ["--length-control"]):
        result = runner.invoke(app, ["results", *BENCH, "--battles", str(battle_file), *extra])
        assert result.exit_code == 2, (extra, result.output)
    other = runner.invoke(app, ["results", "--bench", "mt_bench", "--battles", str(battle_file)])
    assert other.exit_code == 2 and "--battles applies to Chatbot Arena" in other.stderr
    for command in (["judge", *BENCH], ["generate", *BENCH, "--provider", "fake", "--model", "fake"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "has no questions to" in result.stderr, result.output
    missing = runner.invoke(app, ["results", *BENCH, "--data-dir", str(battle_file.parent / "none")])
    assert missing.exit_code == 2 and "download-baselines --bench chatbot-arena" in missing.stderr


def test_plot_draws_ratings_and_the_win_fraction_heatmap(
    runner: CliRunner, battle_file: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "arena.svg"
    result = runner.invoke(
        app, ["results", *BENCH, "--battles", str(battle_file), "--rounds", "10", "--plot", str(out)]
    )
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    assert "rating (95% interval)" in svg and "model-000" in svg


def test_win_fractions_follow_fastchat() -> None:
    import numpy as np

    from mtb.protocols.chatbot_arena.battles import A_WINS, B_WINS, TIE, Battles
    from mtb.protocols.chatbot_arena.plot import win_fractions

    a = np.array([0, 0, 1, 0], dtype=np.int32)
    b = np.array([1, 1, 0, 1], dtype=np.int32)
    outcome = np.array([A_WINS, TIE, A_WINS, B_WINS], dtype=np.int8)
    fraction = win_fractions(Battles(["x", "y"], a, b, outcome, np.zeros(4)), ["x", "y"])
    assert fraction[0, 1] == 1 / 4 and fraction[1, 0] == 2 / 4 and np.isnan(fraction[0, 0])
