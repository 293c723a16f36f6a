"""Seeded corruption of every kind of input file, through results, judge --dry-run and browse --export.

Whatever the damage, a command must end by itself, with exit 0, 1 or 2, without a
traceback, and every error it reports must name the file (and the line, where
the damage is on one). The data is made here, so this runs without the
published data; the corruptions are seeded, so a failure reproduces.
"""

from __future__ import annotations

import json
import random
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mtb.cli.main import app

SEED = 20261129
MODELS = ("model-a", "model-b")
CATEGORIES = ("writing", "math", "coding")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def judge_prompts() -> list[dict[str, Any]]:
    """Prompts under FastChat's names, with the placeholders FastChat's templates use."""
    one = "[Q]{question}[A]{answer}"
    two = "{question_1}{answer_1}{question_2}{answer_2}"
    pair_one = "{question}{answer_a}{answer_b}"
    pair_two = "{question_1}{answer_a_1}{answer_b_1}{question_2}{answer_a_2}{answer_b_2}"
    ref_one, ref_two = " ref {ref_answer_1}", " ref {ref_answer_1}{ref_answer_2}"
    templates = {
        "single-v1": one,
        "single-v1-multi-turn": two,
        "single-math-v1": one + ref_one,
        "single-math-v1-multi-turn": two + ref_two,
        "pair-v2": pair_one,
        "pair-v2-multi-turn": pair_two,
        "pair-math-v1": pair_one + ref_one,
        "pair-math-v1-multi-turn": pair_two + ref_two,
    }
    return [
        {
            "name": name,
            "type": "pairwise" if name.startswith("pair") else "single",
            "system_prompt": "Judge; end with the rating as [[rating]].",
            "prompt_template": template,
            "description": "",
            "category": "general",
            "output_format": "[[rating]]",
        }
        for name, template in templates.items()
    ]


def make_data(root: Path) -> dict[str, Path]:
    bench = root / "mt_bench"
    questions = [
        {"question_id": 81 + i, "category": CATEGORIES[i % 3], "turns": [f"q{i} one?", f"q{i} two?"]}
        for i in range(6)
    ]
    write_jsonl(bench / "question.jsonl", questions)
    write_jsonl(root / "judge_prompts.jsonl", judge_prompts())

    def answer(qid: int, model: str) -> dict[str, Any]:
        turns = [f"{model} answers {qid} once", f"{model} answers {qid} twice"]
        return {
            "question_id": qid,
            "answer_id": f"{model}{qid}",
            "model_id": model,
            "choices": [{"index": 0, "turns": turns}],
            "tstamp": 1.0,
        }

    for model in MODELS:
        write_jsonl(
            bench / "model_answer" / f"{model}.jsonl", [answer(q["question_id"], model) for q in questions]
        )
    write_jsonl(
        bench / "reference_answer" / "gpt-4.jsonl", [answer(q["question_id"], "gpt-4") for q in questions]
    )
    judgments = [
        {
            "question_id": q["question_id"],
            "model": model,
            "judge": ["gpt-4", "single-v1"],
            "user_prompt": "p",
            "judgment": "Rating: [[5]]",
            "score": (q["question_id"] + turn) % 10 + 1,
            "turn": turn,
            "tstamp": 2.0,
            "run_id": f"run-{model}",
        }
        for q in questions
        for model in MODELS
        for turn in (1, 2)
    ]
    # The first line stays as a published file has it (no run_id): unknown provenance, mixed in.
    del judgments[0]["run_id"]
    write_jsonl(bench / "model_judgment" / "gpt-4_single.jsonl", judgments)
    run = {
        "command": "judge",
        "model": "gpt-4",
        "output": "mt_bench/model_judgment/gpt-4_single.jsonl",
        "started": 1.0,
        "finished": 2.0,
        "requests": 4,
        "completed": 4,
        "input_tokens": 4000,
        "output_tokens": 400,
        "replies_without_usage": 0,
        "cost_usd": 0.144,
        "price": None,
        "max_cost_usd": None,
        "stopped_by_max_cost": False,
    }
    write_jsonl(bench / "runs" / "cost.jsonl", [run])
    # How they were made (mtb.provenance): one run per model, with the same settings.
    runs = []
    for model in MODELS:
        settings = {"model": "gpt-4", "provider": "openai", "temperature": 0, "prompts": {"single-v1": "ab"}}
        runs.append({"run_id": f"run-{model}", "started": "2024-01-01T00:00:00Z", "settings": settings})
        runs.append({"run_id": f"run-{model}", "finished": "2024-01-01T00:01:00Z", "served_models": {"g": 1}})
    write_jsonl(bench / "model_judgment" / "gpt-4_single.runs.jsonl", runs)
    return {
        "questions": bench / "question.jsonl",
        "answers": bench / "model_answer" / "model-a.jsonl",
        "judgments": bench / "model_judgment" / "gpt-4_single.jsonl",
        "prompts": root / "judge_prompts.jsonl",
        "cost_log": bench / "runs" / "cost.jsonl",
        "runs": bench / "model_judgment" / "gpt-4_single.runs.jsonl",
    }


# ---------------------------------------------------------------- corruptions


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def flip_bytes(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(3):
        at = rng.randrange(len(data))
        data[at] = rng.choice(b'{}[]":,0a\\')
    path.write_bytes(bytes(data))


def non_utf8(path: Path, rng: random.Random) -> None:
    lines = _lines(path)
    at = rng.randrange(len(lines))
    lines[at] = lines[at][:5] + b"\xff\xfe" + lines[at][5:]
    path.write_bytes(b"".join(lines))


def truncate(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(1, len(data) - 1)])


