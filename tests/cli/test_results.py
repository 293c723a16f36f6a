"""`mtb results --mode single` through the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtb.cli.main import app


def judgment(model: str, qid: int, turn: int, score: float) -> dict:
    prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
    return {
        "question_id": qid,
        "model": model,
        "judge": ["gpt-4", prompt],
        "user_prompt": "p",
        "judgment": f"[[{score}]]",
        "score": score,
        "turn": turn,
        "tstamp": 0.0,
    }


@pytest.fixture
def judged(data_dir: Path) -> Path:
    rows = [
        judgment("a", 81, 1, 8),
        judgment("a", 81, 2, 6),
        judgment("a", 101, 1, 10),
        judgment("a", 101, 2, -1),
        judgment("a", 111, 1, 3),
        judgment("a", 111, 2, 4),
        judgment("b", 81, 1, 9),
        judgment("b", 81, 2, 9),
        judgment("b", 81, 2, 9),  # a duplicate line
    ]
    path = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data_dir


def test_json_follows_show_result_semantics(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["model"] for r in rows] == ["b", "a"]
    a = rows[1]
    assert list(a) == [
        "model",
        "turn_1",
        "turn_2",
        "average",
        "judgments",
        "excluded",
        "categories",
        "ci",
        "placement",
    ]
    # Placed only among models judged on the same question turns: b was judged on 2 of a's 6.
    assert a["placement"] == "no other model here was judged on the same 6 question turns"
    b = rows[0]
    assert b["placement"] == "above every other model here; next: a (7.00) (on the same 2 question turns)"
    low, high = a["ci"]["average"]
    assert low <= a["average"] <= high
    assert a["turn_1"] == pytest.approx(7.0)  # (8 + 10 + 3) / 3
    assert a["turn_2"] == pytest.approx(5.0)  # (6 + 4) / 2, the -1 is left out
    assert a["average"] == pytest.approx(31 / 5)  # pooled rows, not the mean of turn means
    assert (a["judgments"], a["excluded"]) == (5, 1)
    assert a["categories"] == {"writing": 7.0, "reasoning": 10.0, "math": 3.5}
    assert rows[0]["judgments"] == 2  # the duplicate counted once
    assert "repeats 1 judgment" in result.stderr


def test_model_list_filters(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(
        app, ["results", "--data-dir", str(judged), "--format", "json", "--model-list", "a"]
    )
    assert [r["model"] for r in json.loads(result.stdout)] == ["a"]


def test_csv_and_markdown(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert table[1]["model"] == "a" and float(table[1]["average"]) == pytest.approx(6.2)
    assert table[1]["reasoning"] == "10.0" and table[0]["reasoning"] == ""
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "markdown", "--no-ci"])
    assert result.stdout.splitlines()[0].startswith("| model | turn_1 | turn_2 | average |")
    assert "| a | 7.00 | 5.00 | 6.20 | 5 | 1 |" in result.stdout


def test_table_goes_to_stdout(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(app, ["results", "--data-dir", str(judged)])
    assert result.exit_code == 0
    assert "6.20" in result.stdout and "Mean score by category" in result.stdout


def test_input_file_and_bad_line(runner: CliRunner, judged: Path, tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps(judgment("c", 81, 1, 5)) + "\n" + '{"question_id": 81, "model": "c"}\n')
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--input-file", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2: missing field 'judge'" in result.stderr


def test_intervals_are_reproducible_with_a_seed(runner: CliRunner, judged: Path) -> None:
    def intervals(*extra: str) -> dict:
        result = runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json", *extra])
        return {r["model"]: r["ci"] for r in json.loads(result.stdout)}

    assert intervals("--seed", "3") == intervals("--seed", "3")
    assert intervals("--seed", "3") != intervals("--seed", "4")
    assert (
        "ci"
        not in json.loads(
            runner.invoke(app, ["results", "--data-dir", str(judged), "--format", "json", "--no-ci"]).stdout
        )[0]
    )


def test_compare_gives_a_paired_difference(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(
        app, ["results", "--data-dir", str(judged), "--compare", "b", "a", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    comparison = json.loads(result.stdout)
    # Only question 81 is shared: b averages 9, a averages (8 + 6) / 2 = 7 there.
    assert comparison["difference"] == pytest.approx(2.0)
    assert comparison["questions"] == 1
    assert "+2.000 over 1 questions" in result.stderr


def test_compare_unknown_model_is_a_usage_error(runner: CliRunner, judged: Path) -> None:
    result = runner.invoke(app, ["results", "--data-dir", str(judged), "--compare", "a", "zzz"])
    assert result.exit_code == 2
    assert "no usable judgments for 'zzz'" in result.stderr


def test_plain_results_says_which_other_judges_files_exist(runner: CliRunner, judged: Path) -> None:
    folder = judged / "mt_bench" / "model_judgment"
    other = [{**judgment("c", 81, 1, 5), "judge": ["judge-x", "single-v1"]}]
    (folder / "judge-x_single.jsonl").write_text("".join(json.dumps(r) + "\n" for r in other))
    result = runner.invoke(app, ["results", "--data-dir", str(judged)])
    assert result.exit_code == 0, result.stderr
    assert "scored the default judge gpt-4's file; other judges' files here: judge-x" in result.stderr
    assert "--judge-model NAME" in result.stderr

    # Named, the judge's own file is scored and nothing is said of the others.
    named = runner.invoke(app, ["results", "--data-dir", str(judged), "--judge-model", "judge-x"])
    assert named.exit_code == 0 and "other judges' files" not in named.stderr

    # Without the default judge's file, the error names the files there are.
    (folder / "gpt-4_single.jsonl").unlink()
    missing = runner.invoke(app, ["results", "--data-dir", str(judged)])
    assert missing.exit_code == 2
    assert "no judgments by the default judge gpt-4 here; other judges' files here: judge-x" in missing.stderr
