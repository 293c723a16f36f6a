"""Timings for `mtb download-baselines`, `mtb browse` and `mtb results --plot`.

    python bench/baselines_browse.py                # uses ../shared/data
    python bench/baselines_browse.py --data /path/to/shared/data
    python bench/baselines_browse.py --browser      # also time the page in headless Chromium

Downloads go to the project's file server on 127.0.0.1 (no network), once as a
plain mirror and once as the Hugging Face Hub through HF_ENDPOINT (the real
huggingface_hub client), so the figures measure mtb and the client, not a link.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mtb.testing.file_server import FileServer

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--browser", action="store_true", help="time the page in /usr/bin/chromium too")
    args = parser.parse_args()
    shared = args.data.resolve()
    mtb = [sys.executable, "-m", "mtb"]
    with (
        tempfile.TemporaryDirectory() as temp,
        FileServer(
            {
                "/mirror": shared,
                "/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data": shared,
                "/spaces/lmsys/mt-bench/resolve/main/data": shared,
            }
        ) as server,
    ):
        root = Path(temp)
        base = {"HF_HUB_OFFLINE": "0", "HF_HOME": str(root / "hf")}
        size = (
            sum(p.stat().st_size for p in (shared / "mt_bench").rglob("*.jsonl"))
            + (shared / "judge_prompts.jsonl").stat().st_size
        )
        print(f"MT-bench files: {size / 1e6:.1f} MB (36 listed; the 2 judgment files are not in the mirror)")

        cmd = [*mtb, "download-baselines", "--no-progress", "--data-dir", str(root / "a")]
        print(f"download, mirror over HTTP : {timed([*cmd, '--mirror', server.url + '/mirror'], base):.2f} s")
        print(f"again, all present (skip)  : {timed([*cmd, '--mirror', server.url + '/mirror'], base):.2f} s")
        hub = {**base, "HF_ENDPOINT": server.url, "MTB_GITHUB_RAW": server.url}
        cmd_hub = [*mtb, "download-baselines", "--no-progress", "--data-dir", str(root / "b")]
        print(f"download, Hub + GitHub raw : {timed(cmd_hub, hub):.2f} s")

        data = root / "browse"
        shutil.copytree(shared, data, ignore=shutil.ignore_patterns("MANIFEST.md"))
        code = (
            "import sys, time; from pathlib import Path; from mtb.browser.catalog import Catalog;"
            "c = Catalog(Path(sys.argv[1])); t = time.perf_counter();"
            "[c.bench(b) for b in c.benchmarks()]; i = c.index();"
            "print(f'{time.perf_counter() - t:.2f}')"
        )
        load = subprocess.run(
            [sys.executable, "-c", code, str(data)], capture_output=True, text=True, check=True
        )
        print(
            f"browse: load both benchmarks (31 + 75 answer files, {shared_size(shared):.0f} MB): "
            f"{load.stdout.strip()} s"
        )
        out = root / "mt.html"
        seconds = timed(
            [*mtb, "browse", "--data-dir", str(data), "--export", str(out), "--bench", "mt_bench"], base
        )
        print(f"browse --export, MT-bench, 31 models: {seconds:.2f} s, {out.stat().st_size / 1e6:.1f} MB")
        if args.browser:
            time_page(data)


def time_page(data: Path) -> None:
    """Click timings in a real browser, server and all (a fresh server: nothing read yet)."""
    from playwright.sync_api import sync_playwright

    from mtb.browser.server import make_server

    server = make_server(data, "127.0.0.1", 0)
    server.start_background()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.set_default_timeout(60_000)
        steps = [
            ("page: first view (MT-bench, 31 models)", lambda: page.goto(server.url), ".answer-a"),
            (
                "page: switch to Arena-Hard (75 models)",
                lambda: page.select_option("#bench", "arena-hard-v0.1"),
                "h2:has-text('328c149e')",
            ),
            ("page: next question", lambda: page.click("#next"), "h2:has-text('b43c0765')"),
        ]
        for label, action, selector in steps:
            started = time.perf_counter()
            action()
            page.wait_for_selector(selector)
            print(f"{label}: {time.perf_counter() - started:.2f} s")
        browser.close()
    server.shutdown()
    server.server_close()


def shared_size(shared: Path) -> float:
    return sum(p.stat().st_size for p in shared.rglob("*") if p.is_file()) / 1e6


if __name__ == "__main__":
    main()
