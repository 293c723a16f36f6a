"""Small helpers for tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mtb.testing.openai_server import RecordedRequest, Reply


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other line breaks Python splits on.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def judge_rating_for(prompt: str) -> int:
    """The rating the test judge gives: a pure function of the prompt it is shown, 1-10."""
    return len(prompt) % 10 + 1


def judge_responder(request: RecordedRequest) -> Reply:
    return Reply(text=f"The answer is fine.\n\nRating: [[{judge_rating_for(request.last_user_message)}]]")


def model_responder(request: RecordedRequest) -> Reply:
    """A model that says which turn it answers and what it was asked."""
    turn = sum(1 for m in request.messages if m["role"] == "user")
    return Reply(text=f"turn {turn} answer to: {request.last_user_message[:30]}")


# An answer that tries every way to run script or load something; the browser must show it as text.
EVIL_ANSWER = (
    "Sure! <script>window.__pwned = 'script'</script> and "
    "<img src=x onerror=\"window.__pwned = 'img'\"> and "
    "[click me](javascript:window.__pwned='link') and "
    "<a href=\"javascript:window.__pwned='anchor'\">raw link</a> "
    '<iframe src="http://example.com/"></iframe> ![remote](http://example.com/x.png) end'
)


def write_browse_fixtures(data_dir: Path, shared_data: Path) -> None:
    """Judgments of every kind the browser reads, small and predictable, beside the MT-bench copy.

    Single: gpt-4 gets score s = (question_id + turn) % 10 + 1 on every question, vicuna-7b-v1.3 s // 2 + 1.
    Pairwise: gpt-4 vs vicuna-7b-v1.3 on questions 81-85. An 'evil' model answers question 81.
    Arena-Hard: 3 questions, 2 answer files, one judgment file with two games.
    """
    questions = read_jsonl(data_dir / "mt_bench/question.jsonl")
    judgments = data_dir / "mt_bench/model_judgment"
    judgments.mkdir(parents=True, exist_ok=True)
    with (judgments / "gpt-4_single.jsonl").open("w") as handle:
        for model in ("gpt-4", "vicuna-7b-v1.3"):
            for q in questions:
                for turn in (1, 2):
                    score = (q["question_id"] + turn) % 10 + 1
                    if model != "gpt-4":
                        score = score // 2 + 1
                    row = {
                        "question_id": q["question_id"],
                        "model": model,
                        "judge": ["gpt-4", "single-v1" if turn == 1 else "single-v1-multi-turn"],
                        "user_prompt": "prompt",
                        "judgment": f"Judge says {model} on {q['question_id']} turn {turn}. [[{score}]]",
                        "score": score,
                        "turn": turn,
                        "tstamp": 0,
                    }
                    handle.write(json.dumps(row) + "\n")
    with (judgments / "gpt-4_pair.jsonl").open("w") as handle:
        for qid in range(81, 86):
            for turn in (1, 2):
                row = {
                    "question_id": qid,
                    "model_1": "gpt-4",
                    "model_2": "vicuna-7b-v1.3",
                    "g1_winner": "model_1",
                    "g2_winner": "tie",
                    "judge": ["gpt-4", "pair-v2" if turn == 1 else "pair-v2-multi-turn"],
                    "g1_user_prompt": "p1",
                    "g1_judgment": f"Game one reasoning for {qid}/{turn}. [[A]]",
                    "g2_user_prompt": "p2",
                    "g2_judgment": f"Game two reasoning for {qid}/{turn}. [[C]]",
                    "turn": turn,
                    "tstamp": 0,
                }
                handle.write(json.dumps(row) + "\n")
    evil = {
        "question_id": 81,
        "answer_id": "x",
        "model_id": "evil",
        "choices": [{"index": 0, "turns": [EVIL_ANSWER, "second turn " + EVIL_ANSWER]}],
        "tstamp": 0,
    }
    (data_dir / "mt_bench/model_answer/evil.jsonl").write_text(json.dumps(evil) + "\n")

    arena = data_dir / "arena-hard-v0.1"
    (arena / "model_answer").mkdir(parents=True)
    (arena / "config").mkdir()
    lines = (shared_data / "arena-hard-v0.1/question.jsonl").read_text().splitlines()[:3]
    (arena / "question.jsonl").write_text("\n".join(lines) + "\n")
    wanted = {json.loads(line)["question_id"] for line in lines}
    for model in ("gpt-4-0314", "gemma-2-9b-it"):
        rows = (shared_data / f"arena-hard-v0.1/model_answer/{model}.jsonl").read_text().splitlines()
        kept = [row for row in rows if json.loads(row)["question_id"] in wanted]
        (arena / f"model_answer/{model}.jsonl").write_text("\n".join(kept) + "\n")
    (arena / "config/judge_config.yaml").write_text(
        "judge_model: gpt-4-1106-preview\nbaseline_model: gpt-4-0314\n"
    )
    judge_dir = arena / "model_judgment/gpt-4-1106-preview"
    judge_dir.mkdir(parents=True)
    with (judge_dir / "gemma-2-9b-it.jsonl").open("w") as handle:
        for line in lines:
            qid = json.loads(line)["question_id"]
            row = {
                "question_id": qid,
                "model": "gemma-2-9b-it",
                "judge": "gpt-4-1106-preview",
                "games": [
                    {"user_prompt": "u", "judgment": f"First game on {qid}. [[B>A]]", "score": "B>A"},
                    {"user_prompt": "u", "judgment": f"Second game on {qid}. [[A=B]]", "score": "A=B"},
                ],
            }
            handle.write(json.dumps(row) + "\n")


# Judge prompts in the shape of FastChat's (same names, fields and placeholders), written
# here so that the tests built on them need no published data.
TINY_JUDGE_PROMPTS = [
    {
        "name": "single-v1",
        "type": "single",
        "system_prompt": "You are a helpful assistant.",
        "prompt_template": "[Instruction]\nRate the answer from 1 to 10, strictly in this format: "
        '"[[rating]]", for example: "Rating: [[5]]".\n\n[Question]\n{question}\n\n'
        "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
        "output_format": "[[rating]]",
    },
    {
        "name": "single-v1-multi-turn",
        "type": "single",
        "system_prompt": 'Rate the second answer from 1 to 10 in this format: "[[rating]]".',
        "prompt_template": "<|Turn 1|>\n{question_1}\n{answer_1}\n<|Turn 2|>\n{question_2}\n{answer_2}",
        "output_format": "[[rating]]",
    },
    {
        "name": "pair-v2",
        "type": "pairwise",
        "system_prompt": 'Say "[[A]]" if assistant A is better, "[[B]]" if B is, and "[[C]]" for a tie.',
        "prompt_template": "[User Question]\n{question}\n\n[A]\n{answer_a}\n\n[B]\n{answer_b}",
        "output_format": "[[A]]",
    },
    {
        "name": "pair-v2-multi-turn",
        "type": "pairwise",
        "system_prompt": 'Compare the second turns: "[[A]]", "[[B]]", or "[[C]]" for a tie.',
        "prompt_template": "{question_1}\n[A] {answer_a_1}\n[B] {answer_b_1}\n"
        "{question_2}\n[A] {answer_a_2}\n[B] {answer_b_2}",
        "output_format": "[[A]]",
    },
]

TINY_QUESTIONS = [
    {"question_id": 1, "category": "writing", "turns": ["Write a haiku about rain.", "Now one about snow."]},
    {"question_id": 2, "category": "roleplay", "turns": ["Pretend to be a pirate.", "Say goodbye."]},
    {"question_id": 3, "category": "writing", "turns": ["Describe a city.", "Make it shorter."]},
]


def write_tiny_benchmark(root: Path, answer_models: Sequence[str] = ()) -> Path:
    """A three-question MT-bench data directory, no reference categories, optionally with answers."""
    bench = root / "mt_bench"
    (bench / "model_answer").mkdir(parents=True)
    (root / "judge_prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in TINY_JUDGE_PROMPTS))
    (bench / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in TINY_QUESTIONS))
    for model in answer_models:
        rows = [
            {
                "question_id": q["question_id"],
                "answer_id": f"{model}-{q['question_id']}",
                "model_id": model,
                "choices": [{"index": 0, "turns": [f"{model} answers: {t}" for t in q["turns"]]}],
                "tstamp": 0,
            }
            for q in TINY_QUESTIONS
        ]
        (bench / "model_answer" / f"{model}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


# ---------------------------------------------------------------- Parquet files in the Hub's schemas

# Both datasets store each conversation as a list of {content, role}.
_CONVERSATION = [("content", "string"), ("role", "string")]


def _conversation_type() -> Any:
    import pyarrow as pa

    return pa.list_(pa.struct([(name, pa.string()) for name, _ in _CONVERSATION]))


def write_hub_votes_parquet(path: Path, records: Sequence[dict[str, Any]], row_group_size: int = 64) -> None:
    """`lmsys/mt_bench_human_judgments`' schema (its splits human and gpt4_pair): `judge` is a string."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("question_id", pa.int64()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("judge", pa.string()),
            ("conversation_a", _conversation_type()),
            ("conversation_b", _conversation_type()),
            ("turn", pa.int64()),
        ]
    )
    table = pa.Table.from_pylist([{name: r.get(name) for name in schema.names} for r in records], schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)


