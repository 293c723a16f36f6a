"""Users' own benchmarks: a manifest path for --bench, MTB_BENCH_PATH, more than two turns.

Nothing here needs the published data: the questions, judge prompts and prompt
maps are made in the test, as a user translating MT-bench would make them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import judge_rating_for, judge_responder, model_responder, read_jsonl
from mtb.cli.main import app
from mtb.resources import resource_dir
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply

QUESTIONS = [
    {"question_id": 1, "category": "writing", "turns": ["Écrivez un haïku sur la mer.", "Traduisez-le."]},
    {"question_id": 2, "category": "roleplay", "turns": ["Jouez un guide à Paris.", "Et à Lyon ?"]},
    {"question_id": 3, "category": "stem", "turns": ["Qu'est-ce qu'un photon ?", "Et un phonon ?"]},
]

# Our own French judge prompts, under the names the shipped prompt map uses.
PROMPT_TEMPLATE_1 = "[Question]\n{question}\n\n[Réponse de l'assistant]\n{answer}\n[Fin]"
PROMPT_TEMPLATE_2 = (
    "<|Q1|>{question_1}<|A1|>{answer_1}<|Q2|>{question_2}<|A2|>{answer_2}<|Fin|>\n"
    "Notez la deuxième réponse : [[note]]."
)


def judge_prompt(name: str, template: str) -> dict[str, str]:
    return {
        "name": name,
        "type": "single",
        "system_prompt": "Vous êtes un juge impartial. Donnez une note de 1 à 10 au format [[note]].",
        "prompt_template": template,
        "description": "traduction",
        "category": "general",
        "output_format": "[[rating]]",
    }


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def french_bench(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of questions/mt_bench.toml where only `name` and the [files] paths change."""
    shipped = (resource_dir("questions") / "mt_bench.toml").read_text(encoding="utf-8")
    manifest = re.sub(r'^name = "mt_bench"$', 'name = "mt_bench_fr"', shipped, flags=re.M)
    manifest = manifest.replace('"mt_bench/', '"mt_bench_fr/').replace(
        'judge_prompts = "judge_prompts.jsonl"', 'judge_prompts = "mt_bench_fr/judge_prompts.jsonl"'
    )
    assert manifest != shipped
    folder = tmp_path / "benches"
    folder.mkdir()
    path = folder / "mt_bench_fr.toml"
    path.write_text(manifest, encoding="utf-8")

    data = tmp_path / "data"
    write_jsonl(data / "mt_bench_fr" / "question.jsonl", list(QUESTIONS))
    prompts = [
        judge_prompt("single-v1", PROMPT_TEMPLATE_1),
        judge_prompt("single-v1-multi-turn", PROMPT_TEMPLATE_2),
        judge_prompt("single-math-v1", PROMPT_TEMPLATE_1),
        judge_prompt("single-math-v1-multi-turn", PROMPT_TEMPLATE_2),
    ]
    write_jsonl(data / "mt_bench_fr" / "judge_prompts.jsonl", prompts)
    return path, data


def test_a_manifest_path_runs_generate_judge_results(
    runner: CliRunner, server: OpenAIServer, french_bench: tuple[Path, Path]
) -> None:
    manifest, data = french_bench

    def respond(request: RecordedRequest) -> Reply:
        return judge_responder(request) if request.body["model"] == "judge-x" else model_responder(request)

    server.responder = respond
    common = ["--bench", str(manifest), "--data-dir", str(data)]
    generated = runner.invoke(app, ["generate", "--model", "my-model", "--api-base", server.url, *common])
    assert generated.exit_code == 0, generated.stderr
    answers = read_jsonl(data / "mt_bench_fr" / "model_answer" / "my-model.jsonl")
    assert [len(a["choices"][0]["turns"]) for a in answers] == [2, 2, 2]

    judged = runner.invoke(
        app,
        [
            "judge",
            "--model-list",
            "my-model",
            "--judge-model",
            "judge-x",
            "--judge-api-base",
            server.url,
            *common,
        ],
    )
    assert judged.exit_code == 0, judged.stderr
    judgments = read_jsonl(data / "mt_bench_fr" / "model_judgment" / "judge-x_single.jsonl")
    assert len(judgments) == 6
    judge_requests = [r for r in server.requests if r.body["model"] == "judge-x"]
    assert all(r.messages[0]["content"].startswith("Vous êtes un juge") for r in judge_requests)
    assert {r["judge"][1] for r in judgments} == {"single-v1", "single-v1-multi-turn"}
    assert all("Écrivez un haïku" in r["user_prompt"] for r in judgments if r["question_id"] == 1)

    shown = runner.invoke(app, ["results", "--judge-model", "judge-x", "--format", "json", *common])
    assert shown.exit_code == 0, shown.stderr
    (score,) = json.loads(shown.stdout)
    expected = [judge_rating_for(r["user_prompt"]) for r in judgments]
    assert score["model"] == "my-model" and score["judgments"] == 6
    assert score["average"] == pytest.approx(sum(expected) / len(expected))
    assert set(score["categories"]) == {"writing", "roleplay", "stem"}


