"""`mtb bias verbosity` and `mtb bias position` end to end against the HTTP test server, on the
published MT-bench answers; every figure checked against a hand count of the records written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app
from mtb.protocols.mt_bench.bias import find_numbered_list
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

REPHRASE = "Rewrite the numbered list below"


def is_rephrase(request: RecordedRequest) -> bool:
    return request.last_user_message.startswith(REPHRASE)


def is_judge(request: RecordedRequest) -> bool:
    return any(m["role"] == "system" and "impartial judge" in m["content"] for m in request.messages)


def shown_answers(prompt: str, first: str = "A", second: str = "B") -> tuple[str, str]:
    def between(name: str) -> str:
        start = prompt.index(f"[The Start of Assistant {name}'s Answer]\n") + len(
            f"[The Start of Assistant {name}'s Answer]\n"
        )
        return prompt[start : prompt.index(f"\n[The End of Assistant {name}'s Answer]")]

    return between(first), between(second)


def rephrasing(request: RecordedRequest) -> str:
    """Each item of the list said again in other words (a prefix): still a numbered list."""
    numbered = request.last_user_message.split("\n\n", 1)[1]
    items = [line for line in numbered.splitlines() if re.match(r"\s*\d+[.)]\s", line)]
    return "Here it is:\n\n" + "\n".join(
        re.sub(r"^(\s*\d+[.)]\s+)", r"\1In other words, ", line) for line in items
    )


def verbosity_responder(refuse: set[int] = frozenset()):  # type: ignore[assignment]
    """Rephrases (without a list for the questions in `refuse`); the judge prefers the longer answer
    on even questions and the first-shown answer on odd ones."""

    def respond(request: RecordedRequest) -> Reply:
        if is_rephrase(request):
            return Reply(text=rephrasing(request))
        prompt = request.last_user_message
        first, second = shown_answers(prompt)
        if first == second:
            return Reply(text="They are the same. [[C]]")
        longer_first = len(first) > len(second)
        question = prompt.split("\n\n", 1)[0]
        if len(question) % 2 == 0:
            return Reply(text="[[A]]" if longer_first else "[[B]]")
        return Reply(text="The first is better. [[A]]")

    return respond


def args_for(server: OpenAIServer, data_dir: Path, *extra: str) -> list[str]:
    return [
        "bias",
        "verbosity",
        "--api-base",
        server.url,
        "--api-key",
        "k",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
        "--data-dir",
        str(data_dir),
        "--format",
        "json",
        *extra,
    ]


def test_verbosity_attacks_23_answers_and_counts_failures_by_hand(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = verbosity_responder()
    result = runner.invoke(
        app, args_for(server, data_dir, "--model-list", "gpt-4", "claude-v1", "vicuna-13b-v1.3")
    )
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    records = read_jsonl(Path(shown["records"]))
    assert len(records) == shown["answers"] == 23
    assert {r["model"] for r in records} <= {"gpt-4", "claude-v1", "vicuna-13b-v1.3"}
    for record in records:
        found = find_numbered_list(record["original"])
        assert found is not None and found.items >= 2
        assert len(record["attacked"]) > len(record["original"])
        listed = found.text_of(record["original"]).splitlines()
        assert all(line in record["attacked"].splitlines() for line in listed)
        # The rephrasing goes in at the start of the list: before it, the text is the original's.
        assert record["attacked"].startswith(record["original"][: found.start])
        assert record["attacked"].endswith(record["original"][found.start :])
    requests = server.chat_requests()
    assert sum(is_rephrase(r) for r in requests) == 23
    assert sum(is_judge(r) for r in requests) == 46
    assert all(r.body["temperature"] == 0 for r in requests if is_judge(r))
    failures = sum(1 for r in records if r["g1_winner"] == "attacked" and r["g2_winner"] == "attacked")
    assert shown["failures"] == failures
    assert shown["failure_rate"] == failures / 23
    assert 0 < failures < 23  # the judge above falls for it on some questions only
    assert shown["attacked_won_g1"] == sum(r["g1_winner"] == "attacked" for r in records) / 23
    assert shown["attacked_won_g2"] == sum(r["g2_winner"] == "attacked" for r in records) / 23
    assert shown["judge"] == "gpt-4" and shown["rephrase_unusable"] == 0
    # The rephrasing instruction's sha256 is in the run file.
    runs = read_jsonl(Path(shown["records"]).with_name("gpt-4.runs.jsonl"))
    assert any(len(r.get("settings", {}).get("rephrase_instruction_sha256", "")) == 64 for r in runs)

    # A rerun pays for nothing twice, and shows the same numbers.
    again = runner.invoke(
        app, args_for(server, data_dir, "--model-list", "gpt-4", "claude-v1", "vicuna-13b-v1.3")
    )
    assert again.exit_code == 0, again.stderr
    assert len(server.chat_requests()) == 69
    assert json.loads(again.stdout) == shown


def test_the_pick_is_seeded(runner: CliRunner, server: OpenAIServer, data_dir: Path) -> None:
    server.responder = verbosity_responder()
    picks = []
    for seed in ("1", "1", "2"):
        result = runner.invoke(
            app, [*args_for(server, data_dir, "--answers", "5", "--seed", seed), "--dry-run"]
        )
        assert result.exit_code == 0, result.stderr
        picks.append(json.loads(result.stdout))
    assert not server.chat_requests()  # a dry run sends nothing
    assert picks[0] == picks[1]
    assert picks[0]["rephrase_requests"] == 5 and picks[0]["judge_requests"] == 10
    assert picks[0]["estimated_cost_usd"] is not None  # gpt-4's price is in the table


def test_unusable_rephrasings_are_counted_not_dropped(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    calls = {"n": 0}

    def respond(request: RecordedRequest) -> Reply:
        if is_rephrase(request):
            calls["n"] += 1
            if calls["n"] <= 3:
                return Reply(text="I would rather not rewrite this.")
        return verbosity_responder()(request)

    server.responder = respond
    result = runner.invoke(app, args_for(server, data_dir, "--answers", "6", "--parallel", "1"))
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    records = read_jsonl(Path(shown["records"]))
    assert len(records) == 6
    unusable = [r for r in records if not r["rephrase_usable"]]
    assert len(unusable) == shown["rephrase_unusable"] == 3
    assert all(
        r["rephrased"] == "I would rather not rewrite this." and r["attacked"] is None for r in unusable
    )
    assert sum(is_judge(r) for r in server.chat_requests()) == 2 * 3  # only the usable ones are judged
    assert shown["judged"] == 3


def test_control_judges_each_original_against_itself(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = verbosity_responder()
    result = runner.invoke(app, args_for(server, data_dir, "--answers", "4", "--control"))
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["control_pairs"] == 4 and shown["control_tie_rate"] == 1.0
    assert sum(is_judge(r) for r in server.chat_requests()) == 4 * 2 + 4


def test_too_few_answers_with_a_list_is_a_usage_error(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    result = runner.invoke(app, args_for(server, data_dir, "--model-list", "gpt-4", "--answers", "80"))
    assert result.exit_code == 2
    assert "numbered list" in result.stderr and "--answers" in result.stderr


# ---------------------------------------------------------------- position


def position_responder(request: RecordedRequest) -> Reply:
    """Answers that depend on the seed; a judge that always picks the first-shown answer under the
    default prompt, and under the renamed one the seed-7 answer on some questions, X on the others."""
    if not is_judge(request):
        return Reply(text=f"An answer sampled with seed {request.body.get('seed')}.")
    prompt = request.last_user_message
    if "Assistant A" in prompt:
        return Reply(text="[[A]]")
    question = prompt.split("\n\n", 1)[0]
    if len(question) % 2 == 0:
        first, _ = shown_answers(prompt, "X", "Y")
        return Reply(text="[[X]]" if "seed 7" in first else "[[Y]]")  # the same answer in both orders
    return Reply(text="X goes first. [[X]]")


def test_position_by_the_papers_protocol(runner: CliRunner, server: OpenAIServer, data_dir: Path) -> None:
    server.responder = position_responder
    args = [
        "bias",
        "position",
        "--model",
        "gpt-3.5-turbo",
        "--prompt",
        "default",
        "--prompt",
        "rename",
        "--seed",
        "7",
        "--api-base",
        server.url,
        "--api-key",
        "k",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
        "--data-dir",
        str(data_dir),
        "--format",
        "json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    requests = server.chat_requests()
    generation = [r for r in requests if not is_judge(r)]
    assert len(generation) == 160
    assert {r.body["temperature"] for r in generation} == {0.7}
    assert sorted({r.body["seed"] for r in generation}) == [7, 8]
    judged = [r for r in requests if is_judge(r)]
    text = ["\n".join(m["content"] for m in r.messages) for r in judged]
    assert sum("Assistant A" in t and "Assistant B" in t for t in text) == 160
    assert sum("Assistant A" not in t and "Assistant B" not in t for t in text) == 160
    assert [r["prompt"] for r in rows] == ["default", "rename"]
    for row in rows:
        pairs = read_jsonl(Path(row["records"]))
        assert len(pairs) == row["pairs"] == 80
        counts = {"consistency": 0, "biased_first": 0, "biased_second": 0, "error": 0}
        for p in pairs:
            g1, g2 = p["g1_winner"], p["g2_winner"]
            if g1 == g2 and g1 != "error":
                counts["consistency"] += 1
            elif (g1, g2) == ("model_1", "model_2"):
                counts["biased_first"] += 1
            elif (g1, g2) == ("model_2", "model_1"):
                counts["biased_second"] += 1
            else:
                counts["error"] += 1
        for name, count in counts.items():
            assert row[name] == count / 80, name
        # The pair file is FastChat's schema: `mtb results` reads it and finds the same table.
        shown = runner.invoke(
            app,
            [
                "results",
                "--mode",
                "pairwise-all",
                "--position-bias",
                "--input-file",
                row["records"],
                "--data-dir",
                str(data_dir),
                "--format",
                "json",
            ],
        )
        assert shown.exit_code == 0, shown.stderr
        (bias,) = json.loads(shown.stdout)
        assert {k: bias[k] for k in counts} == {k: row[k] for k in counts}
    default, rename = rows
    assert default["biased_first"] == 1.0
    assert 0 < rename["consistency"] < 1 and rename["consistency"] + rename["biased_first"] == 1.0

    # A rerun sends nothing.
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.stderr
    assert len(server.chat_requests()) == 480


def test_verbosity_rerun_after_failures_sends_only_what_is_missing(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    inner = verbosity_responder()
    failed = {"n": 0}

    def respond(request: RecordedRequest) -> Reply:
        if is_judge(request) and failed["n"] < 4:
            failed["n"] += 1
            return Reply(status=500)
        return inner(request)

    server.responder = respond
    args = args_for(server, data_dir, "--answers", "10", "--max-attempts", "1")
    first = runner.invoke(app, args)
    assert first.exit_code == 1, first.stderr
    assert "failed" in first.stderr
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.stderr
    requests = server.chat_requests()
    assert sum(is_rephrase(r) for r in requests) == 10  # never asked twice
    # Every game once, and the 4 that failed once more: a game that succeeded beside a failed
    # one was kept (mtb.replies) and taken back instead of asked again.
    assert sum(is_judge(r) for r in requests) == 20 + 4
    assert len(read_jsonl(Path(json.loads(second.stdout)["records"]))) == 10


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ({"g1_winner": None}, "field 'g1_winner' must be one of original, attacked, tie, error, got None"),
        (
            {"g2_winner": "first"},
            "field 'g2_winner' must be one of original, attacked, tie, error, got 'first'",
        ),
        ({"rephrase_usable": "yes"}, "field 'rephrase_usable' must be true or false"),
        ({"question_id": [81]}, "field 'question_id' must be an integer or a string"),
    ],
)
def test_a_damaged_record_is_path_line_not_a_traceback_nor_a_count(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, damage: dict[str, object], problem: str
) -> None:
    # The summary read each record's winners as they were: a missing one was a KeyError
    # traceback, an unknown one was counted as no failure without a word.
    server.responder = verbosity_responder()
    first = runner.invoke(app, args_for(server, data_dir, "--answers", "4", "--control"))
    assert first.exit_code == 0, first.stderr
    path = Path(json.loads(first.stdout)["records"])
    rows = read_jsonl(path)
    rows[2] = {**rows[2], **damage}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = runner.invoke(app, args_for(server, data_dir, "--answers", "4", "--control"))
    assert again.exit_code == 2, again.stderr
    assert f"{path}:3: {problem}" in " ".join(again.stderr.split())
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("name", "damage", "problem"),
    [
        ("rephrased", {"rephrased": 5}, "field 'rephrased' must be a string"),
        ("control", {"winner": "A"}, "field 'winner' must be one of first, second, tie, error, got 'A'"),
    ],
)
def test_damaged_rephrasings_and_control_records_are_path_line(
    runner: CliRunner,
    server: OpenAIServer,
    data_dir: Path,
    name: str,
    damage: dict[str, object],
    problem: str,
) -> None:
    server.responder = verbosity_responder()
    first = runner.invoke(app, args_for(server, data_dir, "--answers", "4", "--control"))
    assert first.exit_code == 0, first.stderr
    records = Path(json.loads(first.stdout)["records"])
    path = (
        records.parent / "rephrased" / "gpt-4.jsonl"
        if name == "rephrased"
        else records.with_name("gpt-4_control.jsonl")
    )
    rows = read_jsonl(path)
    rows[0] = {**rows[0], **damage}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = runner.invoke(app, args_for(server, data_dir, "--answers", "4", "--control"))
    assert again.exit_code == 2, again.stderr
    assert f"{path}:1: {problem}" in " ".join(again.stderr.split())
