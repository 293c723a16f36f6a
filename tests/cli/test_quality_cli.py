"""`mtb quality` on synthetic Arena-Hard v0.1 judgments of 19 models (and the baseline) against a
20-model reference: every measure equals its definition applied to what `mtb results` prints."""

from __future__ import annotations

import json
import math
import random
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import write_tiny_benchmark
from mtb.cli.main import app

BASELINE = "gpt-4-0314"
JUDGE = "gpt-4-1106-preview"
MODELS = [f"model-{k:02d}" for k in range(19)]
LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]


def write_judgments(arena_dir: Path, questions: int = 120) -> None:
    """Model k beats the baseline more often the larger k; a few close pairs stay unseparated."""
    bench = arena_dir / "arena-hard-v0.1"
    ids = [json.loads(line)["question_id"] for line in (bench / "question.jsonl").read_text().splitlines()]
    folder = bench / "model_judgment" / JUDGE
    folder.mkdir(parents=True)
    rng = random.Random(3)
    for k, model in enumerate(MODELS):
        strength = 0.15 + 0.7 * (k // 2) / 9  # pairs of models share a strength: some never separate
        with (folder / f"{model}.jsonl").open("w") as handle:
            for qid in ids[:questions]:
                games = []
                for game in (1, 2):
                    won = rng.random() < strength
                    label = ("B>A" if won else "A>B") if game == 1 else ("A>B" if won else "B>A")
                    games.append({"user_prompt": "u", "judgment": f"[[{label}]]", "score": label})
                handle.write(
                    json.dumps({"question_id": qid, "model": model, "judge": JUDGE, "games": games}) + "\n"
                )


def reference_ratings(path: Path) -> list[dict[str, Any]]:
    """20 ratings that follow the strengths but for one swapped pair; intervals of ±12."""
    order = [BASELINE, *MODELS]
    ratings = {BASELINE: 1100.0}
    for k, model in enumerate(MODELS):
        ratings[model] = 1000.0 + 15.0 * k
    ratings["model-16"], ratings["model-04"] = ratings["model-04"], ratings["model-16"]
    records = [
        {"model": m, "rating": ratings[m], "ci_low": ratings[m] - 12, "ci_high": ratings[m] + 12, "rank": 1}
        for m in order
    ]
    path.write_text(json.dumps(records))
    return records


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return not (a[1] < b[0] or b[1] < a[0])


def ranks(values: list[float]) -> list[float]:
    ordered = sorted(values)
    return [sum(i + 1 for i, v in enumerate(ordered) if v == x) / ordered.count(x) for x in values]


def pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    return sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def tau_b(x: list[float], y: list[float]) -> float:
    pairs = list(combinations(range(len(x)), 2))
    concordant_minus_discordant = sum(
        ((x[i] - x[j]) * (y[i] - y[j]) > 0) - ((x[i] - x[j]) * (y[i] - y[j]) < 0) for i, j in pairs
    )
    ties_x = sum(x[i] == x[j] for i, j in pairs)
    ties_y = sum(y[i] == y[j] for i, j in pairs)
    return concordant_minus_discordant / math.sqrt((len(pairs) - ties_x) * (len(pairs) - ties_y))


def test_quality_equals_its_definitions_on_the_printed_intervals(
    runner: CliRunner, arena_dir: Path, tmp_path: Path
) -> None:
    write_judgments(arena_dir)
    reference_path = tmp_path / "arena.json"
    reference = {r["model"]: r for r in reference_ratings(reference_path)}
    common = ["--bench", "arena-hard-v0.1", "--data-dir", str(arena_dir), "--format", "json"]
    shown = runner.invoke(app, ["results", *common])
    assert shown.exit_code == 0, shown.stderr
    scores = {r["model"]: r for r in json.loads(shown.stdout)}
    result = runner.invoke(app, ["quality", "--reference", str(reference_path), *common])
    assert result.exit_code == 0, result.stderr
    measured = json.loads(result.stdout)

    models = sorted(scores)
    assert measured["models"] == models and len(models) == 20
    pairs = list(combinations(models, 2))
    assert measured["pairs"] == len(pairs) == 190
    interval = {m: (scores[m]["ci_low"], scores[m]["ci_high"]) for m in models}
    ref_interval = {m: (reference[m]["ci_low"], reference[m]["ci_high"]) for m in models}
    separated = [(a, b) for a, b in pairs if not overlap(interval[a], interval[b])]
    assert measured["separability"] == pytest.approx(len(separated) / 190)
    signs = []
    for a, b in pairs:
        if overlap(ref_interval[a], ref_interval[b]):
            continue
        if overlap(interval[a], interval[b]):
            signs.append(0)
        else:
            same = (scores[a]["score"] > scores[b]["score"]) == (
                reference[a]["rating"] > reference[b]["rating"]
            )
            signs.append(1 if same else -1)
    assert measured["agreement"] == pytest.approx(sum(signs) / len(signs))
    assert -1 in signs and 0 in signs and 1 in signs  # the data exercise every case
    x = [scores[m]["score"] for m in models]
    y = [reference[m]["rating"] for m in models]
    assert measured["spearman"] == pytest.approx(pearson(ranks(x), ranks(y)))
    assert measured["kendall"] == pytest.approx(tau_b(x, y))
    assert 0.0 <= measured["brier"] <= 1.0
    assert 0 < measured["separability"] < 1

    # The same numbers, checked once more against scipy where it is installed.
    stats = pytest.importorskip("scipy.stats")
    assert measured["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert measured["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)


def test_reference_without_shared_models_names_both_lists(
    runner: CliRunner, arena_dir: Path, tmp_path: Path
) -> None:
    write_judgments(arena_dir, questions=20)
    path = tmp_path / "other.json"
    path.write_text(json.dumps([{"model": "zeta", "rating": 1.0, "ci_low": 0.5, "ci_high": 1.5}]))
    common = ["--bench", "arena-hard-v0.1", "--data-dir", str(arena_dir)]
    result = runner.invoke(app, ["quality", "--reference", str(path), *common])
    assert result.exit_code == 2
    assert "share no model" in result.stderr and "zeta" in result.stderr and "model-00" in result.stderr

    path.write_text(
        json.dumps(
            [{"model": m, "rating": 1.0, "ci_low": 0.5, "ci_high": 1.5} for m in ("model-01", "model-02")]
        )
    )
    result = runner.invoke(app, ["quality", "--reference", str(path), *common])
    assert result.exit_code == 2
    assert "share 2 model(s)" in result.stderr and "at least 3" in result.stderr


def test_one_reference_source_is_required(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["quality", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--reference" in result.stderr


def test_mt_bench_single_quality_with_a_plot(runner: CliRunner, tmp_path: Path) -> None:
    """MT-bench single grading: the average and its interval over questions, per model."""
    pytest.importorskip("matplotlib")
    models = ["m1", "m2", "m3", "m4"]
    root = write_tiny_benchmark(tmp_path / "data", models)
    judgments = root / "mt_bench" / "model_judgment"
    judgments.mkdir()
    with (judgments / "gpt-4_single.jsonl").open("w") as handle:
        for k, model in enumerate(models):
            for qid in (1, 2, 3):
                for turn in (1, 2):
                    score = min(10, 2 + 2 * k + (qid + turn) % 2)
                    prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
                    row = {
                        "question_id": qid,
                        "model": model,
                        "judge": ["gpt-4", prompt],
                        "user_prompt": "p",
                        "judgment": f"[[{score}]]",
                        "score": score,
                        "turn": turn,
                        "tstamp": 0,
                    }
                    handle.write(json.dumps(row) + "\n")
    reference = tmp_path / "ref.json"
    reference.write_text(
        json.dumps(
            [
                {"model": m, "rating": 900 + 50 * k, "ci_low": 890 + 50 * k, "ci_high": 910 + 50 * k}
                for k, m in enumerate(models)
            ]
        )
    )
    plot = tmp_path / "quality.svg"
    args = ["quality", "--reference", str(reference), "--data-dir", str(root), "--plot", str(plot)]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["models"] == models and measured["pairs"] == 6
    assert measured["spearman"] == pytest.approx(1.0) and measured["kendall"] == pytest.approx(1.0)
    assert measured["agreement"] == pytest.approx(1.0) and measured["separability"] == pytest.approx(1.0)
    assert 0.0 <= measured["brier"] <= 0.05
    assert "trace-m1" in plot.read_text()
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "separability" in table.stdout and "m4" in table.stdout

    # The reference computed on the way from a battle log: m4 beats m3 beats m2 beats m1.
    battles = tmp_path / "battles.jsonl"
    rng = random.Random(5)
    with battles.open("w") as handle:
        for n in range(600):
            a, b = rng.sample(range(4), 2)
            winner = "model_a" if (rng.random() < 0.85) == (a > b) else "model_b"
            row = {"model_a": models[a], "model_b": models[b], "winner": winner, "anony": True, "tstamp": n}
            handle.write(json.dumps(row) + "\n")
    on_the_way = runner.invoke(
        app, ["quality", "--reference-battles", str(battles), "--data-dir", str(root), "--format", "json"]
    )
    assert on_the_way.exit_code == 0, on_the_way.stderr
    assert json.loads(on_the_way.stdout)["spearman"] == pytest.approx(1.0)


def four_models_judged(root: Path) -> list[str]:
    models = ["m1", "m2", "m3", "m4"]
    write_tiny_benchmark(root, models)
    judgments = root / "mt_bench" / "model_judgment"
    judgments.mkdir()
    rows = [
        {
            "question_id": qid,
            "model": model,
            "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
            "user_prompt": "p",
            "judgment": "[[5]]",
            "score": min(10, 2 + 2 * k + (qid + turn) % 2),
            "turn": turn,
            "tstamp": 0,
        }
        for k, model in enumerate(models)
        for qid in (1, 2, 3)
        for turn in (1, 2)
    ]
    (judgments / "gpt-4_single.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return models


def rating(model: str = "m1", value: str = "1", low: str = "0", high: str = "2") -> str:
    return f'{{"model": "{model}", "rating": {value}, "ci_low": {low}, "ci_high": {high}}}'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # Each was read as it was: NaN went into every measure, a model named twice kept its last
        # rating without a word, an interval upside down turned separability upside down.
        (f"[{rating(value='NaN')}]", ":1: NaN is not a JSON number"),
        (f"[\n{rating()},\n{rating()}]", ":3: model 'm1' is rated twice (first on line 2)"),
        (f"[\n{rating(value='5', low='9', high='1')}]", ":2: m1: 'ci_low' (9) is above 'ci_high' (1)"),
        # And these were tracebacks: a byte not UTF-8, an integer no float holds, nesting too deep.
        ('[{"model": "m\xff"}]', ":1: not valid UTF-8"),
        (f"[{rating(value='1' + '0' * 400)}]", ":1: m1: field 'rating' is out of range"),
        ("[" * 100_000 + "]" * 100_000, ":1: a value nested too deeply to read"),
        (
            '[{"model": "m1", "rating": 1, "ci_low": 0}]',
            ":1: m1: missing field 'ci_high' (intervals are needed",
        ),
        ("[]", ": holds no ratings"),
    ],
)
def test_a_bad_reference_is_path_line_and_never_a_number(
    runner: CliRunner, tmp_path: Path, text: str, problem: str
) -> None:
    root = tmp_path / "data"
    four_models_judged(root)
    reference = tmp_path / "ref.json"
    reference.write_bytes(
        text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.encode("latin-1")
    )
    result = runner.invoke(app, ["quality", "--reference", str(reference), "--data-dir", str(root)])
    assert result.exit_code == 2, result.stderr
    assert f"{reference}{problem}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
