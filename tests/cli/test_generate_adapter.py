"""`mtb generate --model-path ADAPTER`: a LoRA adapter on a tiny random Llama, end to end through the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import read_jsonl
from mtb.cli.main import app


def generate(runner: CliRunner, data_dir: Path, model: Path, model_id: str, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        [
            "generate",
            "--model-path",
            str(model),
            "--model-id",
            model_id,
            "--backend",
            "hf",
            "--force-temperature",
            "0",
            "--first-n",
            "3",
            "--max-new-tokens",
            "8",
            "--data-dir",
            str(data_dir),
            "--no-progress",
            *extra,
        ],
    )


def answers(data_dir: Path, model_id: str) -> list[dict]:  # type: ignore[type-arg]
    return read_jsonl(data_dir / "mt_bench" / "model_answer" / f"{model_id}.jsonl")


def manifest_sha256(folder: Path) -> str:
    """What README says `adapter_sha256` is: `sha256sum adapter_config.json adapter_model.* | sha256sum`."""
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("adapter_"))
    lines = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in names)
    return hashlib.sha256(lines.encode()).hexdigest()


def test_adapter_answers_differ_from_the_base_and_name_both_folders(
    runner: CliRunner, tiny_model: Path, tiny_adapter: Path, data_dir: Path
) -> None:
    lora = generate(runner, data_dir, tiny_adapter, "tiny-lora")
    assert lora.exit_code == 0, lora.stderr
    assert f"adapter {tiny_adapter} on {tiny_model}" in lora.stderr
    base = generate(runner, data_dir, tiny_model, "tiny-base")
    assert base.exit_code == 0, base.stderr

    with_adapter, bare = answers(data_dir, "tiny-lora"), answers(data_dir, "tiny-base")
    assert len(with_adapter) == len(bare) == 3
    assert [r["question_id"] for r in with_adapter] == [r["question_id"] for r in bare]
    # Greedy decoding both times: only the adapter's weights can make the answers differ.
    turns = [turn for r in with_adapter for turn in r["choices"][0]["turns"]]
    assert turns != [turn for r in bare for turn in r["choices"][0]["turns"]]
    assert all(len(r["choices"][0]["turns"]) == 2 for r in with_adapter)

    for record in with_adapter:
        assert record["adapter"] == str(tiny_adapter.resolve())
        assert record["base_model"] == str(tiny_model.resolve())
        assert record["adapter_sha256"] == manifest_sha256(tiny_adapter)
        assert len(record["base_model_fingerprint"]) == 64
        assert record["adapter_merged"] is False
    assert "adapter" not in bare[0] and "base_model" not in bare[0]

    # Merged into the base's weights, the adapter gives the same greedy answers.
    merged = generate(runner, data_dir, tiny_adapter, "tiny-merged", "--merge-adapter")
    assert merged.exit_code == 0, merged.stderr
    merged_rows = answers(data_dir, "tiny-merged")
    assert [r["choices"] for r in merged_rows] == [r["choices"] for r in with_adapter]
    assert {r["adapter_merged"] for r in merged_rows} == {True}

    rerun = generate(runner, data_dir, tiny_adapter, "tiny-lora")
    assert rerun.exit_code == 0 and "0 new, 3 already in" in rerun.stderr


def test_base_model_flag_overrides_the_adapters_config(
    runner: CliRunner, tiny_model: Path, tiny_adapter: Path, data_dir: Path, tmp_path: Path
) -> None:
    adapter = tmp_path / "moved-lora"
    shutil.copytree(tiny_adapter, adapter)
    set_base(adapter, "/no/such/base")
    missing = generate(runner, data_dir, adapter, "moved")
    assert missing.exit_code == 2
    assert "/no/such/base: base model folder not found" in missing.stderr
    assert "--base-model" in missing.stderr and "Traceback" not in missing.stderr

    found = generate(runner, data_dir, adapter, "moved", "--base-model", str(tiny_model))
    assert found.exit_code == 0, found.stderr
    assert {r["base_model"] for r in answers(data_dir, "moved")} == {str(tiny_model.resolve())}


def set_base(adapter: Path, base: str) -> None:
    config = adapter / "adapter_config.json"
    settings = json.loads(config.read_text())
    settings["base_model_name_or_path"] = base
    config.write_text(json.dumps(settings))


@pytest.fixture(scope="module")
def wider_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", reason="needs the local extra")
    from mtb.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "wider", hidden_size=96)


def test_an_adapter_for_another_base_is_a_clear_error(
    runner: CliRunner, tiny_adapter: Path, wider_model: Path, data_dir: Path
) -> None:
    result = generate(runner, data_dir, tiny_adapter, "misfit", "--base-model", str(wider_model))
    assert result.exit_code == 2, result.stderr
    assert "the adapter does not fit the base model" in result.stderr
    assert "shapes" in result.stderr and str(wider_model) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data_dir / "mt_bench" / "model_answer" / "misfit.jsonl").exists()


def test_target_modules_the_base_lacks_are_a_clear_error(
    runner: CliRunner, tiny_adapter: Path, data_dir: Path, tmp_path: Path
) -> None:
    adapter = tmp_path / "other-targets"
    shutil.copytree(tiny_adapter, adapter)
    config = adapter / "adapter_config.json"
    settings = json.loads(config.read_text())
    settings["target_modules"] = ["query_key_value"]  # a GPT-NeoX module name, not Llama's
    config.write_text(json.dumps(settings))
    result = generate(runner, data_dir, adapter, "targets")
    assert result.exit_code == 2, result.stderr
    assert "does not fit the base model" in result.stderr and "query_key_value" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"base_model_name_or_path": "x",\n  "r": }', "adapter_config.json:2: not valid JSON"),
        ('{"r": 4}', "names no base model (base_model_name_or_path); give one with --base-model"),
        ('{"base_model_name_or_path": 7}', "'base_model_name_or_path' must be a string"),
        ('{"base_model_name_or_path": "./nowhere", "r": 4}', "base model folder not found"),
        ('{"base_model_name_or_path": "x", "r": true}', "'r' must be a positive integer"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_adapter_configs_are_path_line_errors_before_any_load(
    runner: CliRunner, data_dir: Path, tmp_path: Path, content: str, message: str
) -> None:
    # No model is loaded for these, so they need neither torch nor peft.
    adapter = tmp_path / "bad-adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(content)
    result = generate(runner, data_dir, adapter, "bad")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "adapter_config.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_adapter_flags_need_an_adapter(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    base = generate(runner, data_dir, plain, "plain", "--base-model", "org/base")
    assert base.exit_code == 2 and "--base-model applies to adapter folders" in base.stderr
    merge = generate(runner, data_dir, plain, "plain", "--merge-adapter")
    assert merge.exit_code == 2 and "--merge-adapter applies to adapter folders" in merge.stderr
    api = runner.invoke(
        app, ["generate", "--model", "m", "--merge-adapter", "--data-dir", str(data_dir), "--first-n", "1"]
    )
    assert api.exit_code == 2 and "--merge-adapter only apply to local models" in api.stderr
