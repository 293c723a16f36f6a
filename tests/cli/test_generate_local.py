"""`mtb generate --model-path` end to end through the CLI, on a tiny random Llama built in the test."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app

# Two questions sampled at 0.7 (writing) and two decoded greedily (math).
QUESTIONS = (81, 82, 111, 112)


@pytest.fixture
def few_questions(data_dir: Path) -> Path:
    path = data_dir / "mt_bench" / "question.jsonl"
    kept = [line for line in path.read_text().splitlines() if json.loads(line)["question_id"] in QUESTIONS]
    path.write_text("\n".join(kept) + "\n")
    return data_dir


def generate_local(runner: CliRunner, model: Path, data_dir: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            "generate",
            "--model-path",
            str(model),
            "--model-id",
            "tiny",
            "--data-dir",
            str(data_dir),
            "--max-new-tokens",
            "8",
            "--no-progress",
            *extra,
        ],
    )


def reference_greedy(model: Path, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    """The answer computed apart from mtb: plain transformers, one prompt, greedy."""
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


def test_generates_both_turns_greedy_and_sampled_by_category(
    runner: CliRunner, tiny_model: Path, few_questions: Path
) -> None:
    result = generate_local(runner, tiny_model, few_questions, "--num-choices", "2")
    assert result.exit_code == 0, result.stderr
    assert "with hf as 'tiny'" in result.stderr
    assert "16 turns in" in result.stderr  # 4 questions × 2 choices × 2 turns, in batches

    rows = read_jsonl(few_questions / "mt_bench" / "model_answer" / "tiny.jsonl")
    assert [r["question_id"] for r in rows] == list(QUESTIONS)
    template = json.loads((tiny_model / "tokenizer_config.json").read_text()).get("chat_template")
    template = template or (tiny_model / "chat_template.jinja").read_text()
    assert {r["chat_template_sha256"] for r in rows} == {hashlib.sha256(template.encode()).hexdigest()}
    assert all(len(c["turns"]) == 2 for r in rows for c in r["choices"])

    by_id = {r["question_id"]: r for r in rows}
    questions = {
        q["question_id"]: q
        for q in map(json.loads, (few_questions / "mt_bench" / "question.jsonl").read_text().splitlines())
    }
    for math in (111, 112):  # temperature 0: greedy, so both choices agree
        first, second = by_id[math]["choices"]
        assert first["turns"] == second["turns"]
        user_1, user_2 = questions[math]["turns"]
        answer_1, answer_2 = first["turns"]
        assert answer_1 == reference_greedy(tiny_model, [{"role": "user", "content": user_1}], 8)
        # Turn 2 was generated from a prompt that carries the model's own turn-1 answer.
        turn_two = [
            {"role": "user", "content": user_1},
            {"role": "assistant", "content": answer_1},
            {"role": "user", "content": user_2},
        ]
        assert answer_2 == reference_greedy(tiny_model, turn_two, 8)
    for writing in (81, 82):  # temperature 0.7: choice 0 and 1 have their own seeds
        first, second = by_id[writing]["choices"]
        assert first["turns"] != second["turns"]

    rerun = generate_local(runner, tiny_model, few_questions, "--num-choices", "2")
    assert rerun.exit_code == 0, rerun.stderr
    assert "0 new, 4 already in" in rerun.stderr


def test_missing_template_is_a_usage_error_naming_the_flag(
    runner: CliRunner, tiny_model_without_template: Path, few_questions: Path
) -> None:
    result = generate_local(runner, tiny_model_without_template, few_questions)
    assert result.exit_code == 2
    assert "has no chat template" in result.stderr and "--chat-template FILE" in result.stderr
    assert not (few_questions / "mt_bench" / "model_answer" / "tiny.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--model-path", "/no/such/model"], "model folder not found", 2),
        (["--model-path", "mtb-test-org/not-cached"], "HF_HUB_OFFLINE=1 forbids downloading", 2),
        (["--model-path", ".", "--dtype", "float8"], "unsupported --dtype 'float8'", 2),
        (["--model", "m", "--model-path", "."], "exactly one of --model", 2),
        ([], "exactly one of --model", 2),
        (["--model", "m", "--chat-template", "x.jinja"], "--chat-template only apply to local models", 2),
        (["--model-path", ".", "--api-base", "http://h/v1"], "--api-base only apply to API models", 2),
    ],
)
def test_clear_errors_and_nonzero_exit(
    runner: CliRunner, data_dir: Path, args: list[str], message: str, code: int
) -> None:
    if "HF_HUB_OFFLINE" in message:  # without transformers, the error is the missing extra instead
        pytest.importorskip("transformers", reason="needs the local extra: pip install -e '.[local]'")
    answers = data_dir / "mt_bench" / "model_answer"
    before = sorted(answers.iterdir())
    result = runner.invoke(app, ["generate", "--data-dir", str(data_dir), "--first-n", "1", *args])
    assert result.exit_code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(answers.iterdir()) == before


@pytest.mark.gpu
def test_vllm_end_to_end(runner: CliRunner, tiny_model: Path, few_questions: Path) -> None:
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'mtb[vllm]', needs CUDA)")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    result = generate_local(runner, tiny_model, few_questions, "--backend", "vllm")
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(few_questions / "mt_bench" / "model_answer" / "tiny.jsonl")
    assert [r["question_id"] for r in rows] == list(QUESTIONS)
