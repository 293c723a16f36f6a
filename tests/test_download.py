"""The download plan read from questions/<bench>.toml, checked against the files we hold."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mtb.download import FileSpec, Source, atomic_target, is_present, load_plan, select, source_url
from mtb.errors import UsageError

# FastChat's download_mt_bench_pregenerated.py lists these 31 models.
FASTCHAT_MODELS = sorted(
    [
        "alpaca-13b",
        "baize-v2-13b",
        "chatglm-6b",
        "claude-instant-v1",
        "claude-v1",
        "dolly-v2-12b",
        "falcon-40b-instruct",
        "fastchat-t5-3b",
        "gpt-3.5-turbo",
        "gpt-4",
        "gpt4all-13b-snoozy",
        "guanaco-33b",
        "guanaco-65b",
        "h2ogpt-oasst-open-llama-13b",
        "koala-13b",
        "llama-13b",
        "mpt-30b-chat",
        "mpt-30b-instruct",
        "mpt-7b-chat",
        "nous-hermes-13b",
        "oasst-sft-4-pythia-12b",
        "oasst-sft-7-llama-30b",
        "palm-2-chat-bison-001",
        "rwkv-4-raven-14b",
        "stablelm-tuned-alpha-7b",
        "tulu-30b",
        "vicuna-13b-v1.3",
        "vicuna-33b-v1.3",
        "vicuna-7b-v1.3",
        "wizardlm-13b",
        "wizardlm-30b",
    ]
)


def test_mt_bench_plan_is_fastchats_list() -> None:
    plan = load_plan("mt_bench")
    assert sorted(f.model for f in plan if f.model) == FASTCHAT_MODELS
    by_path = {f.path: f for f in plan}
    assert (
        by_path["mt_bench/model_answer/gpt-4.jsonl"].remote_path == "data/mt_bench/model_answer/gpt-4.jsonl"
    )
    assert by_path["mt_bench/model_answer/gpt-4.jsonl"].source.repo_type == "space"
    assert by_path["judge_prompts.jsonl"].remote_path == "fastchat/llm_judge/data/judge_prompts.jsonl"
    judgments = [f for f in plan if "model_judgment" in f.path]
    assert sorted(f.path.rsplit("/", 1)[1] for f in judgments) == ["gpt-4_pair.jsonl", "gpt-4_single.jsonl"]
    assert all(f.optional and f.sha256 is None for f in judgments)


@pytest.mark.parametrize("bench", ["mt_bench", "arena-hard-v0.1", "arena-hard-v2.0"])
def test_every_hash_we_can_check_matches_the_files_we_hold(bench: str, shared_data: Path) -> None:
    checked = 0
    for spec in load_plan(bench):
        held = shared_data / spec.path
        if spec.sha256 is None or not held.exists():
            continue
        digest = hashlib.sha256(held.read_bytes()).hexdigest()
        if spec.source.kind == "github" or bench == "mt_bench":
            assert digest == spec.sha256, spec.path
            checked += 1
    assert checked >= {"mt_bench": 34, "arena-hard-v0.1": 5, "arena-hard-v2.0": 4}[bench]


def test_arena_hard_sources() -> None:
    plan = load_plan("arena-hard-v0.1")
    by_path = {f.path: f for f in plan}
    assert by_path["arena-hard-v0.1/config/judge_config.yaml"].remote_path == "config/judge_config.yaml"
    assert by_path["arena-hard-v0.1/question.jsonl"].remote_path == "data/arena-hard-v0.1/question.jsonl"
    answer = by_path["arena-hard-v0.1/model_answer/gpt-4-0314.jsonl"]
    assert (answer.source.repo, answer.source.repo_type) == ("lmsys/arena-hard-browser", "space")
    assert len([f for f in plan if f.path.startswith("arena-hard-v0.1/model_answer/")]) == 75


def test_select_by_model() -> None:
    plan = load_plan("mt_bench")
    chosen = select(plan, ["gpt-4"])
    assert [f.model for f in chosen if f.model] == ["gpt-4"]
    assert len(chosen) == len(plan) - 30
    with pytest.raises(UsageError, match="no published files for: nope"):
        select(plan, ["gpt-4", "nope"])


def test_atomic_target_leaves_nothing_on_error(tmp_path: Path) -> None:
    dest = tmp_path / "d" / "file.jsonl"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_target(dest) as (handle, _temp):
        handle.write(b"half of the new")
        raise RuntimeError("cut")
    assert dest.read_bytes() == b"old"
    assert [p.name for p in dest.parent.iterdir()] == ["file.jsonl"]


def test_is_present_checks_the_hash(tmp_path: Path) -> None:
    source = Source("s", "github", "o/r", "c")
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    right = hashlib.sha256(b"abc").hexdigest()
    assert is_present(path, FileSpec("f", source, right))
    assert not is_present(path, FileSpec("f", source, "0" * 64))
    assert is_present(path, FileSpec("f", source, None))
    assert not is_present(tmp_path / "missing", FileSpec("missing", source, None))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('path = "../outside.jsonl"\nsource = "s"', "must stay inside the data directory"),
        ('path = "a.jsonl"\nsource = "nowhere"', "unknown source 'nowhere'"),
        ('path = "a.jsonl"\nsource = "s"\nsha256 = "abc"', "sha256 must be 64 lowercase hex digits"),
    ],
)
def test_bad_download_tables_are_data_errors(
    entry: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtb.errors import DataError

    (tmp_path / "bench.toml").write_text(
        'name = "bench"\n[download.sources.s]\nkind = "github"\nrepo = "o/r"\nrevision = "c"\n\n'
        f"[[download.files]]\n{entry}\n"
    )
    # A manifest path works like a name (--bench PATH).
    with pytest.raises(DataError, match=message):
        load_plan(str(tmp_path / "bench.toml"))


def test_arena_hard_v2_sources() -> None:
    plan = load_plan("arena-hard-v2.0")
    urls = sorted(source_url(spec, None) or "" for spec in plan)
    base = (
        "https://raw.githubusercontent.com/lmarena/arena-hard-auto/196f6b826783b3da7310e361a805fa36f0be83f3"
    )
    assert urls == [
        f"{base}/config/arena-hard-v2.0.yaml",
        f"{base}/data/arena-hard-v2.0/model_answer/o3-mini-2025-01-31.jsonl",
        f"{base}/data/arena-hard-v2.0/question.jsonl",
        f"{base}/utils/judge_utils.py",
    ]
    assert all(spec.sha256 for spec in plan)
    assert [spec.model for spec in plan if spec.model] == ["o3-mini-2025-01-31"]


def test_chatbot_arena_sources_are_the_public_bucket_and_the_hub_dataset() -> None:
    files = {spec.path: spec for spec in load_plan("chatbot-arena")}
    log = files["chatbot-arena/clean_battle_20240814_public.json"]
    assert log.source.kind == "url" and log.sha256 is None  # no published hash: checked by parsing
    assert source_url(log, None) == (
        "https://storage.googleapis.com/arena_external_data/public/clean_battle_20240814_public.json"
    )
    conversations = next(s for p, s in files.items() if p.endswith(".parquet"))
    assert conversations.source.kind == "hf"
    assert conversations.source.repo == "lmsys/chatbot_arena_conversations"
    assert conversations.source.repo_type == "dataset" and source_url(conversations, None) is None


def test_a_large_unpinned_json_is_checked_as_a_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mtb.download as download

    monkeypatch.setattr(download, "LARGE_JSON", 10)
    good = tmp_path / "good.json"
    good.write_text('[\n  {"a": 1},\n  {"b": 2}\n]\n', encoding="utf-8")
    assert download.format_problem(good, "x.json") is None
    cut = tmp_path / "cut.json"
    cut.write_text('[\n  {"a": 1},\n  {"b": ', encoding="utf-8")
    assert "line 3" in (download.format_problem(cut, "x.json") or "")
    page = tmp_path / "page.json"
    page.write_text("<html><body>sign in</body></html>" * 3, encoding="utf-8")
    assert "HTML" in (download.format_problem(page, "x.json") or "")


def test_an_unpinned_parquet_file_is_checked_by_its_framing_and_footer(tmp_path: Path) -> None:
    import mtb.download as download
    from helpers import write_hub_votes_parquet

    good = tmp_path / "good.parquet"
    vote = {"question_id": 81, "model_a": "a", "model_b": "b", "winner": "tie", "judge": "expert_0"}
    vote["turn"] = 1
    write_hub_votes_parquet(good, [vote])
    data = good.read_bytes()
    assert download.format_problem(good, "mt_bench/human_judgments.parquet") is None

    def problem(content: bytes) -> str:
        path = tmp_path / "bad.parquet"
        path.write_bytes(content)
        return download.format_problem(path, "mt_bench/human_judgments.parquet") or ""

    assert "too short" in problem(b"")
    assert "no PAR1 at the end" in problem(data[: len(data) // 2])  # a transfer cut short
    assert "HTML" in problem(b"<html><body>sign in to continue</body></html>")
    assert "no PAR1 at the start" in problem(b"\x00" * 4 + data[4:])
    # The magic at both ends but a damaged footer: pyarrow cannot read its metadata.
    assert "not a readable Parquet file" in problem(data[:4] + b"\x00" * (len(data) - 8) + data[-4:])


def test_part_files_are_not_data(tmp_path: Path) -> None:
    """A transfer's `.part` beside the answers is never taken for a model's answers."""
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.download import part_path

    data = DataDir(tmp_path, Benchmark.load("mt_bench"))
    data.answer_dir.mkdir(parents=True)
    (data.answer_dir / "gpt-4.jsonl").write_text('{"question_id": 81}\n')
    part_path(data.answer_dir / "vicuna.jsonl").write_text('{"question_id": 81}\n')
    assert data.answer_models() == ["gpt-4"]
