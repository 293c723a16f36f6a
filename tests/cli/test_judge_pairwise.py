"""`mtb judge --mode pairwise-*` and `mtb results` for them, end to end against the HTTP test server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply


def favour(model_text: dict[int, str], biased_to_a: bool = False):
    """A judge that prefers the answer of one model, or (biased) always picks position A."""

    def respond(request: RecordedRequest) -> Reply:
        prompt = request.last_user_message
        if biased_to_a:
            return Reply(text="A looks better. [[A]]")
        for text in model_text.values():
            if text and text in prompt:
                a_part = prompt.split("Assistant B")[0]
                return Reply(text="[[A]]" if text in a_part else "Verdict: [[B]]")
        return Reply(text="Same. [[C]]")

    return respond


def test_pairwise_baseline_swaps_positions_and_maps_winners(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    gpt4 = {
        a["question_id"]: a["choices"][0]["turns"][0]
        for a in read_jsonl(data_dir / "mt_bench" / "model_answer" / "gpt-4.jsonl")
    }
    server.responder = favour(gpt4)
    args = [
        "judge",
        "--mode",
        "pairwise-baseline",
        "--model-list",
        "gpt-4",
        "llama-13b",
        "--first-n",
        "3",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
        "--data-dir",
        str(data_dir),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl")
    assert len(rows) == 2 * 3 * 2  # two models against gpt-3.5-turbo, 3 questions, 2 turns
    assert {(r["model_1"], r["model_2"]) for r in rows} == {
        ("gpt-4", "gpt-3.5-turbo"),
        ("llama-13b", "gpt-3.5-turbo"),
    }
    assert len(server.chat_requests()) == 24  # two games per match
    turn_1 = [r for r in rows if r["model_1"] == "gpt-4" and r["turn"] == 1]
    # The judge prefers gpt-4's turn-1 text in whichever position it stands: both games name model_1.
    assert {(r["g1_winner"], r["g2_winner"]) for r in turn_1} == {("model_1", "model_1")}
    assert all(r["g1_user_prompt"] != r["g2_user_prompt"] for r in rows)
    assert {tuple(r["judge"]) for r in rows} >= {("gpt-4", "pair-v2"), ("gpt-4", "pair-v2-multi-turn")}

    shown = runner.invoke(
        app, ["results", "--mode", "pairwise-baseline", "--data-dir", str(data_dir), "--format", "json"]
    )
    assert shown.exit_code == 0, shown.stderr
    scores = {s["model"]: s for s in json.loads(shown.stdout)}
    assert set(scores) == {"gpt-4", "llama-13b"}
    assert scores["gpt-4"]["win"] >= 3 and scores["gpt-4"]["inconsistent_rate"] == 0
    assert set(scores["gpt-4"]) >= {
        "win",
        "loss",
        "tie",
        "win_rate",
        "loss_rate",
        "win_rate_adjusted",
        "inconsistent_rate",
        "first_position_rate",
        "longer_answer_win_rate",
    }


def test_position_bias_shows_up_as_inconsistency(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = favour({}, biased_to_a=True)
    args = [
        "judge",
        "--mode",
        "pairwise-all",
        "--model-list",
        "gpt-4",
        "llama-13b",
        "alpaca-13b",
        "--first-n",
        "2",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
        "--data-dir",
        str(data_dir),
    ]
    assert runner.invoke(app, args).exit_code == 0
    rows = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl")
    assert len(rows) == 3 * 2 * 2  # 3 pairs
    assert {(r["g1_winner"], r["g2_winner"]) for r in rows} == {("model_1", "model_2")}
    shown = runner.invoke(
        app,
        [
            "results",
            "--mode",
            "pairwise-all",
            "--data-dir",
            str(data_dir),
            "--format",
            "json",
            "--model-list",
            "gpt-4",
            "llama-13b",
            "alpaca-13b",
        ],
    )
    scores = json.loads(shown.stdout)
    assert len(scores) == 3
    for score in scores:
        assert (score["win"], score["loss"], score["inconsistent_rate"], score["first_position_rate"]) == (
            0,
            0,
            1,
            1,
        )
        assert score["win_rate_adjusted"] == 0.5


def test_unparsed_games_are_rejudged_on_request(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(text="I cannot tell.")
    args = [
        "judge",
        "--mode",
        "pairwise-baseline",
        "--model-list",
        "gpt-4",
        "--first-n",
        "1",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
        "--data-dir",
        str(data_dir),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1  # not one readable verdict
    assert "2 judgment(s) hold a verdict without a score or winner" in result.stderr
    assert "none of the 2 judgment(s) made holds a readable verdict" in result.stderr
    server.responder = lambda request: Reply(text="[[C]]")
    assert runner.invoke(app, [*args, "--retry-unparsed"]).exit_code == 0
    rows = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl")
    assert {(r["g1_winner"], r["g2_winner"]) for r in rows} == {("tie", "tie")}
    assert len(rows) == 2


def hashed_verdict(request: RecordedRequest) -> Reply:
    """A judge whose verdict is a pure function of the prompt's hash: A, B, tie or nothing readable."""
    import hashlib

    digest = hashlib.sha256(request.last_user_message.encode()).digest()[0]
    return Reply(text=["Verdict: [[A]]", "Verdict: [[B]]", "Even. [[C]]", "I cannot decide."][digest % 4])


