"""How close `mtb judge` gets to the physical limit of a judge endpoint.

Runs the real CLI (`python -m mtb judge`) against the project's OpenAI-compatible
test server, started in its own process so the two don't share a GIL, and
compares wall time with the limit. Two times are reported: `wall_s`, the whole
command from process start (Python start-up and `import openai`, about 1.3 s
here, included), and `judging_s`, from the first request the server saw to the
last reply it sent. The limits:

  latency-bound: N judgments, each answered after L seconds, P in flight -> N * L / P
  rate-bound:    N judgments, server admits R per second (429 + Retry-After beyond) -> N / R

    python bench/judge_throughput.py                      # both scenarios, the issue's sizes
    python bench/judge_throughput.py --scenario latency --models 8 --latency 0.2 --parallel 64

The answers judged are the published MT-bench answers from --data (copied to a
temp dir first); each model contributes 80 questions x 2 turns = 160 judgments.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

REPO = Path(__file__).resolve().parents[1]


def rating_reply(latency: float, request: RecordedRequest) -> Reply:
    return Reply(text=f"Fine.\n\nRating: [[{len(request.last_user_message) % 10 + 1}]]", delay=latency)


def serve(
    latency: float, rate_limit: int | None, urls: multiprocessing.Queue, stop: multiprocessing.Event
) -> None:
    import functools

    server = OpenAIServer(responder=functools.partial(rating_reply, latency), rate_limit=rate_limit)
    with server:
        urls.put(server.url)
        stop.wait()
        first = server.requests[0].arrived if server.requests else 0.0
        urls.put(
            {
                "requests": len(server.requests),
                "max_in_flight": server.max_in_flight,
                "rejected": server.limit.rejected if server.limit else 0,
                # CLOCK_MONOTONIC is system-wide on Linux, so this is comparable across processes.
                "judging_s": round(server.last_reply_at - first, 2),
                "first_request_at": first,
                "last_reply_at": server.last_reply_at,
            }
        )


def run(scenario: str, models: int, latency: float, rate: int, parallel: int, data: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix="mtb-bench-"))
    try:
        shutil.copytree(data / "mt_bench", work / "mt_bench")
        shutil.copy(data / "judge_prompts.jsonl", work / "judge_prompts.jsonl")
        names = sorted(p.stem for p in (work / "mt_bench" / "model_answer").glob("*.jsonl"))[:models]
        n = len(names) * 160
        urls: multiprocessing.Queue = multiprocessing.Queue()
        stop = multiprocessing.Event()
        server = multiprocessing.Process(
            target=serve,
            args=(
                latency if scenario == "latency" else 0.0,
                rate if scenario == "rate" else None,
                urls,
                stop,
            ),
        )
        server.start()
        url = urls.get(timeout=30)
        command = [
            sys.executable,
            "-m",
            "mtb",
            "judge",
            "--data-dir",
            str(work),
            "--judge-api-base",
            url,
            "--judge-api-key",
            "bench",
            "--parallel",
            str(parallel),
            "--no-progress",
            "--model-list",
            *names,
        ]
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True)
        ended = time.monotonic()
        wall = ended - started
        stop.set()
        counts = urls.get(timeout=30)
        first_request_at, last_reply_at = counts.pop("first_request_at"), counts.pop("last_reply_at")
        server.join(timeout=30)
        if result.returncode != 0:
            raise SystemExit(f"mtb judge failed ({result.returncode}):\n{result.stderr}")
        written = sum(1 for _ in (work / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl").open())
        limit = n * latency / parallel if scenario == "latency" else n / rate
        return {
            "scenario": scenario,
            "judgments": n,
            "written": written,
            "parallel": parallel,
            "latency_s": latency if scenario == "latency" else None,
            "rate_per_s": rate if scenario == "rate" else None,
            "limit_s": round(limit, 2),
            "wall_s": round(wall, 2),
            "ratio": round(wall / limit, 3),
            "judging_ratio": round(counts["judging_s"] / limit, 3),
            # Where the rest of wall_s goes: process start to the first request, last reply to exit.
            "before_first_request_s": round(first_request_at - started, 2),
            "after_last_reply_s": round(ended - last_reply_at, 2),
            **counts,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["latency", "rate", "both"], default="both")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the median is reported")
    parser.add_argument(
        "--models", type=int, help="answer files to judge, 160 judgments each [8 latency, 2 rate]"
    )
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per reply (latency scenario)")
    parser.add_argument("--rate", type=int, default=20, help="requests admitted per second (rate scenario)")
    parser.add_argument("--parallel", type=int, default=64)
    args = parser.parse_args()
    plans = []
    if args.scenario in ("latency", "both"):  # 8 models: 1,280 judgments
        plans.append(
            dict(
                scenario="latency",
                models=args.models or 8,
                latency=args.latency,
                rate=0,
                parallel=args.parallel,
            )
        )
    if args.scenario in ("rate", "both"):  # 2 models: 320 judgments
        plans.append(
            dict(
                scenario="rate", models=args.models or 2, latency=0.0, rate=args.rate, parallel=args.parallel
            )
        )
    for plan in plans:
        runs = [run(**plan, data=args.data) for _ in range(args.repeat)]
        runs.sort(key=lambda r: r["wall_s"])
        median = runs[len(runs) // 2]
        print(json.dumps({**median, "all_wall_s": [r["wall_s"] for r in runs]}))


if __name__ == "__main__":
    main()
