"""The issue's "must show" checks for `mtb bias` and `mtb quality`, as numbers, against the test server.

    python bench/paper_experiments.py [--data ../shared/data]

On a copy of the published MT-bench data (answer files and judge prompts), with
mtb's OpenAI-compatible test server as rephraser, answering model and judge:

    verbosity   23 picked answers, each with a numbered list; the attacked answers
                longer and holding the original list's lines; the rephrase and judge
                requests counted; the failure rate beside a hand count of the records
    position    generation requests and their temperature; judge requests that name
                "Assistant A/B" and those that do not; each prompt's row beside a hand
                count of its pair file, and beside `mtb results --position-bias`

Not timed: what it prints are counts, each next to the figure it must equal.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from mtb.cli.main import app
from mtb.protocols.mt_bench.bias import find_numbered_list
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply


def is_judge(request: RecordedRequest) -> bool:
    return any(m["role"] == "system" and "impartial judge" in m["content"] for m in request.messages)


def answer_block(prompt: str, name: str) -> str:
    start = f"[The Start of Assistant {name}'s Answer]\n"
    return prompt[
        prompt.index(start) + len(start) : prompt.index(f"\n[The End of Assistant {name}'s Answer]")
    ]


def respond(request: RecordedRequest) -> Reply:
    """Rephraser: each list item again, prefixed. Judge, on even-length questions: the seed-0 answer,
    else the longer one; otherwise the first shown (renamed prompt: X). Answering model: its seed."""
    text = request.last_user_message
    if text.startswith("Rewrite the numbered list below"):
        items = [line for line in text.split("\n\n", 1)[1].splitlines() if re.match(r"\s*\d+[.)]\s", line)]
        return Reply(text="\n".join(re.sub(r"^(\s*\d+[.)]\s+)", r"\1Put differently, ", i) for i in items))
    if not is_judge(request):
        return Reply(text=f"An answer sampled with seed {request.body.get('seed')}.")
    first_name, second_name = ("A", "B") if "Assistant A" in text else ("X", "Y")
    first, second = answer_block(text, first_name), answer_block(text, second_name)
    if len(text.split("\n\n", 1)[0]) % 2 == 0 and first != second:
        prefers_first = "seed 0" in first or ("seed 0" not in second and len(first) >= len(second))
        return Reply(text=f"[[{first_name if prefers_first else second_name}]]")
    return Reply(text=f"[[{first_name}]]")


def hand_count(pairs: list[dict[str, object]]) -> dict[str, int]:
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
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    options = parser.parse_args()
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as folder, OpenAIServer(responder=respond) as server:
        data = Path(folder) / "data"
        shutil.copytree(options.data / "mt_bench", data / "mt_bench")
        shutil.copy(options.data / "judge_prompts.jsonl", data / "judge_prompts.jsonl")
        endpoints = ["--api-base", server.url, "--api-key", "k", "--judge-api-base", server.url]
        endpoints += ["--judge-api-key", "k", "--data-dir", str(data), "--format", "json", "--no-progress"]

        shown = runner.invoke(app, ["bias", "verbosity", *endpoints])
        assert shown.exit_code == 0, shown.stderr
        summary = json.loads(shown.stdout)
        records = [json.loads(line) for line in Path(summary["records"]).read_text().splitlines()]
        lists = [find_numbered_list(r["original"]) for r in records]
        longer = sum(len(r["attacked"]) > len(r["original"]) for r in records)
        kept = sum(
            all(line in r["attacked"].splitlines() for line in found.text_of(r["original"]).splitlines())
            for r, found in zip(records, lists, strict=True)
            if found is not None
        )
        requests = server.chat_requests()
        rephrase = sum(not is_judge(r) for r in requests)
        judge = sum(is_judge(r) for r in requests)
        by_hand = sum(r["g1_winner"] == r["g2_winner"] == "attacked" for r in records)
        print("verbosity")
        print(
            f"  answers {summary['answers']}, records {len(records)}, with a numbered list "
            f"{sum(f is not None and f.items >= 2 for f in lists)}"
        )
        print(f"  attacked answers longer {longer}/{len(records)}, keeping the original list's lines {kept}")
        print(f"  rephrase requests {rephrase}, judge requests {judge}")
        print(
            f"  failures {summary['failures']} (hand count {by_hand}), failure_rate "
            f"{summary['failure_rate']:.4f} (hand count {by_hand / len(records):.4f})"
        )

        before = len(requests)
        shown = runner.invoke(app, ["bias", "position", "--model", "gpt-3.5-turbo", *endpoints])
        assert shown.exit_code == 0, shown.stderr
        rows = json.loads(shown.stdout)
        requests = server.chat_requests()[before:]
        generation = [r for r in requests if not is_judge(r)]
        texts = ["\n".join(m["content"] for m in r.messages) for r in requests if is_judge(r)]
        print("position")
        print(
            f"  generation requests {len(generation)} at temperature "
            f"{sorted({r.body['temperature'] for r in generation})}, seeds "
            f"{sorted({r.body['seed'] for r in generation})}"
        )
        print(
            f"  judge requests naming Assistant A/B {sum('Assistant A' in t for t in texts)}, "
            f"naming neither {sum('Assistant A' not in t and 'Assistant B' not in t for t in texts)}"
        )
        for row in rows:
            pairs = [json.loads(line) for line in Path(row["records"]).read_text().splitlines()]
            counts = hand_count(pairs)
            again = runner.invoke(
                app,
                [
                    "results",
                    "--mode",
                    "pairwise-all",
                    "--position-bias",
                    "--input-file",
                    row["records"],
                    "--data-dir",
                    str(data),
                    "--format",
                    "json",
                ],
            )
            (table,) = json.loads(again.stdout)
            shown_row = {k: row[k] for k in counts}
            by_hand = {k: v / len(pairs) for k, v in counts.items()}
            print(
                f"  {row['prompt']}: pairs {row['pairs']} (file {len(pairs)}), {shown_row}; hand count "
                f"{by_hand}; mtb results { ({k: table[k] for k in counts}) }"
            )


if __name__ == "__main__":
    main()
