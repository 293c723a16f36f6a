"""Time `mtb results --bench arena-hard-v0.1` on 74 models × 500 questions × 2 games.

    python bench/arena_results.py            # builds the files once in a temp dir, times 3 runs

It builds a data directory from the published Arena-Hard v0.1 answers (75
models, so 74 against the gpt-4-0314 baseline) and writes one synthetic
judgment file per model, the size of upstream's (each game's user_prompt holds
the question and both real answers, plus a ~1,500-character judgment). Labels
are drawn at random with a per-model bias, so scores spread out.

It then times the whole command in a fresh process, and checks the point
scores against an independent row-by-row Bradley–Terry fit done the way
arena-hard-auto's show_result does it (every battle a row, duplicated, a tie
a win in one copy; an unpenalised logistic regression).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BASELINE = "gpt-4-0314"
JUDGE = "gpt-4-1106-preview"
LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
MIRROR = dict(zip(LABELS, reversed(LABELS), strict=True))


def build(data: Path, root: Path) -> list[str]:
    source = data / "arena-hard-v0.1"
    target = root / "arena-hard-v0.1"
    shutil.copytree(source / "config", target / "config")
    shutil.copy(source / "question.jsonl", target / "question.jsonl")
    shutil.copytree(source / "model_answer", target / "model_answer")
    questions = {
        q["question_id"]: q["turns"][0]["content"]
        for q in map(json.loads, (target / "question.jsonl").read_text().splitlines())
    }

    def load(model: str) -> dict[str, str]:
        lines = (target / "model_answer" / f"{model}.jsonl").read_text().splitlines()
        return {a["question_id"]: a["choices"][0]["turns"][0]["content"] for a in map(json.loads, lines)}

    baseline = load(BASELINE)
    models = sorted(p.stem for p in (target / "model_answer").glob("*.jsonl") if p.stem != BASELINE)
    out = target / "model_judgment" / JUDGE
    out.mkdir(parents=True)
    rng = random.Random(0)
    filler = " ".join("judgment" for _ in range(190))
    for model in models:
        answers = load(model)
        strength = rng.uniform(-1.5, 1.5)  # the model's bias over the baseline
        weights = [np.exp(-2 * strength), np.exp(-strength), 1.0, np.exp(strength), np.exp(2 * strength)]
        with (out / f"{model}.jsonl").open("w") as handle:
            for qid, answer in answers.items():
                if qid not in baseline:
                    continue
                games = []
                for first, second, flip in ((baseline[qid], answer, False), (answer, baseline[qid], True)):
                    label = rng.choices(LABELS, weights=weights)[0]
                    if flip:  # game 2 shows the model as A: the same preference, mirrored
                        label = MIRROR[label]
                    prompt = (
                        f"<|User Prompt|>\n{questions[qid]}\n\n"
                        f"<|The Start of Assistant A's Answer|>\n{first}\n"
                        f"<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n"
                        f"{second}\n<|The End of Assistant B's Answer|>"
                    )
                    games.append(
                        {
                            "user_prompt": prompt,
                            "judgment": f"\n{filler}\n\nMy final verdict: [[{label}]]",
                            "score": label,
                        }
                    )
                handle.write(
                    json.dumps({"question_id": qid, "model": model, "judge": JUDGE, "games": games}) + "\n"
                )
    return models


def row_by_row_scores(folder: Path) -> dict[str, float]:
    """Upstream's method: one row per battle, duplicated, unpenalised logistic regression by Newton."""
    game_1 = {"A>>B": ("a", 3), "A>B": ("a", 1), "A=B": ("tie", 1), "B>A": ("b", 1), "B>>A": ("b", 3)}
    game_2 = {"A>>B": ("b", 3), "A>B": ("b", 1), "A=B": ("tie", 1), "B>A": ("a", 1), "B>>A": ("a", 3)}
    models, rows, winners = [], [], []
    for path in sorted(folder.glob("*.jsonl")):
        models.append(path.stem)
        for line in path.read_text().splitlines():
            for table, game in zip((game_1, game_2), json.loads(line)["games"], strict=True):
                if game["score"] in table:
                    winner, weight = table[game["score"]]
                    rows += [len(models)] * weight
                    winners += [winner] * weight
    n, p = len(rows), len(models) + 1
    x = np.zeros((2 * n, p))
    x[np.arange(2 * n), 0] = np.log(10)  # model_a: the baseline, column 0
    x[np.arange(2 * n), np.array(rows * 2)] = -np.log(10)
    y = np.zeros(2 * n)
    w = np.array(winners)
    y[:n][w == "a"] = 1
    y[n:][w == "a"] = 1
    y[:n][w == "tie"] = 1  # a tie is a win for model_a in the first copy only
    free = x[:, 1:]  # the baseline's coefficient is the anchor, fixed at 0
    beta = np.zeros(p - 1)
    for _ in range(30):
        prob = 1 / (1 + np.exp(-(free @ beta)))
        beta += np.linalg.solve((free.T * (prob * (1 - prob))) @ free, free.T @ (y - prob))
    elo = 1000 + 400 * beta  # model coefficients, baseline at 1000
    return {m: 100 / (1 + 10 ** ((1000 - e) / 400)) for m, e in zip(models, elo, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mtb-arena-bench-"))
    try:
        models = build(args.data, root)
        folder = root / "arena-hard-v0.1" / "model_judgment" / JUDGE
        size = sum(p.stat().st_size for p in folder.glob("*.jsonl")) / 1e6
        command = [
            sys.executable,
            "-m",
            "mtb",
            "results",
            "--bench",
            "arena-hard-v0.1",
            "--data-dir",
            str(root),
            "--format",
            "json",
        ]
        walls = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - started)
        ours = {s["model"]: s["score"] for s in json.loads(result.stdout)}
        reference = row_by_row_scores(folder)
        worst = max(abs(ours[m] - reference[m]) for m in models)
        print(
            json.dumps(
                {
                    "models": len(models),
                    "judgment_mb": round(size),
                    "rounds": 100,
                    "wall_s": sorted(walls),
                    "median_wall_s": round(sorted(walls)[len(walls) // 2], 2),
                    "max_point_score_difference": round(worst, 6),
                }
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
