"""`mtb agreement` on synthetic votes in the published format, checked against a reference
computation of FastChat's compute_agreement written here from its description, independently."""

from __future__ import annotations

import json
import random
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import write_hub_votes_parquet
from mtb.cli.main import app

MODELS = ["alpaca-13b", "claude-v1", "gpt-3.5-turbo", "gpt-4", "llama-13b", "vicuna-13b-v1.2"]


def conversation(question: int, model: str, turns: int) -> list[dict[str, str]]:
    messages = []
    for t in range(turns):
        messages.append({"role": "user", "content": f"Question {question}, turn {t + 1}? " * 20})
        messages.append({"role": "assistant", "content": f"{model} answers turn {t + 1}. " * 40})
    return messages


def vote(
    rng: random.Random, question: int, a: str, b: str, turn: int, judge: Any, winners: list[str]
) -> dict[str, Any]:
    if rng.random() < 0.5:
        a, b = b, a  # stored either way round
    return {
        "question_id": question,
        "model_a": a,
        "model_b": b,
        "winner": rng.choice(winners),
        "judge": judge,
        "turn": turn,
        "conversation_a": conversation(question, a, turn),
        "conversation_b": conversation(question, b, turn),
    }


def synthetic_votes(seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    human, gpt4 = [], []
    for question in range(81, 101):
        for a, b in combinations(MODELS, 2):
            for turn in (1, 2):
                for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
                    expert = f"expert_{rng.randrange(20)}"
                    human.append(vote(rng, question, a, b, turn, expert, ["model_a", "model_b", "tie"]))
                if rng.random() < 0.2:
                    human.append(vote(rng, question, a, b, turn, "author_0", ["model_a", "model_b", "tie"]))
                if rng.random() < 0.8:
                    prompt = "pair-v2" if turn == 1 else "pair-v2-multi-turn"
                    gpt4.append(
                        vote(
                            rng,
                            question,
                            a,
                            b,
                            turn,
                            ["gpt-4", prompt],
                            ["model_a", "model_b", "tie", "tie (inconsistent)"],
                        )
                    )
    return human, gpt4


# ------------------------------------------------------- the reference, from the description


def outcome(record: dict[str, Any]) -> str:
    """Who won, by name, or 'tie': no key ordering involved."""
    winner = record["winner"]
    return record[winner] if winner in ("model_a", "model_b") else "tie"


def match(record: dict[str, Any]) -> tuple[Any, frozenset[str], int]:
    return (record["question_id"], frozenset((record["model_a"], record["model_b"])), record["turn"])


def reference(
    first: list[dict[str, Any]], second: list[dict[str, Any]] | None, turn: int, ties: bool
) -> tuple[int, int]:
    if second is None:
        pairs = [
            (x, y)
            for i, x in enumerate(first)
            for y in first[i + 1 :]
            if match(x) == match(y) and x["turn"] == turn
        ]
    else:
        pairs = [(x, y) for x in first for y in second if match(x) == match(y) and x["turn"] == turn]
    agree = total = 0
    for x, y in pairs:
        if not ties and "tie" in (outcome(x), outcome(y)):
            continue
        total += 1
        agree += outcome(x) == outcome(y)
    return agree, total


def experts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if str(r["judge"]).startswith("expert")]


def write_published(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]], list[dict[str, Any]]]:
    human, gpt4 = synthetic_votes()
    human_path, gpt4_path = tmp_path / "human_judgments.json", tmp_path / "gpt4_pair_judgments.json"
    human_path.write_text(json.dumps(human, indent=1))
    gpt4_path.write_text(json.dumps(gpt4))
    return human_path, gpt4_path, human, gpt4


def rows_by_key(output: str) -> dict[tuple[str, str, int, str], dict[str, Any]]:
    return {(r["judge_1"], r["judge_2"], r["turn"], r["ties"]): r for r in json.loads(output)}


