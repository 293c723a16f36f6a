"""Timings for the Arena ratings view of `mtb browse`, and for a resumed download of a battle log.

    python bench/browse_arena.py                      # 200,000 battles among 60 models
    python bench/browse_arena.py --battles 1800000    # the public log's size (about 1.3 GB to write)

The log is FastChat's clean_battle format (an indented JSON array), made by
`mtb.testing.arena_battles.generate`, in `chatbot-arena/` of a fresh data directory
that also holds a one-question benchmark (so the first page is a question).

Browse: a fresh `mtb browse --port 0` process; times, over HTTP on 127.0.0.1, the
first page's data (`/api/index`), then the ratings (`/api/arena`, the first request
rates the log: reading, online Elo, the fit and 100 bootstrap rounds), then the same
request again (kept).

Download: the log served by the project's file server (`mtb.testing.file_server`)
as a mirror, the first transfer cut at half; `mtb download-baselines` is run twice
(the first run's three attempts are all cut, then a second run resumes). Reported:
the bytes the server sent against the file's size, and each run's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

LOG = "clean_battle_20240814_public.json"


def get(url: str) -> tuple[float, object]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        payload = json.load(response)
    return time.perf_counter() - started, payload


def bench_browse(data: Path, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mtb", "browse", "--port", "0", "--data-dir", str(data)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        url = process.stderr.readline().split(" at ", 1)[1].split()[0]
        took, index = get(url + "api/index")
        print(f"browse: first page data (/api/index, log listed, not read): {took * 1000:.0f} ms")
        assert isinstance(index, dict) and index["arena"] == [LOG]
        took, rated = get(url + f"api/arena?log={LOG}")
        assert isinstance(rated, dict) and rated["rows"], rated
        print(
            f"browse: Arena ratings, first request (rates the log): {took:.2f} s, {len(rated['rows'])} models"
        )
        took, _ = get(url + f"api/arena?log={LOG}")
        print(f"browse: Arena ratings, again (kept): {took * 1000:.0f} ms")
    finally:
        process.terminate()
        process.wait(timeout=10)


def bench_download(data: Path, env: dict[str, str]) -> None:
    from mtb.testing.file_server import FileServer

    size = (data / "chatbot-arena" / LOG).stat().st_size
    manifest = data.parent / "arena.toml"
    manifest.write_text(
        'name = "arena"\n[download.sources.s]\nkind = "url"\nbase = "https://example.invalid"\n'
        f'revision = "r"\n\n[[download.files]]\nsource = "s"\npath = "chatbot-arena/{LOG}"\n'
    )
    target = data.parent / "fresh"
    url_path = f"/mirror/chatbot-arena/{LOG}"
    with FileServer({"/mirror": data}) as server:
        server.faults.cut[url_path] = [size // 2, size // 8, size // 8]
        command = [
            sys.executable,
            "-m",
            "mtb",
            "download-baselines",
            "--no-progress",
            "--bench",
            str(manifest),
        ]
        command += ["--data-dir", str(target), "--mirror", f"{server.url}/mirror"]
        for run in (1, 2):
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, env=env)
            took = time.perf_counter() - started
            print(f"download run {run}: exit {result.returncode}, {took:.2f} s")
        ranges = [r for p, r in server.ranges if p == url_path]
        print(f"download: Range headers sent: {ranges}")
        print(f"download: {server.served[url_path]:,} bytes served for a {size:,}-byte file")
        assert (target / "chatbot-arena" / LOG).stat().st_size == size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--battles", type=int, default=200_000)
    parser.add_argument("--models", type=int, default=60)
    args = parser.parse_args()
    from mtb.testing.arena_battles import generate

    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        (data / "chatbot-arena").mkdir(parents=True)
        (data / "mt_bench").mkdir()
        (data / "mt_bench/question.jsonl").write_text(
            json.dumps({"question_id": 81, "category": "writing", "turns": ["Write a poem."]}) + "\n"
        )
        started = time.perf_counter()
        generate(data / "chatbot-arena" / LOG, args.battles, args.models)
        size = (data / "chatbot-arena" / LOG).stat().st_size
        print(
            f"{args.battles:,} battles, {args.models} models: {size / 1e6:.0f} MB written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        bench_browse(data, env)
        bench_download(data, env)


if __name__ == "__main__":
    main()
