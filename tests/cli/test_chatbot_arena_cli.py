"""`mtb results --bench chatbot-arena --battles FILE`: output, filters, and bad input as path:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import write_arena_conversations_parquet
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

    from mtb.protocols.chatbot_arena.plot import win_fractions
    from mtb.protocols.chatbot_arena.records import A_WINS, B_WINS, TIE, Battles

    a = np.array([0, 0, 1, 0], dtype=np.int32)
    b = np.array([1, 1, 0, 1], dtype=np.int32)
    outcome = np.array([A_WINS, TIE, A_WINS, B_WINS], dtype=np.int8)
    fraction = win_fractions(Battles(["x", "y"], a, b, outcome, np.zeros(4)), ["x", "y"])
    assert fraction[0, 1] == 1 / 4 and fraction[1, 0] == 2 / 4 and np.isnan(fraction[0, 0])


# ------------------------------------------------------- the Hub's 2023 dataset, as Parquet


@pytest.fixture(scope="module")
def conversations_parquet(tmp_path_factory: pytest.TempPathFactory, battle_file: Path) -> Path:
    """The same battles in lmsys/chatbot_arena_conversations' schema (no conv_metadata, no dedup_tag)."""
    path = tmp_path_factory.mktemp("arena_parquet") / "train-00000-of-00001.parquet"
    write_arena_conversations_parquet(path, load_rows(battle_file))
    return path


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["--include-non-anonymous", "--exclude-ties"],
        ["--language", "English", "--language", "German", "--rating", "elo"],
        # No dedup_tag column: every battle is kept, as in JSON without the field.
        ["--dedup", "--min-battles", "50"],
    ],
)
def test_parquet_battles_rate_as_the_same_battles_in_jsonl(
    runner: CliRunner,
    battle_file: Path,
    conversations_parquet: Path,
    flags: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mtb.parquet

    monkeypatch.setattr(mtb.parquet, "BATCH_ROWS", 500)  # several record batches
    # The JSONL twin holds exactly the Parquet file's battle fields.
    fields = ("question_id", "model_a", "model_b", "winner", "judge", "turn", "anony", "language", "tstamp")
    twin = tmp_path / "battles.jsonl"
    twin.write_text("".join(json.dumps({k: r[k] for k in fields}) + "\n" for r in load_rows(battle_file)))
    common = ["--rounds", "20", "--seed", "3", *flags]
    from_parquet = _json(runner, "--battles", str(conversations_parquet), *common)
    assert from_parquet == _json(runner, "--battles", str(twin), *common)
    if not flags:
        assert from_parquet == _json(runner, "--battles", str(battle_file), *common)


def test_bad_parquet_battles_are_path_row_errors(runner: CliRunner, tmp_path: Path) -> None:
    rows = load_rows_of(40)
    path = tmp_path / "b.parquet"

    def error(*flags: str) -> str:
        result = runner.invoke(app, ["results", *BENCH, "--battles", str(path), "--rounds", "10", *flags])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        return " ".join(result.stderr.split()).replace(str(tmp_path) + "/", "")

    bad = [dict(r) for r in rows]
    bad[17]["winner"] = "model_c"
    write_arena_conversations_parquet(path, bad, row_group_size=8)
    assert "b.parquet:row 17: winner must be one of model_a, model_b, tie, tie (bothbad); got 'model_c'" in (
        error()
    )
    bad[17]["winner"], bad[30]["tstamp"] = "tie", float("nan")
    write_arena_conversations_parquet(path, bad)
    assert "b.parquet:row 30: field 'tstamp' must be a number" in error()
    bad[30]["tstamp"], bad[2]["anony"] = 1.0, None
    write_arena_conversations_parquet(path, bad)
    assert "b.parquet:row 2: field 'anony' must be true or false" in error()

    write_arena_conversations_parquet(path, rows)
    # The 2023 dataset has no conv_metadata: style control cannot run on it.
    assert "b.parquet:row 0: style control needs conv_metadata in every battle" in error("--style-control")

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"model_a": ["x"], "model_b": ["y"], "winner": ["tie"]}), path)
    assert "b.parquet: missing column(s) anony, tstamp" in error()
    write_arena_conversations_parquet(tmp_path / "good.parquet", rows)
    data = (tmp_path / "good.parquet").read_bytes()
    path.write_bytes(data[:-100])
    assert "b.parquet: not a Parquet file (no PAR1 at the end: cut short?)" in error()
    path.write_bytes(data[:4] + bytes(len(data) - 8) + data[-4:])
    assert "b.parquet: not a readable Parquet file" in error()


def load_rows_of(n: int) -> list[dict[str, object]]:
    return [
        {
            "model_a": f"m{i % 3}",
            "model_b": f"m{(i + 1) % 3}",
            "winner": ("model_a", "model_b", "tie", "tie (bothbad)")[i % 4],
            "anony": True,
            "language": "English",
            "tstamp": 1_682_000_000.0 + i,
        }
        for i in range(n)
    ]


def _battle(a: str, b: str, winner: str, t: int) -> str:
    return json.dumps({"model_a": a, "model_b": b, "winner": winner, "anony": True, "tstamp": t}) + "\n"


def test_ratings_that_measure_nothing_are_flagged(
    runner: CliRunner, tmp_path: Path, battle_file: Path
) -> None:
    # Two groups that never met were ranked side by side (a and c both "rank 1"), and a model with one
    # battle, or only ties, got an interval 0 wide: both printed as if measured, without a word.
    path = tmp_path / "battles.jsonl"
    path.write_text(_battle("a", "b", "model_a", 1) + _battle("c", "d", "model_a", 2))
    result = runner.invoke(app, ["results", *BENCH, "--battles", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "the battles fall into 2 groups of models that never met (a, b; c, d)" in result.stderr
    assert "every battle ended the same way for: a, b, c, d;" in result.stderr
    path.write_text("".join(_battle("a", "b", "tie", t) for t in range(5)) + _battle("b", "c", "model_a", 6))
    result = runner.invoke(app, ["results", *BENCH, "--battles", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "groups" not in result.stderr
    assert "every battle ended the same way for: a, c;" in result.stderr  # b tied and won
    # A log where every model met and had mixed results gets neither warning.
    plain = runner.invoke(app, ["results", *BENCH, "--battles", str(battle_file), "--rounds", "10"])
    assert plain.exit_code == 0 and "warning" not in plain.stderr
