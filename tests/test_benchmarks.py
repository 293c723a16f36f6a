from pathlib import Path

import pytest

from mtb.benchmarks import Benchmark
from mtb.data import DataDir
from mtb.errors import DataError, UsageError
from mtb.protocols.mt_bench.judging import judge_prompts, reference_answers
from mtb.protocols.mt_bench.prompts import PromptMap


def test_mt_bench_manifest_has_fastchats_temperature_table() -> None:
    bench = Benchmark.load("mt_bench")
    expected = {
        "writing": 0.7,
        "roleplay": 0.7,
        "extraction": 0.0,
        "math": 0.0,
        "coding": 0.0,
        "reasoning": 0.0,
        "stem": 0.1,
        "humanities": 0.1,
    }
    assert {c: bench.temperature_for(c) for c in expected} == expected
    assert bench.temperature_for("anything-else") == 0.7
    settings = bench.settings
    assert settings.reference_categories == {"math", "reasoning", "coding"}
    assert (settings.judge_temperature, settings.judge_max_tokens, bench.max_tokens) == (0.0, 2048, 1024)


def test_prompt_map_matches_fastchat() -> None:
    prompts = PromptMap.load("mt_bench")
    assert prompts.prompt_name("single", False, 1) == "single-v1"
    assert prompts.prompt_name("single", True, 1) == "single-math-v1"
    assert prompts.prompt_name("single", False, 2) == "single-v1-multi-turn"
    assert prompts.prompt_name("single", True, 2) == "single-math-v1-multi-turn"
    assert prompts.prompt_name("pairwise", True, 2) == "pair-math-v1-multi-turn"


def test_unknown_benchmark_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"known: .*mt_bench"):
        Benchmark.load("nope")


def test_real_data_loads(data_dir: Path) -> None:
    data = DataDir(data_dir, Benchmark.load("mt_bench"))
    questions = data.questions()
    assert len(questions) == 80
    assert {q.category for q in questions} == set(Benchmark.load("mt_bench").category_order)
    assert len(judge_prompts(data, data.bench.settings)) == 8
    assert len(data.answer_models()) == 31
    assert len(reference_answers(data, data.bench.settings, "gpt-4")) == 30
    # The file name is the model's name, whatever model_id says inside.
    assert data.answers("vicuna-13b-v1.3")[81].model_id == "vicuna-13b-hao-0515"


def test_missing_data_says_where_it_looked_and_how_to_fix(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "nowhere", Benchmark.load("mt_bench"))
    with pytest.raises(DataError) as info:
        data.questions()
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "mt_bench" / "question.jsonl") in message
    assert "--data-dir" in message and "MTB_DATA_DIR" in message


def test_duplicate_question_ids_are_an_error(data_dir: Path) -> None:
    path = data_dir / "mt_bench" / "question.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[0]]) + "\n")
    with pytest.raises(DataError, match="appears twice"):
        DataDir(data_dir, Benchmark.load("mt_bench")).questions()


@pytest.mark.parametrize(("turns", "message"), [("0", "1 or more"), ("10" * 12, "at most 100")])
def test_turns_out_of_range_is_an_error_naming_the_manifest(tmp_path: Path, turns: str, message: str) -> None:
    # turns = 10**23 made `mtb results` loop over the turn columns for ever.
    text = (Path(__file__).parents[1] / "questions" / "mt_bench.toml").read_text(encoding="utf-8")
    manifest = tmp_path / "odd.toml"
    manifest.write_text(text.replace("\nturns = 2\n", f"\nturns = {turns}\n"), encoding="utf-8")
    with pytest.raises(DataError, match=message) as caught:
        Benchmark.load(str(manifest))
    assert str(manifest) in str(caught.value)


def test_a_language_set_for_a_family_that_never_reads_it_is_an_error(tmp_path: Path) -> None:
    # Arena-Hard never checked the answers' language: `language = "ko"` promised a check no one made.
    text = (Path(__file__).parents[1] / "questions" / "arena-hard-v0.1.toml").read_text(encoding="utf-8")
    manifest = tmp_path / "arena-ko.toml"
    manifest.write_text('language = "ko"\n' + text, encoding="utf-8")
    with pytest.raises(DataError, match="'language' is read by MT-bench's results") as caught:
        Benchmark.load(str(manifest))
    assert str(manifest) in str(caught.value)
