"""The Python API (`mtb.evaluate`, `.generate`, `.judge`, `.results`) against the local test server."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mtb
from helpers import judge_responder, write_tiny_benchmark
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply


def respond(request: RecordedRequest) -> Reply:
    if request.body["model"] == "gpt-4":
        return judge_responder(request)
    turn = sum(1 for m in request.messages if m["role"] == "user")
    return Reply(text=f"{request.body['model']} answers turn {turn}: " + "word " * 5 * turn)


def test_evaluate_returns_the_records_results_prints_as_json(
    server: OpenAIServer, data_dir: Path, runner: CliRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    server.responder = respond
    report = mtb.evaluate(
        model="m1", api_base=server.url, judge_api_base=server.url, first_n=3, data_dir=data_dir
    )
    assert capsys.readouterr().out == ""  # nothing on stdout
    assert report.ok and report.exit_code == 0 and report.pipelined
    printed = runner.invoke(
        app, ["results", "--model-list", "m1", "--format", "json", "--data-dir", str(data_dir)]
    )
    assert printed.exit_code == 0, printed.stderr
    assert report.records == json.loads(printed.stdout)
    assert [r["model"] for r in report.records] == ["m1"]  # type: ignore[index]
    assert report.summary_path is not None and report.summary_path.is_file()
    # The same scores from mtb.results, and a rerun that sends nothing.
    assert mtb.results(model_list=["m1"], data_dir=data_dir).records == report.records
    sent = len(server.chat_requests())
    again = mtb.evaluate(
        model="m1", api_base=server.url, judge_api_base=server.url, first_n=3, data_dir=data_dir
    )
    assert len(server.chat_requests()) == sent and again.records == report.records


def test_bad_values_raise_usage_errors_naming_the_argument_and_flag(data_dir: Path) -> None:
    with pytest.raises(mtb.UsageError, match=r"first_n \(--first-n\): must be 1 or more, got 0"):
        mtb.evaluate(model="m1", first_n=0, data_dir=data_dir)
    with pytest.raises(mtb.UsageError, match="parallel"):
        mtb.generate(model="m1", parallel="8", data_dir=data_dir)
    with pytest.raises(mtb.UsageError, match="exactly one of --model"):
        mtb.generate(data_dir=data_dir)
    with pytest.raises(mtb.UsageError, match="only apply to local models"):
        mtb.generate(model="m1", dtype="bfloat16", data_dir=data_dir)
    with pytest.raises(mtb.MtbError):
        mtb.results(mode="sideways", data_dir=data_dir)


def test_values_that_hung_or_gave_a_traceback_are_usage_errors_naming_the_argument(tmp_path: Path) -> None:
    # Each of these passed the type check and then: planned 1e30 matches or started 1e30 workers
    # (memory filled until the kernel killed Python), or raised OSError "File name too long" or
    # ValueError "embedded null byte" from deep inside the run.
    data = write_tiny_benchmark(tmp_path / "data", ["m1"])
    fake = {
        "model": "fake",
        "provider": "fake",
        "judge_provider": "fake",
        "judge_model": "fake",
        "data_dir": data,
    }
    cases = [
        (mtb.judge, {"samples": 10**30, "dry_run": True}, r"samples \(--samples\): must be at most 100"),
        (
            mtb.evaluate,
            {**fake, "judge_parallel": 10**30},
            r"judge_parallel \(--judge-parallel\): must be at most",
        ),
        (mtb.generate, {"model": "m", "parallel": 10**9}, r"parallel \(--parallel\): must be at most 10000"),
        (
            mtb.generate,
            {"model": "m", "num_choices": 10**30},
            r"num_choices \(--num-choices\): must be at most",
        ),
        (
            mtb.results,
            {"data_dir": "x" * 3000},
            r"data_dir \(--data-dir\): a part of the path is 3,000 bytes",
        ),
        (mtb.results, {"input_file": "a\0b"}, r"input_file \(--input-file\): holds a NUL character"),
        (mtb.generate, {"model": "fake", "provider": "fake", "model_id": "m\0"}, "holds a NUL character"),
        (mtb.results, {"bench": "x" * 3000}, "unknown benchmark"),
        (
            mtb.judge,
            {"judge_model_path": "x" * 3000},
            "--judge-model-path: a part of the path is 3,000 bytes",
        ),
    ]
    for call, arguments, message in cases:
        with pytest.raises(mtb.MtbError, match=message):
            call(**{"data_dir": data, **arguments})


def test_an_unknown_keyword_is_a_type_error_naming_the_closest_flag() -> None:
    with pytest.raises(TypeError, match=r"'firstn'; did you mean 'first_n' \(--first-n\)"):
        mtb.evaluate(model="m1", firstn=5)
    with pytest.raises(TypeError, match="'judge_dtpye'; did you mean 'judge_dtype'"):
        mtb.judge(judge_dtpye="float16")
    parameters = inspect.signature(mtb.evaluate).parameters
    assert {"first_n", "judge_model", "dtype", "judge_dtype", "progress"} <= set(parameters)


def test_a_run_that_does_not_complete_raises_run_failed_with_its_report(
    server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = lambda request: Reply(status=500, text="boom")
    with pytest.raises(mtb.RunFailed) as failed:
        mtb.generate(model="m1", api_base=server.url, first_n=2, max_attempts=1, data_dir=data_dir)
    assert failed.value.exit_code == 1
    assert len(failed.value.report.run.failures) == 2


def test_judge_dry_run_returns_the_plan_and_the_command_prints_only_json(
    server: OpenAIServer, data_dir: Path, runner: CliRunner
) -> None:
    server.responder = respond
    mtb.generate(model="m1", api_base=server.url, first_n=2, data_dir=data_dir)
    plan = mtb.judge(model_list=["m1"], first_n=2, dry_run=True, data_dir=data_dir).plan
    assert plan["estimated_cost_usd"] is not None and server.chat_requests()[-1].body["model"] == "m1"
    printed = runner.invoke(
        app, ["judge", "--model-list", "m1", "--first-n", "2", "--dry-run", "--data-dir", str(data_dir)]
    )
    assert printed.exit_code == 0, printed.stderr
    assert json.loads(printed.stdout) == plan


def test_import_mtb_imports_no_sdk_typer_or_rich() -> None:
    code = (
        "import sys, mtb; mtb.evaluate; mtb.results; "
        "print(sorted(m for m in ('openai', 'torch', 'litellm', 'typer', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
