"""`mtb results` never scores what does not belong, never prints NaN, never cuts a name, never
shows an empty table as success (docs/reliability.md, "Results")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, Reply

NARROW = {"COLUMNS": "80"}  # a pipe, a CI log: conftest's 200 columns would hide the problem


def single(model: str, qid: Any, turn: int, score: float, judge: str = "gpt-4") -> dict[str, Any]:
    return {
        "question_id": qid,
        "model": model,
        "judge": [judge, "single-v1" if turn == 1 else "single-v1-multi-turn"],
        "user_prompt": "p",
        "judgment": f"[[{score}]]",
        "score": score,
        "turn": turn,
        "tstamp": 0.0,
    }


def pair(m1: str, m2: str, qid: int, turn: int, g1: str, g2: str, judge: str = "gpt-4") -> dict[str, Any]:
    return {
        "question_id": qid,
        "model_1": m1,
        "model_2": m2,
        "g1_winner": g1,
        "g2_winner": g2,
        "judge": [judge, "pair-v2" if turn == 1 else "pair-v2-multi-turn"],
        "g1_user_prompt": "p1",
        "g1_judgment": "j1",
        "g2_user_prompt": "p2",
        "g2_judgment": "j2",
        "turn": turn,
        "tstamp": 0.0,
    }


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def judgments_dir(data: Path) -> Path:
    return data / "mt_bench" / "model_judgment"


def results(runner: CliRunner, data: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["results", "--data-dir", str(data), *args], env=env)


def as_json(runner: CliRunner, data: Path, *args: str) -> dict[str, dict[str, Any]]:
    shown = results(runner, data, "--format", "json", *args)
    assert shown.exit_code == 0, shown.stderr
    return {row["model"]: row for row in json.loads(shown.stdout)}


# ---------------------------------------------------------------- pooling what does not belong


def test_other_judges_sharing_the_file_name_are_left_out(runner: CliRunner, data_dir: Path) -> None:
    # 'openai/gpt-4o' and 'openai_gpt-4o' both write openai_gpt-4o_single.jsonl.
    rows = [single("m", 81, 1, 9, "openai/gpt-4o"), single("m", 81, 2, 7, "openai/gpt-4o")]
    rows += [single("m", 82, 1, 1, "openai_gpt-4o"), single("m", 82, 2, 1, "openai_gpt-4o")]
    write(judgments_dir(data_dir) / "openai_gpt-4o_single.jsonl", rows)
    shown = results(runner, data_dir, "--judge-model", "openai/gpt-4o", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    (m,) = json.loads(shown.stdout)
    assert (m["average"], m["judgments"]) == (8.0, 2)
    assert "left out 2 judgment(s) by other judges: openai_gpt-4o (2)" in shown.stderr
    other = as_json(runner, data_dir, "--judge-model", "openai_gpt-4o")
    assert other["m"]["average"] == 1.0


def test_an_input_file_with_several_judges_needs_judge_model(runner: CliRunner, data_dir: Path) -> None:
    path = write(
        data_dir / "mixed.jsonl", [single("m", 81, 1, 9, "judge-a"), single("m", 81, 1, 2, "judge-b")]
    )
    shown = results(runner, data_dir, "--input-file", str(path))
    assert shown.exit_code == 2
    assert "several judges: judge-a (1), judge-b (1); choose one with --judge-model" in shown.stderr
    assert "Traceback" not in shown.output
    chosen = as_json(runner, data_dir, "--input-file", str(path), "--judge-model", "judge-b")
    assert chosen["m"]["average"] == 2.0
    alone = write(data_dir / "alone.jsonl", [single("m", 81, 1, 4, "judge-c")])
    assert as_json(runner, data_dir, "--input-file", str(alone))["m"]["average"] == 4.0


@pytest.mark.parametrize("mode", ["single", "pairwise-all"])
def test_unknown_questions_and_turns_are_left_out(runner: CliRunner, data_dir: Path, mode: str) -> None:
    if mode == "single":
        good = [single("m", 81, 1, 8), single("m", 81, 2, 6)]
        bad = [single("m", 9999, 1, 1), single("m", "81", 1, 1), single("m", 82, 3, 1)]
        name = "gpt-4_single.jsonl"
    else:
        good = [pair("a", "b", 81, 1, "model_1", "model_1"), pair("a", "b", 81, 2, "model_1", "model_1")]
        bad = [pair("a", "b", q, t, "model_2", "model_2") for q, t in ((9999, 1), ("81", 1), (82, 3))]
        name = "gpt-4_pair.jsonl"
    write(judgments_dir(data_dir) / name, good)
    clean = as_json(runner, data_dir, "--mode", mode, "--no-ci")
    write(judgments_dir(data_dir) / name, good + bad)
    shown = results(runner, data_dir, "--mode", mode, "--no-ci", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert {r["model"]: r for r in json.loads(shown.stdout)} == clean
    assert "left out 2 judgment(s) of questions not in" in shown.stderr and "9999, '81'" in shown.stderr
    assert "left out 1 judgment(s) of turns the question does not have: question 82 turn 3" in shown.stderr


# ---------------------------------------------------------------- NaN, unparsed, empty


def test_a_nan_score_is_a_bad_line(runner: CliRunner, data_dir: Path) -> None:
    path = judgments_dir(data_dir) / "gpt-4_single.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(single("m", 81, 1, 5)).replace('"score": 5', '"score": NaN') + "\n")
    shown = results(runner, data_dir)
    assert shown.exit_code == 2
    assert "gpt-4_single.jsonl:1:" in shown.stderr and "Traceback" not in shown.output


def test_a_model_with_every_verdict_unparsed_is_listed_single(runner: CliRunner, data_dir: Path) -> None:
    write(
        judgments_dir(data_dir) / "gpt-4_single.jsonl",
        [single("good", 81, 1, 8), single("lost", 81, 1, -1), single("lost", 81, 2, -1)],
    )
    shown = results(runner, data_dir, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert "NaN" not in shown.stdout
    rows = json.loads(shown.stdout)
    assert [r["model"] for r in rows] == ["good", "lost"]
    lost = rows[1]
    assert (lost["judgments"], lost["excluded"], lost["average"]) == (0, 2, None)
    assert "no verdict with a rating for: lost" in shown.stderr
    table = results(runner, data_dir, "--format", "markdown")
    assert "| lost | - | - | - |" in table.stdout


def test_a_model_with_every_verdict_unparsed_is_listed_pairwise(runner: CliRunner, data_dir: Path) -> None:
    write(
        judgments_dir(data_dir) / "gpt-4_pair.jsonl",
        [
            pair("good", "gpt-3.5-turbo", 81, 1, "model_1", "model_1"),
            pair("lost", "gpt-3.5-turbo", 81, 1, "error", "model_1"),
            pair("lost", "gpt-3.5-turbo", 81, 2, "tie", "error"),
        ],
    )
    shown = results(runner, data_dir, "--mode", "pairwise-baseline", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    rows = {r["model"]: r for r in json.loads(shown.stdout)}
    assert set(rows) == {"good", "lost"}
    assert (rows["lost"]["judgments"], rows["lost"]["excluded"], rows["lost"]["win_rate"]) == (0, 2, None)
    assert "no match with a winner in both games for: lost" in shown.stderr


@pytest.mark.parametrize("name", ["gpt-4_single.jsonl", "gpt-4_pair.jsonl"])
def test_an_empty_judgment_file_is_not_a_result(runner: CliRunner, data_dir: Path, name: str) -> None:
    path = write(judgments_dir(data_dir) / name, [])
    mode = "single" if "single" in name else "pairwise-all"
    shown = results(runner, data_dir, "--mode", mode)
    assert shown.exit_code == 2
    assert f"{path}: holds no judgments" in shown.stderr
    assert shown.stdout == ""


def test_a_baseline_without_matches_is_an_error(runner: CliRunner, data_dir: Path) -> None:
    write(judgments_dir(data_dir) / "gpt-4_pair.jsonl", [pair("a", "gpt-3.5-turbo", 81, 1, "tie", "tie")])
    shown = results(runner, data_dir, "--mode", "pairwise-baseline", "--baseline-model", "nosuch")
    assert shown.exit_code == 2
    assert "holds no match against the baseline 'nosuch' (models judged here: 'a', 'gpt-3.5-turbo')" in (
        shown.stderr
    )
    assert shown.stdout == ""
    listed = results(runner, data_dir, "--model-list", "zzz")
    assert listed.exit_code == 2  # no gpt-4_single.jsonl at all
    write(judgments_dir(data_dir) / "gpt-4_single.jsonl", [single("m", 81, 1, 5)])
    listed = results(runner, data_dir, "--model-list", "zzz")
    assert listed.exit_code == 2 and "no judgments in" in listed.stderr and "for zzz" in listed.stderr


# ---------------------------------------------------------------- pairwise-all: one match per pair


def test_pairwise_all_is_the_same_whatever_the_list_order(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(text="[[A]]")

    def judge(*models: str) -> None:
        args = ["judge", "--mode", "pairwise-all", "--model-list", *models, "--first-n", "2"]
        args += ["--judge-api-base", server.url, "--judge-api-key", "k", "--data-dir", str(data_dir)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.stderr

    judge("llama-13b", "alpaca-13b")
    sent = len(server.chat_requests())
    assert sent == 2 * 2 * 2  # 2 questions, 2 turns, 2 games
    judge("alpaca-13b", "llama-13b")
    assert len(server.chat_requests()) == sent  # the same matches: nothing new to pay for
    path = judgments_dir(data_dir) / "gpt-4_pair.jsonl"
    once = as_json(runner, data_dir, "--mode", "pairwise-all")
    # A file that holds the matches the other way round (another tool's order) counts as done too.
    swap = {"model_1": "model_2", "model_2": "model_1", "tie": "tie", "error": "error"}
    stored = read_jsonl(path)
    flipped = [
        {
            **r,
            "model_1": r["model_2"],
            "model_2": r["model_1"],
            "g1_winner": swap[r["g2_winner"]],
            "g2_winner": swap[r["g1_winner"]],
        }
        for r in stored
    ]
    write(path, flipped)
    judge("llama-13b", "alpaca-13b")
    assert len(server.chat_requests()) == sent
    # Both orders in one file: each match counted once.
    write(path, stored + flipped)
    both = results(runner, data_dir, "--mode", "pairwise-all", "--format", "json")
    assert both.exit_code == 0, both.stderr
    assert {r["model"]: r for r in json.loads(both.stdout)} == once
    assert "repeats 4 judgment(s); each is counted once" in both.stderr


# ---------------------------------------------------------------- readable at 80 columns


def assert_whole(output: str, names: list[str], headers: list[str]) -> None:
    from rich.cells import cell_len

    assert "…" not in output
    assert all(cell_len(line) <= 80 for line in output.splitlines())
    words = {w for line in output.splitlines() for w in line.replace("│", " ").replace("┃", " ").split()}
    for name in [*names, *headers]:
        assert name in words, f"{name} is cut or missing"
    # In every table, not just one: each row's first cell is a whole name (a cut one leaves
    # its head on one line and its tail on the next).
    first_cells = {line.split("│")[1].strip() for line in output.splitlines() if line.startswith("│")}
    assert first_cells <= {*names, ""}, first_cells - {*names, ""}


def published_models(data: Path) -> list[str]:
    return sorted(p.stem for p in (data / "mt_bench" / "model_answer").glob("*.jsonl"))


def test_single_table_at_80_columns_keeps_every_name(runner: CliRunner, data_dir: Path) -> None:
    models = published_models(data_dir)
    assert len(models) == 31
    questions = read_jsonl(data_dir / "mt_bench" / "question.jsonl")
    rows = [
        single(m, q["question_id"], t, (i + q["question_id"] + t) % 10 + 1)
        for i, m in enumerate(models)
        for q in questions
        for t in (1, 2)
    ]
    write(judgments_dir(data_dir) / "gpt-4_single.jsonl", rows)
    shown = results(runner, data_dir, "--no-ci", env=NARROW)
    assert shown.exit_code == 0, shown.stderr
    categories = sorted({q["category"] for q in questions})
    headers = ["model", "turn_1", "turn_2", "average", "judgments", "excluded", *categories]
    assert_whole(shown.stdout, models, headers)
    with_ci = results(runner, data_dir, env=NARROW)
    assert_whole(with_ci.stdout, models, ["average_ci_low", "average_ci_high"])


def test_pairwise_table_at_80_columns_keeps_every_name(runner: CliRunner, data_dir: Path) -> None:
    models = [m for m in published_models(data_dir) if m != "gpt-3.5-turbo"]
    rows = [pair(m, "gpt-3.5-turbo", 81, 1, "model_1", "tie") for m in models]
    write(judgments_dir(data_dir) / "gpt-4_pair.jsonl", rows)
    shown = results(runner, data_dir, "--mode", "pairwise-baseline", env=NARROW)
    assert shown.exit_code == 0, shown.stderr
    headers = ["win_rate_adjusted", "inconsistent_rate", "first_position_rate", "longer_answer_win_rate"]
    assert_whole(shown.stdout, models, headers)


def test_long_names_at_80_columns_without_published_data(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    questions = [
        {"question_id": 1, "category": "writing", "turns": ["Write.", "Again."]},
        {"question_id": 2, "category": "humanities", "turns": ["Think.", "More."]},
    ]
    write(data / "mt_bench" / "question.jsonl", questions)
    models = [
        "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
        "a-fine-tuned-model-with-a-very-long-name-v2",
        "x",
        # 42 characters, 60 terminal cells: measured by len(), it was planned to fit and wrapped.
        "日本語モデル日本語モデル日本語モデル-large-instruct",
    ]
    rows = [single(m, q, t, 5 + t) for m in models for q in (1, 2) for t in (1, 2)]
    write(judgments_dir(data) / "gpt-4_single.jsonl", rows)
    shown = results(runner, data, env=NARROW)
    assert shown.exit_code == 0, shown.stderr
    assert_whole(shown.stdout, models, ["average_ci_low", "average_ci_high", "humanities", "judgments"])


# ---------------------------------------------------------------- Arena-Hard

ARENA = ["--bench", "arena-hard-v0.1"]
# (game 1, game 2) labels, game 1 showing the baseline as A: the model loses, wins, ties, wins big, loses big.
OUTCOMES = [("A>B", "B>A"), ("B>A", "A>B"), ("A=B", "A=B"), ("B>>A", "A>>B"), ("A>>B", "B>>A")]


def arena_line(model: str, qid: str, labels: tuple[str | None, ...]) -> dict[str, Any]:
    games = [{"user_prompt": "u", "judgment": f"[[{label}]]", "score": label} for label in labels]
    return {"question_id": qid, "model": model, "judge": "gpt-4-1106-preview", "games": games, "tstamp": 0}


def arena_judgments(data: Path, model: str, rows: list[dict[str, Any]]) -> Path:
    return write(data / "arena-hard-v0.1" / "model_judgment" / "gpt-4-1106-preview" / f"{model}.jsonl", rows)


def arena_ids(data: Path, n: int = 30) -> list[str]:
    return [q["question_id"] for q in read_jsonl(data / "arena-hard-v0.1" / "question.jsonl")[:n]]


def arena_scores(runner: CliRunner, data: Path, *args: str) -> tuple[dict[str, dict[str, Any]], str]:
    shown = results(runner, data, *ARENA, "--format", "json", *args)
    assert shown.exit_code == 0, shown.stderr
    return {row["model"]: row for row in json.loads(shown.stdout)}, shown.stderr


@pytest.mark.parametrize("control", [[], ["--style-control"]])
def test_arena_duplicated_lines_are_counted_once(
    runner: CliRunner, arena_dir: Path, control: list[str]
) -> None:
    ids = arena_ids(arena_dir)
    rows = [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[i % 5]) for i, q in enumerate(ids)]
    path = arena_judgments(arena_dir, "gpt-3.5-turbo-0125", rows)
    clean, _ = arena_scores(runner, arena_dir, *control)
    wins = [r for r in rows if r["games"][0]["score"] == "B>>A"]
    write(path, rows + wins + wins)  # the big wins appended twice more
    repeated, stderr = arena_scores(runner, arena_dir, *control)
    assert repeated == clean
    assert f"{path} repeats {2 * len(wins)} judgment(s); each is counted once" in stderr


def test_arena_model_without_scored_games_gets_no_row(runner: CliRunner, arena_dir: Path) -> None:
    ids = arena_ids(arena_dir)
    arena_judgments(
        arena_dir, "gpt-3.5-turbo-0125", [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[1]) for q in ids]
    )
    arena_judgments(
        arena_dir,
        "claude-3-haiku-20240307",
        [arena_line("claude-3-haiku-20240307", q, (None, None)) for q in ids],
    )
    for control in ([], ["--style-control"]):
        scores, stderr = arena_scores(runner, arena_dir, *control)
        assert set(scores) == {"gpt-4-0314", "gpt-3.5-turbo-0125"}
        assert "claude-3-haiku-20240307 (left out)" in stderr
    empty = arena_judgments(arena_dir, "claude-3-haiku-20240307", [])
    scores, stderr = arena_scores(runner, arena_dir)
    assert set(scores) == {"gpt-4-0314", "gpt-3.5-turbo-0125"}
    assert f"{empty} holds no judgments; claude-3-haiku-20240307 is left out" in stderr
    arena_judgments(arena_dir, "gpt-3.5-turbo-0125", [])
    for control in ([], ["--style-control"]):
        nothing = results(runner, arena_dir, *ARENA, *control)
        assert nothing.exit_code == 2, nothing.stderr
        assert "gpt-4-0314" not in nothing.stdout and "Traceback" not in nothing.output


def test_arena_baseline_never_judged_against_is_an_error(runner: CliRunner, arena_dir: Path) -> None:
    ids = arena_ids(arena_dir)
    arena_judgments(
        arena_dir, "gpt-3.5-turbo-0125", [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[1]) for q in ids]
    )
    nosuch = results(runner, arena_dir, *ARENA, "--baseline-model", "nosuch")
    assert nosuch.exit_code == 2
    assert "no judgment in" in nosuch.stderr and "against 'nosuch': it has no answers" in nosuch.stderr
    assert "nosuch" not in nosuch.stdout
    judged = results(runner, arena_dir, *ARENA, "--baseline-model", "gpt-3.5-turbo-0125")
    assert judged.exit_code == 2
    assert "'gpt-3.5-turbo-0125' cannot be the baseline" in judged.stderr


def test_a_megabyte_model_name_prints_plainly_and_fast(runner: CliRunner, tmp_path: Path) -> None:
    """Rich lays out a wrapped cell in seconds per megabyte: such a table is printed plainly, whole."""
    import time

    name = "m" * 3_000_000
    path = tmp_path / "judgments.jsonl"
    rows = [
        {"question_id": 81, "model": model, "judge": ["gpt-4", "single-v1"], "score": 5, "turn": 1}
        for model in (name, "short")
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "mt_bench").mkdir()
    question = {"question_id": 81, "category": "writing", "turns": ["one?", "two?"]}
    (tmp_path / "mt_bench" / "question.jsonl").write_text(json.dumps(question) + "\n")
    started = time.monotonic()
    shown = runner.invoke(app, ["results", "--input-file", str(path), "--no-ci", "--data-dir", str(tmp_path)])
    assert time.monotonic() - started < 10
    assert shown.exit_code == 0, shown.stderr
    assert name in shown.stdout and "short" in shown.stdout