def nan_number(path: Path, rng: random.Random) -> None:
    text = path.read_text(encoding="utf-8")
    value = rng.choice(["NaN", "Infinity", "-Infinity"])
    numbers = list(re.finditer(r'(?<=": )-?\d+(\.\d+)?', text))
    if not numbers:  # a file of strings only (judge prompts): add a number field
        path.write_text(text.replace("{", '{"weight": ' + value + ", ", 1), encoding="utf-8")
        return
    chosen = rng.choice(numbers)
    path.write_text(text[: chosen.start()] + value + text[chosen.end() :], encoding="utf-8")


def deep_nesting(path: Path, rng: random.Random) -> None:
    lines = _lines(path)
    lines.insert(rng.randrange(len(lines) + 1), b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    path.write_bytes(b"".join(lines))


def wrong_types(path: Path, rng: random.Random) -> None:
    lines = _lines(path)
    at = rng.randrange(len(lines))
    obj = json.loads(lines[at])
    key = rng.choice(sorted(obj))
    obj[key] = rng.choice([True, None, [], {"a": 1}, "text", 3.5, -7])
    lines[at] = (json.dumps(obj) + "\n").encode()
    path.write_bytes(b"".join(lines))


def unknown_placeholder(path: Path, rng: random.Random) -> None:
    """A template field no renderer fills (judge prompts); elsewhere, an unknown field in a record."""
    lines = _lines(path)
    at = rng.randrange(len(lines))
    obj = json.loads(lines[at])
    if "prompt_template" in obj:
        obj["prompt_template"] += " {answer_z} {0} {"
    else:
        obj["{unknown}"] = "{question}"
    lines[at] = (json.dumps(obj) + "\n").encode()
    path.write_bytes(b"".join(lines))


def huge_line(path: Path, rng: random.Random) -> None:
    lines = _lines(path)
    obj = json.loads(lines[0])
    text_keys = [k for k, v in obj.items() if isinstance(v, str)] or ["padding"]
    obj[rng.choice(text_keys)] = "x" * 3_000_000
    lines[0] = (json.dumps(obj) + "\n").encode()
    path.write_bytes(b"".join(lines))


def empty_file(path: Path, rng: random.Random) -> None:
    path.write_bytes(b"")


CORRUPTIONS: dict[str, Callable[[Path, random.Random], None]] = {
    "byte-flip": flip_bytes,
    "non-utf8": non_utf8,
    "truncated": truncate,
    "nan": nan_number,
    "deep-nesting": deep_nesting,
    "wrong-types": wrong_types,
    "unknown-placeholder": unknown_placeholder,
    "3mb-line": huge_line,
    "empty": empty_file,
}
TARGETS = ("questions", "answers", "judgments", "prompts", "cost_log", "runs")


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no result after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(runner: CliRunner, args: list[str], damaged: Path) -> None:
    with deadline(30):
        result = runner.invoke(app, args)
    shown = f"mtb {' '.join(args)}\nexit {result.exit_code}\nstderr:\n{result.stderr[-2000:]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback ({type(result.exception).__name__}: {result.exception})\n{shown}")
    assert result.exit_code in (0, 1, 2), shown
    if result.exit_code == 2 and "error:" in result.stderr:
        # The error names a file (the damaged one, or the one a gap was found in), with its line
        # when the damage sits on a line.
        assert re.search(r"\S+\.(jsonl|toml|yaml|html)(:\d+)?:", result.stderr), shown
    assert "Traceback" not in result.stderr, shown


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupted_input_never_gives_a_traceback_or_a_hang(
    kind: str, target: str, tmp_path: Path, runner: CliRunner
) -> None:
    root = tmp_path / "data"
    files = make_data(root)
    rng = random.Random(f"{SEED}-{kind}-{target}")
    CORRUPTIONS[kind](files[target], rng)
    common = ["--data-dir", str(root)]
    check(runner, ["results", *common, "--rounds", "20"], files[target])
    check(runner, ["results", "--format", "json", "--no-ci", *common], files[target])
    check(runner, ["results", "--strict", "--no-ci", *common], files[target])
    check(runner, ["judge", "--dry-run", "--model-list", *MODELS, *common], files[target])
    check(
        runner,
        ["judge", "--dry-run", "--mode", "pairwise-all", "--model-list", *MODELS, *common],
        files[target],
    )
    check(runner, ["browse", "--export", str(tmp_path / "page.html"), *common], files[target])


# ---------------------------------------------------------------- Arena-Hard v0.1

ARENA_CONFIG = """judge_model: gpt-4-1106-preview
baseline_model: base
system_prompt: "Compare the two answers. End with [[A>B]] or another label."
prompt_template: ["<|Q|>{question_1}<|A|>{answer_1}<|B|>{answer_2}"]
regex_pattern: \\[\\[([AB<>=]+)\\]\\]
number_of_judgment_attempts: 2
temperature: 0
max_tokens: 4096
"""
LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def make_arena_data(root: Path) -> dict[str, Path]:
    bench = root / "arena-hard-v0.1"
    ids = [f"{i:032x}" for i in range(1, 9)]
    write_jsonl(
        bench / "question.jsonl",
        [
            {"question_id": q, "category": "arena-hard-v0.1", "turns": [{"content": f"prompt {q[-2:]}"}]}
            for q in ids
        ],
    )
    (bench / "config").mkdir(parents=True)
    (bench / "config" / "judge_config.yaml").write_text(ARENA_CONFIG, encoding="utf-8")
    for model in ("base", "model-a", "model-b"):
        write_jsonl(
            bench / "model_answer" / f"{model}.jsonl",
            [
                {
                    "question_id": q,
                    "answer_id": q[-6:],
                    "model_id": model,
                    "tstamp": 1.0,
                    "choices": [{"index": 0, "turns": [{"content": f"{model} on {q}", "token_len": 3 + i}]}],
                }
                for i, q in enumerate(ids)
            ],
        )
    judgments = bench / "model_judgment" / "gpt-4-1106-preview"
    for n, model in enumerate(("model-a", "model-b")):
        write_jsonl(
            judgments / f"{model}.jsonl",
            [
                {
                    "question_id": q,
                    "model": model,
                    "judge": "gpt-4-1106-preview",
                    "tstamp": 2.0,
                    "games": [
                        {"user_prompt": "p", "judgment": "j", "score": LABELS[(i + n) % 5]},
                        {"user_prompt": "p", "judgment": "j", "score": LABELS[(i + 2 * n) % 5]},
                    ],
                }
                for i, q in enumerate(ids)
            ],
        )
    return {
        "arena-questions": bench / "question.jsonl",
        "arena-answers": bench / "model_answer" / "model-a.jsonl",
        "arena-judgments": judgments / "model-a.jsonl",
        "arena-config": bench / "config" / "judge_config.yaml",
    }


