"""A pipelined `mtb eval` (each answer judged as written) against generate + judge one after the other.

Runs the real CLI against the project's OpenAI-compatible test server (its own
process, every reply after --latency seconds) on fresh copies of the MT-bench data:

  sequential: `mtb generate` then `mtb judge` (two processes), as a user would
  pipelined:  `mtb eval` (one process; it also scores and writes the summary)
  python:     `mtb.evaluate(...)` from Python, whose records must equal `mtb results --format json`

It checks that both ways make the same judgments (question, turn, score), and
prints the times and their ratio:

    python bench/eval_pipeline.py                    # 40 questions, 500 ms replies, parallel 8
    python bench/eval_pipeline.py --repeat 1 --first-n 20
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

REPO = Path(__file__).resolve().parents[1]
JUDGMENTS = Path("mt_bench/model_judgment/gpt-4_single.jsonl")


def reply(latency: float, request: RecordedRequest) -> Reply:
    if request.body["model"] == "gpt-4":
        return Reply(text=f"Fine.\n\nRating: [[{len(request.last_user_message) % 10 + 1}]]", delay=latency)
    turn = sum(1 for m in request.messages if m["role"] == "user")
    return Reply(text=f"An answer to turn {turn}. " * 20, delay=latency)


def serve(latency: float, urls: Any, stop: Any) -> None:
    with OpenAIServer(responder=functools.partial(reply, latency)) as server:
        urls.put(server.url)
        stop.wait()


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mtb", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"mtb {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return time.perf_counter() - started


def fresh(data: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="mtb-bench-pipeline-"))
    shutil.copytree(data / "mt_bench", work / "mt_bench")
    shutil.copy(data / "judge_prompts.jsonl", work / "judge_prompts.jsonl")
    return work


def verdicts(work: Path) -> set[tuple[Any, ...]]:
    lines = (work / JUDGMENTS).read_text().splitlines()
    return {(r["question_id"], r["turn"], r["score"]) for r in map(json.loads, lines) if r["model"] == "m1"}


def once(url: str, data: Path, first_n: int, parallel: int) -> dict[str, Any]:
    common = ["--first-n", str(first_n), "--no-progress"]
    sequential, pipelined = fresh(data), fresh(data)
    try:
        gen = ["generate", "--model", "m1", "--api-base", url, "--api-key", "bench"]
        judge = ["judge", "--model-list", "m1", "--judge-api-base", url, "--judge-api-key", "bench"]
        d = ["--data-dir", str(sequential)]
        two = timed([*gen, "--parallel", str(parallel), *common, *d])
        two += timed([*judge, "--parallel", str(parallel), *common, *d])
        command = [
            *("eval", "--model", "m1", "--api-base", url, "--judge-api-base", url),
            *("--api-key", "bench", "--judge-api-key", "bench"),
            *("--parallel", str(parallel), "--judge-parallel", str(parallel), *common),
            *("--data-dir", str(pipelined)),
        ]
        one = timed(command)
        same = verdicts(sequential) == verdicts(pipelined)
        judged = len(verdicts(pipelined))
    finally:
        shutil.rmtree(sequential, ignore_errors=True)
        shutil.rmtree(pipelined, ignore_errors=True)
    return {
        "sequential_s": two,
        "eval_s": one,
        "ratio": one / two,
        "same_judgments": same,
        "judgments": judged,
    }


def python_api_check(url: str, data: Path, first_n: int) -> bool:
    """`mtb.evaluate` from Python returns what `mtb results --format json` prints."""
    import os

    import mtb

    work = fresh(data)
    try:
        os.environ["OPENAI_API_KEY"] = "bench"
        report = mtb.evaluate(
            model="m1", api_base=url, judge_api_base=url, first_n=first_n, data_dir=work, parallel=8
        )
        printed = subprocess.run(
            [
                sys.executable,
                "-m",
                "mtb",
                "results",
                "--model-list",
                "m1",
                "--format",
                "json",
                "--data-dir",
                str(work),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return bool(report.records == json.loads(printed))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--first-n", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median of each time is reported")
    args = parser.parse_args()
    urls: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.latency, urls, stop))
    server.start()
    try:
        url = urls.get(timeout=30)
        runs = [once(url, args.data, args.first_n, args.parallel) for _ in range(args.repeat)]
        api_equal = python_api_check(url, args.data, min(args.first_n, 5))
    finally:
        stop.set()
        server.join(timeout=30)
    medians = {
        key: round(statistics.median(r[key] for r in runs), 3) for key in ("sequential_s", "eval_s", "ratio")
    }
    print(
        json.dumps(
            {
                "questions": args.first_n,
                "latency_s": args.latency,
                "parallel": args.parallel,
                "repeat": args.repeat,
                **medians,
                "same_judgments": all(r["same_judgments"] for r in runs),
                "judgments": runs[0]["judgments"],
                "python_api_records_equal_results_json": api_equal,
            }
        )
    )


if __name__ == "__main__":
    main()
