"""`mtb judge` at a provider's limits, and against servers that go silent.

Runs the real CLI (`python -m mtb judge`) as a subprocess against the project's
OpenAI-compatible test server, started in its own process, on the published
MT-bench answers (copied to a temp dir; 160 judgments per model). Scenarios:

  rate      the server admits R requests in each wall-clock second and answers the rest
            429 + Retry-After (whole seconds); 320 judgments, --parallel 16.
            Limit: N / R. Targets: nothing failed, wall <= 1.1x, <= 1.15 requests a judgment.
  tokens    OpenAI's token limit: 600k tokens a minute from a 60k bucket, a request taking
            its prompt and max_tokens when it arrives, x-ratelimit-* headers on every
            response, 429 without Retry-After; 320 judgments, --parallel 16.
            Limit: (tokens - bucket) / rate. Targets: nothing failed, wall <= 1.2x,
            <= 10% of requests turned away.
  drip      every reply comes a byte at a time (a byte every 50 ms); --timeout 3.
  silent    no request is ever answered; --timeout 3.
            Targets: each run ends within 20 s, exit != 0, saying it timed out.
  max-cost  --max-cost 0.05 (gpt-4o's prices) against a server whose `usage` counts
            1.5x the tokens mtb counts. Target: the spend (cost log) <= the cap.

    python bench/rate_limits.py                       # every scenario, once
    python bench/rate_limits.py --scenario rate --repeat 3
    python bench/rate_limits.py --scenario rate --cli-src ../main/src   # another checkout's mtb
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply, TokenBucketLimit

REPO = Path(__file__).resolve().parents[1]
TOKENS_PER_MINUTE = 600_000
BUCKET = 60_000


def rating_reply(request: RecordedRequest) -> Reply:
    return Reply(text=f"Fine.\n\nRating: [[{len(request.last_user_message) % 10 + 1}]]")


def dripping_reply(request: RecordedRequest) -> Reply:
    return Reply(text="Fine.\n\nRating: [[5]]", drip=0.05)


def silent_reply(request: RecordedRequest) -> Reply:
    return Reply(hang=True)


def serve(scenario: str, rate: int, urls: Any, stop: Any) -> None:
    token_limit = TokenBucketLimit(TOKENS_PER_MINUTE, BUCKET) if scenario == "tokens" else None
    responder = {"drip": dripping_reply, "silent": silent_reply}.get(scenario, rating_reply)
    server = OpenAIServer(
        responder=responder,
        rate_limit=rate if scenario == "rate" else None,
        token_limit=token_limit,
        usage_scale=1.5 if scenario == "max-cost" else 1.0,
    )
    with server:
        urls.put(server.url)
        stop.wait()
        first = server.requests[0].arrived if server.requests else 0.0
        urls.put(
            {
                "requests": len(server.requests),
                "max_in_flight": server.max_in_flight,
                "rejected": (
                    server.limit.rejected if server.limit else token_limit.rejected if token_limit else 0
                ),
                "charged_tokens": token_limit.charged if token_limit else None,
                "judging_s": round(server.last_reply_at - first, 2)
                if scenario in ("rate", "tokens")
                else None,
            }
        )


def run(
    scenario: str, models: int, rate: int, parallel: int, data: Path, cli_src: Path | None = None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="mtb-bench-"))
    try:
        shutil.copytree(data / "mt_bench", work / "mt_bench")
        shutil.copy(data / "judge_prompts.jsonl", work / "judge_prompts.jsonl")
        names = sorted(p.stem for p in (work / "mt_bench" / "model_answer").glob("*.jsonl"))[:models]
        n = len(names) * 160
        urls: Any = multiprocessing.Queue()
        stop = multiprocessing.Event()
        server = multiprocessing.Process(target=serve, args=(scenario, rate, urls, stop))
        server.start()
        url = urls.get(timeout=30)
        judge_model = "gpt-4o" if scenario == "max-cost" else "gpt-4"
        command = [
            sys.executable,
            "-m",
            "mtb",
            "judge",
            "--data-dir",
            str(work),
            "--judge-model",
            judge_model,
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
        if scenario in ("drip", "silent"):
            command += ["--timeout", "3"]
        if scenario == "max-cost":
            command += ["--max-cost", "0.05"]
        env = dict(os.environ)
        if cli_src is not None:
            env["PYTHONPATH"] = str(cli_src.resolve())
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        wall = time.monotonic() - started
        stop.set()
        counts = urls.get(timeout=30)
        server.join(timeout=30)
        output = work / "mt_bench" / "model_judgment" / f"{judge_model}_single.jsonl"
        written = sum(1 for _ in output.open()) if output.exists() else 0
        said = " ".join(result.stderr.split())
        row: dict[str, Any] = {
            "scenario": scenario,
            "judgments": n,
            "written": written,
            "exit_code": result.returncode,
            "parallel": parallel,
            "wall_s": round(wall, 2),
            **counts,
        }
        if scenario == "rate":
            limit = n / rate
            row.update(
                rate_per_s=rate,
                limit_s=round(limit, 2),
                ratio=round(wall / limit, 3),
                requests_per_judgment=round(counts["requests"] / n, 3),
            )
        elif scenario == "tokens":
            limit = (counts["charged_tokens"] - BUCKET) / (TOKENS_PER_MINUTE / 60)
            row.update(
                limit_s=round(limit, 2),
                ratio=round(wall / limit, 3),
                turned_away=round(counts["rejected"] / counts["requests"], 4),
            )
        elif scenario in ("drip", "silent"):
            row["stop"] = said[said.find("stopped:") :][:240] if "stopped:" in said else said[-240:]
        elif scenario == "max-cost":
            log = work / "mt_bench" / "runs" / "cost.jsonl"
            logged = [json.loads(line) for line in log.open()] if log.exists() else []
            row["spent_usd"] = sum(r["cost_usd"] or 0 for r in logged)
            row["cap_usd"] = 0.05
        if scenario in ("rate", "tokens") and result.returncode != 0:
            row["stderr"] = result.stderr[-2000:]
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario", choices=["rate", "tokens", "drip", "silent", "max-cost", "all"], default="all"
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario; each is printed")
    parser.add_argument("--models", type=int, default=2, help="answer files to judge, 160 judgments each")
    parser.add_argument("--rate", type=int, default=20, help="requests admitted per second (rate)")
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--cli-src", type=Path, help="run the mtb of this source folder (e.g. ../main/src)")
    args = parser.parse_args()
    scenarios = (
        ["rate", "tokens", "drip", "silent", "max-cost"] if args.scenario == "all" else [args.scenario]
    )
    for scenario in scenarios:
        for _ in range(args.repeat):
            models = 1 if scenario in ("drip", "silent") else args.models
            row = run(scenario, models, args.rate, args.parallel, args.data, args.cli_src)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
