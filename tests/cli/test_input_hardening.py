"""Paid work, data and tracebacks: the input and output faults `mtb` must meet with a clear
`path:line: what is wrong` (exit 2) before any request, and files it must not spoil.

Everything here runs the real CLI against the real local servers (OpenAIServer, FileServer)
or the real browse server; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import judge_responder, model_responder, read_jsonl
from mtb.cli.main import app
from mtb.jsonl import write_atomically
from mtb.testing.file_server import FileServer
from mtb.testing.openai_server import OpenAIServer, Reply

REPO_ROOT = Path(__file__).resolve().parents[2]
BAD_BYTE = b"\xff"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test: `umask(0o027)`; the old one comes back afterwards."""
    old = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def generate(runner: CliRunner, server: OpenAIServer, data_dir: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "generate",
            "--model",
            "m",
            "--api-base",
            server.url,
            "--api-key",
            "sk-test",
            "--data-dir",
            str(data_dir),
            "--no-progress",
            *extra,
        ],
    )


def judge(runner: CliRunner, server: OpenAIServer, data_dir: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "judge",
            "--judge-api-base",
            server.url,
            "--judge-api-key",
            "sk-test",
            "--data-dir",
            str(data_dir),
            "--no-progress",
            *extra,
        ],
    )


def assert_usage_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for fragment in fragments:
        assert fragment in result.output, result.output


# ------------------------------------------------------------------ (8) missing extra


def test_arena_generation_without_its_extra_stops_before_any_request(
    server: OpenAIServer, arena_dir: Path
) -> None:
    # A fresh interpreter in which bpe_openai cannot be imported, as without `pip install 'mtb[arena]'`.
    wrapper = (
        "import sys; sys.modules['bpe_openai'] = None; "
        "from mtb.cli.main import app; sys.argv = ['mtb', *sys.argv[1:]]; app()"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            "generate",
            "--bench",
            "arena-hard-v0.1",
            "--model",
            "m",
            "--api-base",
            server.url,
            "--api-key",
            "sk-test",
            "--data-dir",
            str(arena_dir),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install 'mtb[arena]'" in done.stderr  # Rich must not eat `[arena]` as markup
    assert server.chat_requests() == []
    assert not (arena_dir / "arena-hard-v0.1" / "model_answer" / "m.jsonl").exists()


# ------------------------------------------------------------------ (17) markup in untrusted text


@pytest.mark.parametrize("text", ["[/x]", "[red]x[/red]", "[bold]", "[link=file:///etc]y[/link]"])
def test_untrusted_text_is_printed_as_it_is(runner: CliRunner, text: str) -> None:
    result = runner.invoke(app, ["results", "--bench", text])
    assert_usage_error(result, text)


def test_markup_in_paths_and_server_messages_is_printed_as_it_is(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "[red]data[/red]"
    shutil.copytree(data_dir, odd)
    server.responder = lambda request: Reply(
        status=404, body=json.dumps({"error": {"message": "model [/m] [bold]not found"}})
    )
    result = generate(runner, server, odd, "--first-n", "1")
    assert result.exit_code == 1, result.output
    assert "[/m] [bold]not found" in result.output
    assert f"{odd}" in result.output


# ------------------------------------------------------------------ (9) file modes


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_files_follow_the_umask(umask, tmp_path: Path, mask: int, expected: int) -> None:
    umask(mask)
    path = tmp_path / "new.jsonl"
    write_atomically(path, ['{"a": 1}'])
    assert mode_of(path) == expected


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o664])
def test_judgment_file_rewritten_after_a_duplicate_keeps_its_mode(
    umask, runner: CliRunner, server: OpenAIServer, data_dir: Path, mode: int
) -> None:
    umask(0o022)
    server.responder = judge_responder
    first = judge(runner, server, data_dir, "--model-list", "gpt-4", "--first-n", "1")
    assert first.exit_code == 0, first.output
    output = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    assert mode_of(output) == 0o644  # a new file: what umask 022 gives
    lines = output.read_text().splitlines()
    output.write_text("\n".join([*lines, lines[0]]) + "\n")  # a duplicate: the next run rewrites
    output.chmod(mode)
    again = judge(runner, server, data_dir, "--model-list", "gpt-4", "--first-n", "2")
    assert again.exit_code == 0, again.output
    assert len(read_jsonl(output)) == 4  # rewritten: sorted, one line per key
    assert mode_of(output) == mode


