"""Arena-Hard-Auto v2.0 pieces against upstream's published files and rules."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mtb.benchmarks import Benchmark
from mtb.data import DataDir
from mtb.errors import DataError, UsageError
from mtb.jsonl import read_records
from mtb.protocols.arena_hard_v2 import PROTOCOL, records, scoring
from mtb.protocols.arena_hard_v2.records import answer_metadata
from mtb.protocols.arena_hard_v2.settings import JudgeConfig, read_judge_settings
from mtb.protocols.base import GeneratedAnswer, JudgeRequest, ResultsRequest
from mtb.records import Question

O3_MINI = "o3-mini-2025-01-31"


def published_answers(source: Path) -> list[dict]:
    path = source / "model_answer" / f"{O3_MINI}.jsonl"
    # split("\n"), not splitlines(): answers hold U+2028 inside their strings.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def test_the_750_questions_load(arena_v2_dir: Path) -> None:
    data = DataDir(arena_v2_dir, Benchmark.load("arena-hard-v2.0"))
    questions = data.questions()
    assert len(questions) == 750
    assert Counter(q.category for q in questions) == {"hard_prompt": 500, "creative_writing": 250}
    path = arena_v2_dir / "arena-hard-v2.0" / "question.jsonl"
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert questions[0] == Question(first["uid"], first["category"], [first["prompt"]])


def test_a_bad_question_is_reported_with_its_line(arena_v2_dir: Path) -> None:
    path = arena_v2_dir / "arena-hard-v2.0" / "question.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[2])
    del bad["prompt"]
    lines[2] = json.dumps(bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = DataDir(arena_v2_dir, Benchmark.load("arena-hard-v2.0"))
    with pytest.raises(DataError, match=r"question.jsonl:3: missing field 'prompt'"):
        data.questions()


def test_the_published_answers_load_and_round_trip(arena_v2_source: Path) -> None:
    rows = published_answers(arena_v2_source)
    answers = PROTOCOL.read_answers(arena_v2_source / "model_answer" / f"{O3_MINI}.jsonl")
    assert len(answers) == 750
    for row in rows:
        answer = answers[row["uid"]]
        assert answer.model_id == O3_MINI and answer.answer_id == row["ans_id"]
        assert records.answer_text(answer) == row["messages"][-1]["content"]["answer"]
        assert records.answer_json(answer) == row
        assert list(records.answer_json(answer)) == list(row)  # key order too


def test_metadata_we_compute_equals_the_published_metadata(arena_v2_source: Path) -> None:
    rows = published_answers(arena_v2_source)
    agree = sum(answer_metadata(r["messages"][-1]["content"]["answer"]) == r["metadata"] for r in rows)
    # o200k_base token counts and markdown counts outside fenced code: every one of the 750.
    assert agree == 750
    assert list(answer_metadata("x")) == list(rows[0]["metadata"])


def test_what_we_write_is_upstreams_schema_and_reads_back(tmp_path: Path) -> None:
    bench = Benchmark.load("arena-hard-v2.0")
    question = Question("abc123", "hard_prompt", ["Write a haiku."])
    text = "# Haiku\n\n- **one**\n- two\n\n```\n# not a header\n```"
    record = PROTOCOL.answer_record(bench, GeneratedAnswer(question, [[text]], "my-model", {}))
    assert list(record) == ["uid", "ans_id", "model", "messages", "tstamp", "metadata"]
    assert record["messages"] == [
        {"role": "user", "content": "Write a haiku."},
        {"role": "assistant", "content": {"answer": text}},
    ]
    assert record["metadata"]["header_count"]["h1"] == 1
    assert record["metadata"]["list_count"] == {"ordered": 0, "unordered": 2}
    assert record["metadata"]["bold_count"] == {"**": 1, "__": 0}
    path = tmp_path / "my-model.jsonl"
    path.write_text(json.dumps(record) + "\n")
    answer = PROTOCOL.read_answers(path)["abc123"]
    assert records.answer_json(answer) == record
    with pytest.raises(UsageError, match="one reply"):
        PROTOCOL.answer_record(bench, GeneratedAnswer(question, [[text], [text]], "my-model", {}))


def test_an_answer_without_the_assistants_answer_is_a_line_error(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    good = {
        "uid": "a",
        "ans_id": "x",
        "model": "m",
        "messages": [{"role": "assistant", "content": {"answer": "hi"}}],
    }
    bad = {**good, "uid": "b", "messages": [{"role": "assistant", "content": "plain text"}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r"m.jsonl:2: .*'answer' string"):
        read_records(path, records.parse_answer)


def test_judge_settings_are_read_as_data(arena_v2_source: Path) -> None:
    settings = read_judge_settings(arena_v2_source / "utils" / "judge_utils.py")
    assert settings["hard_prompt"].baseline == O3_MINI
    assert settings["creative_writing"].baseline == "gemini-2.0-flash-001"
    hard, creative = settings["hard_prompt"].system_prompt, settings["creative_writing"].system_prompt
    assert hard.startswith("Please act as an impartial judge") and creative.startswith("Please act as")
    assert "Begin your evaluation by generating your own answer" in hard
    assert "generating your own answer" not in creative
    assert hard.endswith('"My final verdict is tie: [[A=B]]".')
    assert settings["coding"] == settings["math"] == settings["hard_prompt"]


def test_judge_settings_built_by_code_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "judge_utils.py"
    path.write_text(
        "import pathlib\n"
        "PROMPT = 'judge well'\n"
        "JUDGE_SETTINGS = {\n"
        "    'hard_prompt': {'baseline': 'b', 'system_prompt': PROMPT},\n"
        f"    'creative_writing': {{'baseline': pathlib.Path({str(marker)!r}).write_text('x'),\n"
        "        'system_prompt': PROMPT},\n"
        "}\n"
    )
    with pytest.raises(
        DataError, match=r"judge_utils.py:5: JUDGE_SETTINGS must be literal data, found a function call"
    ):
        read_judge_settings(path)
    assert not marker.exists()
    path.write_text("JUDGE_SETTINGS = {'hard_prompt': {'baseline': 'b', 'system_prompt': UNDEFINED}}\n")
    with pytest.raises(DataError, match=r":1: .*the name 'UNDEFINED'"):
        read_judge_settings(path)
    path.write_text("SETTINGS = {}\n")
    with pytest.raises(DataError, match="assigns no JUDGE_SETTINGS"):
        read_judge_settings(path)
    path.write_text("JUDGE_SETTINGS = {'hard_prompt': {'baseline': 'b'}}\n")
    with pytest.raises(
        DataError, match=r":1: JUDGE_SETTINGS\['hard_prompt'\]: missing field 'system_prompt'"
    ):
        read_judge_settings(path)


def test_the_judge_config(arena_v2_source: Path) -> None:
    config = JudgeConfig.load(arena_v2_source / "config" / "arena-hard-v2.0.yaml")
    assert (config.judge_model, config.temperature, config.max_tokens) == ("gpt-4.1", 0.0, 16000)
    assert [p.pattern for p in config.verdict_patterns] == [r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]"]
    prompt = config.user_prompt("Q?", "first", "second")
    assert prompt.startswith("<|User Prompt|>\nQ?\n\n<|The Start of Assistant A's Answer|>\nfirst\n")
    assert prompt.endswith("second\n<|The End of Assistant B's Answer|>")
    assert config.user_prompt("{x}", "{ANSWER_B}", "b").startswith("<|User Prompt|>\n{x}\n")


@pytest.mark.parametrize(
    ("judgment", "label"),
    [
        ("Verdict: [[A>B]]", "A>B"),
        ("first [[A>>B]] then, after thought, [[b>a]]", "B>A"),  # the last, upper-cased
        ("[B>A] and then [[A=B]]", "A=B"),  # the first pattern wins when it matches anything
        ("only single brackets: [A>B] ... [B>>A]", "B>>A"),
        ("no label at all", None),
        ("[[]] is not a label", None),
    ],
)
def test_verdicts_as_upstream_reads_them(arena_v2_source: Path, judgment: str, label: str | None) -> None:
    config = JudgeConfig.load(arena_v2_source / "config" / "arena-hard-v2.0.yaml")
    assert config.verdict(judgment) == label


def test_label_scores() -> None:
    # Game 1 shows the baseline as A (the model's entries are 1 - s), game 2 the model.
    assert scoring.record_scores(["A>>B", "A>B"]) == [1.0, 0.0, 0.0, 0.0]
    assert scoring.record_scores(["B>>A", "A=B"]) == [0.5, 1.0, 1.0, 1.0]
    assert scoring.record_scores(["B<A", "B<<A"]) == [1.0, 1.0, 1.0, 0.0]
    assert scoring.record_scores([None, "A>B"]) is None
    assert scoring.record_scores(["A>B"]) is None  # a null game: no score key in the line
    assert scoring.record_scores(["A>B>A", "A>B"]) is None  # outside label_to_score


def test_bootstrap_interval_is_the_5th_to_95th_percentile() -> None:
    entries = [1.0] * 30 + [0.0] * 70
    mean, low, high = scoring.bootstrap_mean(entries, 1000, 42, "m")
    assert abs(mean - 0.3) < 0.01
    # The standard error is 0.0458; 5%-95% is about ±1.645 of it (a 95% interval would be ±1.96).
    assert abs((high - low) / 2 - 1.645 * 0.0458) < 0.01


def test_style_control_finds_the_length_effect() -> None:
    rng = np.random.default_rng(0)
    rows: dict[str, list[tuple[list[float], list[float], list[float]]]] = {"long": [], "short": []}
    for _ in range(300):
        # "long" mostly wins when its answer is longer, "short" wins half the time regardless.
        length = float(rng.integers(100, 1000))
        base = [500.0, 1.0, 2.0, 3.0]
        won = rng.random() < (0.8 if length > 500 else 0.2)
        rows["long"].append(([float(won)], [length, 1.0, 2.0, 3.0], base))
        rows["short"].append(([float(rng.integers(0, 2))], [500.0, 1.0, 2.0, 3.0], base))
    plain = {m: np.mean([e for entries, _, _ in r for e in entries]) for m, r in rows.items()}
    held = scoring.style_controlled(rows, "length", rounds=20, seed=1)
    assert set(held.coefficients) == {"length"} and held.coefficients["length"] > 0.3
    assert held.scores["long"][0] < 100 * plain["long"] + 1
    # "short" always matched the baseline's length: holding length equal changes little for it.
    assert abs(held.scores["short"][0] - 100 * plain["short"]) < 5
    assert held.scores["short"][1] < held.scores["short"][0] < held.scores["short"][2]


def test_judging_without_the_creative_baseline_is_a_gap(arena_v2_dir: Path) -> None:
    data = DataDir(arena_v2_dir, Benchmark.load("arena-hard-v2.0"))
    answers = arena_v2_dir / "arena-hard-v2.0" / "model_answer"
    (answers / "my-model.jsonl").write_text(
        (answers / f"{O3_MINI}.jsonl").read_text().replace(O3_MINI, "my-model")
    )
    run = PROTOCOL.plan_judging(data, JudgeRequest(models=["my-model"]))
    assert not run.gaps_are_fatal and len(run.gaps) == 1 and "gemini-2.0-flash-001" in run.gaps[0]
    assert run.summary["judgments"] == 500 and run.summary["judge_calls"] == 1000
    assert (run.params.temperature, run.params.max_tokens) == (0.0, 16000)
    only = PROTOCOL.plan_judging(data, JudgeRequest(models=["my-model"], category="creative_writing"))
    assert only.gaps_are_fatal and "creative_writing" in only.gaps[0]
    with pytest.raises(UsageError, match="--baseline-model"):
        PROTOCOL.plan_judging(data, JudgeRequest(models=["my-model"], baseline_model="x"))
    with pytest.raises(UsageError, match="unknown category 'coding'"):
        PROTOCOL.plan_judging(data, JudgeRequest(models=["my-model"], category="coding"))


def test_duplicate_judgments_count_once_and_a_model_without_scores_gets_none(arena_v2_dir: Path) -> None:
    data = DataDir(arena_v2_dir, Benchmark.load("arena-hard-v2.0"))
    uids = [q.question_id for q in data.questions() if q.category == "hard_prompt"][:4]
    folder = arena_v2_dir / "arena-hard-v2.0" / "model_judgment" / "gpt-4.1"
    folder.mkdir(parents=True)

    def line(uid: str, model: str, first: str | None, second: str | None) -> str:
        games = [{"score": first, "judgment": {"answer": ""}, "prompt": []}, {"score": second}]
        return json.dumps(
            {"uid": uid, "category": "hard_prompt", "judge": "gpt-4.1", "model": model, "games": games}
        )

    (folder / "a.jsonl").write_text(
        "\n".join(
            [
                line(uids[0], "a", "A>B", "A>B"),  # replaced by the next line
                line(uids[0], "a", "B>A", "A>B"),  # entries 1, 1
                line(uids[1], "a", "A=B", "B>A"),  # entries 0, 0.5
                json.dumps({"uid": uids[2], "model": "a", "games": [None, {"score": "A>B"}]}),  # dropped
            ]
        )
        + "\n"
    )
    (folder / "b.jsonl").write_text(line(uids[3], "b", None, "A>B") + "\n")
    report = PROTOCOL.score(data, ResultsRequest(rounds=200))
    by_model = {r["model"]: r for r in report.records}
    assert set(by_model) == {"a", O3_MINI}  # b has no scored judgment: no score at all
    assert abs(by_model["a"]["score"] - 62.5) < 10 and by_model["a"]["judgments"] == 2
    assert by_model["a"]["ci_level"] == "90%" and by_model[O3_MINI]["score"] == 50.0
    assert any("repeat a uid" in w for w in report.warnings)
    assert any("b has no judgment with two verdict labels" in w for w in report.warnings)
    assert "90% CI" in report.tables[0].title and "90% CI" in report.tables[0].columns
    assert re.search(r"a: 1 of 3 judgment", " ".join(report.notes))
