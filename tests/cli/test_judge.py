"""`mtb judge --mode single` end to end through the CLI, against the HTTP test server."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import judge_rating_for, judge_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

MODELS = ["vicuna-7b-v1.3", "gpt-3.5-turbo"]


def judge(runner: CliRunner, server: OpenAIServer, data_dir: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "judge",
            "--mode",
            "single",
            "--judge-api-base",
            server.url,
            "--judge-api-key",
            "sk-judge",
            "--data-dir",
            str(data_dir),
            "--model-list",
            *MODELS,
            *extra,
        ],
    )


def judgment_file(data_dir: Path, judge_model: str = "gpt-4") -> Path:
    return data_dir / "mt_bench" / "model_judgment" / f"{judge_model}_single.jsonl"


def test_judges_every_turn_with_fastchat_settings(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = judge_responder
    result = judge(runner, server, data_dir, "--first-n", "30", "--parallel", "4")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(judgment_file(data_dir))
    assert len(rows) == 2 * 30 * 2
    assert all(
        # FastChat's fields, and the run that made each (provenance: <file>.runs.jsonl)
        set(r)
        == {"question_id", "model", "judge", "user_prompt", "judgment", "score", "turn", "tstamp", "run_id"}
        for r in rows
    )
    for row in rows:
        assert row["score"] == judge_rating_for(row["user_prompt"])
    requests = server.chat_requests()
    assert len(requests) == 120
    assert {r.body["model"] for r in requests} == {"gpt-4"}
    assert {(r.body["temperature"], r.body["max_tokens"]) for r in requests} == {(0, 2048)}
    assert {r.headers["authorization"] for r in requests} == {"Bearer sk-judge"}
    # Questions 101-110 are reasoning: they are judged against the gpt-4 reference answers.
    reasoning = [r for r in rows if r["question_id"] == 101]
    assert {tuple(r["judge"]) for r in reasoning} == {
        ("gpt-4", "single-math-v1"),
        ("gpt-4", "single-math-v1-multi-turn"),
    }
    assert server.max_in_flight <= 4


def test_plan_is_printed_and_dry_run_makes_no_call(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    result = judge(runner, server, data_dir, "--dry-run")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)  # the plan alone on stdout: `mtb judge --dry-run | jq` works
    assert plan["models"] == MODELS
    assert (plan["questions"], plan["judgments"], plan["already_done"], plan["to_make"]) == (
        80,
        320,
        0,
        320,
    )
    assert plan["output"] == str(judgment_file(data_dir))
    assert not server.requests


def test_rerun_judges_only_what_is_missing(runner: CliRunner, server: OpenAIServer, data_dir: Path) -> None:
    server.responder = judge_responder
    assert judge(runner, server, data_dir, "--first-n", "5").exit_code == 0
    assert len(server.chat_requests()) == 20
    result = judge(runner, server, data_dir, "--first-n", "8")
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) == 32
    rows = read_jsonl(judgment_file(data_dir))
    assert len(rows) == len({(r["model"], r["question_id"], r["turn"]) for r in rows}) == 32


def test_the_resume_scan_leaves_out_an_unfinished_line_and_the_writer_cuts_it(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = judge_responder
    assert judge(runner, server, data_dir, "--first-n", "5").exit_code == 0
    path = judgment_file(data_dir)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:60])  # killed while the last line was written
    note = f"{path}:20: last line unfinished (still being written?), left out"
    planned = judge(runner, server, data_dir, "--first-n", "5", "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["to_make"] == 1 and note in " ".join(planned.stderr.split())
    rerun = judge(runner, server, data_dir, "--first-n", "5")
    assert rerun.exit_code == 0, rerun.stderr
    assert len(server.chat_requests()) == 21
    # One note for the line: the writer's, which cut it before appending.
    assert "removed an incomplete last line" in rerun.stderr and "still being written" not in rerun.stderr
    rows = read_jsonl(path)
    assert len(rows) == len({(r["model"], r["question_id"], r["turn"]) for r in rows}) == 20


def test_a_judgment_file_that_is_a_link_stays_one_and_its_target_holds_every_judgment(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    server.responder = judge_responder
    shared = tmp_path / "shared" / "gpt-4_single.jsonl"  # a judgment file kept in a shared place
    shared.parent.mkdir()
    shared.touch(mode=0o664)
    shared.chmod(0o664)
    path = judgment_file(data_dir)
    path.parent.mkdir(parents=True)
    path.symlink_to(shared)
    assert judge(runner, server, data_dir, "--first-n", "3").exit_code == 0
    result = judge(runner, server, data_dir, "--first-n", "5")  # appends, then the sorted rewrite
    assert result.exit_code == 0, result.stderr
    assert path.is_symlink() and path.resolve() == shared
    rows = read_jsonl(shared)
    assert len(rows) == len({(r["model"], r["question_id"], r["turn"]) for r in rows}) == 20
    assert oct(shared.stat().st_mode & 0o777) == oct(0o664)
    assert not list(shared.parent.glob("*.lock")) and not list(shared.parent.glob(".*tmp"))


def test_unparsed_verdicts_are_counted_and_retried_on_request(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(text="I cannot decide.")
    result = judge(runner, server, data_dir, "--first-n", "2")
    assert result.exit_code == 1  # not one readable verdict: a failure, naming the count
    assert "none of the 8 judgment(s) made holds a readable verdict" in result.stderr
    assert "8 judgment(s) hold a verdict without a score" in result.stderr
    assert "--retry-unparsed" in result.stderr
    assert {r["score"] for r in read_jsonl(judgment_file(data_dir))} == {-1}

    server.responder = judge_responder
    assert judge(runner, server, data_dir, "--first-n", "2").exit_code == 0
    assert len(server.chat_requests()) == 8  # a plain rerun does not judge them again

    result = judge(runner, server, data_dir, "--first-n", "2", "--retry-unparsed")
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) == 16
    rows = read_jsonl(judgment_file(data_dir))
    assert len(rows) == 8 and -1 not in {r["score"] for r in rows}


def test_gaps_are_listed_and_nothing_is_called(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    path = data_dir / "mt_bench" / "model_answer" / "gpt-3.5-turbo.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2]) + "\n")
    (data_dir / "mt_bench" / "reference_answer" / "gpt-4.jsonl").rename(data_dir / "elsewhere.jsonl")
    result = judge(runner, server, data_dir)
    assert result.exit_code == 2
    assert "reference_answer/gpt-4.jsonl" in result.stderr and "--reference-model" in result.stderr
    assert not server.requests

    (data_dir / "elsewhere.jsonl").rename(data_dir / "mt_bench" / "reference_answer" / "gpt-4.jsonl")
    result = judge(runner, server, data_dir)
    assert result.exit_code == 2
    assert "gpt-3.5-turbo: no answer to 2 question(s): 159, 160" in result.stderr
    assert not server.requests


def test_reference_model_is_independent_of_the_judge(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = judge_responder
    refs = data_dir / "mt_bench" / "reference_answer"
    (refs / "gpt-4.jsonl").rename(refs / "verified.jsonl")
    result = judge(
        runner,
        server,
        data_dir,
        "--judge-model",
        "my-judge",
        "--reference-model",
        "verified",
        "--first-n",
        "25",
    )
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(judgment_file(data_dir, "my-judge"))
    assert {r["judge"][0] for r in rows} == {"my-judge"}
    assert len(rows) == 100


def test_unknown_model_in_list_is_a_usage_error(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    result = runner.invoke(app, ["judge", "--data-dir", str(data_dir), "--model-list", "nope", "--dry-run"])
    assert result.exit_code == 2
    assert "no answers for 'nope'" in result.stderr


QUOTA_BODY = json.dumps(
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
)


def test_an_empty_account_stops_the_run_at_once(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(status=429, body=QUOTA_BODY)
    started = time.monotonic()
    result = judge(runner, server, data_dir, "--first-n", "5", "--parallel", "2")
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert "You exceeded your current quota" in result.stderr
    assert len(server.chat_requests()) <= 2


def test_a_dripping_server_is_cut_off_by_the_timeout(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # A byte every 0.3 s: no single read waits 3 s, yet a reply would take minutes.
    server.responder = lambda request: Reply(text="[[5]]", drip=0.3)
    started = time.monotonic()
    result = judge(runner, server, data_dir, "--first-n", "1", "--timeout", "3")
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "request timed out: no complete reply within 3 s" in said
    # Each of the 4 requests timed out twice, nothing came back in between: the run stops
    # (was: 8 attempts each, about 70 s), and a rerun sends what is missing.
    assert "the server stopped answering" in said
    assert len(server.chat_requests()) == 4 * 2


def test_a_silent_server_stops_the_run_and_a_rerun_sends_what_is_missing(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(hang=True)
    started = time.monotonic()
    result = judge(runner, server, data_dir, "--first-n", "2", "--timeout", "1", "--parallel", "4")
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert (
        "stopped: gpt-4: request timed out: no complete reply within 1 s; the server stopped answering"
        in said
    )
    assert "(two timeouts of 1 s)" in said
    assert not judgment_file(data_dir).exists() or not read_jsonl(judgment_file(data_dir))

    server.responder = judge_responder
    assert judge(runner, server, data_dir, "--first-n", "2").exit_code == 0
    assert len(read_jsonl(judgment_file(data_dir))) == 8


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(503, "3600"), (429, "1e9"), (429, "Fri, 31 Dec 2100 23:59:59 GMT")],
)
def test_a_server_asking_for_a_long_pause_stops_the_run_saying_why(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, status: int, retry_after: str
) -> None:
    # Was: 120 s waits, retried up to 8 times (a 503) or 100 times (a 429): hours, silently.
    server.responder = lambda request: Reply(status=status, headers={"Retry-After": retry_after})
    started = time.monotonic()
    result = judge(runner, server, data_dir, "--first-n", "2", "--parallel", "2")
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert f"stopped: gpt-4: HTTP {status}: scripted {status}; the server asks to wait" in result.stderr
    assert "longer than mtb waits (120 s); run the same command again later" in result.stderr
    assert len(server.chat_requests()) <= 2
    assert not judgment_file(data_dir).exists() or not read_jsonl(judgment_file(data_dir))


def empty_reply(finish_reason: str, content: str | None) -> Reply:
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "finish_reason": finish_reason}
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    return Reply(body=json.dumps({"id": "x", "model": "gpt-4", "choices": [choice], "usage": usage}))


@pytest.mark.parametrize(
    ("finish_reason", "content", "why"),
    [
        ("content_filter", None, "server's content filter withheld it"),
        ("content_filter", "", "server's content filter withheld it"),
        ("length", "", "token limit was reached before any text"),
    ],
)
def test_an_empty_reply_that_says_why_fails_at_once_and_is_paid_for(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, finish_reason: str, content: str | None, why: str
) -> None:
    # Was: a null text was "malformed", asked again 8 times (each paid for, none counted in the
    # cost); an empty text was written as a verdict and left as unparsed, exit 0.
    server.responder = lambda request: empty_reply(finish_reason, content)
    result = judge(runner, server, data_dir, "--first-n", "1")
    assert result.exit_code == 1
    assert len(server.chat_requests()) == 4
    assert f"4× no text in the reply: the {why}" in result.stderr
    assert "4 judgments failed" in result.stderr
    assert not judgment_file(data_dir).exists() or not read_jsonl(judgment_file(data_dir))
    assert "cost: 4,000 input + 400 output tokens, $0.1440 at gpt-4 prices" in result.stderr

    server.responder = judge_responder  # the next run asks again for exactly these
    assert judge(runner, server, data_dir, "--first-n", "1").exit_code == 0
    assert len(read_jsonl(judgment_file(data_dir))) == 4
    assert len(server.chat_requests()) == 8


def test_a_server_that_is_down_stops_the_run_after_one_round_of_failed_items(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # Was: each of the 320 judgments waited out its own 8 attempts (about 45 s of backoff
    # at the default delays, in rounds of --parallel): a quarter of an hour to learn the
    # server was down.
    server.responder = lambda request: Reply(status=503)
    result = judge(runner, server, data_dir, "--parallel", "4", "--max-attempts", "3")
    assert result.exit_code == 1
    assert "stopped: 4 items in a row failed after every retry, none answered in between" in result.stderr
    assert "(last: HTTP 503: scripted 503 after 3 attempts)" in result.stderr
    assert "the server seems down or overloaded" in result.stderr
    assert len(server.chat_requests()) < 8 * 3
    assert not judgment_file(data_dir).exists() or not read_jsonl(judgment_file(data_dir))


def test_failures_of_the_items_themselves_do_not_stop_the_run(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # A 400 (a prompt too long for the judge) is about the item: the server is up, the
    # other items are judged; and an answer in between resets the count of transient failures.
    def responder(request: RecordedRequest) -> Reply:
        prompt = request.last_user_message
        if "Conversation with User" in prompt:  # turn 2: a transient failure every time
            return Reply(status=503)
        if "Assistant" in prompt and len(prompt) % 2:  # about half of turn 1: the item's own fault
            return Reply(status=400, body=json.dumps({"error": {"message": "context_length_exceeded"}}))
        return judge_responder(request)

    server.responder = responder
    result = judge(runner, server, data_dir, "--parallel", "1", "--max-attempts", "2")
    assert result.exit_code == 1
    assert "in a row" not in result.stderr
    assert "× HTTP 400: context_length_exceeded" in result.stderr
    assert "× HTTP 503: scripted 503 after 2 attempts" in result.stderr
    written = read_jsonl(judgment_file(data_dir))
    failed = int(result.stderr.split(" judgments failed")[0].rsplit("\n", 1)[-1])
    assert len(written) + failed == 320 and len(written) > 0


def test_a_huge_html_error_page_is_one_short_line_per_failure(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # A proxy's 500 with 10 MB of HTML: each failure line used to print the whole page
    # (70 MB on stderr for six judgments): now the page's text, cut, and its size.
    head = "<html><head><title>502 Bad Gateway</title></head><body>"
    page = head + "<p>padding</p>" * 700_000 + "</body></html>"
    server.responder = lambda request: Reply(status=500, body=page, headers={"Content-Type": "text/html"})
    result = judge(runner, server, data_dir, "--first-n", "1", "--max-attempts", "2")
    assert result.exit_code == 1
    assert "4 judgments failed" in result.stderr
    assert "HTTP 500: Error code: 500 - 502 Bad Gateway padding padding" in result.stderr
    assert "<p>" not in result.stderr
    assert f"(an HTML page of {len(page):,} characters) after 2 attempts" in result.stderr
    assert len(result.stderr) < 10_000


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--judge-api-key", "sk-judge-secret\r"], {}, "--judge-api-key contains a control character"),
        ([], {"MTB_JUDGE_API_KEY": "sk-judge-secret\r"}, "MTB_JUDGE_API_KEY contains a control character"),
        (["--judge-api-key", "sk-judge-sécret"], {}, "--judge-api-key contains a non-ASCII character"),
    ],
    ids=["option-cr", "variable-cr", "non-ascii"],
)
def test_a_key_no_header_can_carry_is_a_usage_error_before_any_call(
    runner: CliRunner,
    server: OpenAIServer,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    named: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    command = ["judge", "--mode", "single", "--judge-api-base", server.url, "--data-dir", str(data_dir)]
    started = time.monotonic()
    result = runner.invoke(app, [*command, "--model-list", *MODELS, "--first-n", "2", *args])
    assert time.monotonic() - started < 1
    assert result.exit_code == 2
    assert named in result.stderr
    assert "sk-judge-s" not in result.output + result.stderr
    assert not server.requests


def test_user_and_password_in_the_base_url_is_a_usage_error(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    base = server.url.replace("http://", "http://user:hunter2@")
    result = runner.invoke(
        app,
        [
            *("judge", "--judge-api-base", base, "--judge-api-key", "sk-judge"),
            *("--data-dir", str(data_dir), "--model-list", *MODELS, "--first-n", "2"),
        ],
    )
    assert result.exit_code == 2
    assert "--judge-api-base must not contain user:pass@" in result.stderr
    assert "hunter2" not in result.stderr
    assert not server.requests


@pytest.mark.parametrize(
    ("headers", "paced_by"),
    [
        # A limit below one a minute: the next request waited 60 / 0.001 s, nothing said.
        ({"x-ratelimit-limit-requests": "0.001", "x-ratelimit-remaining-requests": "0"}, None),
        # A token limit smaller than one request: each waited out the last one's debt (half an hour).
        ({"x-ratelimit-limit-tokens": "60", "x-ratelimit-remaining-tokens": "0"}, "the server's token limit"),
    ],
)
def test_rate_limit_headers_no_pace_can_keep_end_the_run_at_once(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, headers: dict[str, str], paced_by: str | None
) -> None:
    server.responder = lambda request: replace(judge_responder(request), headers=headers)
    started = time.monotonic()
    result = judge(runner, server, data_dir, "--first-n", "2", "--parallel", "1")
    assert time.monotonic() - started < 30, result.stderr
    said = " ".join(result.stderr.split())
    if paced_by is None:
        assert result.exit_code == 0, result.stderr
        assert "ignored the server's x-ratelimit-limit-requests header ('0.001': below 1 a minute)" in said
    else:  # the first request went before the limit was known; every other was too large for it
        assert result.exit_code == 1, result.stderr
        assert f"more than {paced_by} allows in a minute (60); no pace fits it" in said
        assert len(server.chat_requests()) == 1


def test_garbage_rate_limit_headers_are_noted_once_and_the_run_goes_on(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    garbage = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "-4",
        "x-ratelimit-reset-requests": "1s",
    }
    server.responder = lambda request: replace(judge_responder(request), headers=garbage)
    result = judge(runner, server, data_dir, "--first-n", "2")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert said.count("ignored the server's x-ratelimit-remaining-requests header ('-4': negative)") == 1
    assert "and 7 more bad value(s) of it" in said
    assert len(read_jsonl(judgment_file(data_dir))) == 8
