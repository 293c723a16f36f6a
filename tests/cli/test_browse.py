"""`mtb browse` in a real headless Chromium: clicking through, safety with hostile answers, the export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl, write_browse_fixtures
from mtb.browser.server import BrowseServer, make_server
from mtb.cli.main import app

SCREENSHOTS = Path(os.environ.get("MTB_SCREENSHOT_DIR", "")) if os.environ.get("MTB_SCREENSHOT_DIR") else None


@pytest.fixture
def browse_data(data_dir: Path, shared_data: Path) -> Path:
    write_browse_fixtures(data_dir, shared_data)
    return data_dir


@pytest.fixture
def served(browse_data: Path) -> Iterator[BrowseServer]:
    server = make_server(browse_data, "127.0.0.1", 0)
    server.start_background()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.requests = []  # every URL the page asks for
    page.on("request", lambda request: page.requests.append(request.url))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def answer_text(data_dir: Path, model: str, question_id: int, turn: int) -> str:
    for row in read_jsonl(data_dir / f"mt_bench/model_answer/{model}.jsonl"):
        if row["question_id"] == question_id:
            return str(row["choices"][0]["turns"][turn - 1])
    raise AssertionError("no such answer")


def first_words(text: str) -> str:
    """A plain stretch of an answer as the page shows it (markdown syntax aside)."""
    line = next(
        line
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "`", "-", "*", "1"))
    )
    return " ".join(line.split()[:4]).strip("*`")


def save_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=False)
    assert path.read_bytes()[:4] == b"\x89PNG"
    if SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / name)
    return path


def test_click_category_question_models(
    page: Any, served: BrowseServer, browse_data: Path, tmp_path: Path
) -> None:
    page.goto(served.url)
    page.wait_for_selector("#question-view")
    page.select_option("#bench", "mt_bench")
    page.select_option("#category", "math")
    page.select_option("#question", "111")
    page.select_option("#model-a", "gpt-4")
    # Each change re-renders; wait for the view of this exact selection.
    page.wait_for_selector("h2:has-text('Question 111')")
    page.wait_for_selector(".answer-a[data-model='gpt-4']")

    # Both turns of gpt-4's answer, and the reference solution.
    for turn in (1, 2):
        box = page.locator(f".answer-a[data-turn='{turn}']")
        assert first_words(answer_text(browse_data, "gpt-4", 111, turn)) in box.inner_text()
    assert page.locator(".ref").count() >= 2  # question 111 is a math question with a GPT-4 reference
    # The judge's score and explanation, per turn: (111 + turn) % 10 + 1.
    singles = page.locator("#judgments .single")
    assert singles.count() == 2
    assert (
        "Score: 3" in singles.nth(0).inner_text()
        and "Judge says gpt-4 on 111 turn 1" in singles.nth(0).inner_text()
    )
    assert "Score: 4" in singles.nth(1).inner_text()
    assert "q=111" in page.url and "a=gpt-4" in page.url
    save_screenshot(page, tmp_path, "browse-single.png")

    # Pairwise: two columns and both games of each turn.
    page.check("#mode-pair")
    page.select_option("#question", "111")
    page.select_option("#model-b", "vicuna-7b-v1.3")
    page.select_option("#category", "writing")
    page.wait_for_selector("h2:has-text('Question 81')")
    page.wait_for_selector(".answer-b[data-model='vicuna-7b-v1.3']")
    assert page.locator(".answer-b[data-turn='1']").count() == 1
    assert (
        first_words(answer_text(browse_data, "vicuna-7b-v1.3", 81, 1))
        in page.locator(".answer-b").first.inner_text()
    )
    pair = page.locator("#judgments .pair")
    assert pair.count() == 2
    text = pair.nth(0).inner_text()
    assert "Game 1. A: gpt-4, B: vicuna-7b-v1.3" in text and "Winner: gpt-4" in text
    assert "Game 2. A: vicuna-7b-v1.3, B: gpt-4" in text and "Winner: tie" in text
    save_screenshot(page, tmp_path, "browse-pair.png")

    # Next / previous stay inside the category.
    page.click("#next")
    page.wait_for_selector("h2:has-text('Question 82')")
    page.click("#prev")
    page.click("#prev")
    page.wait_for_selector("h2:has-text('Question 90')")
    assert page.errors == []
    assert all(url.startswith(served.url) for url in page.requests), page.requests


def test_deep_link_opens_the_same_view(page: Any, served: BrowseServer) -> None:
    page.goto(served.url + "#bench=mt_bench&q=85&mode=pair&a=vicuna-7b-v1.3&b=gpt-4")
    page.wait_for_selector("h2:has-text('Question 85')")
    assert page.locator("#mode-pair").is_checked()
    assert page.input_value("#model-a") == "vicuna-7b-v1.3" and page.input_value("#model-b") == "gpt-4"
    assert "Game 1. A: gpt-4, B: vicuna-7b-v1.3" in page.locator("#judgments").inner_text()


def test_hostile_answer_runs_nothing(page: Any, served: BrowseServer, tmp_path: Path) -> None:
    page.goto(served.url + "#bench=mt_bench&q=81&a=evil")
    page.wait_for_selector(".answer-a[data-turn='1']")
    box = page.locator(".answer-a[data-turn='1']")
    text = box.inner_text()
    # Shown as text, character for character...
    assert "<script>window.__pwned = 'script'</script>" in text
    assert "<img src=x onerror=" in text and "click me" in text and "javascript:window.__pwned='link'" in text
    # ...and never turned into elements.
    for tag in ("script", "img", "a", "iframe"):
        assert page.locator(f"#view {tag}").count() == 0, tag
    page.click("text=click me")
    page.click("text=raw link", position={"x": 2, "y": 2})
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned === undefined")
    assert page.errors == []
    assert all(url.startswith(served.url) for url in page.requests), page.requests
    save_screenshot(page, tmp_path, "browse-hostile.png")


def test_leaderboard_and_radar(page: Any, served: BrowseServer, tmp_path: Path) -> None:
    page.goto(served.url + "#bench=mt_bench")
    page.wait_for_selector("#question-view")
    page.click("#nav-leaderboard")
    page.wait_for_selector("#leaderboard-view table")
    table = page.locator("#leaderboard-view table").first.inner_text()
    assert "gpt-4" in table and "vicuna-7b-v1.3" in table
    assert sorted(page.locator("#radar .trace").evaluate_all("els => els.map(e => e.dataset.model)")) == [
        "gpt-4",
        "vicuna-7b-v1.3",
    ]
    assert "view=leaderboard" in page.url
    save_screenshot(page, tmp_path, "browse-leaderboard.png")


def test_arena_hard_games(page: Any, served: BrowseServer) -> None:
    page.goto(served.url + "#bench=arena-hard-v0.1&mode=pair&a=gemma-2-9b-it&b=gpt-4-0314")
    page.wait_for_selector("#judgments .games")
    assert (
        "T: My Meadow Lark" in page.locator(".answer-a[data-turn='1']").inner_text()
    )  # gemma, in ABC notation
    assert "N/A" not in page.locator(".answer-b[data-turn='1']").inner_text()
    text = page.locator("#judgments .games").inner_text()
    assert "Game 1. A: gpt-4-0314, B: gemma-2-9b-it" in text and "Verdict: B>A" in text
    assert "Game 2. A: gemma-2-9b-it, B: gpt-4-0314" in text and "Verdict: A=B" in text


def test_export_works_from_disk(chromium: Any, runner: CliRunner, browse_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["browse", "--data-dir", str(browse_data), "--export", str(out), "--all"])
    assert result.exit_code == 0, result.output
    context = chromium.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(out.as_uri() + "#bench=mt_bench&q=81&a=evil")
    page.wait_for_selector(".answer-a[data-turn='1']")
    assert "<script>window.__pwned" in page.locator(".answer-a").first.inner_text()
    assert page.evaluate("window.__pwned === undefined")
    page.select_option("#model-a", "gpt-4")
    page.wait_for_selector("#judgments .single")
    assert "Score: 3" in page.locator("#judgments .single").first.inner_text()  # (81 + 1) % 10 + 1
    page.click("#nav-leaderboard")
    page.wait_for_selector("#radar .trace")
    assert errors == []
    assert requests == [out.as_uri() + "#bench=mt_bench&q=81&a=evil"] or all(
        r.startswith("file://") for r in requests
    ), requests
    context.close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_server_answers_only_its_routes(served: BrowseServer) -> None:
    with urllib.request.urlopen(served.url) as response:
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    index = get_json(served.url + "api/index")
    assert [b["name"] for b in index["benchmarks"]] == ["arena-hard-v0.1", "mt_bench"]
    for path in (
        "../../../../etc/passwd",
        "static/../server.py",
        "%2e%2e/%2e%2e/etc/passwd",
        "mt_bench/question.jsonl",
        "api/question?bench=../..&id=81",
        "api/question?bench=mt_bench&id=../../etc/passwd",
    ):
        assert status_of(served.url + path) == 404, path


def test_requests_for_other_host_names_are_refused(served: BrowseServer) -> None:
    """A page on another domain rebound to 127.0.0.1 cannot read the data (DNS rebinding)."""
    import http.client

    port = served.server_address[1]
    for host, expected in (
        (f"evil.example:{port}", 403),
        (f"localhost:{port}", 200),
        (f"127.0.0.1:{port}", 200),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/index", headers={"Host": host})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == expected, host


def test_files_outside_the_data_dir_are_not_read(browse_data: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text(json.dumps({"question_id": 81, "choices": [{"turns": ["secret"]}]}) + "\n")
    (browse_data / "mt_bench/model_answer/leak.jsonl").symlink_to(outside)
    server = make_server(browse_data, "127.0.0.1", 0)
    assert "leak" not in server.catalog.index()["benchmarks"][1]["models"]
    server.server_close()


def test_judgments_absent_is_fine(data_dir: Path) -> None:
    server = make_server(data_dir, "127.0.0.1", 0)
    payload = server.catalog.question("mt_bench", "81")
    assert payload["single"] == [] and payload["pair"] == [] and payload["games"] == []
    assert server.catalog.leaderboard("mt_bench")["single"] == []
    server.server_close()


def test_a_judgment_file_being_written_is_shown_without_its_unfinished_line(data_dir: Path) -> None:
    path = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    path.parent.mkdir(parents=True)
    judged = {"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "user_prompt": "p"}
    judged |= {"judgment": "[[7]]", "score": 7, "turn": 1, "tstamp": 0}
    path.write_text(json.dumps(judged) + "\n" + json.dumps({**judged, "question_id": 82})[:50])
    server = make_server(data_dir, "127.0.0.1", 0)
    payload = server.catalog.question("mt_bench", "81")
    assert [j["score"] for j in payload["single"]] == [7]
    note = f"{path}:2: last line unfinished (still being written?), left out"
    assert payload["problems"] == [note]
    board = server.catalog.leaderboard("mt_bench")
    assert [row["judgments"] for table in board["single"] for row in table["rows"]] == [1]
    assert board["problems"] == [note]  # said once, by the page and by the leaderboard alike
    server.server_close()


def test_the_command_serves_on_loopback(browse_data: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mtb", "browse", "--port", "0", "--data-dir", str(browse_data)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        index = get_json(url + "api/index")
        assert "mt_bench" in [b["name"] for b in index["benchmarks"]]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_export_keeps_only_what_was_asked(runner: CliRunner, browse_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.html"
    result = runner.invoke(
        app,
        [
            "browse",
            "--data-dir",
            str(browse_data),
            "--export",
            str(out),
            "--bench",
            "mt_bench",
            "--models",
            "gpt-4",
        ],
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    # The data sits in a JSON block that no answer can close: '<' is escaped inside it.
    start = html.index('<script type="application/json" id="mtb-data">') + len(
        '<script type="application/json" id="mtb-data">'
    )
    block = html[start : html.index("</script>", start)]
    assert "<" not in block
    data = json.loads(block)
    assert [b["name"] for b in data["index"]["benchmarks"]] == ["mt_bench"]
    assert data["index"]["benchmarks"][0]["models"] == ["gpt-4"]
    assert set(data["question"]["mt_bench"]["81"]["answers"]) == {"gpt-4"}
    assert "Content-Security-Policy" in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_an_unreadable_file_is_reported_not_fatal(page: Any, browse_data: Path) -> None:
    (browse_data / "mt_bench/model_answer/broken.jsonl").write_text('{"question_id": 81, "choices": [\n')
    server = make_server(browse_data, "127.0.0.1", 0)
    server.start_background()
    try:
        page.goto(server.url + "#bench=mt_bench&q=81&a=gpt-4")
        page.wait_for_selector(".answer-a[data-turn='1']")
        assert "broken.jsonl:1: not valid JSON" in page.locator(".problems").inner_text()
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def write_human_votes(data_dir: Path) -> None:
    """Human votes on the fixture's gpt-4 vs vicuna-7b-v1.3 matches. The fixture's judge says
    model_1 in game 1 and tie in game 2: a tie ("tie (inconsistent)") on every match."""

    def vote(qid: int, turn: int, a: str, b: str, winner: str, judge: str = "expert_1") -> dict[str, Any]:
        conv = [{"role": "user", "content": "<script>window.__pwned = 1</script>"}]
        return {
            "question_id": qid,
            "model_a": a,
            "model_b": b,
            "winner": winner,
            "judge": judge,
            "turn": turn,
            "conversation_a": conv,
            "conversation_b": conv,
        }

    votes = [
        vote(81, 1, "gpt-4", "vicuna-7b-v1.3", "model_a"),  # gpt-4 wins: disagrees with the tie
        vote(82, 1, "gpt-4", "vicuna-7b-v1.3", "tie"),  # agrees
        vote(83, 2, "vicuna-7b-v1.3", "gpt-4", "model_b"),  # stored reversed: gpt-4 wins, disagrees
        vote(84, 2, "vicuna-7b-v1.3", "gpt-4", "tie (bothbad)"),  # any tie equals any tie
        vote(84, 2, "vicuna-7b-v1.3", "gpt-4", "tie", judge="expert_2"),
        vote(85, 1, "gpt-4", "vicuna-7b-v1.3", "model_b", judge="author_0"),  # authors are left out
    ]
    (data_dir / "mt_bench/human_judgments.json").write_text(json.dumps(votes, indent=1))


def test_judge_disagreements_side_by_side(page: Any, browse_data: Path, tmp_path: Path) -> None:
    write_human_votes(browse_data)
    server = make_server(browse_data, "127.0.0.1", 0)
    server.start_background()
    try:
        with urllib.request.urlopen(server.url + "api/agreement?bench=mt_bench") as response:
            payload = json.load(response)
        assert payload["judges"] == ["gpt-4", "human"]
        pair = next(p for p in payload["pairs"] if (p["judge_1"], p["judge_2"]) == ("gpt-4", "human"))
        with_ties = {r["turn"]: (r["agree"], r["total"]) for r in pair["rows"] if r["ties"] == "with"}
        assert with_ties == {1: (1, 2), 2: (2, 3)}
        assert [(d["question_id"], d["turn"]) for d in pair["disagreements"]] == [("81", 1), ("83", 2)]

        page.goto(server.url + "#bench=mt_bench")
        page.wait_for_selector("#question-view")
        page.click("#nav-agreement")
        page.wait_for_selector("#agreement-view .disagreement")
        boxes = page.locator("#agreement-view .disagreement")
        assert boxes.count() == 2
        first = boxes.nth(0)
        assert "Question 81 · turn 1 · gpt-4 vs vicuna-7b-v1.3" in first.inner_text()
        assert "Winner: tie (inconsistent)" in first.locator(".side-1").inner_text()
        assert "Winner: gpt-4" in first.locator(".side-2").inner_text()
        assert "Winner: gpt-4" in boxes.nth(1).locator(".side-2").inner_text()  # flipped back to its name
        table = page.locator("#agreement-view table").inner_text()
        assert "human" in table and "without" in table
        assert "view=agreement" in page.url
        save_screenshot(page, tmp_path, "browse-agreement.png")

        # A disagreement opens its question with both models side by side.
        first.click()
        page.wait_for_selector("h2:has-text('Question 81')")
        page.wait_for_selector(".answer-b[data-model='vicuna-7b-v1.3']")
        assert page.evaluate("window.__pwned === undefined")
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_agreement_view_without_a_second_judge(data_dir: Path) -> None:
    from mtb.browser.catalog import Catalog

    payload = Catalog(data_dir).agreement("mt_bench")
    assert payload["pairs"] == [] and payload["problems"] == []


# ---- Chatbot Arena ratings ------------------------------------------------------------------

ARENA_LOG = "clean_battle_20240814_public.json"  # the chatbot-arena manifest's default


def write_arena_logs(data_dir: Path) -> Path:
    """Two synthetic battle logs in FastChat's clean_battle format, and one that cannot be rated."""
    from mtb.testing.arena_battles import generate

    folder = data_dir / "chatbot-arena"
    folder.mkdir(parents=True)
    generate(folder / ARENA_LOG, 3000, 6, seed=1)
    generate(folder / "small.jsonl", 400, 4, seed=2, layout="jsonl")
    bad = {"model_a": "x", "model_b": "y", "winner": "nobody", "anony": True, "tstamp": 1.0}
    (folder / "broken.jsonl").write_text(json.dumps(bad) + "\n")
    return folder


