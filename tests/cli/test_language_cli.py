"""A Korean MT-bench built on `--bench PATH`: `mtb results` counts the turns answered in another
language (wrong_language) and, with --language-penalty zero, scores them 0 as KoMT-Bench does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import TINY_JUDGE_PROMPTS, judge_responder, read_jsonl
from mtb.cli.main import app
from mtb.testing.openai_server import OpenAIServer

pytest.importorskip("py3langid", reason="needs the language extra: pip install -e '.[language]'")

QUESTIONS = [
    {
        "question_id": 1,
        "category": "writing",
        "turns": ["비에 관한 짧은 시를 써 주세요.", "이번에는 눈에 관한 시를 써 주세요."],
    },
    {
        "question_id": 2,
        "category": "roleplay",
        "turns": ["해적처럼 자기소개를 해 보세요.", "이제 작별 인사를 해 주세요."],
    },
    {
        "question_id": 3,
        "category": "writing",
        "turns": ["서울이라는 도시를 묘사해 주세요.", "더 짧게 줄여 주세요."],
    },
]
ENGLISH = "Here is my answer, written entirely in English, with a few full sentences about the question."
KOREAN = "여기 제 대답이 있습니다. 질문에 대해 한국어로 몇 문장을 정성껏 써 보았습니다."


def korean_bench(root: Path, language: str = "ko") -> Path:
    """A three-question Korean copy of MT-bench: its manifest, questions, prompts and two models' answers."""
    folder = root / "mt_bench_ko"
    (folder / "model_answer").mkdir(parents=True)
    (root / "judge_prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in TINY_JUDGE_PROMPTS))
    (folder / "question.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS)
    )
    for model, text in (("english-model", ENGLISH), ("korean-model", KOREAN)):
        rows = [
            {
                "question_id": q["question_id"],
                "answer_id": f"{model}-{q['question_id']}",
                "model_id": model,
                "choices": [{"index": 0, "turns": [f"{text} ({turn + 1})" for turn in range(2)]}],
                "tstamp": 0,
            }
            for q in QUESTIONS
        ]
        (folder / "model_answer" / f"{model}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        )
    manifest = root / "mt_bench_ko.toml"
    manifest.write_text(
        f'name = "mt_bench_ko"\nprotocol = "mt-bench"\nlanguage = "{language}"\n\n[files]\n'
        'questions = "mt_bench_ko/question.jsonl"\njudge_prompts = "judge_prompts.jsonl"\n'
        'answers = "mt_bench_ko/model_answer"\njudgments = "mt_bench_ko/model_judgment"\n'
    )
    return manifest


def test_wrong_language_and_the_penalty(runner: CliRunner, server: OpenAIServer, tmp_path: Path) -> None:
    root = tmp_path / "data"
    manifest = korean_bench(root)
    server.responder = judge_responder
    common = ["--bench", str(manifest), "--data-dir", str(root)]
    judged = runner.invoke(app, ["judge", *common, "--judge-api-base", server.url, "--judge-api-key", "k"])
    assert judged.exit_code == 0, judged.stderr
    assert len(read_jsonl(root / "mt_bench_ko/model_judgment/gpt-4_single.jsonl")) == 12

    plain = runner.invoke(app, ["results", *common, "--format", "json"])
    assert plain.exit_code == 0, plain.stderr
    scores = {r["model"]: r for r in json.loads(plain.stdout)}
    assert scores["english-model"]["wrong_language"] == 6
    assert scores["korean-model"]["wrong_language"] == 0
    assert scores["english-model"]["average"] > 0

    penalised = runner.invoke(app, ["results", *common, "--format", "json", "--language-penalty", "zero"])
    assert penalised.exit_code == 0, penalised.stderr
    after = {r["model"]: r for r in json.loads(penalised.stdout)}
    assert after["english-model"]["average"] == 0
    assert after["english-model"]["turn_1"] == after["english-model"]["turn_2"] == 0
    assert after["korean-model"]["average"] == scores["korean-model"]["average"]
    assert after["korean-model"]["ci"] == scores["korean-model"]["ci"]
    assert "6 judged turn(s)" in penalised.stderr

    table = runner.invoke(app, ["results", *common])
    assert table.exit_code == 0 and "wrong_language" in table.stdout


def test_no_language_no_column_and_no_penalty(
    runner: CliRunner, server: OpenAIServer, data_dir: Path
) -> None:
    judgments = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl"
    judgments.parent.mkdir(parents=True, exist_ok=True)
    judgments.write_text(
        json.dumps(
            {
                "question_id": 81,
                "model": "gpt-4",
                "judge": ["gpt-4", "single-v1"],
                "user_prompt": "p",
                "judgment": "[[8]]",
                "score": 8,
                "turn": 1,
                "tstamp": 0,
            }
        )
        + "\n"
    )
    shown = runner.invoke(app, ["results", "--data-dir", str(data_dir), "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    assert "wrong_language" not in json.loads(shown.stdout)[0]
    refused = runner.invoke(app, ["results", "--data-dir", str(data_dir), "--language-penalty", "zero"])
    assert refused.exit_code == 2 and "language" in refused.stderr


def test_unknown_language_code_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "data"
    manifest = korean_bench(root, language="kr")
    judgments = root / "mt_bench_ko/model_judgment"
    judgments.mkdir()
    judgments.joinpath("gpt-4_single.jsonl").write_text(
        json.dumps(
            {
                "question_id": 1,
                "model": "korean-model",
                "judge": ["gpt-4", "single-v1"],
                "user_prompt": "p",
                "judgment": "[[8]]",
                "score": 8,
                "turn": 1,
                "tstamp": 0,
            }
        )
        + "\n"
    )
    result = runner.invoke(app, ["results", "--bench", str(manifest), "--data-dir", str(root)])
    assert result.exit_code == 2
    assert "unknown language code 'kr'" in result.stderr and "ko, " in result.stderr


@pytest.mark.parametrize("cause", ["unknown code", "no extra"])
def test_eval_checks_the_language_before_any_request(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path, cause: str
) -> None:
    # Found by the results step, both left every answer and judgment paid for and no scores.
    root = tmp_path / "data"
    manifest = korean_bench(root, language="kr" if cause == "unknown code" else "ko")
    args = ["eval", "--bench", str(manifest), "--data-dir", str(root), "--model", "m1", "--no-progress"]
    args += [
        "--api-base",
        server.url,
        "--api-key",
        "k",
        "--judge-api-base",
        server.url,
        "--judge-api-key",
        "k",
    ]
    if cause == "unknown code":
        result = runner.invoke(app, args)
        code, stderr = result.exit_code, result.stderr
    else:  # the language extra not installed: the package cannot be imported
        program = (
            "import sys; sys.modules['py3langid'] = None; from mtb.cli import main; "
            "sys.argv = ['mtb', *sys.argv[1:]]; main()"
        )
        done = subprocess.run(
            [sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120
        )
        code, stderr = done.returncode, done.stderr
    assert code == 2, stderr
    assert server.requests == []
    said = " ".join(stderr.split())
    assert (
        f"{manifest}: language: unknown language code 'kr'" if cause == "unknown code" else "mtb[language]"
    ) in said
