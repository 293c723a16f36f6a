"""`mtb results` never scores what does not belong, never prints NaN, never cuts a name, never
shows an empty table as success (docs/reliability.md, "Results")."""

from __future__ import annotations

import json
import subprocess
import sys
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


@pytest.mark.parametrize("mode", ["single", "pairwise-all"])
def test_an_item_judged_again_under_another_prompt_counts_once(
    runner: CliRunner, data_dir: Path, mode: str
) -> None:
    # A rerun with other judge prompts appended to the file: the prompt name is in the key, so each
    # item was counted twice (a model scored 6.5 from 3s and 10s, with 4 judgments of 2 items).
    if mode == "single":
        first = [single("m", 81, 1, 3), single("m", 81, 2, 3), single("other", 81, 1, 5)]
        again = [{**r, "judge": ["gpt-4", "my-prompt"], "score": 10} for r in first[:2]]
        name, expected = "gpt-4_single.jsonl", {"m": (10.0, 2), "other": (5.0, 1)}
    else:
        first = [pair("a", "b", 81, 1, "model_1", "model_1"), pair("a", "b", 81, 2, "model_1", "model_1")]
        again = [
            {**r, "judge": ["gpt-4", "my-pair-prompt"], "g1_winner": "model_2", "g2_winner": "model_2"}
            for r in first
        ]
        name, expected = "gpt-4_pair.jsonl", {"a": (0, 2), "b": (2, 2)}
    write(judgments_dir(data_dir) / name, first + again)
    shown = results(runner, data_dir, "--mode", mode, "--no-ci", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    rows = {r["model"]: r for r in json.loads(shown.stdout)}
    figures = {
        m: (r["average"], r["judgments"]) if mode == "single" else (r["win"], r["judgments"])
        for m, r in rows.items()
    }
    assert figures == expected
    assert "left out 2 judgment(s) of items judged again under another prompt (the last line counts)" in (
        shown.stderr
    )


@pytest.mark.parametrize("mode", ["single", "pairwise-all"])
def test_judge_counts_an_item_judged_under_another_prompt_as_done_as_results_does(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, mode: str
) -> None:
    # `mtb judge` counted such an item as not done (and paid for it again) while `mtb results`
    # counted it once: now both say done, and the plan says why nothing is sent.
    server.responder = lambda request: Reply(text="[[A]] [[7]]")
    args = ["judge", "--mode", mode, "--model-list", "vicuna-7b-v1.3", "gpt-3.5-turbo", "--first-n", "2"]
    args += ["--judge-api-base", server.url, "--judge-api-key", "k", "--data-dir", str(data_dir)]
    assert runner.invoke(app, args).exit_code == 0
    sent = len(server.chat_requests())
    path = judgments_dir(data_dir) / ("gpt-4_single.jsonl" if mode == "single" else "gpt-4_pair.jsonl")
    # The same judgments, made under the prompt names of another prompt map.
    write(path, [{**r, "judge": ["gpt-4", f"old-{r['judge'][1]}"]} for r in read_jsonl(path)])
    judged = len(read_jsonl(path))
    plan = runner.invoke(app, [*args, "--dry-run"])
    assert plan.exit_code == 0, plan.stderr
    summary = json.loads(plan.stdout)
    assert (summary["already_done"], summary["to_make"], summary["done_under_another_prompt"]) == (
        judged,
        0,
        judged,
    )
    assert "count as done, as `mtb results` counts them" in summary["prompt_note"]
    assert f"move {path} aside" in summary["prompt_note"]
    assert runner.invoke(app, args).exit_code == 0
    assert len(server.chat_requests()) == sent  # nothing paid for twice
    shown = results(runner, data_dir, "--mode", mode, "--no-ci", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert sum(r["judgments"] for r in json.loads(shown.stdout)) == judged * (1 if mode == "single" else 2)


def test_a_model_matched_against_itself_is_left_out(runner: CliRunner, data_dir: Path) -> None:
    # Counted, a self-match gave its model a win and a loss at once (win 2, loss 1 from one real match).
    real = pair("a", "b", 81, 1, "model_1", "model_1")
    itself = pair("a", "a", 82, 1, "model_1", "model_1")
    write(judgments_dir(data_dir) / "gpt-4_pair.jsonl", [real, itself])
    shown = results(runner, data_dir, "--mode", "pairwise-all", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    rows = {r["model"]: r for r in json.loads(shown.stdout)}
    assert (rows["a"]["win"], rows["a"]["loss"], rows["a"]["tie"]) == (1, 0, 0)
    assert "left out 1 match(es) of a model against itself: a (1)" in shown.stderr
    bias = results(runner, data_dir, "--mode", "pairwise-all", "--position-bias", "--format", "json")
    assert json.loads(bias.stdout)[0]["pairs"] == 2  # still a check of the judge's position bias


def test_a_model_judged_on_fewer_turns_is_flagged(runner: CliRunner, data_dir: Path) -> None:
    questions = read_jsonl(data_dir / "mt_bench" / "question.jsonl")
    full = [single("whole", q["question_id"], t, 5) for q in questions for t in (1, 2)]
    part = [single("part", q["question_id"], t, 6) for q in questions[:70] for t in (1, 2)]
    write(judgments_dir(data_dir) / "gpt-4_single.jsonl", full + part)
    shown = results(runner, data_dir, "--no-ci", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert "incomplete: judged on fewer question turns than mt_bench has: part (140 of 160)" in shown.stderr
    assert "whole (" not in shown.stderr
    write(judgments_dir(data_dir) / "gpt-4_single.jsonl", full)
    assert "incomplete" not in results(runner, data_dir, "--no-ci").stderr
    # Pairwise against the baseline: matches on fewer question turns are flagged the same way.
    base = "gpt-3.5-turbo"
    matches = [pair(base, "whole", q["question_id"], t, "tie", "tie") for q in questions for t in (1, 2)]
    matches += [pair(base, "part", q["question_id"], t, "tie", "tie") for q in questions[:79] for t in (1, 2)]
    write(judgments_dir(data_dir) / "gpt-4_pair.jsonl", matches)
    shown = results(runner, data_dir, "--mode", "pairwise-baseline", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert "incomplete: judged on fewer question turns than mt_bench has: part (158 of 160)" in shown.stderr
    assert "whole (" not in shown.stderr


def test_pairwise_all_flags_models_with_missing_matches(runner: CliRunner, data_dir: Path) -> None:
    # pairwise-all said nothing of a model with missing matches; the other modes flag it.
    questions = read_jsonl(data_dir / "mt_bench" / "question.jsonl")
    turns = [(q["question_id"], t) for q in questions for t in (1, 2)]
    rows = [pair(a, b, q, t, "model_1", "model_2") for a, b in (("a", "b"), ("a", "c")) for q, t in turns]
    rows += [pair("b", "c", q, t, "model_1", "model_1") for q, t in turns[:-10]]  # b vs c: 10 missing
    write(judgments_dir(data_dir) / "gpt-4_pair.jsonl", rows)
    shown = results(runner, data_dir, "--mode", "pairwise-all", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    said = " ".join(shown.stderr.split())
    assert "incomplete: fewer matches than pairwise-all has" in said
    assert "b (310 of 320; missing against 'c')" in said and "c (310 of 320; missing against 'b')" in said
    assert "a (" not in said
    listed = results(runner, data_dir, "--mode", "pairwise-all", "--model-list", "a", "b", "--format", "json")
    assert listed.exit_code == 0 and "incomplete" not in listed.stderr  # only the listed models' matches


def test_scores_off_the_scale_are_counted_and_said(runner: CliRunner, data_dir: Path) -> None:
    # FastChat keeps [[11]] or [[0]] as they are; so does mtb, but the average they enter is flagged.
    scores = [11, 0, -1.5, 10.5, 8]
    write(
        judgments_dir(data_dir) / "gpt-4_single.jsonl",
        [single("m", 81 + i, 1, s) for i, s in enumerate(scores)],
    )
    shown = results(runner, data_dir, "--no-ci", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert (row["average"], row["judgments"]) == (sum(scores) / 5, 5)
    assert "4 score(s) outside the 1-10 scale are counted as they are" in shown.stderr
    assert "m question 81 turn 1: 11, m question 82 turn 1: 0, m question 83 turn 1: -1.5 and 1 more" in (
        shown.stderr
    )
    write(judgments_dir(data_dir) / "gpt-4_single.jsonl", [single("m", 81, 1, 1), single("m", 82, 1, 10)])
    assert "outside the 1-10 scale" not in results(runner, data_dir, "--no-ci").stderr


# ---------------------------------------------------------------- NaN, unparsed, empty


def test_a_nan_score_is_a_bad_line(runner: CliRunner, data_dir: Path) -> None:
    path = judgments_dir(data_dir) / "gpt-4_single.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(single("m", 81, 1, 5)).replace('"score": 5', '"score": NaN') + "\n")
    shown = results(runner, data_dir)
    assert shown.exit_code == 2
    assert "gpt-4_single.jsonl:1:" in shown.stderr and "Traceback" not in shown.output


@pytest.mark.parametrize("turn", [0, -3])
def test_a_pairwise_turn_below_1_is_a_bad_line(runner: CliRunner, data_dir: Path, turn: int) -> None:
    # Turn -3 was a traceback (an IndexError looking up the answer's length); turn 0 was counted,
    # measured against the answer's last turn.
    rows = [pair("a", "b", 81, 1, "model_1", "model_1"), pair("a", "b", 82, turn, "model_2", "model_2")]
    write(judgments_dir(data_dir) / "gpt-4_pair.jsonl", rows)
    shown = results(runner, data_dir, "--mode", "pairwise-all")
    assert shown.exit_code == 2
    assert "gpt-4_pair.jsonl:2: field 'turn' must be 1 or more" in shown.stderr
    assert "Traceback" not in shown.output and shown.stdout == ""


def test_a_whole_float_id_is_named_as_it_is(runner: CliRunner, data_dir: Path) -> None:
    # 81.0 was reported as "got a non-finite number".
    write(judgments_dir(data_dir) / "gpt-4_single.jsonl", [single("m", 81.0, 1, 5)])
    shown = results(runner, data_dir)
    assert shown.exit_code == 2
    assert (
        "gpt-4_single.jsonl:1: field 'question_id' must be an integer or a string, got 81.0" in shown.stderr
    )


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


@pytest.mark.parametrize("output_format", ["table", "json", "csv"])
def test_a_reader_that_stops_reading_ends_the_command_with_exit_0(tmp_path: Path, output_format: str) -> None:
    """`mtb results | head -1`: no traceback, and not exit 1, which would say items failed."""
    data = tmp_path / "data"
    write(data / "mt_bench" / "question.jsonl", [{"question_id": 1, "category": "writing", "turns": ["W."]}])
    models = [f"model-{n}" for n in range(1500)]  # more output than a pipe's buffer (64 KiB) holds
    write(judgments_dir(data) / "gpt-4_single.jsonl", [single(m, 1, 1, 5) for m in models])
    command = [sys.executable, "-m", "mtb", "results", "--data-dir", str(data), "--format", output_format]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as `head -1` does
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


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


@pytest.mark.parametrize("games", [1, 3, "null"])
def test_arena_record_without_two_games_is_a_bad_line(
    runner: CliRunner, arena_dir: Path, games: int | str
) -> None:
    # The byte scanner took whatever labels it found: game 2 missing, null or a third game was
    # dropped unseen (a score from a record upstream would not read).
    ids = arena_ids(arena_dir)
    rows = [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[i % 5]) for i, q in enumerate(ids)]
    if games == "null":
        rows[3]["games"][1] = None
    else:
        rows[3]["games"] = (rows[3]["games"] * 2)[: int(games)]
    path = arena_judgments(arena_dir, "gpt-3.5-turbo-0125", rows)
    for control in ([], ["--style-control"]):
        shown = results(runner, arena_dir, *ARENA, *control)
        assert shown.exit_code == 2, shown.stderr
        assert f"{path}:4:" in shown.stderr and "Traceback" not in shown.output
        assert shown.stdout == ""


def test_arena_model_judged_on_fewer_questions_is_flagged(runner: CliRunner, arena_dir: Path) -> None:
    ids = arena_ids(arena_dir, 500)
    for model, n in (("gpt-3.5-turbo-0125", 500), ("claude-3-haiku-20240307", 499)):
        arena_judgments(
            arena_dir, model, [arena_line(model, q, OUTCOMES[i % 5]) for i, q in enumerate(ids[:n])]
        )
    for control in ([], ["--style-control"]):
        scores, stderr = arena_scores(runner, arena_dir, *control)
        assert set(scores) == {"gpt-4-0314", "gpt-3.5-turbo-0125", "claude-3-haiku-20240307"}
        assert "incomplete: judged on fewer questions than arena-hard-v0.1 has: claude-3-haiku-20240307 " in (
            stderr
        )
        assert "(499 of 500)" in stderr and "gpt-3.5-turbo-0125 (" not in stderr


# ---------------------------------------------------------------- Arena-Hard v2.0

V2 = ["--bench", "arena-hard-v2.0", "--category", "hard_prompt", "--format", "json"]


def v2_line(model: str, uid: str, i: int) -> dict[str, Any]:
    labels = OUTCOMES[i % 5]
    games = [{"score": label, "judgment": {"answer": "j"}, "prompt": []} for label in labels]
    return {"uid": uid, "category": "hard_prompt", "judge": "gpt-4.1", "model": model, "games": games}


def test_v2_what_is_not_scored_is_said(runner: CliRunner, arena_v2_dir: Path) -> None:
    # Each was silent: a --model-list name with no file, a model judged on 499 of 500 questions,
    # and judgments style control left out for want of an answer.
    root = arena_v2_dir / "arena-hard-v2.0"
    uids = [q["uid"] for q in read_jsonl(root / "question.jsonl") if q["category"] == "hard_prompt"]
    for model, kept in (("m1", uids), ("m2", uids[1:])):
        write(
            root / "model_judgment" / "gpt-4.1" / f"{model}.jsonl",
            [v2_line(model, u, i) for i, u in enumerate(kept)],
        )
    answers = read_jsonl(root / "model_answer" / "o3-mini-2025-01-31.jsonl")
    lacking = {uids[0], uids[1], uids[2]}
    write(
        root / "model_answer" / "m1.jsonl", [{**a, "model": "m1"} for a in answers if a["uid"] not in lacking]
    )
    write(root / "model_answer" / "m2.jsonl", [{**a, "model": "m2"} for a in answers])
    listed = results(runner, arena_v2_dir, *V2, "--model-list", "m1,m2,nosuch")
    assert listed.exit_code == 0, listed.stderr
    assert {r["model"] for r in json.loads(listed.stdout)} == {"m1", "m2", "o3-mini-2025-01-31"}
    assert "no judgment file in" in listed.stderr and "for: nosuch" in listed.stderr
    assert "hard_prompt: m2 is incomplete: judged on 499 of 500 questions" in listed.stderr
    assert "m1 is incomplete" not in listed.stderr
    styled = results(runner, arena_v2_dir, *V2, "--style-control")
    assert styled.exit_code == 0, styled.stderr
    rows = {r["model"]: r for r in json.loads(styled.stdout)}
    assert rows["m1"]["judgments"] == 497
    assert "hard_prompt: m1: 3 judgment(s) left out of style control: no answer of m1" in styled.stderr
    nothing = results(runner, arena_v2_dir, *V2, "--model-list", "nosuch")
    assert nothing.exit_code == 2 and "no judgment file in" in nothing.stderr


def test_arena_other_judges_sharing_the_folder_are_left_out(runner: CliRunner, arena_dir: Path) -> None:
    # Arena-Hard read every line of the judge's folder whatever its `judge` said: half the lines by
    # another judge moved a score without a word (MT-bench already filtered by judge).
    ids = arena_ids(arena_dir)
    mine = [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[1]) for q in ids]  # the model wins every game
    path = arena_judgments(arena_dir, "gpt-3.5-turbo-0125", mine)
    clean, _ = arena_scores(runner, arena_dir)
    theirs = [{**arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[0]), "judge": "other-judge"} for q in ids[:10]]
    write(path, mine + theirs)  # a later run by another judge, appended: it would win the last-line rule
    for control in ([], ["--style-control"]):
        scores, stderr = arena_scores(runner, arena_dir, *control)
        if not control:
            assert scores == clean
        assert "left out 10 judgment(s) by other judges: other-judge (10)" in stderr
    folder = str(path.parent)
    several = results(runner, arena_dir, *ARENA, "--input-file", folder)
    assert several.exit_code == 2
    assert "several judges: gpt-4-1106-preview (30), other-judge (10); choose one with --judge-model" in (
        several.stderr
    )
    chosen = results(runner, arena_dir, *ARENA, "--input-file", folder, "--judge-model", "other-judge")
    assert chosen.exit_code == 0, chosen.stderr
    assert "left out 30 judgment(s) by other judges: gpt-4-1106-preview (30)" in chosen.stderr


def test_v2_other_judges_sharing_the_folder_are_left_out(runner: CliRunner, arena_v2_dir: Path) -> None:
    root = arena_v2_dir / "arena-hard-v2.0"
    uids = [q["uid"] for q in read_jsonl(root / "question.jsonl") if q["category"] == "hard_prompt"]
    mine = [v2_line("m1", u, 1) for u in uids]  # the model wins every game
    theirs = [{**v2_line("m1", u, 0), "judge": "gpt-4.1-mini"} for u in uids[:40]]
    path = write(root / "model_judgment" / "gpt-4.1" / "m1.jsonl", mine)
    clean = results(runner, arena_v2_dir, *V2)
    assert clean.exit_code == 0, clean.stderr
    write(path, mine + theirs)
    shown = results(runner, arena_v2_dir, *V2)
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads(clean.stdout)
    assert "left out 40 judgment(s) by other judges: gpt-4.1-mini (40)" in shown.stderr
    several = results(runner, arena_v2_dir, *V2, "--input-file", str(path.parent))
    assert several.exit_code == 2 and "choose one with --judge-model" in several.stderr


def test_the_baseline_in_the_model_list_is_said_as_it_is(runner: CliRunner, data_dir: Path) -> None:
    # It was "no usable judgments for: gpt-3.5-turbo" (untrue), or exit 2 saying the file held no
    # judgments for a model it named among those judged there.
    write(
        judgments_dir(data_dir) / "gpt-4_pair.jsonl",
        [pair("a", "gpt-3.5-turbo", 81, 1, "model_1", "model_1")],
    )
    shown = results(runner, data_dir, "--mode", "pairwise-baseline", "--model-list", "a,gpt-3.5-turbo")
    assert shown.exit_code == 0, shown.stderr
    assert "'gpt-3.5-turbo' is the baseline; it gets no row" in shown.stderr
    assert "no usable judgments" not in shown.stderr
    alone = results(runner, data_dir, "--mode", "pairwise-baseline", "--model-list", "gpt-3.5-turbo")
    assert alone.exit_code == 2
    assert "--model-list names only the baseline 'gpt-3.5-turbo'" in alone.stderr


# ---------------------------------------------------------------- files still being written

UNFINISHED_NOTE = "last line unfinished (still being written?), left out"


def test_results_while_judge_appends_leave_out_the_unfinished_line(runner: CliRunner, data_dir: Path) -> None:
    """`mtb results` while `mtb judge` appends: the same numbers as without the line being written."""
    rows = [
        single(m, q, t, (q + t + len(m)) % 10 + 1)
        for m in ("m1", "m2")
        for q in range(81, 161)
        for t in (1, 2)
    ]
    path = write(judgments_dir(data_dir) / "gpt-4_single.jsonl", rows)
    before = {f: results(runner, data_dir, "--format", f) for f in ("json", "table")}
    with path.open("a") as handle:
        handle.write(json.dumps(single("m1", 81, 1, 1))[:70])  # a line cut while it is written
    for output_format, clean in before.items():
        shown = results(runner, data_dir, "--format", output_format)
        assert shown.exit_code == 0, shown.stderr
        assert shown.stdout == clean.stdout
        assert shown.stderr.count(UNFINISHED_NOTE) == 1
        assert f"{path}:321: {UNFINISHED_NOTE}" in " ".join(shown.stderr.split())
    # A bad line anywhere else is still an error naming its place.
    path.write_text(path.read_text() + "\n" + json.dumps(single("m1", 82, 1, 3)) + "\n")
    broken = results(runner, data_dir)
    assert broken.exit_code == 2 and f"{path}:321: not valid JSON" in broken.stderr


@pytest.mark.parametrize("control", [[], ["--style-control"]])
def test_arena_results_while_judge_appends_leave_out_the_unfinished_line(
    runner: CliRunner, arena_dir: Path, control: list[str]
) -> None:
    ids = arena_ids(arena_dir)
    rows = [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[i % 5]) for i, q in enumerate(ids)]
    path = arena_judgments(arena_dir, "gpt-3.5-turbo-0125", rows[:-1])
    clean, _ = arena_scores(runner, arena_dir, *control)
    # Cut after the second game's closing brace: it looks like a record's end to the byte scanner.
    cut = json.dumps(rows[-1])
    with path.open("a") as handle:
        handle.write(cut[: cut.rindex("}]") + 1])
    appending, stderr = arena_scores(runner, arena_dir, *control)
    assert appending == clean
    assert f"{path}:{len(ids)}: {UNFINISHED_NOTE}" in " ".join(stderr.split())


# ---------------------------------------------------------------- --input-file, one meaning


def test_arena_input_file_of_one_model_scores_that_model(runner: CliRunner, arena_dir: Path) -> None:
    """`--input-file` is a judgment file in every family; Arena-Hard said "no judgment files here"."""
    ids = arena_ids(arena_dir)
    one = arena_judgments(
        arena_dir,
        "gpt-3.5-turbo-0125",
        [arena_line("gpt-3.5-turbo-0125", q, OUTCOMES[i % 5]) for i, q in enumerate(ids)],
    )
    arena_judgments(
        arena_dir,
        "claude-3-haiku-20240307",
        [arena_line("claude-3-haiku-20240307", q, OUTCOMES[1]) for q in ids],
    )
    folder, _ = arena_scores(runner, arena_dir, "--input-file", str(one.parent))
    assert set(folder) == {"gpt-3.5-turbo-0125", "claude-3-haiku-20240307", "gpt-4-0314"}
    for control in ([], ["--style-control"]):
        scores, _ = arena_scores(runner, arena_dir, "--input-file", str(one), *control)
        assert set(scores) == {"gpt-3.5-turbo-0125", "gpt-4-0314"}  # the model, and the baseline
        if not control:  # each model meets only the baseline: its win rate is its own battles'
            assert scores["gpt-3.5-turbo-0125"]["score"] == pytest.approx(
                folder["gpt-3.5-turbo-0125"]["score"]
            )
    other = results(
        runner, arena_dir, *ARENA, "--input-file", str(one), "--model-list", "claude-3-haiku-20240307"
    )
    assert other.exit_code == 2 and f"no judgment file in {one} for claude-3-haiku-20240307" in other.stderr
    device = results(runner, arena_dir, *ARENA, "--input-file", "/dev/zero")
    assert device.exit_code == 2 and "/dev/zero: is a device" in device.stderr


def test_v2_input_file_of_one_model_scores_that_model(runner: CliRunner, arena_v2_dir: Path) -> None:
    root = arena_v2_dir / "arena-hard-v2.0"
    uids = [q["uid"] for q in read_jsonl(root / "question.jsonl") if q["category"] == "hard_prompt"]
    for model in ("m1", "m2"):
        write(
            root / "model_judgment" / "gpt-4.1" / f"{model}.jsonl",
            [v2_line(model, u, i) for i, u in enumerate(uids)],
        )
    shown = results(
        runner, arena_v2_dir, *V2, "--input-file", str(root / "model_judgment" / "gpt-4.1" / "m2.jsonl")
    )
    assert shown.exit_code == 0, shown.stderr
    assert {r["model"] for r in json.loads(shown.stdout)} == {"m2", "o3-mini-2025-01-31"}


def test_the_input_file_help_says_what_each_family_takes(runner: CliRunner) -> None:
    for command in ("results", "quality"):
        shown = " ".join(runner.invoke(app, [command, "--help"], env={"COLUMNS": "300"}).stdout.split())
        assert "MT-bench: the judge's file, every model in it" in shown
        assert (
            "Arena-Hard v0.1 and v2.0: one model's file in the judge's folder, which scores that model"
            in shown
        )
