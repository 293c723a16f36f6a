"""`--batch` at the provider's Batch API: a judge of 320 judgments, 5% of lines failed by the provider.

The project's test server (its own process) serves the Batch API; `mtb judge`
runs as a real CLI process on fresh copies of the MT-bench data. Measured:

  batch:     `mtb judge --batch`: every judgment written, the same verdicts as a direct run,
             the share of lines that went through batches, and the batches made
  kill -9:   the same, killed once its batches are submitted; the rerun must create no batch,
             send no direct request, and write all 320
  dry run:   `--dry-run --batch` against `--dry-run`: half the price

    python bench/batch.py
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

REPO = Path(__file__).resolve().parents[1]
JUDGMENTS = Path("mt_bench/model_judgment/gpt-4_single.jsonl")
MODELS = ["vicuna-7b-v1.3", "alpaca-13b"]  # 2 models × 80 questions × 2 turns = 320 judgments


def reply(request: RecordedRequest) -> Reply:
    return Reply(text=f"Fine.\n\nRating: [[{len(request.last_user_message) % 10 + 1}]]")


def serve(commands: Any, answers: Any) -> None:
    with OpenAIServer(responder=reply) as server:
        server.batches.delay = 1.0
        answers.put(server.url)
        while True:
            command = commands.get()
            if command == "stop":
                return
            if command == "fail 5%":
                server.batches.fail_every = 20
            answers.put(
                {
                    "direct": len(server.chat_requests()),
                    "batch_lines": len(server.batches.lines),
                    "batches": len(server.batches.created),
                }
            )


def fresh(data: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="mtb-bench-batch-"))
    shutil.copytree(data / "mt_bench", work / "mt_bench")
    shutil.copy(data / "judge_prompts.jsonl", work / "judge_prompts.jsonl")
    return work


def judge(url: str, work: Path, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "mtb", "judge", "--judge-api-base", url, "--judge-api-key", "bench"),
        *("--model-list", *MODELS, "--data-dir", str(work), "--no-progress", *extra),
    ]


def verdicts(work: Path) -> set[tuple[Any, ...]]:
    lines = (work / JUDGMENTS).read_text().splitlines()
    return {(r["model"], r["question_id"], r["turn"], r["score"]) for r in map(json.loads, lines)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    os.environ["MTB_BATCH_POLL_SECONDS"] = "0.2"
    commands: Any = multiprocessing.Queue()
    answers: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(commands, answers))
    server.start()

    def counts(command: str = "count") -> dict[str, int]:
        commands.put(command)
        return answers.get(timeout=30)  # type: ignore[no-any-return]

    works: list[Path] = []
    try:
        url = answers.get(timeout=30)
        counts("fail 5%")
        # A direct run, for the verdicts to compare with.
        direct = fresh(args.data)
        works.append(direct)
        subprocess.run(judge(url, direct), check=True, capture_output=True)
        before = counts()
        # The batch run.
        batched = fresh(args.data)
        works.append(batched)
        started = time.perf_counter()
        subprocess.run(judge(url, batched, "--batch"), check=True, capture_output=True)
        seconds = time.perf_counter() - started
        after = counts()
        lines = after["batch_lines"] - before["batch_lines"]
        sent_directly = after["direct"] - before["direct"]
        # Killed once submitted, then rerun.
        killed = fresh(args.data)
        works.append(killed)
        state = killed / (str(JUDGMENTS) + ".batches")
        process = subprocess.Popen(
            judge(url, killed, "--batch"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        # Killed once its batches are submitted: the first, and the one holding the lines it failed.
        while not (state.exists() and state.read_text().count("\n") >= 2):
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        at_kill = counts()
        rerun = subprocess.run(judge(url, killed, "--batch"), capture_output=True, text=True)
        after_rerun = counts()
        # Dry runs.
        plan = json.loads(
            subprocess.run(
                judge(url, fresh_dir := fresh(args.data), "--dry-run"),
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        works.append(fresh_dir)
        plan_batch = json.loads(
            subprocess.run(
                judge(url, fresh_dir, "--dry-run", "--batch"), check=True, capture_output=True, text=True
            ).stdout
        )
        print(
            json.dumps(
                {
                    "judgments": 320,
                    "batch_written": len(verdicts(batched)),
                    "same_as_direct": verdicts(batched) == verdicts(direct),
                    "batch_lines": lines,
                    "direct_requests_in_batch_run": sent_directly,
                    "share_through_batches": round(320 / max(1, 320 + sent_directly), 3),
                    "lines_failed_and_resent": lines - 320,
                    "batches": after["batches"] - before["batches"],
                    "batch_run_s": round(seconds, 2),
                    "rerun_after_kill": {
                        "exit_code": rerun.returncode,
                        "new_batches": after_rerun["batches"] - at_kill["batches"],
                        "direct_requests": after_rerun["direct"] - at_kill["direct"],
                        "written": len(verdicts(killed)),
                    },
                    "dry_run_usd": plan["estimated_cost_usd"],
                    "dry_run_batch_usd": plan_batch["estimated_cost_usd"],
                }
            )
        )
    finally:
        commands.put("stop")
        server.join(timeout=30)
        for work in works:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
