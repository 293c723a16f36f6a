"""Time `mtb results --bench chatbot-arena` on synthetic battle logs, and check it against FastChat 0.2.36.

    python bench/arena_ratings.py                 # 200,000 battles / 60 models, then 1,800,000
    python bench/arena_ratings.py --skip-large    # only the 200k run and its checks
    python bench/arena_ratings.py --skip-check    # timings only (no scikit-learn reference)

Each log is FastChat's clean_battle format (a JSON array, one record a line
indented by two spaces), made by `mtb.testing.arena_battles.generate`: ties and `tie
(bothbad)`, 10% non-anonymous rows, five languages, conv_metadata and dedup_tag.

The whole command is timed in a fresh process (start-up, reading, online Elo, the
Bradley–Terry fit and 100 bootstrap rounds, printing JSON), three times; peak memory
is the child's ru_maxrss. The check compares the JSON with FastChat 0.2.36's method
written independently in tests/fastchat_arena_reference.py (one row per battle,
duplicated, scikit-learn's LogisticRegression with C=1, 100 rounds of row resampling):
rating within 1.0, online_elo within 0.01, battles equal, bounds mean |diff| ≤ 2.0
and none beyond 8.0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))


def run_command(path: Path, rounds: int) -> tuple[float, int, list[dict[str, object]]]:
    """Wall seconds, peak RSS (KiB) and the JSON of one `mtb results` run in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "mtb", "results", "--bench", "chatbot-arena", "--battles", str(path)]
    command += ["--rounds", str(rounds), "--format", "json"]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        # This child's own resource use (wait4), not the largest of every child so far.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"mtb results failed with exit {child.returncode}")
        out.seek(0)
        return seconds, usage.ru_maxrss, json.loads(out.read())


def check(path: Path, records: list[dict[str, object]], rounds: int) -> None:
    import numpy as np

    import fastchat_arena_reference as reference
    from mtb.testing.arena_battles import load_rows

    start = time.perf_counter()
    rows = reference.sorted_by_time(reference.anonymous(load_rows(path)))
    bt = reference.bt_mle_with_tie(rows)
    online = reference.online_elo(rows)
    counts = reference.battle_counts(rows)
    fitted = time.perf_counter() - start
    bounds = reference.bootstrap_bounds(rows, rounds, seed=1)
    total = time.perf_counter() - start
    d_rating = max(abs(float(r["rating"]) - bt[str(r["model"])]) for r in records)  # type: ignore[arg-type]
    d_online = max(abs(float(r["online_elo"]) - online[str(r["model"])]) for r in records)  # type: ignore[arg-type]
    battles_equal = all(r["battles"] == counts[str(r["model"])] for r in records)
    diffs = [abs(float(r["ci_low"]) - bounds[str(r["model"])][0]) for r in records]  # type: ignore[arg-type]
    diffs += [abs(float(r["ci_high"]) - bounds[str(r["model"])][1]) for r in records]  # type: ignore[arg-type]
    print(
        f"  reference (FastChat 0.2.36's method, sklearn): fit {fitted:.1f} s, "
        f"with {rounds} rounds {total:.1f} s"
    )
    print(f"  max |rating diff| {d_rating:.4f} (≤ 1.0)   max |online_elo diff| {d_online:.2e} (≤ 0.01)")
    print(f"  battles equal: {battles_equal}")
    print(f"  bounds: mean |diff| {np.mean(diffs):.2f} (≤ 2.0), max {max(diffs):.2f} (≤ 8.0)")
    ok = (
        d_rating <= 1.0 and d_online <= 0.01 and battles_equal and np.mean(diffs) <= 2.0 and max(diffs) <= 8.0
    )
    print("  CHECK", "PASSED" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


def generate_apart(path: Path, n_battles: int, n_models: int) -> None:
    """In a process of its own: the generator's lists must not count in the measured child's RSS."""
    code = "import sys; from pathlib import Path; from mtb.testing.arena_battles import generate; "
    code += "generate(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), seed=0)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(n_battles), str(n_models)], env=env, check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sizes = [(200_000, 60)] + ([] if args.skip_large else [(1_800_000, 60)])
        for n_battles, n_models in sizes:
            path = Path(tmp) / f"battles_{n_battles}.json"
            generate_apart(path, n_battles, n_models)
            size = path.stat().st_size / 1e6
            print(f"{n_battles:,} battles, {n_models} models, {size:.0f} MB JSON array:")
            times, loads = [], []
            for _ in range(args.runs):
                loads.append(os.getloadavg()[0])
                seconds, peak, records = run_command(path, args.rounds)
                times.append(seconds)
            print(
                f"  mtb results (whole command, {args.rounds} rounds): "
                f"{', '.join(f'{t:.2f}' for t in times)} s; "
                f"peak RSS {peak / 1024:.0f} MiB; "
                f"1-minute load average before each run {', '.join(f'{x:.1f}' for x in loads)} "
                f"on {os.cpu_count()} cores"
            )
            if not args.skip_check and n_battles <= 200_000:
                check(path, records, args.rounds)
            path.unlink()


if __name__ == "__main__":
    main()
