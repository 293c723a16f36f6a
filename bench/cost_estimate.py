"""Time the cost estimate of `mtb judge --dry-run` on the 31 published MT-bench models (4,960 prompts).

    python bench/cost_estimate.py                 # the published data at ../shared/data
    python bench/cost_estimate.py --data DIR

It plans the run as `mtb judge --dry-run --judge-model gpt-4` does, then times, in this process,
rendering and counting every prompt with cl100k (bpe-openai) cold (a fresh counter) and the
whole `mtb judge --dry-run` command in a fresh process (start-up included), with and without
the estimate's share (`--judge-model nosuch` still counts: the count does not depend on a price).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mtb import cost
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.protocols.base import JudgeRequest

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        shutil.copytree(args.data / "mt_bench", root / "mt_bench")
        shutil.copy(args.data / "judge_prompts.jsonl", root / "judge_prompts.jsonl")
        bench = Benchmark.load("mt_bench")
        data = DataDir(root, bench)
        started = time.perf_counter()
        run = bench.protocol.plan_judging(data, JudgeRequest(judge_model="gpt-4"))
        planned = time.perf_counter() - started
        for attempt in range(args.repeat):
            started = time.perf_counter()
            estimate, _ = cost.estimate_judging(
                run.requests(),
                run.past_outputs(),
                run.default_output_tokens,
                run.params.max_tokens,
                cost.resolve_price("gpt-4", None, None),
                "gpt-4",
                cost.TokenCounter(),
            )
            counted = time.perf_counter() - started
            print(
                f"estimate {attempt + 1}: {estimate.requests} prompts, "
                f"{estimate.input_tokens:,} input tokens counted in {counted:.3f} s; "
                f"${estimate.cost:,.2f} (plan itself: {planned:.3f} s)"
            )
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mtb",
                    "judge",
                    "--dry-run",
                    "--judge-model",
                    "gpt-4",
                    "--data-dir",
                    str(root),
                ],
                check=True,
                capture_output=True,
            )
            print(
                f"mtb judge --dry-run (whole command, fresh process): {time.perf_counter() - started:.2f} s"
            )


if __name__ == "__main__":
    main()