# A YAML file has no JSON lines to retype: only the byte-level damage applies.
BYTE_LEVEL = ("byte-flip", "non-utf8", "truncated", "empty", "3mb-line")


def arena_cases() -> list[tuple[str, str]]:
    cases = [
        (kind, target) for kind in sorted(CORRUPTIONS) for target in ("arena-judgments", "arena-answers")
    ]
    cases += [(kind, "arena-questions") for kind in ("byte-flip", "non-utf8", "nan", "wrong-types", "empty")]
    cases += [(kind, "arena-config") for kind in BYTE_LEVEL if kind != "3mb-line"]
    return cases


def corrupt_yaml_line(path: Path, rng: random.Random) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "max_tokens: [unclosed\n", encoding="utf-8")


@pytest.mark.parametrize(("kind", "target"), arena_cases())
def test_corrupted_arena_input_never_gives_a_traceback_or_a_hang(
    kind: str, target: str, tmp_path: Path, runner: CliRunner
) -> None:
    root = tmp_path / "data"
    files = make_arena_data(root)
    rng = random.Random(f"{SEED}-{kind}-{target}")
    CORRUPTIONS[kind](files[target], rng)
    common = ["--bench", "arena-hard-v0.1", "--data-dir", str(root)]
    check(runner, ["results", *common, "--rounds", "20"], files[target])
    check(
        runner, ["results", *common, "--rounds", "20", "--style-control", "--format", "json"], files[target]
    )
    check(runner, ["judge", "--dry-run", *common, "--baseline-model", "base"], files[target])
    check(runner, ["browse", "--export", str(tmp_path / "page.html"), "--data-dir", str(root)], files[target])


def test_the_uncorrupted_arena_data_works(tmp_path: Path, runner: CliRunner) -> None:
    root = tmp_path / "data"
    make_arena_data(root)
    common = ["--bench", "arena-hard-v0.1", "--data-dir", str(root), "--baseline-model", "base"]
    shown = runner.invoke(app, ["results", *common, "--format", "json", "--rounds", "20"])
    assert shown.exit_code == 0, shown.stderr
    assert {row["model"] for row in json.loads(shown.stdout)} == {"base", "model-a", "model-b"}
    planned = runner.invoke(app, ["judge", "--dry-run", *common])
    assert planned.exit_code == 0, planned.stderr


def test_the_uncorrupted_data_works(tmp_path: Path, runner: CliRunner) -> None:
    """The fuzz data itself is valid: every command above succeeds on it."""
    root = tmp_path / "data"
    make_data(root)
    common = ["--data-dir", str(root)]
    shown = runner.invoke(app, ["results", "--format", "json", "--no-ci", *common])
    assert shown.exit_code == 0, shown.stderr
    assert {row["model"] for row in json.loads(shown.stdout)} == set(MODELS)
    logged = "cost: 1 logged run(s) wrote to these files, for every model in them"
    assert logged in shown.stderr
    assert "different settings" not in shown.stderr and "1 judgment(s) carry no record" in shown.stderr
    planned = runner.invoke(app, ["judge", "--dry-run", "--model-list", *MODELS, *common])
    assert planned.exit_code == 0, planned.stderr
    exported = runner.invoke(app, ["browse", "--export", str(tmp_path / "page.html"), *common])
    assert exported.exit_code == 0, exported.stderr


# ---------------------------------------------------------------- vote files (mtb agreement)


def make_votes(root: Path) -> dict[str, Path]:
    """Human votes (JSON lines and a JSON array) and an mtb pair file on the same matches."""
    bench = root / "mt_bench"
    votes = [
        {
            "question_id": 81 + i,
            "model_a": MODELS[i % 2],
            "model_b": MODELS[1 - i % 2],
            "winner": ["model_a", "model_b", "tie"][i % 3],
            "judge": f"expert_{i % 4}",
            "turn": 1 + i % 2,
            "conversation_a": [{"role": "user", "content": "q"}],
            "conversation_b": [{"role": "user", "content": "q"}],
        }
        for i in range(12)
    ]
    write_jsonl(bench / "human_votes.jsonl", votes)
    (bench / "human_judgments.json").write_text(
        "[\n" + ",\n".join(json.dumps(v) for v in votes) + "\n]\n", encoding="utf-8"
    )
    pairs = [
        {
            "question_id": 81 + i,
            "model_1": MODELS[0],
            "model_2": MODELS[1],
            "g1_winner": ["model_1", "model_2", "tie"][i % 3],
            "g2_winner": ["model_1", "tie"][i % 2],
            "judge": ["gpt-4", "pair-v2"],
            "g1_user_prompt": "p",
            "g1_judgment": "[[A]]",
            "g2_user_prompt": "p",
            "g2_judgment": "[[B]]",
            "turn": turn,
            "tstamp": 1.0,
        }
        for i in range(6)
        for turn in (1, 2)
    ]
    write_jsonl(bench / "model_judgment" / "gpt-4_pair.jsonl", pairs)
    return {
        "votes-jsonl": bench / "human_votes.jsonl",
        "votes-array": bench / "human_judgments.json",
        "pairs": bench / "model_judgment" / "gpt-4_pair.jsonl",
    }


LINE_KINDS = {"wrong-types", "unknown-placeholder", "3mb-line"}  # need one JSON object per line


