"""Time `mtb agreement` on synthetic vote files of the published size.

    python bench/agreement_read.py            # writes the files once in a temp dir, times 3 runs
    python bench/agreement_read.py --parquet  # the same votes also as the Hub's Parquet files (pyarrow)

The published files are 3,355 human votes and 2,400 GPT-4 pair votes, each with
both conversations (two turns of question and answer) inside. This writes files
of that size and shape (answers of ~1,500 characters, as MT-bench answers are),
with a JSON array for each, and times the whole command in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

MODELS = ["alpaca-13b", "claude-v1", "gpt-3.5-turbo", "gpt-4", "llama-13b", "vicuna-13b-v1.2"]


def conversation(rng: random.Random, model: str, turns: int) -> list[dict[str, str]]:
    messages = []
    for t in range(turns):
        messages.append(
            {"role": "user", "content": f"Question turn {t + 1}. " + "word " * rng.randint(20, 80)}
        )
        messages.append(
            {"role": "assistant", "content": f"{model}: " + "answer text " * rng.randint(80, 180)}
        )
    return messages


def write(folder: Path, human_rows: int, gpt4_rows: int, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    keys = [(q, a, b, t) for q in range(81, 161) for a, b in combinations(MODELS, 2) for t in (1, 2)]
    human, gpt4 = [], []
    for i in range(human_rows):
        q, a, b, t = keys[rng.randrange(len(keys))]
        human.append(
            {
                "question_id": q,
                "model_a": a,
                "model_b": b,
                "winner": rng.choice(["model_a", "model_b", "tie"]),
                "judge": f"expert_{i % 60}",
                "turn": t,
                "conversation_a": conversation(rng, a, t),
                "conversation_b": conversation(rng, b, t),
            }
        )
    for q, a, b, t in rng.sample(keys, gpt4_rows):
        gpt4.append(
            {
                "question_id": q,
                "model_a": a,
                "model_b": b,
                "winner": rng.choice(["model_a", "model_b", "tie", "tie (inconsistent)"]),
                "judge": ["gpt-4", "pair-v2" if t == 1 else "pair-v2-multi-turn"],
                "turn": t,
                "conversation_a": conversation(rng, a, t),
                "conversation_b": conversation(rng, b, t),
            }
        )
    human_path, gpt4_path = folder / "human_judgments.json", folder / "gpt4_pair_judgments.json"
    human_path.write_text(json.dumps(human, indent=1))
    gpt4_path.write_text(json.dumps(gpt4, indent=1))
    return human_path, gpt4_path


def write_parquet(json_path: Path) -> Path:
    """The same records in the Hub's schema (`judge` a string: the GPT-4 split's is gpt4_pair)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = json.loads(json_path.read_text())
    for r in records:
        if not isinstance(r["judge"], str):
            r["judge"] = "gpt4_pair"
    conversation = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
    schema = pa.schema(
        [
            ("question_id", pa.int64()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("judge", pa.string()),
            ("conversation_a", conversation),
            ("conversation_b", conversation),
            ("turn", pa.int64()),
        ]
    )
    path = json_path.with_suffix(".parquet")
    pq.write_table(pa.Table.from_pylist(records, schema), path)
    return path


def timed(command: list[str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--human", type=int, default=3355)
    parser.add_argument("--gpt4", type=int, default=2400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parquet", action="store_true", help="also time the same votes as Parquet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        human, gpt4 = write(Path(tmp), args.human, args.gpt4)
        size = (human.stat().st_size + gpt4.stat().st_size) / 1e6
        print(f"{args.human:,} human + {args.gpt4:,} gpt-4 votes, {size:.1f} MB of JSON")
        command = [sys.executable, "-m", "mtb", "agreement", str(human), str(gpt4), "--format", "json"]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
        rows = json.loads(done.stdout)
        from mtb.protocols.mt_bench.agreement import read_votes

        start = time.perf_counter()
        for path in (human, gpt4):
            read_votes(path)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        for path in (human, gpt4):
            json.loads(path.read_text())
        plain = time.perf_counter() - start
        print(f"in process: read_votes {ours:.2f} s, json.loads of the same files {plain:.2f} s")
        startup = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mtb", "--help"], capture_output=True, check=True)
        startup = time.perf_counter() - startup
        print(
            f"mtb agreement: median {sorted(times)[len(times) // 2]:.2f} s over {len(times)} runs "
            f"(mtb --help alone: {startup:.2f} s); {len(rows)} rows"
        )
        if args.parquet:
            files = [write_parquet(human), write_parquet(gpt4)]
            size = sum(f.stat().st_size for f in files) / 1e6
            median, out = timed([*command[:4], *map(str, files), "--format", "json"], args.repeat)
            assert json.loads(out) == rows, "the Parquet files must give the JSON files' counts"
            start = time.perf_counter()
            for path in files:
                read_votes(path)
            ours = time.perf_counter() - start
            print(
                f"Parquet ({size:.1f} MB): mtb agreement median {median:.2f} s, "
                f"in process read_votes {ours:.2f} s; same {len(rows)} rows as from JSON"
            )


if __name__ == "__main__":
    main()