def test_generated_and_exported_files_get_the_umask_mode(
    umask, runner: CliRunner, server: OpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    umask(0o027)
    server.responder = model_responder
    assert generate(runner, server, data_dir, "--first-n", "1").exit_code == 0
    assert mode_of(data_dir / "mt_bench" / "model_answer" / "m.jsonl") == 0o640
    page = tmp_path / "page.html"
    result = runner.invoke(app, ["browse", "--data-dir", str(data_dir), "--export", str(page)])
    assert result.exit_code == 0, result.output
    assert mode_of(page) == 0o640


# ------------------------------------------------------------------ (10) unverified downloads


def unpinned_manifest(tmp_path: Path) -> Path:
    manifest = tmp_path / "bench.toml"
    manifest.write_text(
        """
[download.sources.repo]
kind = "github"
repo = "org/repo"
revision = "abc"

[[download.files]]
path = "b/question.jsonl"
source = "repo"

[[download.files]]
path = "b/config.yaml"
source = "repo"

[[download.files]]
path = "b/scores.json"
source = "repo"
"""
    )
    return manifest


GOOD = {
    "b/question.jsonl": '{"question_id": 1, "turns": ["hi"]}\n{"question_id": 2, "turns": ["yo"]}\n',
    "b/config.yaml": "baseline_model: gpt-4\n",
    "b/scores.json": '{"a": 1}\n',
}
PORTAL = "<!DOCTYPE html><html><body>Sign in to the hotel wifi</body></html>\n"


@pytest.mark.parametrize(
    ("name", "served"),
    [
        ("b/question.jsonl", PORTAL),  # a captive portal's page, status 200
        ("b/question.jsonl", GOOD["b/question.jsonl"][:40]),  # a reply cut off mid-line
        ("b/question.jsonl", ""),
        ("b/config.yaml", PORTAL),
        ("b/scores.json", PORTAL),
        ("b/scores.json", '{"a": '),
    ],
)
def test_unpinned_files_are_kept_only_if_they_parse(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, served: str
) -> None:
    upstream = tmp_path / "upstream"
    for path, text in GOOD.items():
        (upstream / path).parent.mkdir(parents=True, exist_ok=True)
        (upstream / path).write_text(served if path == name else text)
    data = tmp_path / "data"
    manifest = unpinned_manifest(tmp_path)
    with FileServer({"/org/repo/abc": upstream}) as files:
        monkeypatch.setenv("MTB_GITHUB_RAW", files.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        args = ["download-baselines", "--no-progress", "--bench", str(manifest), "--data-dir", str(data)]
        bad = runner.invoke(app, args)
        assert bad.exit_code == 1, bad.output
        assert f"failed: {name}" in bad.output
        assert not (data / name).exists()  # never kept
        assert files.count("GET", name) == 3  # refetched, as a corrupt transfer is

        # An earlier mtb kept such a file: a later run must not call it "already present".
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(served)
        (upstream / name).write_text(GOOD[name])
        good = runner.invoke(app, args)
        assert good.exit_code == 0, good.output
        assert "3 fetched" not in good.output and "1 fetched, 2 already present" in good.output
        assert (data / name).read_text() == GOOD[name]


# ------------------------------------------------------------------ (11) incomplete answers


def test_rerun_generate_answers_again_exactly_the_incomplete_answers(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = model_responder
    assert generate(runner, server, data_dir, "--first-n", "3").exit_code == 0
    path = data_dir / "mt_bench" / "model_answer" / "m.jsonl"
    rows = read_jsonl(path)
    rows[1]["choices"][0]["turns"] = rows[1]["choices"][0]["turns"][:1]  # question 82: one turn of two
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = len(server.chat_requests())

    again = generate(runner, server, data_dir, "--first-n", "3")
    assert again.exit_code == 0, again.output
    new = server.chat_requests()[before:]
    assert len(new) == 2  # both turns of question 82, nothing else
    assert all("Compose" not in r.messages[0]["content"] for r in new)  # not question 81
    after = {r["question_id"]: r for r in read_jsonl(path)}
    assert sorted(after) == [81, 82, 83]
    assert len(after[82]["choices"][0]["turns"]) == 2
    assert after[81]["answer_id"] == rows[0]["answer_id"] and after[83]["answer_id"] == rows[2]["answer_id"]
    # and now it judges
    dry = runner.invoke(
        app, ["judge", "--data-dir", str(data_dir), "--model-list", "m", "--first-n", "3", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output


# ------------------------------------------------------------------ (16) non-UTF-8 bytes


def spoil(path: Path, line: int) -> None:
    """Put a byte that is not UTF-8 into `line` (1-based) of `path`."""
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = lines[line - 1][:5] + BAD_BYTE + lines[line - 1][5:]
    path.write_bytes(b"\n".join(lines))


def test_non_utf8_question_file_is_path_line_in_generate(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    questions = data_dir / "mt_bench" / "question.jsonl"
    spoil(questions, 3)
    assert_usage_error(generate(runner, server, data_dir), f"{questions}:3: not valid UTF-8")
    assert server.chat_requests() == []


def test_non_utf8_judge_prompts_and_judgments_are_path_line(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    prompts = data_dir / "judge_prompts.jsonl"
    original = prompts.read_bytes()
    spoil(prompts, 2)
    result = judge(runner, server, data_dir, "--model-list", "gpt-4", "--first-n", "1")
    assert_usage_error(result, f"{prompts}:2: not valid UTF-8")
    assert server.chat_requests() == []
    prompts.write_bytes(original)

    judgments = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    judgments.parent.mkdir(parents=True)
    row = {"question_id": 81, "model": "gpt-4", "judge": ["gpt-4", "single-v1"], "user_prompt": "p"}
    row |= {"judgment": "[[5]]", "score": 5, "turn": 1, "tstamp": 0}
    judgments.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    spoil(judgments, 2)
    assert_usage_error(
        runner.invoke(app, ["results", "--data-dir", str(data_dir)]), f"{judgments}:2: not valid UTF-8"
    )
    assert_usage_error(judge(runner, server, data_dir, "--model-list", "gpt-4"), f"{judgments}:2:")


def test_non_utf8_manifest_and_prompt_map_are_path_line(runner: CliRunner, tmp_path: Path) -> None:
    manifest = tmp_path / "mine.toml"
    shutil.copy(REPO_ROOT / "questions" / "mt_bench.toml", manifest)
    shutil.copy(REPO_ROOT / "prompts" / "mt_bench.toml", tmp_path / "map.toml")
    text = manifest.read_text()
    assert 'prompt_map = "mt_bench"' in text
    manifest.write_text(text.replace('prompt_map = "mt_bench"', 'prompt_map = "map.toml"'))
    spoil(tmp_path / "map.toml", 4)
    assert_usage_error(
        runner.invoke(app, ["results", "--bench", str(manifest)]),
        f"{tmp_path / 'map.toml'}:4: not valid UTF-8",
    )
    spoil(manifest, 2)
    assert_usage_error(
        runner.invoke(app, ["results", "--bench", str(manifest)]), f"{manifest}:2: not valid UTF-8"
    )


def test_non_utf8_arena_judge_config_is_path_line(
    runner: CliRunner, server: OpenAIServer, arena_dir: Path
) -> None:
    config = arena_dir / "arena-hard-v0.1" / "config" / "judge_config.yaml"
    spoil(config, 3)
    result = judge(runner, server, arena_dir, "--bench", "arena-hard-v0.1", "--first-n", "1")
    assert_usage_error(result, f"{config}:3: not valid UTF-8")
    assert server.chat_requests() == []


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_browse_lists_unreadable_files_as_problems_and_keeps_answering(
    data_dir: Path, shared_data: Path
) -> None:
    from mtb.browser.server import make_server

    arena = data_dir / "arena-hard-v0.1"
    shutil.copytree(shared_data / "arena-hard-v0.1" / "config", arena / "config")
    shutil.copy(shared_data / "arena-hard-v0.1" / "question.jsonl", arena / "question.jsonl")
    (arena / "leaderboard").mkdir()
    board = arena / "leaderboard" / "board.csv"
    board.write_bytes(b"model,score\ngpt-4,50\n" + b"caf" + BAD_BYTE + b",40\n")
    spoil(arena / "config" / "judge_config.yaml", 2)
    judgments = data_dir / "mt_bench" / "model_judgment"
    judgments.mkdir()
    row = {"question_id": 81, "model": "gpt-4", "judge": ["gpt-4", "single-v1"], "user_prompt": "p"}
    row |= {"judgment": "[[5]]", "score": 5, "turn": 1, "tstamp": 0}
    (judgments / "gpt-4_single.jsonl").write_bytes(json.dumps(row).encode() + b"\n" + BAD_BYTE + b"\n")
    spoil(data_dir / "mt_bench" / "model_answer" / "gpt-4.jsonl", 1)

    server = make_server(data_dir, "127.0.0.1", 0)
    server.start_background()
    try:
        status, index = fetch(f"{server.url}api/index")
        assert status == 200
        problems = {b["name"]: b["problems"] for b in index["benchmarks"]}
        assert any(f"{board}:3: not valid UTF-8" in p for p in problems["arena-hard-v0.1"])
        assert any("judge_config.yaml:2: not valid UTF-8" in p for p in problems["arena-hard-v0.1"])
        for bench, qid in (
            ("mt_bench", "81"),
            ("arena-hard-v0.1", index["benchmarks"][0]["questions"][0]["id"]),
        ):
            status, question = fetch(f"{server.url}api/question?bench={bench}&id={qid}")
            assert status == 200, question
            status, board_json = fetch(f"{server.url}api/leaderboard?bench={bench}")
            assert status == 200, board_json
        status, question = fetch(f"{server.url}api/question?bench=mt_bench&id=81")
        assert any("gpt-4.jsonl:1: not valid UTF-8" in p for p in question["problems"])
        assert any("gpt-4_single.jsonl:2: not valid UTF-8" in p for p in question["problems"])
        assert "gpt-4" not in question["answers"]
        assert fetch(f"{server.url}api/index")[0] == 200  # still serving
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ (18) unwritable outputs


def test_answer_folder_that_cannot_be_made_is_a_clear_error(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # A regular file where the answer folder should be: fails for root too, unlike permission bits.
    answers = data_dir / "mt_bench" / "model_answer"
    shutil.rmtree(answers)
    answers.write_text("not a folder")
    assert_usage_error(generate(runner, server, data_dir, "--first-n", "1"), f"{answers}: cannot be written")
    assert server.chat_requests() == []


def test_judgment_folder_that_cannot_be_made_is_a_clear_error(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    (data_dir / "mt_bench" / "model_judgment").write_text("not a folder")
    result = judge(runner, server, data_dir, "--model-list", "gpt-4", "--first-n", "1")
    assert_usage_error(result, "model_judgment: cannot be written")
    assert server.chat_requests() == []


def test_export_where_no_file_can_be_written_is_a_clear_error(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["browse", "--data-dir", str(data_dir), "--export", str(blocker / "p.html")])
    assert_usage_error(result, "cannot be written")
    folder = tmp_path / "folder.html"
    folder.mkdir()
    result = runner.invoke(app, ["browse", "--data-dir", str(data_dir), "--export", str(folder)])
    assert_usage_error(result, f"{folder}: cannot be written")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_read_only_data_directory_is_a_clear_error(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    if os.geteuid() == 0:
        pytest.skip("runs as root, whom permission bits do not stop; the tests above cover it for root")
    answers = data_dir / "mt_bench" / "model_answer"
    answers.chmod(0o555)
    try:
        result = generate(runner, server, data_dir, "--first-n", "1")
    finally:
        answers.chmod(0o755)
    assert_usage_error(result, "cannot be written")
    assert server.chat_requests() == []


# ------------------------------------------------------------------ (19) judge templates


def edit_prompt(data_dir: Path, name: str, template: str) -> int:
    """Replace prompt `name`'s template; return its line number."""
    path = data_dir / "judge_prompts.jsonl"
    rows = read_jsonl(path)
    number = next(i for i, r in enumerate(rows, start=1) if r["name"] == name)
    rows[number - 1]["prompt_template"] = template
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return number


@pytest.mark.parametrize(
    ("mode", "name", "template", "fragment"),
    [
        ("single", "single-v1", "Q: {question} A: {answer} ref: {refrence}", "{refrence}"),
        ("single", "single-v1", "Q: {question} A: {answer_a}", "{answer_a}"),
        ("single", "single-v1-multi-turn", "{question_1} {answer_1} {question_3}", "{question_3}"),
        ("single", "single-v1", "Q: {question} A: {answer} a lone { brace", "not a valid template"),
        ("single", "single-v1", "Q: {question} A: {answer} {0}", "{0}"),
        ("pairwise-all", "pair-v2", "{question} {answer_a} {answer}", "{answer}"),
    ],
)
def test_bad_judge_template_is_path_line_before_any_call(
    runner: CliRunner,
    server: OpenAIServer,
    data_dir: Path,
    mode: str,
    name: str,
    template: str,
    fragment: str,
) -> None:
    number = edit_prompt(data_dir, name, template)
    result = judge(
        runner, server, data_dir, "--mode", mode, "--model-list", "gpt-4", "vicuna-13b-v1.3", "--first-n", "1"
    )
    assert_usage_error(
        result, f"{data_dir / 'judge_prompts.jsonl'}:{number}: judge prompt '{name}'", fragment
    )
    assert server.chat_requests() == []


def test_reference_placeholder_outside_reference_questions_is_caught(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # single-v1 serves general questions, which get no reference answer.
    number = edit_prompt(data_dir, "single-v1", "{question} {answer} {ref_answer_1}")
    result = judge(runner, server, data_dir, "--model-list", "gpt-4", "--first-n", "1")
    assert_usage_error(result, f"judge_prompts.jsonl:{number}:", "{ref_answer_1}")


def test_bad_arena_template_is_caught_before_any_call(
    runner: CliRunner, server: OpenAIServer, arena_dir: Path
) -> None:
    config = arena_dir / "arena-hard-v0.1" / "config" / "judge_config.yaml"
    text = config.read_text()
    assert "{question_1}" in text
    config.write_text(text.replace("{question_1}", "{question_1} {user_question}", 1))
    result = judge(runner, server, arena_dir, "--bench", "arena-hard-v0.1", "--first-n", "1")
    assert_usage_error(result, f"{config}: prompt_template[0]: unknown placeholder(s) {{user_question}}")
    assert server.chat_requests() == []


# ------------------------------------------------------------------ (20) browse addresses


def test_browse_on_a_port_in_use_is_a_clear_error(runner: CliRunner, data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["browse", "--data-dir", str(data_dir), "--port", str(port)])
    assert_usage_error(result, f"127.0.0.1:{port} is already in use", "--port 0")


def test_browse_on_an_unknown_host_is_a_clear_error(runner: CliRunner, data_dir: Path) -> None:
    result = runner.invoke(app, ["browse", "--data-dir", str(data_dir), "--host", "no-such-host.invalid"])
    assert_usage_error(result, "--host no-such-host.invalid")


def ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_browse_serves_on_ipv6_loopback(data_dir: Path) -> None:
    from mtb.browser.server import make_server
    from mtb.errors import UsageError

    if not ipv6_loopback():
        with pytest.raises(UsageError, match="IPv6 is not available"):
            make_server(data_dir, "::1", 0)
        return
    server = make_server(data_dir, "::1", 0)
    server.start_background()
    try:
        assert server.url.startswith("http://[::1]:")
        status, index = fetch(f"{server.url}api/index")
        assert status == 200 and index["benchmarks"][0]["name"] == "mt_bench"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ (21) flag values


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["results", "--seed", "-1"], "--seed must be 0 or more"),
        (["results", "--rounds", "100000000"], "--rounds must be between 1 and 100,000"),
        (["results", "--bench", "arena-hard-v0.1", "--seed", "-5"], "--seed must be 0 or more"),
        (["generate", "--model-path", "x", "--seed", "-1"], "--seed"),
    ],
)
def test_out_of_range_flags_are_usage_errors(
    runner: CliRunner, data_dir: Path, args: list[str], fragment: str
) -> None:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert_usage_error(result, fragment)


def test_input_file_that_is_a_folder_is_a_clear_error(runner: CliRunner, data_dir: Path) -> None:
    folder = data_dir / "mt_bench"
    result = runner.invoke(app, ["results", "--data-dir", str(data_dir), "--input-file", str(folder)])
    assert_usage_error(result, f"{folder}: is a folder")


def test_a_folder_named_like_an_answer_file_is_ignored(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    (data_dir / "mt_bench" / "model_answer" / "x.jsonl").mkdir()
    plan = runner.invoke(app, ["judge", "--data-dir", str(data_dir), "--dry-run", "--first-n", "1"])
    assert plan.exit_code == 0, plan.output
    assert '"x"' not in plan.output
    named = runner.invoke(app, ["judge", "--data-dir", str(data_dir), "--dry-run", "--model-list", "x"])
    assert_usage_error(named, "x.jsonl: is a folder")

    from mtb.browser.catalog import Catalog

    index = Catalog(data_dir).index()
    assert "x" not in index["benchmarks"][0]["models"]


# ------------------------------------------------------------------ (19-22) unreadable output

# Names a careless user or a published file may hold: accents, emoji, CJK, markup, a slash.
ODD_NAMES = ["modèle-ü", "bot-🤖", "日本語", "[bold]m[/bold]", "org/model", "-dash", "a b"]


def write_single_judgments(root: Path, models: list[str]) -> Path:
    """A tiny MT-bench data directory with single-grade judgments by gpt-4 for `models`."""
    from helpers import TINY_QUESTIONS, write_tiny_benchmark

    write_tiny_benchmark(root)
    folder = root / "mt_bench" / "model_judgment"
    folder.mkdir()
    rows = [
        {
            "question_id": q["question_id"],
            "model": model,
            "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
            "user_prompt": "p",
            "judgment": "[[5]]",
            "score": (i + q["question_id"] + turn) % 10 + 1,
            "turn": turn,
            "tstamp": 0,
        }
        for i, model in enumerate(models)
        for q in TINY_QUESTIONS
        for turn in (1, 2)
    ]
    (folder / "gpt-4_single.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def test_results_on_an_ascii_terminal_print_every_name_escaped(tmp_path: Path) -> None:
    # LANG=C in a container, or PYTHONIOENCODING=ascii: a UnicodeEncodeError traceback before.
    data = write_single_judgments(tmp_path / "data", ODD_NAMES)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "PYTHONIOENCODING": "ascii", "LC_ALL": "C"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mtb", "results", "--data-dir", str(data), "--no-ci", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",  # click writes UTF-8 where the stream says ascii; rich escapes
            env=env,
            timeout=120,
        )

    table = run()
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
    for escaped in ("mod\\xe8le-\\xfc", "bot-\\U0001f916", "\\u65e5\\u672c\\u8a9e", "-dash"):
        assert escaped in table.stdout, table.stdout
    unknown = run("--bench", "[bold]nö")
    assert unknown.returncode == 2, unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert "'[bold]n\\xf6'" in unknown.stderr


def test_markup_in_model_names_is_shown_as_it_is_in_tables(runner: CliRunner, tmp_path: Path) -> None:
    # A name such as '[bold]m[/bold]' was read as markup in table cells and shown as 'm'.
    data = write_single_judgments(tmp_path / "data", ODD_NAMES)
    result = runner.invoke(app, ["results", "--data-dir", str(data), "--no-ci"])
    assert result.exit_code == 0, result.output
    for name in ODD_NAMES:
        assert name in result.output, name


def test_a_name_too_long_for_a_file_is_a_usage_error_not_a_traceback(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    # ENAMETOOLONG from deep inside `generate`, `judge` and pairwise `results` before.
    from helpers import write_tiny_benchmark

    long_name = "z" * 300
    data = write_tiny_benchmark(tmp_path / "data", answer_models=["a"])
    made = generate(runner, server, data, "--model-id", long_name)
    assert_usage_error(made, "300 bytes long", "--model-id")
    judged = judge(runner, server, data, "--judge-model", long_name, "--model-list", "a")
    assert_usage_error(judged, "300 bytes long")
    assert server.chat_requests() == []

    # A judgment file may hold any name: pairwise results score it (it just has no answer file).
    folder = data / "mt_bench" / "model_judgment"
    folder.mkdir()
    rows = [
        {
            "question_id": qid,
            "model_1": "a",
            "model_2": long_name,
            "g1_winner": "model_1",
            "g2_winner": "tie",
            "judge": ["gpt-4", "pair-v2"],
            "g1_user_prompt": "p",
            "g1_judgment": "[[A]]",
            "g2_user_prompt": "p",
            "g2_judgment": "[[C]]",
            "turn": 1,
            "tstamp": 0,
        }
        for qid in (1, 2, 3)
    ]
    (folder / "gpt-4_pair.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = runner.invoke(
        app, ["results", "--data-dir", str(data), "--mode", "pairwise-all", "--format", "json"]
    )
    assert scored.exit_code == 0, scored.output
    assert long_name in scored.stdout


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("command", [["results", "--input-file", "/dev/zero"], ["agreement", "/dev/zero"]])
def test_a_device_given_as_an_input_file_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    # /dev/zero has no end and no newline: `results` read it until the timeout, and `agreement`
    # until the kernel killed it for memory. A separate process, its memory capped, so that a
    # regression fails here instead of taking the machine's memory.
    import resource

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    if command[0] == "results":
        command = [*command, "--data-dir", str(write_single_judgments(tmp_path / "data", ["a"]))]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "mtb", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        preexec_fn=cap_memory,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "/dev/zero: is a device, not a file" in done.stderr


def test_browse_with_an_empty_host_is_a_usage_error_not_every_interface(tmp_path: Path) -> None:
    # `--host "$HOST"` with HOST unset served the data on 0.0.0.0. A separate process with a
    # timeout, so that a regression (a server that keeps serving) fails instead of hanging.
    data = write_single_judgments(tmp_path / "data", ["a"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "mtb", "browse", "--data-dir", str(data), "--host", "", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--host is empty" in done.stderr
    assert "serving" not in done.stderr


def test_export_onto_a_pipe_writes_into_it_and_leaves_it_a_pipe(runner: CliRunner, tmp_path: Path) -> None:
    # The temp file renamed over the target replaced a FIFO, /dev/stdout or (as root) /dev/full
    # with a regular file; a device or pipe is written into instead.
    import threading

    data = write_single_judgments(tmp_path / "data", ["a"])
    fifo = tmp_path / "page.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read_all() -> None:
        with fifo.open("rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    result = runner.invoke(app, ["browse", "--data-dir", str(data), "--export", str(fifo)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    reader.join(timeout=30)
    assert received and received[0].startswith(b"<!"), received[:1]
    assert f"wrote {fifo} ({len(received[0]):,} bytes)" in result.output


@pytest.mark.parametrize("columns", ["0", "3", "abc", "-5"])
def test_a_nonsense_columns_width_still_prints_errors_and_tables(tmp_path: Path, columns: str) -> None:
    # Rich took COLUMNS=0 as the width: nothing was printed, not even the error, exit 2 in silence.
    data = write_single_judgments(tmp_path / "data", ["modèle-ü", "gpt-4"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "COLUMNS": columns}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mtb", "results", "--data-dir", str(data), "--no-ci", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    failed = run("--bench", "nope")
    assert failed.returncode == 2
    assert "unknown benchmark 'nope'" in failed.stderr
    shown = run()
    assert shown.returncode == 0, shown.stderr
    assert "modèle-ü" in shown.stdout and "gpt-4" in shown.stdout, shown.stdout


def test_control_characters_and_pipes_in_names_keep_tables_whole(runner: CliRunner, tmp_path: Path) -> None:
    # A newline in a name split a table row in two, an ESC sequence reached the terminal as it
    # was (recolouring it), and a '|' opened a column of its own in markdown.
    names = ["new\nline", "esc\x1b[31mred", "pipe|name", "tab\tname", "sep\u2028x"]
    data = write_single_judgments(tmp_path / "data", names)
    table = runner.invoke(app, ["results", "--data-dir", str(data), "--no-ci"])
    assert table.exit_code == 0, table.output
    assert "\x1b" not in table.stdout and "\u2028" not in table.stdout and "\t" not in table.stdout
    for escaped in ("new\\nline", "esc\\x1b[31mred", "pipe|name", "tab\\tname", "sep\\u2028x"):
        assert escaped in table.stdout, escaped
    markdown = runner.invoke(app, ["results", "--data-dir", str(data), "--no-ci", "--format", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    rows = markdown.stdout.splitlines()
    first = next(row for row in rows if row.startswith("| model"))
    table_rows = rows[rows.index(first) : rows.index(first) + 2 + len(names)]
    columns = {row.replace("\\|", "").count("|") for row in table_rows}
    assert len(columns) == 1, table_rows  # every row has as many cells as the header
    assert "| pipe\\|name |" in markdown.stdout
    # CSV and JSON are for programs: the names stay exactly as they are.
    as_json = runner.invoke(app, ["results", "--data-dir", str(data), "--no-ci", "--format", "json"])
    assert {row["model"] for row in json.loads(as_json.stdout)} == set(names)


def test_escape_sequences_in_messages_never_reach_the_terminal(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    # A name in a file or a server's error body could clear the screen (ESC [2J) or retitle it.
    from helpers import write_tiny_benchmark

    data = write_single_judgments(tmp_path / "data", ["a"])
    missing = runner.invoke(app, ["results", "--data-dir", str(data), "--model-list", "x\x1b[2Jy"])
    assert missing.exit_code == 2, missing.output
    assert "\x1b" not in missing.stderr
    assert "x\\x1b[2Jy" in missing.stderr

    server.responder = lambda request: Reply(
        status=400, body=json.dumps({"error": {"message": "bad \x1b]0;pwned\x07 request"}})
    )
    made = generate(runner, server, write_tiny_benchmark(tmp_path / "gen"), "--first-n", "1")
    assert made.exit_code == 1, made.output
    assert "\x1b" not in made.stderr and "\x07" not in made.stderr
    assert "bad \\x1b]0;pwned\\x07 request" in made.stderr


@pytest.mark.parametrize("command", ["generate", "judge", "eval"])
@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "0", "-1"])
def test_a_timeout_that_is_not_a_number_of_seconds_is_a_usage_error(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path, command: str, value: str
) -> None:
    # `--timeout inf` passed the range check; every request then failed as "connection failed".
    from helpers import write_tiny_benchmark

    data = write_tiny_benchmark(tmp_path / "data", answer_models=["a"])
    args = [command, "--data-dir", str(data), "--timeout", value]
    if command != "judge":
        args += ["--model", "m", "--api-base", server.url]
    if command != "generate":
        args += ["--judge-api-base", server.url]
    result = runner.invoke(app, args)
    assert_usage_error(result, "--timeout")
    assert server.chat_requests() == []


def test_an_input_file_that_is_a_symlink_loop_says_so(runner: CliRunner, tmp_path: Path) -> None:
    data = write_single_judgments(tmp_path / "data", ["a"])
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    result = runner.invoke(app, ["results", "--data-dir", str(data), "--input-file", str(loop)])
    assert_usage_error(result, f"{loop}: a symbolic link to nothing readable (a loop, or a missing target)")


def test_an_empty_model_name_is_a_usage_error_not_a_hidden_file(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    # `--model ""` (an unset variable) wrote a hidden `.jsonl`, read back as a model named '.jsonl'.
    from helpers import write_tiny_benchmark

    data = write_tiny_benchmark(tmp_path / "data")
    result = runner.invoke(
        app, ["generate", "--model", "", "--api-base", server.url, "--data-dir", str(data), "--no-progress"]
    )
    assert_usage_error(result, "a model or judge name is empty")
    assert server.chat_requests() == []
    assert list((data / "mt_bench" / "model_answer").iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("output_format", ["table", "json", "csv"])
def test_results_to_a_full_disk_is_a_clear_error(tmp_path: Path, output_format: str) -> None:
    # `mtb results > out.txt` with the disk full ended in an OSError traceback.
    data = write_single_judgments(tmp_path / "data", ["a", "b"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    command = [sys.executable, "-m", "mtb", "results", "--data-dir", str(data), "--format", output_format]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            command,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert "stdout: cannot be written (No space left on device)" in done.stderr
