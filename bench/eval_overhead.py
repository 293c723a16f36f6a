"""What `mtb eval` costs over the three commands it runs, and what a rerun with nothing to do costs.

Runs the real CLI against the project's OpenAI-compatible test server (its own
process, every reply after --latency seconds) on a copy of the MT-bench data:

  three commands: `mtb generate`, `mtb judge`, `mtb results` (three processes)
  eval:           `mtb eval` (one process), on a fresh copy
  rerun:          the same `mtb eval` again: nothing to generate or judge

    python bench/eval_overhead.py                         # 80 questions: 160 answers, 160 judgments
    python bench/eval_overhead.py --first-n 20 --repeat 1
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

from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

REPO = Path(__file__).resolve().parents[1]


def reply(latency: float, request: RecordedRequest) -> Reply:
    if request.body["model"] == "gpt-4":
        return Reply(text=f"Fine.\n\nRating: [[{len(request.last_user_message) % 10 + 1}]]", delay=latency)
    return Reply(text="An answer. " * 20, delay=latency)


def serve(latency: float, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    with OpenAIServer(responder=functools.partial(reply, latency)) as server:
        urls.put(server.url)
        stop.wait()
        urls.put(len(server.requests))


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mtb", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"mtb {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return time.perf_counter() - started


def fresh(data: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="mtb-bench-eval-"))
    shutil.copytree(data / "mt_bench", work / "mt_bench")
    shutil.copy(data / "judge_prompts.jsonl", work / "judge_prompts.jsonl")
    return work


def once(url: str, data: Path, first_n: int, parallel: int) -> dict[str, float]:
    common = ["--first-n", str(first_n), "--no-progress"]
    keys = ["--api-key", "bench", "--judge-api-key", "bench"]
    work = fresh(data)
    try:
        d = ["--data-dir", str(work)]
        steps = timed(
            [
                "generate",
                "--model",
                "m1",
                "--api-base",
                url,
                "--api-key",
                "bench",
                "--parallel",
                str(parallel),
                *common,
                *d,
            ]
        )
        steps += timed(
            [
                "judge",
                "--model-list",
                "m1",
                "--judge-api-base",
                url,
                "--judge-api-key",
                "bench",
                "--parallel",
                str(parallel),
                *common,
                *d,
            ]
        )
        steps += timed(["results", "--model-list", "m1", *d])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    work = fresh(data)
    try:
        command = [
            "eval",
            "--model",
            "m1",
            "--api-base",
            url,
            "--judge-api-base",
            url,
            *keys,
            "--parallel",
            str(parallel),
            "--judge-parallel",
            str(parallel),
            *common,
            "--data-dir",
            str(work),
        ]
        one = timed(command)
        rerun = timed(command)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"three_commands_s": steps, "eval_s": one, "rerun_s": rerun}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--first-n", type=int, default=80)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median of each time is reported")
    args = parser.parse_args()
    urls: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.latency, urls, stop))
    server.start()
    try:
        url = urls.get(timeout=30)
        runs = [once(url, args.data, args.first_n, args.parallel) for _ in range(args.repeat)]
    finally:
        stop.set()
        server.join(timeout=30)
    medians = {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
    print(
        json.dumps(
            {
                "questions": args.first_n,
                "latency_s": args.latency,
                "parallel": args.parallel,
                "repeat": args.repeat,
                **medians,
            }
        )
    )


if __name__ == "__main__":
    main()
