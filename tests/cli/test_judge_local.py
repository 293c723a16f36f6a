"""`mtb judge --judge-model-path`: a local judge (transformers on CPU), a tiny random Llama.

Its verdicts are random text, so most hold no rating: they must be written with
score -1, counted and reported, as for an API judge. Decoding is greedy, so
each judgment is exactly what plain transformers gives for FastChat's rendered
messages through the judge's chat template: that shows the prompts it saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app
from mtb.resources import resource_dir

MODEL = "vicuna-13b-v1.3"  # a published model's answers, judged by the tiny model
JUDGE_TOKENS = 12


@pytest.fixture
def short_bench(tmp_path: Path) -> Path:
    """MT-bench's manifest with the judge's reply cut to a few tokens (the tiny model is slow enough)."""
    text = (resource_dir("questions") / "mt_bench.toml").read_text()
    # The judge's max_tokens (2048) is the only one of that value; generation's is 1024.
    count = text.count("max_tokens = 2048")
    text = text.replace("max_tokens = 2048", f"max_tokens = {JUDGE_TOKENS}")
    assert count == 1
    path = tmp_path / "mt_bench_short.toml"
    path.write_text(text)
    return path


def judge_local(runner: CliRunner, data_dir: Path, bench: Path, judge: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            "judge",
            "--judge-model-path",
            str(judge),
            "--judge-backend",
            "hf",
            "--model-list",
            MODEL,
            "--first-n",
            "2",
            "--bench",
            str(bench),
            "--data-dir",
            str(data_dir),
            "--no-progress",
            *extra,
        ],
    )


def greedy(model: Path, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    """The judgment computed apart from mtb: plain transformers, the model's own template, greedy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    network = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    stops = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|end|>")]
    with torch.inference_mode():
        out = network.generate(
            **ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops, pad_token_id=0
        )
    return str(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip())


def fastchat_messages(data_dir: Path, question_id: int, turn: int) -> tuple[str, list[dict[str, str]]]:
    """FastChat's single-grading messages for a writing question, built here from the data files."""
    prompts = {p["name"]: p for p in read_jsonl(data_dir / "judge_prompts.jsonl")}
    question = next(
        q for q in read_jsonl(data_dir / "mt_bench" / "question.jsonl") if q["question_id"] == question_id
    )
    answer = next(
        a
        for a in read_jsonl(data_dir / "mt_bench" / "model_answer" / f"{MODEL}.jsonl")
        if a["question_id"] == question_id
    )
    replies = answer["choices"][0]["turns"]
    if turn == 1:
        prompt = prompts["single-v1"]
        user = prompt["prompt_template"].format(question=question["turns"][0], answer=replies[0])
    else:
        prompt = prompts["single-v1-multi-turn"]
        user = prompt["prompt_template"].format(
            question_1=question["turns"][0],
            answer_1=replies[0],
            question_2=question["turns"][1],
            answer_2=replies[1],
        )
    return prompt["name"], [
        {"role": "system", "content": prompt["system_prompt"]},
        {"role": "user", "content": user},
    ]


def test_a_local_judge_writes_counts_and_reports_unparsed_verdicts(
    runner: CliRunner, tiny_model: Path, data_dir: Path, short_bench: Path
) -> None:
    result = judge_local(runner, data_dir, short_bench, tiny_model)
    # The judge's name is the folder's last part: its own file, its name in every record.
    rows = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "tiny_single.jsonl")
    assert len(rows) == 4  # 2 questions × 2 turns
    assert {r["model"] for r in rows} == {MODEL}
    unparsed = [r for r in rows if r["score"] == -1]
    assert len(unparsed) >= 3  # random text: a rating is possible, but not likely
    # Not one readable verdict: the run failed (exit 1), whatever the calls did.
    assert result.exit_code == (1 if len(unparsed) == len(rows) else 0), result.stderr
    assert "with hf as 'tiny'" in result.stderr
    assert f"{len(unparsed)} judgment(s) hold a verdict without a score" in result.stderr

    for row in rows:
        name, messages = fastchat_messages(data_dir, row["question_id"], row["turn"])
        assert row["judge"] == ["tiny", name]
        assert row["user_prompt"] == messages[-1]["content"]
        # The reply is the greedy continuation of those messages through the judge's chat template.
        assert row["judgment"] == greedy(tiny_model, messages, JUDGE_TOKENS)

    # Unparsed verdicts are left out of the results, and counted there too.
    shown = runner.invoke(
        app,
        [
            "results",
            "--judge-model",
            "tiny",
            "--bench",
            str(short_bench),
            "--data-dir",
            str(data_dir),
            "--format",
            "json",
        ],
    )
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["excluded"] == len(unparsed)

    rerun = judge_local(runner, data_dir, short_bench, tiny_model)
    assert rerun.exit_code == 0, rerun.stderr
    assert len(read_jsonl(data_dir / "mt_bench" / "model_judgment" / "tiny_single.jsonl")) == 4


def test_a_local_judge_named_and_with_an_adapter(
    runner: CliRunner, tiny_adapter: Path, data_dir: Path, short_bench: Path
) -> None:
    result = judge_local(runner, data_dir, short_bench, tiny_adapter, "--judge-model", "lora-judge")
    rows = read_jsonl(data_dir / "mt_bench" / "model_judgment" / "lora-judge_single.jsonl")
    assert len(rows) == 4 and {r["judge"][0] for r in rows} == {"lora-judge"}
    unreadable = all(r["score"] == -1 for r in rows)
    assert result.exit_code == (1 if unreadable else 0), result.stderr
    assert f"adapter {tiny_adapter}" in result.stderr


def test_dry_run_loads_no_model_and_wrong_paths_fail_first(
    runner: CliRunner, data_dir: Path, short_bench: Path, tmp_path: Path
) -> None:
    # A folder that is no model: a dry run plans without loading it (no torch needed).
    folder = tmp_path / "my-judge"
    folder.mkdir()
    planned = judge_local(runner, data_dir, short_bench, folder, "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    assert "my-judge_single.jsonl" in planned.stdout
    missing = judge_local(runner, data_dir, short_bench, Path("/no/such/judge"), "--dry-run")
    assert missing.exit_code == 2 and "model folder not found (--judge-model-path)" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--judge-backend", "hf"], "--judge-backend only apply to a local judge"),
        (["--judge-merge-adapter"], "--judge-merge-adapter only apply to a local judge"),
        (
            ["--judge-model-path", ".", "--judge-api-base", "http://h/v1"],
            "--judge-api-base only apply to a judge behind an API",
        ),
        (["--judge-model-path", ".", "--judge-provider", "litellm"], "--judge-provider only apply"),
    ],
)
def test_local_and_api_judge_flags_do_not_mix(
    runner: CliRunner, data_dir: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["judge", "--dry-run", "--data-dir", str(data_dir), "--model-list", MODEL, *args]
    )
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