def test_a_name_on_mtb_bench_path(
    runner: CliRunner, french_bench: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, data = french_bench
    monkeypatch.setenv("MTB_BENCH_PATH", str(manifest.parent))
    planned = runner.invoke(
        app, ["judge", "--bench", "mt_bench_fr", "--data-dir", str(data), "--model-list", "x", "--dry-run"]
    )
    # Found by name: the error is about the missing answers of `x`, not an unknown benchmark.
    assert planned.exit_code == 2
    assert "no answers for 'x'" in planned.stderr
    unknown = runner.invoke(app, ["results", "--bench", "nope", "--data-dir", str(data)])
    assert unknown.exit_code == 2
    assert "mt_bench_fr" in unknown.stderr and "MTB_BENCH_PATH" in unknown.stderr


def three_turn_bench(tmp_path: Path, map_turn_3: bool) -> tuple[Path, Path]:
    folder = tmp_path / "three"
    folder.mkdir(parents=True)
    turn_3 = 'turn_3 = "single-3"\n' if map_turn_3 else ""
    (folder / "prompts.toml").write_text(
        '[single.general]\nturn_1 = "single-1"\nturn_2 = "single-2"\n' + turn_3,
        encoding="utf-8",
    )
    (folder / "three.toml").write_text(
        'name = "three"\nturns = 3\n[files]\nquestions = "three/question.jsonl"\n'
        'answers = "three/model_answer"\njudgments = "three/model_judgment"\n'
        'judge_prompts = "three/judge_prompts.jsonl"\n[judging]\nprompt_map = "prompts.toml"\n',
        encoding="utf-8",
    )
    data = tmp_path / "data"
    write_jsonl(
        data / "three" / "question.jsonl",
        [{"question_id": "a", "category": "chat", "turns": ["one?", "two?", "three?"]}],
    )
    write_jsonl(
        data / "three" / "judge_prompts.jsonl",
        [
            judge_prompt("single-1", "{question} / {answer}"),
            judge_prompt("single-2", "{question_1} {answer_1} {question_2} {answer_2}"),
            judge_prompt("single-3", "Q3={question_3} A3={answer_3} (after {question_1}, {question_2})"),
        ],
    )
    return folder / "three.toml", data


def test_three_turns_generate_and_judge(runner: CliRunner, server: OpenAIServer, tmp_path: Path) -> None:
    manifest, data = three_turn_bench(tmp_path, map_turn_3=True)

    def respond(request: RecordedRequest) -> Reply:
        return judge_responder(request) if request.body["model"] == "judge-x" else model_responder(request)

    server.responder = respond
    common = ["--bench", str(manifest), "--data-dir", str(data)]
    generated = runner.invoke(app, ["generate", "--model", "m", "--api-base", server.url, *common])
    assert generated.exit_code == 0, generated.stderr
    (answer,) = read_jsonl(data / "three" / "model_answer" / "m.jsonl")
    assert [t.split(" answer")[0] for t in answer["choices"][0]["turns"]] == ["turn 1", "turn 2", "turn 3"]
    judged = runner.invoke(
        app,
        ["judge", "--model-list", "m", "--judge-model", "judge-x", "--judge-api-base", server.url, *common],
    )
    assert judged.exit_code == 0, judged.stderr
    rows = {r["turn"]: r for r in read_jsonl(data / "three" / "model_judgment" / "judge-x_single.jsonl")}
    assert sorted(rows) == [1, 2, 3]
    assert rows[3]["user_prompt"] == (f"Q3=three? A3={answer['choices'][0]['turns'][2]} (after one?, two?)")


def test_an_unmapped_third_turn_is_refused_before_any_call(
    runner: CliRunner, server: OpenAIServer, tmp_path: Path
) -> None:
    manifest, data = three_turn_bench(tmp_path, map_turn_3=False)
    write_jsonl(
        data / "three" / "model_answer" / "m.jsonl",
        [{"question_id": "a", "model_id": "m", "choices": [{"index": 0, "turns": ["1", "2", "3"]}]}],
    )
    judged = runner.invoke(
        app,
        [
            "judge",
            "--bench",
            str(manifest),
            "--data-dir",
            str(data),
            "--model-list",
            "m",
            "--judge-api-base",
            server.url,
        ],
    )
    assert judged.exit_code == 2
    assert "turn 3" in judged.stderr and "prompts.toml" in judged.stderr
    assert server.requests == []