def write_arena_conversations_parquet(
    path: Path, battles: Sequence[dict[str, Any]], row_group_size: int = 256
) -> None:
    """`lmsys/chatbot_arena_conversations`' schema (2023): the battle fields, conversations, moderation."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    flag = pa.struct([("flagged", pa.bool_()), ("probability", pa.float64())])
    schema = pa.schema(
        [
            ("question_id", pa.string()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("judge", pa.string()),
            ("conversation_a", _conversation_type()),
            ("conversation_b", _conversation_type()),
            ("turn", pa.int64()),
            ("anony", pa.bool_()),
            ("language", pa.string()),
            ("tstamp", pa.float64()),
            ("openai_moderation", pa.struct([("flagged", pa.bool_())])),
            ("toxic_chat_tag", pa.struct([("roberta-large", flag), ("t5-large", flag)])),
        ]
    )
    rows = []
    for i, battle in enumerate(battles):
        said = [{"content": f"question {i}", "role": "user"}]
        rows.append(
            {
                "question_id": battle.get("question_id", f"{i:08x}"),
                "judge": battle.get("judge", f"arena_user_{i}"),
                "turn": battle.get("turn", 1),
                "conversation_a": [*said, {"content": f"{battle['model_a']} answers", "role": "assistant"}],
                "conversation_b": [*said, {"content": f"{battle['model_b']} answers", "role": "assistant"}],
                "openai_moderation": {"flagged": False},
                "toxic_chat_tag": {
                    "roberta-large": {"flagged": False, "probability": 0.01},
                    "t5-large": {"flagged": False, "probability": 0.0},
                },
                **{k: battle.get(k) for k in ("model_a", "model_b", "winner", "anony", "language", "tstamp")},
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema), path, row_group_size=row_group_size)