def test_published_format_gives_fastchats_exact_counts(runner: CliRunner, tmp_path: Path) -> None:
    human_path, gpt4_path, human, gpt4 = write_published(tmp_path)
    result = runner.invoke(app, ["agreement", str(human_path), str(gpt4_path), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows = rows_by_key(result.stdout)
    assert set(rows) == {
        (j1, j2, turn, ties)
        for j1, j2 in (("gpt4-pair", "human"), ("human", "human"))
        for turn in (1, 2)
        for ties in ("with", "without")
    }
    for turn in (1, 2):
        for ties in ("with", "without"):
            judge_vs_human = reference(gpt4, experts(human), turn, ties == "with")
            human_vs_human = reference(experts(human), None, turn, ties == "with")
            got = rows[("gpt4-pair", "human", turn, ties)]
            assert (got["agree"], got["total"]) == judge_vs_human
            assert got["ratio"] == pytest.approx(judge_vs_human[0] / judge_vs_human[1])
            got = rows[("human", "human", turn, ties)]
            assert (got["agree"], got["total"]) == human_vs_human
            assert human_vs_human[1] > 0 and human_vs_human[0] < human_vs_human[1]
    # Without ties is strictly fewer pairs: the data does hold ties.
    assert (
        rows[("gpt4-pair", "human", 1, "without")]["total"] < rows[("gpt4-pair", "human", 1, "with")]["total"]
    )


def test_jsonl_and_named_judges(runner: CliRunner, tmp_path: Path) -> None:
    """The Hub dataset written with to_json is JSON lines; --judges picks one comparison."""
    human, gpt4 = synthetic_votes(seed=3)
    human_path, gpt4_path = tmp_path / "human.jsonl", tmp_path / "gpt4_pair.jsonl"
    human_path.write_text("".join(json.dumps(r) + "\n" for r in human))
    gpt4_path.write_text("".join(json.dumps(r) + "\n" for r in gpt4))
    result = runner.invoke(
        app, ["agreement", str(gpt4_path), str(human_path), "--judges", "human", "human", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    rows = rows_by_key(result.stdout)
    assert {k[:2] for k in rows} == {("human", "human")}
    assert (
        rows[("human", "human", 2, "without")]["agree"],
        rows[("human", "human", 2, "without")]["total"],
    ) == (reference(experts(human), None, 2, False))


def mtb_pair_file(path: Path, gpt4: list[dict[str, Any]], seed: int = 11) -> list[dict[str, Any]]:
    """An mtb pair file judging the same matches, two games each."""
    rng = random.Random(seed)
    rows = []
    for r in gpt4:
        rows.append(
            {
                "question_id": r["question_id"],
                "model_1": r["model_a"],
                "model_2": r["model_b"],
                "g1_winner": rng.choice(["model_1", "model_2", "tie", "model_1", "error"]),
                "g2_winner": rng.choice(["model_1", "model_2", "tie", "model_1"]),
                "judge": ["gpt-4o", "pair-v2" if r["turn"] == 1 else "pair-v2-multi-turn"],
                "g1_user_prompt": "p",
                "g1_judgment": "j",
                "g2_user_prompt": "p",
                "g2_judgment": "j",
                "turn": r["turn"],
                "tstamp": 0.0,
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def combined(row: dict[str, Any]) -> dict[str, Any] | None:
    """show_result: a game without a winner drops the match; differing games or a tie game are a tie."""
    if "error" in (row["g1_winner"], row["g2_winner"]):
        return None
    same = row["g1_winner"] == row["g2_winner"] and row["g1_winner"] != "tie"
    winner = {"model_1": "model_a", "model_2": "model_b"}[row["g1_winner"]] if same else "tie"
    return {
        "question_id": row["question_id"],
        "model_a": row["model_1"],
        "model_b": row["model_2"],
        "turn": row["turn"],
        "winner": winner,
    }


def test_an_mtb_pair_file_is_one_side(runner: CliRunner, tmp_path: Path) -> None:
    human_path, gpt4_path, human, gpt4 = write_published(tmp_path)
    pair_path = tmp_path / "gpt-4o_pair.jsonl"
    mtb_rows = mtb_pair_file(pair_path, gpt4)
    votes = [v for v in map(combined, mtb_rows) if v is not None]
    assert len(votes) < len(mtb_rows)  # some games named no winner

    result = runner.invoke(
        app, ["agreement", str(human_path), str(gpt4_path), str(pair_path), "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    assert "game naming no winner" in result.stderr
    rows = rows_by_key(result.stdout)
    for turn in (1, 2):
        for ties in ("with", "without"):
            got = rows[("gpt-4o", "human", turn, ties)]
            assert (got["agree"], got["total"]) == reference(votes, experts(human), turn, ties == "with")
            got = rows[("gpt-4o", "gpt4-pair", turn, ties)]
            assert (got["agree"], got["total"]) == reference(votes, gpt4, turn, ties == "with")


def test_bad_votes_are_path_line_errors(runner: CliRunner, tmp_path: Path) -> None:
    human, _ = synthetic_votes()
    human[3]["winner"] = "model_c"
    path = tmp_path / "human_judgments.json"
    text = json.dumps(human[:10], indent=1)
    path.write_text(text)
    # The record's line is where its object opens.
    opening = text[: text.index('"model_c"')].rfind("{")
    line = text[:opening].count("\n") + 1
    result = runner.invoke(app, ["agreement", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line}: field 'winner' must be model_a, model_b or a tie" in result.stderr
    assert "Traceback" not in result.stderr

    path.write_text(json.dumps(human[:3], indent=1)[:-40])  # cut short
    result = runner.invoke(app, ["agreement", str(path)])
    assert result.exit_code == 2 and f"{path}:" in result.stderr and "not valid JSON" in result.stderr


def test_a_pair_file_being_written_is_read_without_its_unfinished_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    human_path, _, _, gpt4 = write_published(tmp_path)
    pair_path = tmp_path / "gpt-4o_pair.jsonl"
    mtb_pair_file(pair_path, gpt4)
    args = ["agreement", str(human_path), str(pair_path), "--format", "json"]
    clean = runner.invoke(app, args)
    with pair_path.open("a") as handle:
        handle.write('{"question_id": 81, "model_1": "a", "model_2": "b", "g1_win')  # `mtb judge` appending
    appending = runner.invoke(app, args)
    assert appending.exit_code == 0, appending.stderr
    assert appending.stdout == clean.stdout
    note = f"{pair_path}:{len(gpt4) + 1}: last line unfinished (still being written?), left out"
    assert note in " ".join(appending.stderr.split())


def test_a_second_vote_by_one_judge_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    human_path, _, _, gpt4 = write_published(tmp_path)
    path = tmp_path / "gpt4.json"
    path.write_text(json.dumps([*gpt4, gpt4[0]]))
    result = runner.invoke(app, ["agreement", str(human_path), str(path)])
    assert result.exit_code == 2
    assert "a second vote by 'gpt4-pair'" in result.stderr and "Traceback" not in result.stderr


def test_one_judge_alone_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    _, gpt4_path, _, _ = write_published(tmp_path)
    result = runner.invoke(app, ["agreement", str(gpt4_path)])
    assert result.exit_code == 2 and "nothing to compare" in result.stderr
    result = runner.invoke(app, ["agreement", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "file not found" in result.stderr


# ------------------------------------------------------- the Hub's Parquet files


def hub_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Hub's `judge` column is a string: its gpt4_pair split names the judge `gpt4_pair`."""
    return [{**r, "judge": r["judge"] if isinstance(r["judge"], str) else "gpt4_pair"} for r in records]


def test_hub_parquet_files_give_the_counts_of_the_json_files(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mtb.parquet

    monkeypatch.setattr(mtb.parquet, "BATCH_ROWS", 100)  # many record batches, as a large file has
    human_path, gpt4_path, human, gpt4 = write_published(tmp_path)
    human_parquet, gpt4_parquet = tmp_path / "human.parquet", tmp_path / "gpt4_pair.parquet"
    write_hub_votes_parquet(human_parquet, hub_rows(human))
    write_hub_votes_parquet(gpt4_parquet, hub_rows(gpt4))
    assert len(human) > 3 * 100

    from_json = runner.invoke(app, ["agreement", str(human_path), str(gpt4_path), "--format", "json"])
    from_parquet = runner.invoke(
        app, ["agreement", str(human_parquet), str(gpt4_parquet), "--format", "json"]
    )
    assert from_json.exit_code == 0 and from_parquet.exit_code == 0, from_parquet.stderr
    assert json.loads(from_parquet.stdout) == json.loads(from_json.stdout)
    rows = rows_by_key(from_parquet.stdout)
    got = rows[("gpt4-pair", "human", 1, "without")]
    assert (got["agree"], got["total"]) == reference(gpt4, experts(human), 1, False)
    # A Parquet file and a JSON file of other judges mix.
    mixed = runner.invoke(app, ["agreement", str(human_parquet), str(gpt4_path), "--format", "json"])
    assert json.loads(mixed.stdout) == json.loads(from_json.stdout)


def test_bad_parquet_votes_are_path_row_errors(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mtb.parquet

    monkeypatch.setattr(mtb.parquet, "BATCH_ROWS", 7)
    human, _ = synthetic_votes()
    rows = hub_rows(human[:40])
    rows[23]["winner"] = "model_c"
    path = tmp_path / "human.parquet"
    write_hub_votes_parquet(path, rows, row_group_size=10)

    def error(*files: Path) -> str:
        result = runner.invoke(app, ["agreement", *map(str, files)])
        assert result.exit_code == 2, result.output
        assert ("Traceback" not in result.output and result.exception is None) or isinstance(
            result.exception, SystemExit
        )
        return " ".join(result.stderr.split())

    assert f"{path}:row 23: field 'winner' must be model_a, model_b or a tie" in error(path)

    rows[23]["winner"], rows[5]["turn"] = "tie", 0
    write_hub_votes_parquet(path, rows)
    assert f"{path}:row 5: field 'turn' must be 1 or more" in error(path)

    import pyarrow as pa
    import pyarrow.parquet as pq

    without_judge = tmp_path / "no_judge.parquet"
    pq.write_table(pa.table({"question_id": [81], "model_a": ["a"], "model_b": ["b"]}), without_judge)
    assert "missing column(s) winner, judge, turn" in error(without_judge)

    nulls = tmp_path / "nulls.parquet"
    write_hub_votes_parquet(nulls, [{**rows[0], "model_b": None}])
    assert f"{nulls}:row 0: " in error(nulls)

    data = path.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: len(data) // 2])
    assert f"{cut}: not a Parquet file (no PAR1 at the end: cut short?)" in error(cut)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(data[:4] + bytes(len(data) - 8) + data[-4:])
    assert f"{damaged}: not a readable Parquet file" in error(damaged)
    page = tmp_path / "page.parquet"
    page.write_text("<!doctype html><html>Sign in</html>")
    assert "an HTML or XML page" in error(page)
    assert "is a folder" in error(tmp_path)  # a folder named like nothing in particular
    folder = tmp_path / "votes.parquet"
    folder.mkdir()
    assert f"{folder}: is a folder" in error(folder)


def test_without_pyarrow_a_parquet_file_names_the_extra(tmp_path: Path) -> None:
    """A real interpreter in which `import pyarrow` fails, as where the extra is not installed."""
    import os
    import subprocess
    import sys

    stubs = tmp_path / "stubs" / "pyarrow"
    stubs.mkdir(parents=True)
    (stubs / "__init__.py").write_text("raise ImportError('No module named pyarrow')\n")
    human, gpt4 = synthetic_votes()
    votes, other = tmp_path / "human.parquet", tmp_path / "gpt4.json"
    write_hub_votes_parquet(votes, hub_rows(human[:5]))
    other.write_text(json.dumps(gpt4[:5]))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stubs.parent), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "mtb", "agreement", str(votes), str(other)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'mtb[parquet]'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