def test_position_bias_table_matches_a_hand_count(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    from helpers import write_tiny_benchmark

    models = ["m-alpha", "m-beta", "m-gamma"]
    data = write_tiny_benchmark(tmp_path / "data", answer_models=models)
    server.responder = hashed_verdict
    judged = runner.invoke(
        app,
        [
            "judge",
            "--mode",
            "pairwise-all",
            "--model-list",
            *models,
            "--judge-api-base",
            server.url,
            "--judge-api-key",
            "k",
            "--data-dir",
            str(data),
        ],
    )
    assert judged.exit_code in (0, 1), judged.stderr  # unparsed verdicts are kept as "error"
    rows = read_jsonl(data / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl")
    assert len(rows) == 3 * 3 * 2  # 3 pairs, 3 questions, 2 turns

    # By hand: per (judge, prompt), game 1 shows model_1 first and game 2 shows model_2 first.
    expected: dict[tuple[str, str], dict[str, int]] = {}
    for r in rows:
        c = expected.setdefault(tuple(r["judge"]), {"consistent": 0, "first": 0, "second": 0, "error": 0})
        g1, g2 = r["g1_winner"], r["g2_winner"]
        if g1 == g2 and g1 != "error":
            c["consistent"] += 1
        elif g1 == "model_1" and g2 == "model_2":
            c["first"] += 1
        elif g1 == "model_2" and g2 == "model_1":
            c["second"] += 1
        else:
            c["error"] += 1
    assert len(expected) == 2  # pair-v2 for turn 1, pair-v2-multi-turn for turn 2
    assert sum(c["error"] for c in expected.values()) and sum(c["consistent"] for c in expected.values())

    shown = runner.invoke(
        app,
        ["results", "--mode", "pairwise-all", "--position-bias", "--format", "json", "--data-dir", str(data)],
    )
    assert shown.exit_code == 0, shown.stderr
    got = {tuple(b["judge"]): b for b in json.loads(shown.stdout)}
    assert set(got) == set(expected)
    for judge, c in expected.items():
        pairs = sum(c.values())
        b = got[judge]
        assert b["pairs"] == pairs
        assert (b["consistency"], b["biased_first"], b["biased_second"], b["error"]) == (
            c["consistent"] / pairs,
            c["first"] / pairs,
            c["second"] / pairs,
            c["error"] / pairs,
        )

    # Without the flag the pairwise numbers are unchanged; the table shows both.
    plain = runner.invoke(
        app, ["results", "--mode", "pairwise-all", "--format", "json", "--data-dir", str(data)]
    )
    assert "inconsistent_rate" in json.loads(plain.stdout)[0]
    table = runner.invoke(
        app, ["results", "--mode", "pairwise-all", "--position-bias", "--data-dir", str(data)]
    )
    assert table.exit_code == 0 and "biased_first" in table.stdout and "inconsistent_rate" in table.stdout
    single = runner.invoke(app, ["results", "--position-bias", "--data-dir", str(data)])
    assert single.exit_code == 2 and "pairwise" in single.stderr