def cli_ratings(runner: CliRunner, log: Path) -> list[dict[str, Any]]:
    """What `mtb results --bench chatbot-arena --battles LOG --format json` says."""
    result = runner.invoke(
        app, ["results", "--bench", "chatbot-arena", "--battles", str(log), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def check_arena_table(page: Any, expected: list[dict[str, Any]]) -> None:
    """The page's table is the command's JSON, row by row, and each bar sits where its numbers say."""
    page.wait_for_selector("#arena-table")
    shown = page.locator("#arena-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert [row[0] for row in shown] == [r["model"] for r in expected]  # best first
    for cells, r in zip(shown, expected, strict=True):
        assert cells[1] == f"{r['rating']:.1f}"
        assert cells[2] == f"{r['ci_low']:.1f} to {r['ci_high']:.1f}"
        assert cells[4] == str(r["rank"])
        assert cells[5] == str(r["battles"])
        assert cells[6] == f"{r['online_elo']:.1f}"
    bars = page.locator("#arena-table svg.interval").evaluate_all(
        """svgs => svgs.map(s => ({
            model: s.dataset.model,
            x: +s.querySelector('rect.ci').getAttribute('x'),
            w: +s.querySelector('rect.ci').getAttribute('width'),
            cx: +s.querySelector('circle.point').getAttribute('cx')}))"""
    )
    lo = min(r["ci_low"] for r in expected)
    hi = max(r["ci_high"] for r in expected)
    for bar, r in zip(bars, expected, strict=True):
        assert bar["model"] == r["model"]
        # One scale for all rows: position and width in proportion to the numbers.
        scale = (260 - 12) / (hi - lo)
        assert bar["x"] == pytest.approx(6 + (r["ci_low"] - lo) * scale, abs=0.01)
        assert bar["w"] == pytest.approx(max((r["ci_high"] - r["ci_low"]) * scale, 1), abs=0.01)
        assert bar["cx"] == pytest.approx(6 + (r["rating"] - lo) * scale, abs=0.01)
        assert bar["x"] <= bar["cx"] <= bar["x"] + bar["w"]


def test_arena_ratings_view(page: Any, runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = write_arena_logs(data)
    # A benchmark with questions too, so that the first page is a question, not the ratings.
    (data / "mt_bench").mkdir()
    (data / "mt_bench/question.jsonl").write_text(
        json.dumps({"question_id": 81, "category": "writing", "turns": ["Write a poem."]}) + "\n"
    )
    server = make_server(data, "127.0.0.1", 0)
    server.start_background()
    try:
        index = get_json(server.url + "api/index")
        assert index["arena"] == [ARENA_LOG, "broken.jsonl", "small.jsonl"]  # the default first
        page.goto(server.url + "#bench=mt_bench")
        page.wait_for_selector("h2:has-text('Question 81')")
        assert server.catalog._arena == {}  # the first page rated nothing

        page.click("#nav-arena")
        check_arena_table(page, cli_ratings(runner, folder / ARENA_LOG))
        assert "view=arena" in page.url
        notes = page.locator("#arena-view").inner_text()
        assert f"chatbot-arena/{ARENA_LOG}: 3,000 battle(s) read" in notes
        assert str(data) not in notes  # paths relative to the data directory
        assert list(server.catalog._arena) == [ARENA_LOG]  # only the log that was opened
        save_screenshot(page, tmp_path, "browse-arena.png")

        page.select_option("#arena-log", "small.jsonl")
        page.wait_for_selector("h2:has-text('small.jsonl')")
        check_arena_table(page, cli_ratings(runner, folder / "small.jsonl"))

        # A log that cannot be rated: said where and why; the page goes on.
        page.select_option("#arena-log", "broken.jsonl")
        page.wait_for_selector("#arena-view:has-text('could not be rated')")
        problem = page.locator(".problems").inner_text()
        assert "broken.jsonl:1: winner must be one of" in problem
        page.select_option("#arena-log", ARENA_LOG)
        page.wait_for_selector("h2:has-text('clean_battle')")
        page.click("#nav-questions")
        page.wait_for_selector("h2:has-text('Question 81')")
        assert page.errors == []
        assert all(url.startswith(server.url) for url in page.requests), page.requests
    finally:
        server.shutdown()
        server.server_close()


def test_arena_ratings_are_computed_once(tmp_path: Path) -> None:
    from mtb.browser.catalog import Catalog

    write_arena_logs(tmp_path)
    catalog = Catalog(tmp_path)
    first = catalog.arena(ARENA_LOG)
    assert first["rows"] and first["problems"] == []
    assert catalog.arena(ARENA_LOG) is first  # cached
    broken = catalog.arena("broken.jsonl")
    assert broken["rows"] == [] and broken["problems"][0].startswith("chatbot-arena/broken.jsonl:1: ")
    with pytest.raises(KeyError):
        catalog.arena("../../etc/passwd")


def test_a_data_dir_of_battle_logs_only_opens_on_the_ratings(
    page: Any, runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    folder = write_arena_logs(data)
    server = make_server(data, "127.0.0.1", 0)
    server.start_background()
    try:
        page.goto(server.url)
        check_arena_table(page, cli_ratings(runner, folder / ARENA_LOG))
        assert page.locator("#nav-questions").is_hidden() and page.locator("#controls").is_hidden()
        assert status_of(server.url + "api/arena?log=../" + ARENA_LOG) == 404
        assert page.errors == []
    finally:
        server.shutdown()
        server.server_close()


def test_export_embeds_the_arena_ratings(chromium: Any, runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = write_arena_logs(data)
    out = tmp_path / "arena.html"
    result = runner.invoke(app, ["browse", "--data-dir", str(data), "--export", str(out)])
    assert result.exit_code == 0, result.output
    context = chromium.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(out.as_uri())
    check_arena_table(page, cli_ratings(runner, folder / ARENA_LOG))
    page.select_option("#arena-log", "small.jsonl")
    page.wait_for_selector("h2:has-text('small.jsonl')")
    check_arena_table(page, cli_ratings(runner, folder / "small.jsonl"))
    assert errors == []
    assert all(r.startswith("file://") for r in requests), requests
    context.close()


# -- the default export: what the user works on ---------------------------------------


@pytest.fixture
def own_run(data_dir: Path, shared_data: Path) -> Path:
    """Every published answer (MT-bench's and Arena-Hard's, 110 MB) and one model of the user's own,
    judged through `mtb eval` on the test server."""
    from helpers import judge_responder
    from mtb.testing.openai_server import OpenAIServer, Reply

    shutil.copytree(shared_data / "arena-hard-v0.1", data_dir / "arena-hard-v0.1")

    def respond(request: Any) -> Reply:
        if request.body["model"] == "gpt-4":
            return judge_responder(request)
        return Reply(text=f"mine answers: {request.last_user_message[:40]}")

    # In a process of its own: this module's Playwright keeps an event loop running here.
    with OpenAIServer(responder=respond) as server:
        command = ["eval", "--model", "mine", "--api-base", server.url, "--judge-api-base", server.url]
        command += ["--first-n", "3", "--data-dir", str(data_dir), "--no-progress"]
        done = subprocess.run(
            [sys.executable, "-m", "mtb", *command], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr
    return data_dir


def embedded(html: str) -> dict[str, Any]:
    marker = '<script type="application/json" id="mtb-data">'
    start = html.index(marker) + len(marker)
    return json.loads(html[start : html.index("</script>", start)])  # type: ignore[no-any-return]


def test_the_default_export_holds_the_users_model_and_every_score_not_every_published_answer(
    runner: CliRunner, own_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "page.html"
    result = runner.invoke(app, ["browse", "--data-dir", str(own_run), "--export", str(out)])
    assert result.exit_code == 0, result.output
    assert "--all adds every published answer" in result.stderr
    size = out.stat().st_size
    assert size <= 10_000_000, size  # was 107 MB: every published answer
    data = embedded(out.read_text())
    benches = {b["name"]: b for b in data["index"]["benchmarks"]}
    assert benches["mt_bench"]["models"] == ["mine"] and benches["mt_bench"]["own_models"] == ["mine"]
    assert benches["arena-hard-v0.1"]["models"] == []  # no run of the user's there: no answers
    assert data["index"]["focus"] == {"bench": "mt_bench", "model": "mine"}
    assert set(data["question"]["mt_bench"]["81"]["answers"]) == {"mine"}
    # The leaderboard: the model's score with its interval, and its eval summary.
    (table,) = data["leaderboard"]["mt_bench"]["single"]
    (row,) = [r for r in table["rows"] if r["model"] == "mine"]
    low, high = row["ci"]["average"]
    assert low <= row["average"] <= high
    (summary,) = data["leaderboard"]["mt_bench"]["summaries"]
    assert summary["models"] == ["mine"] and summary["markdown"].startswith("# mtb eval — mt_bench")
    assert data["leaderboard"]["arena-hard-v0.1"]["published"]["rows"]  # the published scores stay

    everything = tmp_path / "all.html"
    args = ["browse", "--data-dir", str(own_run), "--export", str(everything), "--all", "--bench", "mt_bench"]
    assert runner.invoke(app, args).exit_code == 0
    answers = embedded(everything.read_text())["question"]["mt_bench"]["81"]["answers"]
    assert {"mine", "gpt-4", "vicuna-13b-v1.3"} <= set(answers)  # --all: today's page


def test_the_exported_page_opens_on_the_users_model_with_intervals_and_summaries(
    chromium: Any, runner: CliRunner, own_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "page.html"
    assert runner.invoke(app, ["browse", "--data-dir", str(own_run), "--export", str(out)]).exit_code == 0
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(out.as_uri())
    page.wait_for_selector(".answer-a[data-turn='1']")
    assert page.input_value("#bench") == "mt_bench" and page.input_value("#model-a") == "mine"
    assert "mine answers" in page.locator(".answer-a").first.inner_text()
    page.click("#nav-leaderboard")
    page.wait_for_selector("tr.own[data-model='mine']")
    row = page.locator("tr.own[data-model='mine']").inner_text()
    assert "–" in row  # the interval, low–high
    page.click("tr.own[data-model='mine'] .summary-link")
    page.wait_for_selector("#summary-view h4")
    assert "Scores" in page.locator("#summary-view").inner_text()
    assert errors == []
    context.close()
