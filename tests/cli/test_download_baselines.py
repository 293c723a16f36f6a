"""`mtb download-baselines` against a real HTTP server on 127.0.0.1 (mirror, GitHub raw, Hub)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import write_hub_votes_parquet
from mtb.cli.main import app
from mtb.testing.file_server import FileServer

MODELS = ("gpt-4", "vicuna-7b-v1.3")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror_dir(tmp_path: Path, shared_data: Path) -> Path:
    """A copy of the published files, laid out as the data directory, plus a small judgment file."""
    root = tmp_path / "mirror"
    (root / "mt_bench" / "model_answer").mkdir(parents=True)
    for name in ("judge_prompts.jsonl", "mt_bench/question.jsonl", "mt_bench/reference_answer/gpt-4.jsonl"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / name, root / name)
    for model in MODELS:
        shutil.copy(shared_data / f"mt_bench/model_answer/{model}.jsonl", root / "mt_bench/model_answer")
    judgment = root / "mt_bench/model_judgment/gpt-4_single.jsonl"
    judgment.parent.mkdir(parents=True)
    judgment.write_text('{"question_id": 81, "model": "gpt-4", "score": 9, "turn": 1}\n')
    # The Hub's human judgments (one of its two Parquet files; the GPT-4 one is "not published").
    write_hub_votes_parquet(root / "mt_bench/human_judgments.parquet", [HUMAN_VOTE])
    return root


HUMAN_VOTE = {
    "question_id": 81,
    "model_a": "gpt-4",
    "model_b": "vicuna-7b-v1.3",
    "winner": "model_a",
    "judge": "expert_0",
    "conversation_a": [{"content": "q", "role": "user"}],
    "conversation_b": [{"content": "q", "role": "user"}],
    "turn": 1,
}
HUB_VOTES = "/datasets/lmsys/mt_bench_human_judgments/resolve/main/data"


@pytest.fixture
def file_server(mirror_dir: Path, tmp_path: Path) -> Iterator[FileServer]:
    hub_votes = tmp_path / "hub_votes"
    hub_votes.mkdir()
    shutil.copy(
        mirror_dir / "mt_bench/human_judgments.parquet",
        hub_votes / "human-00000-of-00001-25f4910818759289.parquet",
    )
    routes = {
        "/mirror": mirror_dir,
        "/lm-sys/FastChat/0e6d3e4beaab66f4d3f93db72541a4abab8af28d/fastchat/llm_judge/data": mirror_dir,
        "/spaces/lmsys/mt-bench/resolve/main/data": mirror_dir,
        HUB_VOTES: hub_votes,
    }
    with FileServer(routes) as running:
        yield running


def run(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["download-baselines", "--no-progress", *args])
    return result.exit_code, result.output


def expected_files(mirror: Path) -> list[str]:
    return sorted(
        str(p.relative_to(mirror)) for p in mirror.rglob("*") if p.is_file() and not p.name.startswith(".")
    )


def test_mirror_downloads_verifies_then_skips(
    runner: CliRunner, file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    code, output = run(
        runner, "--models", *MODELS, "--data-dir", str(data), "--mirror", f"{file_server.url}/mirror"
    )
    assert code == 0, output
    assert expected_files(data) == expected_files(mirror_dir)
    for name in expected_files(mirror_dir):
        assert sha(data / name) == sha(mirror_dir / name)
    assert "7 fetched, 0 already present, 2 not published, 0 failed" in output
    assert "gpt-4_pair.jsonl: not found at its source" in output
    assert "gpt4_pair_judgments.parquet: not found at its source" in output
    assert "gpt-4_single.jsonl: no known sha256; fetched unverified" in output
    assert "human_judgments.parquet: no known sha256; fetched unverified" in output

    gets = file_server.count("GET", ".jsonl")
    code, output = run(
        runner, "--models", *MODELS, "--data-dir", str(data), "--mirror", f"{file_server.url}/mirror"
    )
    assert code == 0, output
    assert "0 fetched, 7 already present" in output
    assert file_server.count("GET", ".jsonl") == gets + 1  # only the one that is not published, again


def test_a_corrupt_file_in_place_is_fetched_again(
    runner: CliRunner, file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    questions = data / "mt_bench/question.jsonl"
    questions.parent.mkdir(parents=True)
    questions.write_bytes((mirror_dir / "mt_bench/question.jsonl").read_bytes()[:-5] + b"XXXXX")
    code, output = run(runner, "--models", "gpt-4", "--data-dir", str(data), "--mirror", str(mirror_dir))
    assert code == 0, output  # a plain folder works as a mirror too
    assert sha(questions) == sha(mirror_dir / "mt_bench/question.jsonl")


def test_corrupt_bytes_are_rejected_and_fetched_again(
    runner: CliRunner, file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    target = "/mirror/mt_bench/question.jsonl"
    file_server.faults.corrupt[target] = 1
    code, output = run(
        runner, "--models", "gpt-4", "--data-dir", str(data), "--mirror", f"{file_server.url}/mirror"
    )
    assert code == 0, output
    assert file_server.count("GET", target) == 2
    assert sha(data / "mt_bench/question.jsonl") == sha(mirror_dir / "mt_bench/question.jsonl")


def test_bytes_that_stay_corrupt_fail_and_leave_nothing(
    runner: CliRunner, file_server: FileServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    file_server.faults.corrupt["/mirror/mt_bench/question.jsonl"] = 100
    code, output = run(
        runner, "--models", "gpt-4", "--data-dir", str(data), "--mirror", f"{file_server.url}/mirror"
    )
    assert code == 1, output
    assert "failed: mt_bench/question.jsonl" in output and "expected 119565ad" in output
    assert not (data / "mt_bench/question.jsonl").exists()
    # No temp file left: only the files that arrived whole.
    assert [p.name for p in (data / "mt_bench").iterdir() if p.is_file()] == ["human_judgments.parquet"]
    assert (data / "judge_prompts.jsonl").exists()  # the others still arrived


def test_an_interrupted_transfer_never_leaves_a_truncated_file(
    runner: CliRunner, file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    answer = "/mirror/mt_bench/model_answer/gpt-4.jsonl"
    file_server.faults.truncate[answer] = 1
    code, output = run(
        runner, "--models", "gpt-4", "--data-dir", str(data), "--mirror", f"{file_server.url}/mirror"
    )
    assert code == 0, output
    assert file_server.count("GET", answer) == 2
    assert sha(data / "mt_bench/model_answer/gpt-4.jsonl") == sha(
        mirror_dir / "mt_bench/model_answer/gpt-4.jsonl"
    )

    fresh = tmp_path / "fresh"
    file_server.faults.truncate[answer] = 100
    code, output = run(
        runner, "--models", "gpt-4", "--data-dir", str(fresh), "--mirror", f"{file_server.url}/mirror"
    )
    assert code == 1, output
    assert "transfer interrupted" in output
    # No file at the destination; the bytes that did arrive wait in a .part for the next run.
    assert sorted(p.name for p in (fresh / "mt_bench/model_answer").iterdir()) == [
        "gpt-4.jsonl.part",
        "gpt-4.jsonl.part.version",  # which version of the file the part holds (its ETag)
    ]


def test_unknown_model_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    code, output = run(runner, "--models", "no-such-model", "--data-dir", str(tmp_path))
    assert code == 2
    assert "no published files for: no-such-model" in output


def test_arena_hard_from_a_mirror(runner: CliRunner, shared_data: Path, tmp_path: Path) -> None:
    # gemma-2-9b-it is one of the answer files whose bytes match LMSYS's published hash.
    mirror = tmp_path / "mirror"
    shutil.copytree(shared_data / "arena-hard-v0.1/config", mirror / "arena-hard-v0.1/config")
    shutil.copytree(shared_data / "arena-hard-v0.1/leaderboard", mirror / "arena-hard-v0.1/leaderboard")
    shutil.copy(shared_data / "arena-hard-v0.1/question.jsonl", mirror / "arena-hard-v0.1/question.jsonl")
    (mirror / "arena-hard-v0.1/model_answer").mkdir()
    shutil.copy(
        shared_data / "arena-hard-v0.1/model_answer/gemma-2-9b-it.jsonl",
        mirror / "arena-hard-v0.1/model_answer",
    )
    data = tmp_path / "data"
    code, output = run(
        runner,
        "--bench",
        "arena-hard-v0.1",
        "--models",
        "gemma-2-9b-it",
        "--data-dir",
        str(data),
        "--mirror",
        str(mirror),
    )
    assert code == 0, output
    assert "6 fetched" in output and "1 not published" in output
    name = "arena-hard-v0.1/model_answer/gemma-2-9b-it.jsonl"
    assert sha(data / name) == sha(shared_data / name)


def mtb_subprocess(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "300", **env}
    return subprocess.run(
        [sys.executable, "-m", "mtb", "download-baselines", "--no-progress", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def test_hub_and_github_through_their_endpoints(
    file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    """huggingface_hub itself talks to our server through HF_ENDPOINT; GitHub files through MTB_GITHUB_RAW."""
    data, hf_home = tmp_path / "data", tmp_path / "hf"
    env = {
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": file_server.url,
        "HF_HOME": str(hf_home),
        "MTB_GITHUB_RAW": file_server.url,
    }
    result = mtb_subprocess(env, "--models", *MODELS, "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    for name in expected_files(mirror_dir):
        assert sha(data / name) == sha(mirror_dir / name), name
    assert file_server.count("HEAD", "/data/mt_bench/model_answer/gpt-4.jsonl") >= 1
    assert file_server.count("GET", "/fastchat/llm_judge/data/mt_bench/question.jsonl") == 1
    assert any(hf_home.rglob("vicuna-7b-v1.3.jsonl"))  # in the standard HF cache under HF_HOME
    # The dataset's Parquet file, from its Hub path, under the name browse looks for.
    assert file_server.count("GET", f"{HUB_VOTES}/human-00000-of-00001-25f4910818759289.parquet") == 1
    assert "gpt4_pair_judgments.parquet: not found at its source" in result.stderr

    # Offline now, but every file is present and right: nothing to fetch, success.
    again = mtb_subprocess({**env, "HF_HUB_OFFLINE": "1"}, "--models", *MODELS, "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    assert "7 already present" in again.stderr


def test_hub_transfer_cut_or_corrupt_is_fetched_again(
    file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    cut = "/spaces/lmsys/mt-bench/resolve/main/data/mt_bench/model_answer/gpt-4.jsonl"
    bad = "/spaces/lmsys/mt-bench/resolve/main/data/mt_bench/model_answer/vicuna-7b-v1.3.jsonl"
    file_server.faults.truncate[cut] = 1
    file_server.faults.corrupt[bad] = 1
    env = {
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": file_server.url,
        "HF_HOME": str(tmp_path / "hf"),
        "MTB_GITHUB_RAW": file_server.url,
    }
    data = tmp_path / "data"
    result = mtb_subprocess(env, "--models", *MODELS, "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert file_server.count("GET", cut) == 2 and file_server.count("GET", bad) == 2
    for model in MODELS:
        name = f"mt_bench/model_answer/{model}.jsonl"
        assert sha(data / name) == sha(mirror_dir / name)


@pytest.mark.parametrize("offline_flag", ["1", "0"])
def test_without_network_it_fails_at_once(offline_flag: str, tmp_path: Path) -> None:
    # Port 9 on 127.0.0.1 refuses connections: as good as no network.
    env = {
        "HF_HUB_OFFLINE": offline_flag,
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HOME": str(tmp_path / "hf"),
        "MTB_GITHUB_RAW": "http://127.0.0.1:9",
    }
    started = time.monotonic()
    result = mtb_subprocess(env, "--data-dir", str(tmp_path / "data"))
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    assert "--mirror" in result.stderr and "--data-dir" in result.stderr
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


def test_with_progress_bars(
    runner: CliRunner, file_server: FileServer, mirror_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    file_server.faults.truncate["/mirror/mt_bench/question.jsonl"] = 1  # a retry resets its bar
    result = runner.invoke(
        app,
        [
            "download-baselines",
            "--progress",
            "--models",
            "gpt-4",
            "--data-dir",
            str(data),
            "--mirror",
            f"{file_server.url}/mirror",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sha(data / "mt_bench/question.jsonl") == sha(mirror_dir / "mt_bench/question.jsonl")


def test_ctrl_c_on_a_slow_mirror_exits_130_at_once(tmp_path: Path) -> None:
    """Transfers in flight are cancelled: no waiting for a mirror that sends a byte at a time."""
    mirror = tmp_path / "mirror"
    for name in ("a", "b"):
        (mirror / "tiny").mkdir(parents=True, exist_ok=True)
        (mirror / "tiny" / f"{name}.jsonl").write_text('{"question_id": 1}\n' * 500)
    manifest = tmp_path / "tiny.toml"
    manifest.write_text(
        'name = "tiny"\n[download.sources.s]\nkind = "github"\nrepo = "o/r"\nrevision = "c"\n\n'
        '[[download.files]]\nsource = "s"\npath = "tiny/a.jsonl"\n\n'
        '[[download.files]]\nsource = "s"\npath = "tiny/b.jsonl"\n'
    )
    data = tmp_path / "data"
    with FileServer({"/mirror": mirror}) as server:
        server.faults.drip = 0.02  # 10 KB at 50 bytes/s: minutes per file
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mtb",
                "download-baselines",
                "--bench",
                str(manifest),
                "--no-progress",
                "--data-dir",
                str(data),
                "--mirror",
                f"{server.url}/mirror",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while server.count("GET", ".jsonl") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # both transfers are under way
        assert process.poll() is None
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
        took = time.monotonic() - interrupted
    assert process.returncode == 130, stderr
    assert took < 2.0, f"exit took {took:.1f} s"
    leftovers = [p for p in data.rglob("*") if p.is_file()] if data.exists() else []
    # No file at the destination; at most a .part per file, kept for the next run to resume.
    assert all(p.name.endswith((".jsonl.part", ".jsonl.part.version")) for p in leftovers), leftovers
    kept = {p.name.removesuffix(".part"): p.stat().st_size for p in leftovers if p.suffix == ".part"}

    with FileServer({"/mirror": mirror}) as server:
        again = mtb_subprocess(
            {}, "--bench", str(manifest), "--data-dir", str(data), "--mirror", f"{server.url}/mirror"
        )
        assert again.returncode == 0, again.stderr
        for name in ("a", "b"):
            asked = [r for p, r in server.ranges if p == f"/mirror/tiny/{name}.jsonl"]
            offset = kept.get(f"{name}.jsonl", 0)
            assert asked == [f"bytes={offset}-" if offset else None]
            full = (mirror / "tiny" / f"{name}.jsonl").read_bytes()
            assert server.served[f"/mirror/tiny/{name}.jsonl"] == len(full) - offset
            assert (data / "tiny" / f"{name}.jsonl").read_bytes() == full
    assert sorted(p.name for p in (data / "tiny").iterdir()) == ["a.jsonl", "b.jsonl"]


def one_file_manifest(tmp_path: Path, body: bytes, *, pinned: bool) -> tuple[Path, Path]:
    """A mirror folder holding tiny/big.jsonl, and a manifest that lists it (with its sha256 or without)."""
    mirror = tmp_path / "mirror"
    (mirror / "tiny").mkdir(parents=True)
    (mirror / "tiny" / "big.jsonl").write_bytes(body)
    pin = f'sha256 = "{hashlib.sha256(body).hexdigest()}"\n' if pinned else ""
    manifest = tmp_path / "tiny.toml"
    manifest.write_text(
        'name = "tiny"\n[download.sources.s]\nkind = "url"\nbase = "https://example.invalid"\n'
        f'revision = "r"\n\n[[download.files]]\nsource = "s"\npath = "tiny/big.jsonl"\n{pin}'
    )
    return mirror, manifest


BIG = b"".join(b'{"question_id": %d, "text": "%s"}\n' % (i, b"x" * 40) for i in range(4000))
URL_PATH = "/mirror/tiny/big.jsonl"


@pytest.mark.parametrize("pinned", [True, False])
def test_a_cut_transfer_resumes_with_a_range_request(pinned: bool, runner: CliRunner, tmp_path: Path) -> None:
    mirror, manifest = one_file_manifest(tmp_path, BIG, pinned=pinned)
    data = tmp_path / "data"
    dest = data / "tiny" / "big.jsonl"
    with FileServer({"/mirror": mirror}) as server:
        # Three cuts in a row: the run gives up, keeping the 60,000 bytes that arrived.
        server.faults.cut[URL_PATH] = [30_000, 20_000, 10_000]
        args = ("--bench", str(manifest), "--data-dir", str(data), "--mirror", f"{server.url}/mirror")
        code, output = run(runner, *args)
        assert code == 1, output
        assert "transfer interrupted after 60000" in output
        assert [r for _, r in server.ranges] == [None, "bytes=30000-", "bytes=50000-"]
        assert not dest.exists()
        assert dest.with_name("big.jsonl.part").read_bytes() == BIG[:60_000]

        # The next run asks only for the rest, and every byte crossed the wire once.
        code, output = run(runner, *args)
        assert code == 0, output
        assert [r for _, r in server.ranges][3:] == ["bytes=60000-"]
        assert server.served[URL_PATH] == len(BIG)
    assert dest.read_bytes() == BIG
    assert [p.name for p in dest.parent.iterdir()] == ["big.jsonl"]  # the .part is gone


def test_a_file_changed_at_its_source_is_fetched_whole(runner: CliRunner, tmp_path: Path) -> None:
    """If-Range: a part of the old version is never completed with bytes of the new one."""
    mirror, manifest = one_file_manifest(tmp_path, BIG, pinned=False)  # unpinned: only parsing checks it
    data = tmp_path / "data"
    args = ("--bench", str(manifest), "--data-dir", str(data))
    with FileServer({"/mirror": mirror}) as server:
        server.faults.cut[URL_PATH] = [30_000, 0, 0]
        code, output = run(runner, *args, "--mirror", f"{server.url}/mirror")
        assert code == 1, output
        assert (data / "tiny/big.jsonl.part").stat().st_size == 30_000
        newer = BIG.replace(b'"text"', b'"body"')  # same length, other bytes after the part
        (mirror / "tiny" / "big.jsonl").write_bytes(newer)
        code, output = run(runner, *args, "--mirror", f"{server.url}/mirror")
        assert code == 0, output
        assert [r for _, r in server.ranges][-1] == "bytes=30000-"  # asked, with If-Range
        assert server.served[URL_PATH] == 30_000 + len(newer)  # answered 200: the new file whole
    assert (data / "tiny" / "big.jsonl").read_bytes() == newer
    assert [p.name for p in (data / "tiny").iterdir()] == ["big.jsonl"]


def test_a_server_that_ignores_range_restarts_from_zero(runner: CliRunner, tmp_path: Path) -> None:
    mirror, manifest = one_file_manifest(tmp_path, BIG, pinned=True)
    data = tmp_path / "data"
    with FileServer({"/mirror": mirror}) as server:
        server.faults.ignore_range = True
        server.faults.cut[URL_PATH] = [30_000]
        code, output = run(
            runner, "--bench", str(manifest), "--data-dir", str(data), "--mirror", f"{server.url}/mirror"
        )
        assert code == 0, output
        assert [r for _, r in server.ranges] == [None, "bytes=30000-"]  # asked, but answered 200
        assert server.served[URL_PATH] == 30_000 + len(BIG)
    assert (data / "tiny" / "big.jsonl").read_bytes() == BIG  # not the old part with the whole appended
    assert [p.name for p in (data / "tiny").iterdir()] == ["big.jsonl"]


def test_a_corrupt_part_fails_verification_and_is_fetched_whole(runner: CliRunner, tmp_path: Path) -> None:
    mirror, manifest = one_file_manifest(tmp_path, BIG, pinned=True)
    data = tmp_path / "data"
    part = data / "tiny" / "big.jsonl.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"X" * 1000)  # not the file's first 1,000 bytes
    with FileServer({"/mirror": mirror}) as server:
        code, output = run(
            runner, "--bench", str(manifest), "--data-dir", str(data), "--mirror", f"{server.url}/mirror"
        )
        assert code == 0, output
        assert [r for _, r in server.ranges] == ["bytes=1000-", None]
        assert server.served[URL_PATH] == (len(BIG) - 1000) + len(BIG)
    assert (data / "tiny" / "big.jsonl").read_bytes() == BIG
    assert not part.exists()


def test_a_part_as_long_as_the_file_is_verified_and_kept(runner: CliRunner, tmp_path: Path) -> None:
    # A run stopped between the last byte and the rename: the server answers 416 to bytes=N-.
    mirror, manifest = one_file_manifest(tmp_path, BIG, pinned=True)
    data = tmp_path / "data"
    part = data / "tiny" / "big.jsonl.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BIG)
    with FileServer({"/mirror": mirror}) as server:
        code, output = run(
            runner, "--bench", str(manifest), "--data-dir", str(data), "--mirror", f"{server.url}/mirror"
        )
        assert code == 0, output
        assert [r for _, r in server.ranges] == [f"bytes={len(BIG)}-"]
        assert server.served[URL_PATH] == 0
    assert (data / "tiny" / "big.jsonl").read_bytes() == BIG
    assert not part.exists()


def test_a_mirror_that_is_a_symlink_loop_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    # Path.resolve() raised RuntimeError("Symlink loop") through to a traceback.
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = runner.invoke(
        app, ["download-baselines", "--data-dir", str(tmp_path / "data"), "--mirror", str(tmp_path / "a")]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"--mirror {tmp_path / 'a'}: not a folder that can be read" in result.output
