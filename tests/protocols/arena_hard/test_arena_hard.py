"""Arena-Hard-Auto v0.1 pieces against upstream's published files and rules."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from mtb.errors import DataError
from mtb.protocols.arena_hard import answers as arena_answers
from mtb.protocols.arena_hard import config as arena_config
from mtb.protocols.arena_hard import judging, scanning, scoring
from mtb.protocols.arena_hard import style as style_control
from mtb.protocols.arena_hard.records import parse_judgment

PATTERN = re.compile(r"\[\[([AB<>=]+)\]\]")


def answers(shared_data: Path, model: str) -> list[dict]:
    path = shared_data / "arena-hard-v0.1" / "model_answer" / f"{model}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_markdown_counts_equal_the_published_conv_metadata(shared_data: Path) -> None:
    checked = 0
    for model in ("claude-3-haiku-20240307", "gemma-2-27b-it", "llama-3-70b-instruct", "gpt-4o-2024-05-13"):
        for answer in answers(shared_data, model):
            expected = {k: v for k, v in answer["conv_metadata"].items() if k != "token_len"}
            assert arena_answers.markdown_counts(answer["choices"][0]["turns"][0]["content"]) == expected
            checked += 1
    assert checked == 2000


def test_token_length_equals_upstreams_tiktoken_counts(shared_data: Path) -> None:
    for answer in answers(shared_data, "gpt-4-0314"):
        turn = answer["choices"][0]["turns"][0]
        assert arena_answers.token_length(turn["content"]) == turn["token_len"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My final verdict is: [[A>>B]]", ("A>>B", False)),
        ("[[A>B]]", ("A>B", False)),
        ("tie: [[A=B]]", ("A=B", False)),
        ("[[B>A]]", ("B>A", False)),
        ("[[B>>A]] and again [[B>>A]]", ("B>>A", False)),  # one distinct label
        ("no label here", (None, True)),  # ask the judge to finish
        ("[[A>B]] ... on reflection [[B>A]]", (None, False)),  # two labels: no verdict, no retry
    ],
)
def test_read_verdict_follows_upstream(text: str, expected: tuple) -> None:
    assert judging.read_verdict(text, PATTERN) == expected


def test_battles_map_games_and_weights() -> None:
    games = [
        ("q1", ["B>>A", "A>>B"]),  # model strongly better in both games: 3 + 3
        ("q2", ["A>B", "B>A"]),  # baseline slightly better in both: 1 + 1
        ("q3", ["A=B", None]),  # a tie, and a game without a label
        ("q4", ["B>A", "A=B"]),
    ]
    counts = scoring.count_battles(iter(games))
    assert (counts.model_wins, counts.baseline_wins, counts.ties, counts.unscored_games) == (7, 2, 2, 1)
    weighted_1 = scoring.count_battles(iter(games), weight=1)
    assert weighted_1.model_wins == 3
    first_only = scoring.count_battles(iter(games), first_game_only=True)
    assert (first_only.model_wins, first_only.baseline_wins, first_only.ties) == (4, 1, 1)


def test_score_is_the_weighted_win_rate_against_the_baseline() -> None:
    counts = {
        "better": scoring.BattleCounts(model_wins=60, baseline_wins=30, ties=10),
        "worse": scoring.BattleCounts(model_wins=20, baseline_wins=70, ties=10),
    }
    scores = {s.model: s for s in scoring.arena_scores(counts, "base", rounds=200, seed=1)}
    assert scores["base"].score == 50.0
    assert scores["better"].score == pytest.approx(65.0, abs=1e-4)  # (60 + 10/2) / 100
    assert scores["worse"].score == pytest.approx(25.0, abs=1e-4)
    assert scores["better"].ci_low < 65 < scores["better"].ci_high
    again = {s.model: s for s in scoring.arena_scores(counts, "base", rounds=200, seed=1)}
    assert again == scores
    other = {s.model: s for s in scoring.arena_scores(counts, "base", rounds=200, seed=2)}
    assert other["better"].ci_low != scores["better"].ci_low


def test_counts_fit_equals_a_row_by_row_logistic_regression() -> None:
    """Upstream fits one logistic-regression row per battle (each duplicated, ties split); so do we here."""
    counts = {
        "m1": scoring.BattleCounts(7, 4, 3),
        "m2": scoring.BattleCounts(2, 9, 1),
        "m3": scoring.BattleCounts(5, 5, 0),
    }
    models = ["base", "m1", "m2", "m3"]
    rows, labels = [], []
    for m, c in counts.items():
        for winner, n in (("model", c.model_wins), ("baseline", c.baseline_wins), ("tie", c.ties)):
            for _ in range(int(n)):
                x = np.zeros(len(models))
                x[0], x[models.index(m)] = np.log(10), -np.log(10)  # model_a is the baseline
                rows += [x, x]
                labels += [
                    1.0 if winner == "baseline" else 0.0,
                    1.0 if winner in ("baseline", "tie") else 0.0,
                ]
    x, y = np.array(rows)[:, 1:], np.array(labels)  # baseline coefficient fixed at 0
    beta = np.zeros(x.shape[1])
    for _ in range(50):  # Newton's method for the unpenalised logistic regression
        p = 1 / (1 + np.exp(-(x @ beta)))
        beta += np.linalg.solve((x.T * (p * (1 - p))) @ x, x.T @ (y - p))
    upstream_elo = 1000 + 400 * beta
    rates = 100 / (1 + 10 ** ((1000 - upstream_elo) / 400))
    ours = {s.model: s.score for s in scoring.arena_scores(counts, "base", rounds=10)}
    assert [ours[m] for m in ("m1", "m2", "m3")] == pytest.approx(list(rates), abs=1e-4)


def test_scan_judgments_reads_upstream_lines_and_falls_back(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    games = [
        {"user_prompt": 'say "score": "A>B"', "judgment": "x\n[[B>A]]", "score": "B>A"},
        {"user_prompt": "p", "judgment": "j", "score": None},
    ]
    lines = [
        json.dumps({"question_id": "q1", "model": "m", "judge": "j", "games": games}),
        json.dumps({"question_id": "q2", "model": "m", "judge": "j", "games": games}, separators=(",", ":")),
        json.dumps({"games": games, "model": "m", "question_id": 7}, indent=None),
    ]
    path.write_text("\n".join(lines) + "\n\n")
    assert list(scanning.scan_judgments(path, parse_judgment)) == [
        ("q1", ["B>A", None]),
        ("q2", ["B>A", None]),
        (7, ["B>A", None]),
    ]
    path.write_text(lines[0] + "\n" + '{"question_id": "q2", "games": [}\n')
    with pytest.raises(DataError, match=r"m.jsonl:2"):
        list(scanning.scan_judgments(path, parse_judgment))


def test_avg_tokens_equal_the_published_leaderboard(shared_data: Path) -> None:
    folder = shared_data / "arena-hard-v0.1"
    text = (folder / "leaderboard" / "arena_hard_leaderboard_20240731.csv").read_text(encoding="utf-8")
    board = {row["model"]: float(row["avg_tokens"]) for row in csv.DictReader(text.splitlines())}
    compared = 0
    for path in sorted((folder / "model_answer").glob("*.jsonl")):
        if path.stem in board:
            assert scoring.file_avg_tokens(path) == board[path.stem], path.stem
            compared += 1
    assert compared == 59


def test_judge_config_is_read_from_the_data_directory(shared_data: Path, tmp_path: Path) -> None:
    config = arena_config.JudgeConfig.load(shared_data / "arena-hard-v0.1" / "config" / "judge_config.yaml")
    assert config.attempts == 2 and config.max_tokens == 4096 and config.temperature == 0
    assert config.system_prompt.startswith("Please act as an impartial judge")
    assert "{question_1}" in config.prompt_templates[0]
    bad = tmp_path / "judge_config.yaml"
    bad.write_text("system_prompt: x\nprompt_template: [a]\nregex_pattern: '(unclosed'\n")
    with pytest.raises(DataError, match="regex_pattern"):
        arena_config.JudgeConfig.load(bad)


def test_style_control_finds_a_length_bias() -> None:
    rng = np.random.default_rng(3)
    questions = [f"q{i}" for i in range(300)]
    base_len = dict(zip(questions, rng.integers(100, 1000, 300), strict=True))
    model_len = dict(zip(questions, rng.integers(100, 1000, 300), strict=True))

    def totals(length: int) -> dict[str, float]:
        return {"token_len": float(length), "header_count": 0.0, "list_count": 1.0, "bold_count": 0.0}

    style = {
        "base": {q: totals(base_len[q]) for q in questions},
        "m": {q: totals(model_len[q]) for q in questions},
    }
    # A judge that prefers whichever answer is longer, in both games.
    games = [(q, ["A>B", "B>A"] if base_len[q] > model_len[q] else ["B>A", "A>B"]) for q in questions]
    result = style_control.style_controlled_scores({"m": games}, style, "base", "length", rounds=20, seed=0)
    assert result.coefficients["token_len"] > 1.0  # the baseline wins when its answer is longer
    plain = {
        s.model: s.score
        for s in scoring.arena_scores({"m": scoring.count_battles(iter(games))}, "base", rounds=10)
    }
    held = {s.model: s.score for s in result.scores}
    assert abs(held["m"] - 50) <= abs(plain["m"] - 50) + 1
    assert set(
        style_control.style_controlled_scores({"m": games}, style, "base", "markdown", rounds=5).coefficients
    ) == {"header_count", "list_count", "bold_count"}
