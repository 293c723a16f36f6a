"""`mtb eval`: generate, judge and results in one command, against the local OpenAI-compatible server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from helpers import judge_rating_for, judge_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

JUDGE = "gpt-4"  # the benchmark's default judge: the issue's command names none


def respond(request: RecordedRequest) -> Reply:
    """The judge rates by its prompt; each model says who it is, so two models' answers differ."""
    model = request.body["model"]
    if model in (JUDGE, "judge-x"):
        return judge_responder(request)
    turn = sum(1 for m in request.messages if m["role"] == "user")
    return Reply(text=f"{model} answers turn {turn}: " + "word " * (len(model) * turn))


def run_eval(runner: CliRunner, data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["eval", *args, "--data-dir", str(data_dir), "--no-progress"])


def summaries(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "mt_bench" / "eval").glob("*.json"))


def test_the_issue_check_one_model_then_a_rerun_that_sends_nothing(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url, "--first-n", "5"]
    result = run_eval(runner, data_dir, *command, "--format", "json")
    assert result.exit_code == 0, result.stderr

    requests = server.chat_requests()
    assert len(requests) == 20
    assert sum(r.body["model"] == "m1" for r in requests) == 10
    assert sum(r.body["model"] == JUDGE for r in requests) == 10
    answers = read_jsonl(data_dir / "mt_bench" / "model_answer" / "m1.jsonl")
    assert len(answers) == 5

    # stdout is `mtb results`' JSON, nothing else.
    (row,) = json.loads(result.stdout)
    assert row["model"] == "m1" and row["judgments"] == 10
    ours = [
        r
        for r in read_jsonl(data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl")
        if r["model"] == "m1"
    ]
    expected = [judge_rating_for(r["user_prompt"]) for r in ours]
    assert row["average"] == sum(expected) / len(expected)
    shown = runner.invoke(
        app, ["results", "--model-list", "m1", "--format", "json", "--data-dir", str(data_dir)]
    )
    assert json.loads(shown.stdout) == json.loads(result.stdout)

    again = run_eval(runner, data_dir, *command, "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert len(server.chat_requests()) == 20  # nothing sent
    assert json.loads(again.stdout) == json.loads(result.stdout)
    assert len(summaries(data_dir)) >= 1


def test_the_summary_holds_scores_categories_placement_settings_cost_and_timings(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    result = run_eval(
        runner,
        data_dir,
        *("--model", "m1", "--model", "m22", "--api-base", server.url, "--judge-api-base", server.url),
        *("--first-n", "5", "--compare", "m1", "m22"),
    )
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) == 40
    (json_path,) = summaries(data_dir)
    assert "m1+m22" in json_path.name
    summary = json.loads(json_path.read_text())
    markdown = json_path.with_suffix(".md").read_text()

    assert summary["models"] == ["m1", "m22"] and summary["judge"] == JUDGE and summary["exit_code"] == 0
    rows = {r["model"]: r for r in summary["scores"]}
    assert set(rows) == {"m1", "m22"}
    assert rows["m1"]["judgments"] == 10 and rows["m1"]["categories"] == {"writing": rows["m1"]["average"]}
    # Placed among the published models judged in the same file, as `results` places them.
    assert summary["placement"]["m1"] == rows["m1"]["placement"]
    assert (
        "between" in rows["m1"]["placement"]
        or "above" in rows["m1"]["placement"]
        or "below" in (rows["m1"]["placement"])
    )
    compare = summary["compare"]
    assert (compare["model_a"], compare["model_b"]) == ("m1", "m22")
    assert abs(compare["difference"] - (rows["m1"]["average"] - rows["m22"]["average"])) < 1e-9
    assert "writing" in compare["categories"]

    # Settings, from the run files: the model and the endpoint's host, never more.
    m1 = summary["settings"]["answers m1"]
    assert m1["command"] == "generate" and m1["settings"]["model"] == "m1"
    assert m1["settings"]["endpoint"] == server.url.split("//")[1].split("/")[0]
    judged = summary["settings"]["judgments gpt-4_single.jsonl"]
    assert judged["command"] == "judge" and judged["settings"]["model"] == JUDGE

    # Cost, from the run log: the judge has a price, the test models do not.
    runs = summary["cost"]["runs"]
    assert [r["command"] for r in runs] == ["generate", "generate", "judge"]
    assert runs[2]["requests"] == 20 and runs[2]["cost_usd"] > 0
    assert summary["cost"]["cost_usd"] == round(runs[2]["cost_usd"], 6)
    assert summary["cost"]["unpriced_runs"] == 2

    steps = summary["steps"]
    assert [s["step"] for s in steps] == ["generate m1", "generate m22", "judge", "results"]
    assert all(s["exit_code"] == 0 and s["seconds"] >= 0 for s in steps)

    for text in (
        "## Scores",
        "| m1 |",
        "### Per category",
        "## Comparison",
        "## Settings",
        "## Cost",
        "## Timings",
    ):
        assert text in markdown
    assert "judge" in markdown and "generate m22" in markdown
    # The cost of the judgments scored is said once, not again for the comparison.
    assert result.stderr.count("cost of the judgments shown") == 1
    # The comparison is on stderr; stdout is the results table only.
    assert "By category" in result.stderr and "m22" in result.stdout


def test_a_models_file_gives_each_model_its_own_options(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    server.responder = respond
    models = tmp_path / "models.toml"
    models.write_text(
        f"""
[[model]]
model = "org/alpha"
model_id = "alpha"
api_base = "{server.url}"
max_tokens = 77
temperature = 0.0

[[model]]
model = "beta"
api_base = ["{server.url}"]
system_prompt = "Be brief."
"""
    )
    result = run_eval(
        runner,
        data_dir,
        *("--models-file", str(models), "--judge-model", "judge-x", "--judge-api-base", server.url),
        *("--first-n", "2", "--format", "json"),
    )
    assert result.exit_code == 0, result.stderr
    alpha = [r for r in server.chat_requests() if r.body["model"] == "org/alpha"]
    beta = [r for r in server.chat_requests() if r.body["model"] == "beta"]
    assert len(alpha) == len(beta) == 4
    assert all(r.body["max_tokens"] == 77 and r.body["temperature"] == 0.0 for r in alpha)
    assert all(
        r.body["max_tokens"] == 1024 and r.messages[0] == {"role": "system", "content": "Be brief."}
        for r in beta
    )
    assert all(m["role"] != "system" for r in alpha for m in r.messages)
    assert {r["model"] for r in json.loads(result.stdout)} == {"alpha", "beta"}
    assert (data_dir / "mt_bench" / "model_answer" / "alpha.jsonl").exists()


def test_a_bad_models_file_is_path_and_model_and_exit_2(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    cases = {
        '[[model]]\nmodel = "a"\n[[model]]\nmodel = "b"\nmax_tokens = "9"\n': "model #2: field 'max_tokens'",
        '[[model]]\nmodel = "a"\nmodel_path = "b"\n': "model #1: give exactly one of model",
        '[[model]]\nmodel = "a"\ntemprature = 0.7\n': "unknown key(s) temprature",
        '[[model]]\nmodel = "a"\napi_key = "sk-secret"\n': "keys never go in files",
        '[[model]]\nmodel = "a"\n[[model]]\nmodel = "a"\n': "model #2: its name 'a'",
        'model = "a"\n': "a list of [[model]] tables",
        "[[model]\n": "not valid TOML",
        # As --parallel: a trillion workers for one model filled memory before its first request.
        '[[model]]\nmodel = "a"\nparallel = 1000000000000\n': "field 'parallel' must be at most 10000",
    }
    for text, message in cases.items():
        models.write_text(text)
        result = run_eval(runner, data_dir, "--models-file", str(models), "--judge-api-base", server.url)
        assert result.exit_code == 2, (text, result.stderr)
        assert f"{models}" in result.stderr and message in result.stderr, (text, result.stderr)
        assert "Traceback" not in result.stderr and "sk-secret" not in result.stderr
    assert server.chat_requests() == []


def test_a_failed_generation_stops_before_judging_and_names_the_step(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    def broken(request: RecordedRequest) -> Reply:
        if request.body["model"] == "m1" and "Hawaii" in json.dumps(request.messages):
            return Reply(status=500, text="boom")
        return respond(request)

    server.responder = broken
    result = run_eval(
        runner,
        data_dir,
        *("--model", "m1", "--api-base", server.url, "--judge-api-base", server.url),
        *("--first-n", "5", "--max-attempts", "1", "--format", "json", "--no-pipeline"),
    )
    assert result.exit_code == 1, result.stderr
    assert "step 'generate m1' failed" in result.stderr
    assert not any(r.body["model"] == JUDGE for r in server.chat_requests())
    assert result.stdout == ""  # no results for a model with missing answers
    summary = json.loads(summaries(data_dir)[0].read_text())
    assert summary["failed_step"] == "generate m1" and summary["exit_code"] == 1
    assert [s["step"] for s in summary["steps"]] == ["generate m1"]


def test_a_failed_generation_in_a_pipelined_eval_keeps_the_judgments_made_and_scores_nothing(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    def broken(request: RecordedRequest) -> Reply:
        if request.body["model"] == "m1" and "Hawaii" in json.dumps(request.messages):
            return Reply(status=500, text="boom")
        return respond(request)

    server.responder = broken
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url, "--first-n", "5"]
    result = run_eval(runner, data_dir, *command, "--max-attempts", "1", "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert "step 'generate m1' failed" in result.stderr
    assert result.stdout == ""  # no results for a model with missing answers
    judgments = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl"
    judged = [json.loads(line) for line in judgments.read_text().splitlines()]
    assert len(judged) == 8  # the 4 questions answered, both turns; the failed one is not judged
    assert {r["question_id"] for r in judged} == {82, 83, 84, 85}
    # A rerun sends only what is missing: one question's two turns, then its two judgments.
    server.responder = respond
    before = len(server.chat_requests())
    rerun = run_eval(runner, data_dir, *command, "--format", "json")
    assert rerun.exit_code == 0, rerun.stderr
    assert len(server.chat_requests()) - before == 4


def test_a_judge_that_cannot_be_reached_is_the_failed_step_not_the_results(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    # Was: exit 2 (bad input) and "step 'results' failed: ... holds no judgments; run
    # `mtb judge` first", when the cause was the judge's 401.
    def no_judge(request: RecordedRequest) -> Reply:
        if request.body["model"] == JUDGE:
            return Reply(status=401, body=json.dumps({"error": {"message": "Incorrect API key"}}))
        return respond(request)

    server.responder = no_judge
    result = run_eval(
        runner,
        data_dir,
        *("--model", "m1", "--api-base", server.url, "--judge-api-base", server.url),
        *("--first-n", "3", "--format", "json"),
    )
    assert result.exit_code == 1, result.stderr
    assert "stopped: gpt-4: HTTP 401: Incorrect API key" in result.stderr
    assert "step 'judge' failed" in result.stderr and "step 'results' failed" not in result.stderr
    assert result.stdout == ""
    summary = json.loads(summaries(data_dir)[0].read_text())
    assert summary["failed_step"] == "judge" and summary["exit_code"] == 1


def test_usage_errors_say_so_before_any_request(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    for args, message in (
        ([], "name the model(s)"),
        (["--model", "a", "--model", "b", "--model-id", "x"], "--model-id"),
        (
            ["--model", "a", "--mode", "pairwise-all", "--compare", "a", "b"],
            "--compare works with --mode single",
        ),
        (["--model", "a", "--max-cost", "1", "--judge-model", "judge-x"], "--max-cost needs a price"),
    ):
        result = run_eval(runner, data_dir, *args, "--judge-api-base", server.url)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert server.chat_requests() == []


def test_a_local_model_and_a_local_judge_on_cpu(
    runner: CliRunner, data_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """The tiny random model answers, is released, then judges: its verdicts hold no rating, counted."""
    from mtb.resources import resource_dir

    # The judge's reply cut to a few tokens (the tiny model is slow enough); generation's max_tokens stays.
    text = (resource_dir("questions") / "mt_bench.toml").read_text()
    assert text.count("max_tokens = 2048") == 1
    bench = tmp_path / "mt_bench_short.toml"
    bench.write_text(text.replace("max_tokens = 2048", "max_tokens = 12"))
    command = [
        *(
            "--model-path",
            str(tiny_model),
            "--model-id",
            "tiny-model",
            "--backend",
            "hf",
            "--max-tokens",
            "8",
        ),
        *("--judge-model-path", str(tiny_model), "--judge-model", "tiny-judge", "--judge-backend", "hf"),
        *("--first-n", "2", "--bench", str(bench), "--format", "json"),
    ]
    result = run_eval(runner, data_dir, *command)
    judgments = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "tiny-judge_single.jsonl")
    unparsed = sum(j["score"] == -1 for j in judgments)
    # A random model rarely writes "[[rating]]": with no readable verdict at all, the eval failed.
    expected = 1 if unparsed == len(judgments) else 0
    assert result.exit_code == expected, result.stderr

    # The model under test is released before the judge loads.
    released = result.stderr.index(f"released {tiny_model}")
    assert released < result.stderr.index(f"loading judge {tiny_model}")
    assert len(read_jsonl(data_dir / "mt_bench" / "model_answer" / "tiny-model.jsonl")) == 2
    assert len(judgments) == 4 and {j["model"] for j in judgments} == {"tiny-model"}
    assert unparsed >= 3
    assert f"{unparsed} judgment(s) hold a verdict without a score" in result.stderr
    (row,) = json.loads(result.stdout)
    assert row["model"] == "tiny-model" and row["excluded"] == unparsed
    assert row["judgments"] + row["excluded"] == 4

    summary = json.loads(sorted((data_dir / "mt_bench" / "eval").glob("*.json"))[0].read_text())
    assert summary["cost"]["runs"] == []  # nothing paid
    assert summary["settings"]["answers tiny-model"]["settings"]["provider"] == "local"
    assert summary["settings"]["judgments tiny-judge_single.jsonl"]["settings"]["provider"] == "local"

    again = run_eval(runner, data_dir, *command)
    assert again.exit_code == expected, again.stderr
    assert "run the same command again" not in again.stderr
    assert "loading" not in again.stderr  # nothing left to answer or judge: no model is loaded
    assert "the model was not loaded" in again.stderr


def test_max_cost_caps_the_judging_and_a_rerun_without_it_completes(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url, "--first-n", "5"]
    # A gpt-4 judgment may cost up to $0.135 (its prompt and all 2,048 max_tokens), which
    # --max-cost holds while it is in flight: $0.20 lets a few through, never past the cap.
    capped = run_eval(runner, data_dir, *command, "--max-cost", "0.20", "--judge-parallel", "1")
    assert capped.exit_code == 1, capped.stderr
    assert "--max-cost" in capped.stderr and "step 'judge' failed" in capped.stderr
    judged = sum(r.body["model"] == JUDGE for r in server.chat_requests())
    assert 0 < judged < 10
    summary = json.loads(summaries(data_dir)[0].read_text())
    assert summary["failed_step"] == "judge" and summary["cost"]["cost_usd"] <= 0.20

    done = run_eval(runner, data_dir, *command, "--format", "json")
    assert done.exit_code == 0, done.stderr
    assert sum(r.body["model"] == JUDGE for r in server.chat_requests()) == 10  # only what was missing
    (row,) = json.loads(done.stdout)
    assert row["judgments"] == 10


def test_a_name_the_judge_step_cannot_carry_is_refused_before_any_answer(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    # 'my model' was generated (paid for), then judged as 'my' and 'model': "no answers for 'my'".
    from helpers import write_tiny_benchmark

    data = write_tiny_benchmark(tmp_path / "data")
    server.responder = respond
    for args, message in (
        (["--model", "my model"], "'my model' (from --model) is empty or holds a space or comma"),
        (["--model", "m", "--model-id", "a,b"], "'a,b' (from --model-id) is empty or holds a space or comma"),
        (["--model", "/"], "'' (from --model) is empty"),
        (["--model", "z" * 300], "300 bytes long"),
    ):
        result = run_eval(runner, data, *args, "--api-base", server.url, "--judge-api-base", server.url)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert server.chat_requests() == []
    assert list((data / "mt_bench" / "model_answer").iterdir()) == []


def eval_flags() -> set[str]:
    """Every flag `mtb eval` has, from the command itself."""
    import typer.main

    command = typer.main.get_command(app).commands["eval"]  # type: ignore[attr-defined]
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def test_an_eval_without_a_readable_verdict_fails_and_advises_only_flags_it_has(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    def no_rating(request: RecordedRequest) -> Reply:
        if request.body["model"] == JUDGE:
            return Reply(text="Both answers are fine.")  # a judge that ignores the prompt's [[rating]]
        return respond(request)

    server.responder = no_rating
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url, "--first-n", "2"]
    result = run_eval(runner, data_dir, *command)
    assert result.exit_code == 1, result.stderr
    assert "none of the 4 judgment(s) made holds a readable verdict" in result.stderr
    assert "no readable verdict (a score) for: m1 (4 judgment(s))" in result.stderr
    assert "run the same command again" not in result.stderr  # it would end the same way
    advised = set(re.findall(r"--[a-z][a-z-]+", result.stderr))
    assert "--retry-unparsed" in advised
    assert advised <= eval_flags(), advised - eval_flags()

    # The advice works: with a judge that rates, --retry-unparsed judges those four again.
    server.responder = respond
    before = len(server.chat_requests())
    again = run_eval(runner, data_dir, *command, "--retry-unparsed", "--format", "json")
    assert again.exit_code == 0, again.stderr
    assert len(server.chat_requests()) - before == 4
    (row,) = json.loads(again.stdout)
    assert row["judgments"] == 4 and row["excluded"] == 0


def test_the_summary_says_the_questions_run_the_estimate_and_what_its_labels_mean(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    command = ["--model", "m1", "--api-base", server.url, "--judge-api-base", server.url, "--first-n", "2"]
    result = run_eval(runner, data_dir, *command, "--no-pipeline")
    assert result.exit_code == 0, result.stderr
    assert "{" not in result.stderr  # the judge's plan is one line, not its JSON
    (json_path,) = summaries(data_dir)
    summary = json.loads(json_path.read_text())
    markdown = json_path.with_suffix(".md").read_text()

    assert summary["questions"] == {"m1": {"run": 2, "of": 80, "answered": 2, "first_n": 2}}
    assert any("m1: run on 2 of the benchmark's 80 questions (--first-n 2)" in n for n in summary["notes"])
    assert "- questions of m1: 2 of 80 (--first-n 2)" in markdown

    judge = summary["estimate"]["judge"]
    assert judge["estimated_cost_usd"] > 0 and judge["judge_calls"] == 4
    assert judge["spent_usd"] == summary["cost"]["cost_usd"] > 0
    assert summary["estimate"]["generate m1"]["estimated_tokens"]["output"] > 0
    assert "## Estimate (before the run) and spend" in markdown

    # "(default)" was the default *mode*, read as a default judge.
    assert summary["judge_is_default"] and summary["mode"] == "single" and summary["mode_is_default"]
    assert "- judge: gpt-4 (the benchmark's default judge)" in markdown
    assert "- mode: single (the benchmark's default)" in markdown


def test_the_summary_names_an_adapters_base_and_hash(
    runner: CliRunner, server: OpenAIServer, data_dir: Path, tiny_adapter: Path
) -> None:
    from mtb.backends.adapters import adapter_sha256

    server.responder = respond
    command = ["--model-path", str(tiny_adapter), "--max-tokens", "4", "--judge-api-base", server.url]
    result = run_eval(runner, data_dir, *command, "--first-n", "1")
    assert result.exit_code == 0, result.stderr
    (json_path,) = summaries(data_dir)
    summary = json.loads(json_path.read_text())
    adapter = summary["adapters"][tiny_adapter.name]
    assert adapter["adapter_sha256"] == adapter_sha256(tiny_adapter)
    assert Path(adapter["base_model"]).name == "tiny"
    assert f"(sha256 {adapter['adapter_sha256'][:12]}) on base" in json_path.with_suffix(".md").read_text()
    assert summary["estimate"][f"generate {tiny_adapter.name}"]["estimated_cost_usd"] == 0.0


def test_a_rerun_counts_what_is_already_there_for_the_models_and_questions_asked(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    common = ["--api-base", server.url, "--judge-api-base", server.url]
    first = run_eval(runner, data_dir, "--model", "m1", "--model", "m22", *common, "--first-n", "5")
    assert first.exit_code == 0, first.stderr
    for pipeline in ("--pipeline", "--no-pipeline"):
        again = run_eval(runner, data_dir, "--model", "m1", *common, "--first-n", "2", pipeline)
        assert again.exit_code == 0, again.stderr
        # Not the file's 5 answers, nor the judge file's 20 judgments of both models.
        assert "answers: 0 new, 2 already in" in again.stderr
        assert "judgments: 0 new, 4 already in" in again.stderr