@pytest.mark.parametrize("target", ["votes-jsonl", "votes-array", "pairs"])
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupted_votes_never_give_a_traceback_or_a_hang(
    kind: str, target: str, tmp_path: Path, runner: CliRunner
) -> None:
    if target == "votes-array" and kind in LINE_KINDS:
        pytest.skip("a JSON array does not hold one object per line")
    root = tmp_path / "data"
    make_data(root)
    files = make_votes(root)
    CORRUPTIONS[kind](files[target], random.Random(f"{SEED}-{kind}-{target}"))
    other = files["votes-jsonl"] if target == "pairs" else files["pairs"]
    with deadline(30):
        result = runner.invoke(app, ["agreement", str(files[target]), str(other), "--format", "json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback ({type(result.exception).__name__}: {result.exception})")
    assert result.exit_code in (0, 2), result.stderr
    if result.exit_code == 2 and "error:" in result.stderr:
        assert re.search(r"\S+\.jsonl?(:\d+)?:", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    check(runner, ["browse", "--export", str(tmp_path / "page.html"), "--data-dir", str(root)], files[target])


def test_the_uncorrupted_votes_work(tmp_path: Path, runner: CliRunner) -> None:
    root = tmp_path / "data"
    make_data(root)
    files = make_votes(root)
    for votes in ("votes-jsonl", "votes-array"):
        shown = runner.invoke(app, ["agreement", str(files[votes]), str(files["pairs"]), "--format", "json"])
        assert shown.exit_code == 0, shown.stderr
        assert {(r["judge_1"], r["judge_2"]) for r in json.loads(shown.stdout)} == {
            ("gpt-4", "human"),
            ("human", "human"),
        }


@pytest.mark.parametrize("layout", ["jsonl", "json"])
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupted_battle_logs_never_give_a_traceback_or_a_hang(
    kind: str, layout: str, tmp_path: Path, runner: CliRunner
) -> None:
    """Chatbot Arena battle logs, as JSONL and as an indented JSON array, under every corruption."""
    from mtb.testing.arena_battles import generate

    if layout == "json" and kind in ("wrong-types", "unknown-placeholder", "3mb-line"):
        pytest.skip("this corruption rewrites one JSONL record per line; the array's lines end in commas")
    path = tmp_path / f"battles.{layout}"
    generate(path, 200, 4, seed=1, layout=layout)
    CORRUPTIONS[kind](path, random.Random(f"{SEED}-{kind}-battles-{layout}"))
    for extra in ([], ["--style-control", "--format", "json"], ["--rating", "elo", "--dedup"]):
        args = ["results", "--bench", "chatbot-arena", "--battles", str(path), "--rounds", "10", *extra]
        with deadline(30):
            result = runner.invoke(app, args)
        shown = f"mtb {' '.join(args)}\nexit {result.exit_code}\nstderr:\n{result.stderr[-2000:]}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            name = type(result.exception).__name__
            raise AssertionError(f"traceback ({name}: {result.exception})\n{shown}")
        assert result.exit_code in (0, 2), shown
        if result.exit_code == 2:
            assert re.search(rf"battles\.{layout}(:\d+)?:", " ".join(result.stderr.split())), shown


# ---------------------------------------------------------------- Parquet (the Hub's datasets)


def parquet_flip_bytes(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(20):
        data[rng.randrange(len(data))] = rng.randrange(256)
    path.write_bytes(bytes(data))


def parquet_zero_span(path: Path, rng: random.Random) -> None:
    """A run of zeros inside (a page, a column chunk, or the footer), the magic kept at both ends."""
    data = bytearray(path.read_bytes())
    start = rng.randrange(4, len(data) - 8)
    end = min(len(data) - 4, start + rng.randrange(1, 400))
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))


def parquet_wrong_types(path: Path, rng: random.Random) -> None:
    """The same rows with one column of another type (numbers as text, text as numbers, lists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    name = rng.choice([n for n in table.column_names if not n.startswith("conversation")])
    count = table.num_rows
    column = rng.choice(
        [
            pa.array([rng.choice([1, -3, 0]) for _ in range(count)], pa.int64()),
            pa.array([rng.choice(["x", "", "1"]) for _ in range(count)], pa.string()),
            pa.array([float("nan")] * count, pa.float64()),
            pa.array([[rng.choice(["gpt-4", "pair-v2"])] for _ in range(count)], pa.list_(pa.string())),
            pa.array([None] * count, pa.null()),
        ]
    )
    pq.write_table(table.set_column(table.column_names.index(name), name, column), path)


def parquet_nulls(path: Path, rng: random.Random) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    index = rng.randrange(table.num_columns)
    values = table.column(index).to_pylist()
    for at in rng.sample(range(len(values)), k=max(1, len(values) // 5)):
        values[at] = None
    field = table.field(index)
    pq.write_table(table.set_column(index, field, pa.array(values, field.type)), path)


PARQUET_CORRUPTIONS: dict[str, Callable[[Path, random.Random], None]] = {
    "byte-flip": parquet_flip_bytes,
    "zeroed-span": parquet_zero_span,
    "truncated": truncate,
    "empty": empty_file,
    "wrong-types": parquet_wrong_types,
    "nulls": parquet_nulls,
}


def assert_no_traceback(runner: CliRunner, args: list[str], name: str) -> None:
    with deadline(30):
        result = runner.invoke(app, args)
    shown = f"mtb {' '.join(args)}\nexit {result.exit_code}\nstderr:\n{result.stderr[-2000:]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback ({type(result.exception).__name__}: {result.exception})\n{shown}")
    assert result.exit_code in (0, 2), shown
    if result.exit_code == 2:
        assert re.search(rf"{re.escape(name)}(:row \d+)?:", " ".join(result.stderr.split())), shown
    assert "Traceback" not in result.stderr, shown


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", sorted(PARQUET_CORRUPTIONS))
def test_corrupted_parquet_files_never_give_a_traceback_or_a_hang(
    kind: str, seed: int, tmp_path: Path, runner: CliRunner
) -> None:
    """The Hub's vote and battle files, damaged: agreement, browse and chatbot-arena results."""
    from helpers import write_arena_conversations_parquet, write_hub_votes_parquet
    from mtb.testing.arena_battles import generate, load_rows

    root = tmp_path / "data"
    make_data(root)
    files = make_votes(root)
    votes = root / "mt_bench" / "human_judgments.parquet"  # where download-baselines puts it
    write_hub_votes_parquet(votes, json.loads(files["votes-array"].read_text()), row_group_size=5)
    generate(tmp_path / "battles.jsonl", 300, 4, seed=seed, layout="jsonl")
    battles = tmp_path / "battles.parquet"
    write_arena_conversations_parquet(battles, load_rows(tmp_path / "battles.jsonl"), row_group_size=64)
    for path in (votes, battles):
        PARQUET_CORRUPTIONS[kind](path, random.Random(f"{SEED}-{kind}-{seed}-{path.name}"))

    agreement = ["agreement", str(votes), str(files["pairs"]), "--format", "json"]
    assert_no_traceback(runner, agreement, votes.name)
    check(runner, ["browse", "--export", str(tmp_path / "page.html"), "--data-dir", str(root)], votes)
    for extra in ([], ["--rating", "elo", "--dedup", "--language", "English"]):
        args = ["results", "--bench", "chatbot-arena", "--battles", str(battles), "--rounds", "10", *extra]
        assert_no_traceback(runner, args, battles.name)


def test_the_uncorrupted_parquet_files_work(tmp_path: Path, runner: CliRunner) -> None:
    from helpers import write_arena_conversations_parquet, write_hub_votes_parquet
    from mtb.testing.arena_battles import generate, load_rows

    root = tmp_path / "data"
    make_data(root)
    files = make_votes(root)
    votes = root / "mt_bench" / "human_judgments.parquet"
    write_hub_votes_parquet(votes, json.loads(files["votes-array"].read_text()), row_group_size=5)
    shown = runner.invoke(app, ["agreement", str(votes), str(files["pairs"]), "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    generate(tmp_path / "battles.jsonl", 300, 4, seed=0, layout="jsonl")
    battles = tmp_path / "battles.parquet"
    write_arena_conversations_parquet(battles, load_rows(tmp_path / "battles.jsonl"), row_group_size=64)
    rated = runner.invoke(
        app, ["results", "--bench", "chatbot-arena", "--battles", str(battles), "--rounds", "10"]
    )
    assert rated.exit_code == 0, rated.stderr


# ---------------------------------------------------------------- mtb eval's models file

MODELS_TOML = """# two models for `mtb eval`
[[model]]
model = "fake"
model_id = "fake-a"
provider = "fake"
max_tokens = 64
temperature = 0.7

[[model]]
model = "fake/echo"
model_id = "fake-b"
provider = "fake"
api_base = ["http://127.0.0.1:9/v1"]
system_prompt = "Be brief."
"""


def toml_wrong_types(path: Path, rng: random.Random) -> None:
    lines = _lines(path)
    values = [i for i, line in enumerate(lines) if b" = " in line]
    at = rng.choice(values)
    key = lines[at].split(b" = ")[0]
    lines[at] = (
        key + b" = " + rng.choice([b"true", b"[]", b"{a = 1}", b"3.5", b"-7", b'""', b"nan", b"inf"]) + b"\n"
    )
    path.write_bytes(b"".join(lines))


def toml_deep_nesting(path: Path, rng: random.Random) -> None:
    path.write_bytes(path.read_bytes() + b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")


def toml_huge_line(path: Path, rng: random.Random) -> None:
    path.write_bytes(path.read_bytes().replace(b'"fake-a"', b'"' + b"x" * 3_000_000 + b'"'))


TOML_CORRUPTIONS: dict[str, Callable[[Path, random.Random], None]] = {
    "byte-flip": flip_bytes,
    "non-utf8": non_utf8,
    "truncated": truncate,
    "wrong-types": toml_wrong_types,
    "deep-nesting": toml_deep_nesting,
    "3mb-line": toml_huge_line,
    "empty": empty_file,
}


@pytest.mark.parametrize("kind", sorted(TOML_CORRUPTIONS))
@pytest.mark.parametrize("round_", range(3))
def test_a_corrupted_models_file_never_gives_a_traceback_or_a_hang(
    kind: str, round_: int, tmp_path: Path, runner: CliRunner
) -> None:
    root = tmp_path / "data"
    make_data(root)
    models = tmp_path / "models.toml"
    models.write_text(MODELS_TOML)
    TOML_CORRUPTIONS[kind](models, random.Random(f"{SEED}-{kind}-{round_}"))
    args = ["eval", "--models-file", str(models), "--judge-provider", "fake", "--judge-model", "fake"]
    check(runner, [*args, "--first-n", "2", "--no-progress", "--data-dir", str(root)], models)


def test_the_uncorrupted_models_file_works(tmp_path: Path, runner: CliRunner) -> None:
    root = tmp_path / "data"
    make_data(root)
    models = tmp_path / "models.toml"
    models.write_text(MODELS_TOML.replace('api_base = ["http://127.0.0.1:9/v1"]\n', ""))
    args = ["eval", "--models-file", str(models), "--judge-provider", "fake", "--judge-model", "fake"]
    result = runner.invoke(app, [*args, "--first-n", "2", "--format", "json", "--data-dir", str(root)])
    assert result.exit_code == 0, result.stderr
    assert {r["model"] for r in json.loads(result.stdout)} == {"fake-a", "fake-b"}


# ---------------------------------------------------------------- this wave's inputs


def assert_names_a_file(result: Any, shown: str, suffixes: str = "jsonl|json|toml|yaml|html|batches") -> None:
    """No traceback, an exit code mtb gives, and an error that names a file (or the extra to install)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback ({type(result.exception).__name__}: {result.exception})\n{shown}")
    assert result.exit_code in (0, 1, 2), shown
    assert "Traceback" not in result.stderr, shown
    if result.exit_code == 2 and "error:" in result.stderr:
        said = " ".join(result.stderr.split())
        assert re.search(rf"\S+\.({suffixes})(:\d+)?:", said) or "pip install" in said, shown


# -- the Python API: each argument given what a notebook might pass by mistake

HOSTILE_VALUES: list[Any] = [
    None, True, 0, -1, 10**30, 1.5, float("nan"), float("inf"), "", " ", "x" * 3000, "a,b", "\x00", "\n",
    "/dev/zero", [], [1], ["a", None], ("a", "a"), {"a": 1}, b"bytes", object(), "../../etc/passwd", "1e400",
]  # fmt: skip


def api_calls(root: Path) -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    import mtb

    common = {"data_dir": str(root)}
    fake_judge = {"judge_provider": "fake", "judge_model": "fake/rating-5"}
    return {
        "results": (mtb.results, {**common, "ci": False}),
        "judge": (mtb.judge, {**common, "dry_run": True, "model_list": list(MODELS)}),
        "generate": (mtb.generate, {**common, "model": "fake", "provider": "fake", "first_n": 1}),
        "evaluate": (
            mtb.evaluate,
            {**common, "model": "fake", "provider": "fake", "first_n": 1, **fake_judge},
        ),
    }


def api_cases() -> list[tuple[str, str, int]]:
    """(function, argument, index of the hostile value): three values per argument, seeded."""
    import dataclasses

    from mtb.app.evaluate import EvalSpec
    from mtb.app.generate import GenerateSpec
    from mtb.app.judge import JudgeSpec
    from mtb.app.results import ResultsSpec

    specs = {"results": ResultsSpec, "judge": JudgeSpec, "generate": GenerateSpec, "evaluate": EvalSpec}
    cases = []
    for function, spec in specs.items():
        rng = random.Random(f"{SEED}-api-{function}")
        for spec_field in dataclasses.fields(spec):
            if spec_field.name in ("local", "judge_local"):
                continue
            cases += [(function, spec_field.name, i) for i in rng.sample(range(len(HOSTILE_VALUES)), 3)]
    return cases


@pytest.mark.parametrize(("function", "argument", "value"), api_cases())
def test_hostile_api_arguments_never_give_a_traceback_or_a_hang(
    function: str, argument: str, value: int, tmp_path: Path
) -> None:
    """`mtb.evaluate/generate/judge/results`: a bad argument is an MtbError or a TypeError naming it
    (or naming the file it led to), never another exception, never a hang or a memory blow-up."""
    from mtb.errors import MtbError

    root = tmp_path / "data"
    make_data(root)
    call, base = api_calls(root)[function]
    given = HOSTILE_VALUES[value]
    with deadline(30):
        try:
            call(**{**base, argument: given})
        except (MtbError, TypeError) as exc:
            said = str(exc)
            flag = "--" + argument.replace("_", "-")
            named = argument in said or flag in said or re.search(r"\S+\.(jsonl|json|toml)\b", said)
            # A value used as it was given ("no answers for 'a,b'") names the argument by its value.
            assert named or (isinstance(given, str) and given.strip() and given.strip()[:40] in said), said
        except BaseException as exc:
            raise AssertionError(
                f"{function}({argument}={given!r:.60}): {type(exc).__name__}: {exc}"
            ) from exc


def test_the_api_calls_of_the_fuzz_work(tmp_path: Path) -> None:
    """Each call the argument fuzz starts from succeeds as it is: the damage is the argument's."""
    root = tmp_path / "data"
    make_data(root)
    for function, (call, base) in api_calls(root).items():
        report = call(**base)
        assert report is not None, function


# -- the Batch API: the state file and the provider's output and error files


def batch_judge(runner: CliRunner, server: Any, root: Path) -> Any:
    args = ["judge", "--batch", "--model-list", *MODELS, "--data-dir", str(root), "--no-progress"]
    args += ["--judge-api-base", server.url, "--judge-api-key", "k"]
    with deadline(60):
        return runner.invoke(app, args)


def rated(request: Any) -> Any:
    from mtb.testing.openai_server import Reply

    return Reply(text="Rating: [[6]]")


PROVIDER_DAMAGE: dict[str, Callable[[list[str], random.Random], list[str]]] = {
    "reordered": lambda lines, rng: rng.sample(lines, len(lines)),
    "duplicated": lambda lines, rng: [line for line in lines for _ in range(rng.randint(1, 3))],
    "truncated": lambda lines, rng: [*lines[:-1], lines[-1][: rng.randrange(len(lines[-1]))]],
    "unknown-custom-id": lambda lines, rng: [x.replace('"mtb-', '"mtb-x', 1) for x in lines[:2]] + lines,
    "byte-flip": lambda lines, rng: [
        line if rng.random() > 0.3 else line[:i] + rng.choice('{}[]":,0\\') + line[i + 1 :]
        for line in lines
        for i in [rng.randrange(len(line))]
    ],
    "not-json": lambda lines, rng: ["<html>502 Bad Gateway</html>", *lines[1:]],
    "nested": lambda lines, rng: ['{"custom_id": ' + "[" * 100_000 + "]" * 100_000 + "}", *lines],
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(PROVIDER_DAMAGE))
def test_damaged_provider_batch_files_never_give_a_traceback_or_lose_a_reply(
    kind: str, tmp_path: Path, runner: CliRunner, server: Any
) -> None:
    root = tmp_path / "data"
    files = make_data(root)
    files["judgments"].unlink()  # every judgment to make, through a batch
    rng = random.Random(f"{SEED}-provider-{kind}")
    server.responder = rated
    server.batches.fail_every = 5  # an error file too
    server.batches.damage = lambda file_kind, lines: PROVIDER_DAMAGE[kind](lines, rng)
    result = batch_judge(runner, server, root)
    shown = f"exit {result.exit_code}\n{result.stderr[-2000:]}"
    assert_names_a_file(result, shown)
    # Whatever the damage, every reply the files held was kept: what is missing is what a rerun asks for.
    server.batches.damage = None
    again = batch_judge(runner, server, root)
    assert again.exit_code == 0, again.stderr
    rows = [json.loads(line) for line in files["judgments"].read_text().splitlines()]
    assert len(rows) == len({(r["model"], r["question_id"], r["turn"]) for r in rows}) == 24


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_a_corrupted_batch_state_file_never_gives_a_traceback_or_a_hang(
    kind: str, tmp_path: Path, runner: CliRunner, server: Any
) -> None:
    root = tmp_path / "data"
    files = make_data(root)
    files["judgments"].unlink()
    server.responder = rated
    server.batches.fail_every = 5  # two batches recorded
    assert batch_judge(runner, server, root).exit_code == 0
    state = files["judgments"].with_name(files["judgments"].name + ".batches")
    files["judgments"].unlink()  # the judgments to collect again from the recorded batches
    CORRUPTIONS[kind](state, random.Random(f"{SEED}-state-{kind}"))
    result = batch_judge(runner, server, root)
    assert_names_a_file(result, f"exit {result.exit_code}\n{result.stderr[-2000:]}")
    if result.exit_code == 2:
        assert str(state) in " ".join(result.stderr.split()) and "--forget-batches" in result.stderr


# -- reference ratings files (`mtb quality --reference`)


def make_quality_data(root: Path) -> Path:
    """The fuzz data with a third model judged, and a reference rating all three."""
    files = make_data(root)
    rows = [json.loads(line) for line in files["judgments"].read_text().splitlines()]
    rows += [{**r, "model": "model-c", "score": 11 - r["score"]} for r in rows if r["model"] == "model-a"]
    write_jsonl(files["judgments"], rows)
    reference = root / "arena-ratings.json"
    ratings = [
        {"model": m, "rating": 1000.0 + 40 * i, "ci_low": 990.0 + 40 * i, "ci_high": 1010.0 + 40 * i}
        for i, m in enumerate(("model-c", "model-a", "model-b"))
    ]
    reference.write_text(json.dumps(ratings, indent=2) + "\n", encoding="utf-8")
    return reference


def replaced(old: str, new: str) -> Callable[[Path, random.Random], None]:
    """A corruption that writes `new` where the file says `old` (the first time)."""

    def corrupt(path: Path, rng: random.Random) -> None:
        path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")

    return corrupt


REFERENCE_CORRUPTIONS = {
    **{name: CORRUPTIONS[name] for name in ("byte-flip", "non-utf8", "truncated", "nan", "empty")},
    "deep-nesting": lambda path, rng: path.write_text("[" * 100_000 + "]" * 100_000),
    "big-integer": replaced("1000.0", "1" + "0" * 400),
    "swapped-interval": replaced('"ci_low": 990.0', '"ci_low": 1090.0'),
    "model-twice": replaced('"model-a"', '"model-c"'),
    "wrong-types": replaced('"rating": 1040.0', '"rating": "high"'),
}


@pytest.mark.parametrize("kind", sorted(REFERENCE_CORRUPTIONS))
def test_a_corrupted_reference_ratings_file_never_gives_a_traceback_or_a_wrong_number(
    kind: str, tmp_path: Path, runner: CliRunner
) -> None:
    root = tmp_path / "data"
    reference = make_quality_data(root)
    REFERENCE_CORRUPTIONS[kind](reference, random.Random(f"{SEED}-reference-{kind}"))
    args = [
        "quality",
        "--reference",
        str(reference),
        "--data-dir",
        str(root),
        "--rounds",
        "20",
        "--format",
        "json",
    ]
    with deadline(30):
        result = runner.invoke(app, args)
    shown = f"exit {result.exit_code}\n{result.stderr[-2000:]}"
    assert_names_a_file(result, shown)
    if result.exit_code == 0:  # what is printed is numbers, never NaN
        assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    if kind in ("swapped-interval", "model-twice", "big-integer", "wrong-types", "nan"):
        assert result.exit_code == 2 and f"{reference}:" in " ".join(result.stderr.split()), shown


def test_the_uncorrupted_reference_works(tmp_path: Path, runner: CliRunner) -> None:
    root = tmp_path / "data"
    reference = make_quality_data(root)
    args = [
        "quality",
        "--reference",
        str(reference),
        "--data-dir",
        str(root),
        "--rounds",
        "20",
        "--format",
        "json",
    ]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["models"] == ["model-a", "model-b", "model-c"]


# -- bias records (`mtb bias verbosity`)

LISTED = "Here is how:\n1. First, read the question.\n2. Then, think it over.\n3. Last, write the answer."


def make_bias_data(root: Path) -> None:
    """The fuzz data, its answers holding a numbered list the verbosity attack can repeat."""
    make_data(root)
    for model in MODELS:
        path = root / "mt_bench" / "model_answer" / f"{model}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        write_jsonl(path, [{**r, "choices": [{"index": 0, "turns": [LISTED, "fine"]}]} for r in rows])


def bias_responder(request: Any) -> Any:
    from mtb.testing.openai_server import Reply

    if "[[A]]" in json.dumps(request.messages):  # a judge prompt
        return Reply(text="[[A]]")
    return Reply(text="1. Read the question first.\n2. Think it over.\n3. Write the answer last.")


@pytest.mark.parametrize("target", ["records", "control", "rephrased"])
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupted_bias_records_never_give_a_traceback_or_a_hang(
    kind: str, target: str, tmp_path: Path, runner: CliRunner, server: Any
) -> None:
    root = tmp_path / "data"
    make_bias_data(root)
    server.responder = bias_responder
    args = ["bias", "verbosity", "--answers", "4", "--control", "--data-dir", str(root), "--format", "json"]
    args += [
        "--api-base",
        server.url,
        "--api-key",
        "k",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    folder = root / "mt_bench" / "bias" / "verbosity"
    path = {
        "records": folder / "gpt-4.jsonl",
        "control": folder / "gpt-4_control.jsonl",
        "rephrased": folder / "rephrased" / "gpt-4.jsonl",
    }[target]
    CORRUPTIONS[kind](path, random.Random(f"{SEED}-bias-{kind}-{target}"))
    with deadline(60):
        result = runner.invoke(app, args)
    assert_names_a_file(result, f"exit {result.exit_code}\n{result.stderr[-2000:]}")


# -- manifests with a `language`

LANGUAGES = [
    '"ko"',
    '"KO"',
    '"ko-KR"',
    '" ko"',
    '""',
    '"\\u0000"',
    '"' + "e" * 3000 + '"',
    "5",
    "true",
    "[]",
    "nan",
    '"zz"',
]


@pytest.mark.parametrize("protocol", ["mt-bench", "arena-hard"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_manifest_language_never_gives_a_traceback(
    language: str, protocol: str, tmp_path: Path, runner: CliRunner
) -> None:
    root = tmp_path / "data"
    make_data(root)
    text = (Path(__file__).parents[1] / "questions" / "mt_bench.toml").read_text(encoding="utf-8")
    manifest = tmp_path / "translated.toml"
    manifest.write_text(
        f"language = {language}\n" + text.replace('"mt-bench"', f'"{protocol}"'), encoding="utf-8"
    )
    for args in (["results", "--no-ci"], ["judge", "--dry-run", "--model-list", *MODELS]):
        with deadline(30):
            result = runner.invoke(app, [*args, "--bench", str(manifest), "--data-dir", str(root)])
        assert_names_a_file(result, f"mtb {args[0]}: exit {result.exit_code}\n{result.stderr[-2000:]}")


# -- rate-limit headers (mtb.ratelimit): negative, huge, not numbers, dates in the past

RATE_HEADERS = (
    "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining",
    "anthropic-ratelimit-input-tokens-reset", "retry-after", "retry-after-ms",
)  # fmt: skip
WALL = 1_800_000_000.0
GARBAGE_RATE_VALUES = [
    "-5", "-0", "abc", "", " ", "nan", "inf", "-inf", "1e400", "99999999999999", "0.001", "1e-300", "-1s",
    "999h", "1h" * 50, "1" * 5000, "6m0s0", "1.2.3", "0x10", "Wed, 21 Oct 2015 07:28:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 -2359", "2015-10-21T07:28:00Z", "9999-12-31T23:59:59-23:59",
    "2999-01-01T00:00:00Z",
]  # fmt: skip
PLAIN_RATE_VALUES = ["6000", "5999", "60", "1", "0", "1s", "20ms", "6m0s", "2030-01-15T08:00:00Z"]


def random_rate_headers(rng: random.Random) -> dict[str, str]:
    names = rng.sample(RATE_HEADERS, rng.randint(1, len(RATE_HEADERS)))
    return {name: rng.choice(GARBAGE_RATE_VALUES + PLAIN_RATE_VALUES) for name in names}


def test_hostile_rate_limit_headers_read_as_sane_limits_or_are_named() -> None:
    """Whatever a response's headers say, they read as limits a controller can keep, or are named as
    garbage; and with nothing in flight, the pace they set waits at most a minute for the next request."""
    from mtb.ratelimit import LARGEST_COUNT, LONGEST_RESET, RateController, read_headers

    rng = random.Random(f"{SEED}-rate-headers")
    with deadline(60):
        for _ in range(3000):
            headers = random_rate_headers(rng)
            info = read_headers(headers, now=WALL)
            for state in (info.requests, info.tokens):
                if state is not None:
                    assert 1 <= state.limit <= LARGEST_COUNT and 0 <= state.remaining <= state.limit, headers
                    assert state.reset is None or 0 <= state.reset <= LONGEST_RESET, headers
            assert info.retry_after is None or info.retry_after >= 0, headers  # +inf: the run stops
            assert all(name in headers for name, _, _ in info.bad), info.bad
            rate = RateController(8)
            rate.release(rate.take(1, 0.0), 0.0, rng.choice(["served", "limited", "failed"]), headers, WALL)
            wait = rate.wait_before(1, 0.0)
            assert wait is not None and 0 <= wait <= 60, (headers, wait)
            assert all(header in " ".join(rate.notes()) for header, _, _ in info.bad)


@pytest.mark.parametrize("round_", range(4))
def test_hostile_rate_limit_headers_never_give_a_traceback_or_a_hang(
    round_: int, tmp_path: Path, runner: CliRunner, server: Any
) -> None:
    """A judge run against a server whose every reply (and some 429s) carries garbage rate-limit
    headers: it ends by itself, without a traceback, and names each header it ignored."""
    from mtb.testing.openai_server import Reply

    root = tmp_path / "data"
    files = make_data(root)
    files["judgments"].unlink()
    rng = random.Random(f"{SEED}-rate-run-{round_}")
    sent: set[str] = set()

    def respond(request: Any) -> Any:
        headers = random_rate_headers(rng)
        sent.update(headers)
        if rng.random() < 0.25:
            return Reply(status=429, text="slow down", headers=headers)
        return Reply(text="Rating: [[6]]", headers=headers)

    server.responder = respond
    args = ["judge", "--model-list", *MODELS, "--data-dir", str(root), "--no-progress", "--timeout", "5"]
    with deadline(120):
        result = runner.invoke(app, [*args, "--judge-api-base", server.url, "--judge-api-key", "k"])
    shown = f"exit {result.exit_code}\n{result.stderr[-3000:]}"
    assert_names_a_file(result, shown)
    assert result.exit_code in (0, 1), shown
    ignored = re.findall(r"ignored the server's (\S+) header", result.stderr)
    assert set(ignored) <= sent, shown
