"""Adapter folders: their base, vLLM's LoRA arguments, the chat template's source, and corrupt configs."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtb.backends.adapters import resolve_adapter, vllm_lora_rank
from mtb.backends.local_base import LocalModelConfig, template_hash, vllm_engine_arguments
from mtb.cli.main import app
from mtb.errors import DataError, UsageError

OTHER_TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}<|end|>{% endfor %}<|assistant|>"


def adapter_folder(tmp_path: Path, base: str, **extra: object) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir(exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, **extra}))
    return folder


def test_vllm_loads_the_base_once_with_lora_enabled(tmp_path: Path) -> None:
    adapter = resolve_adapter(str(adapter_folder(tmp_path, "org/base", r=12)), None)
    assert adapter is not None and adapter.base == "org/base" and not adapter.has_tokenizer
    arguments = vllm_engine_arguments(LocalModelConfig(str(adapter.path), revision="v1"), adapter)
    assert arguments["model"] == arguments["tokenizer"] == "org/base"
    assert arguments["enable_lora"] is True and arguments["max_lora_rank"] == 16
    assert arguments["revision"] is None  # --revision is the adapter's, never silently the base's
    (adapter.path / "tokenizer_config.json").write_text("{}")
    with_tokenizer = resolve_adapter(str(adapter.path), "org/other")
    assert with_tokenizer is not None and with_tokenizer.base_from_flag
    assert vllm_engine_arguments(LocalModelConfig(str(adapter.path)), with_tokenizer)["tokenizer"] == str(
        adapter.path
    )


def test_lora_ranks_round_up_to_what_vllm_accepts() -> None:
    assert [vllm_lora_rank(r) for r in (None, 1, 2, 8, 9, 300, 512)] == [16, 1, 8, 8, 16, 320, 512]
    with pytest.raises(UsageError, match="above the largest"):
        vllm_lora_rank(1024)


def test_a_plain_model_folder_is_no_adapter(tmp_path: Path) -> None:
    assert resolve_adapter(str(tmp_path), None) is None
    with pytest.raises(UsageError, match="--base-model applies to adapter folders"):
        resolve_adapter(str(tmp_path), "org/base")


def test_a_base_folder_without_config_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty-base"
    empty.mkdir()
    with pytest.raises(DataError, match=r"empty-base: the base model folder has no config\.json"):
        resolve_adapter(str(adapter_folder(tmp_path, str(empty))), None)


def test_the_chat_template_comes_from_the_adapters_tokenizer_else_the_base(
    tiny_model: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from mtb.backends.hf import HFBackend

    own = tmp_path / "own-tokenizer"
    shutil.copytree(tiny_adapter, own)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = OTHER_TEMPLATE
    tokenizer.save_pretrained(own)
    adapter = resolve_adapter(str(own), None)
    backend = HFBackend.load(LocalModelConfig(str(own), backend="hf"), adapter)
    assert backend.template_sha256 == template_hash(OTHER_TEMPLATE)
    assert backend.render([{"role": "user", "content": "hi"}]).startswith("[user] hi")

    # An adapter tokenizer without a template: the base's template.
    bare = tmp_path / "tokenizer-without-template"
    shutil.copytree(tiny_adapter, bare)
    tokenizer.chat_template = None
    tokenizer.save_pretrained(bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    base_template = AutoTokenizer.from_pretrained(tiny_model).chat_template
    fallback = HFBackend.load(LocalModelConfig(str(bare), backend="hf"), resolve_adapter(str(bare), None))
    assert fallback.template_sha256 == template_hash(base_template)


# Seeded damage to adapter_config.json, through `mtb generate`: never a traceback, always a named file.
DAMAGE = ("byte-flip", "truncate", "non-utf8", "wrong-type", "empty", "nan")


def damage(path: Path, kind: str, rng: random.Random) -> None:
    raw = bytearray(path.read_bytes())
    if kind == "byte-flip":
        for _ in range(3):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif kind == "truncate":
        raw = raw[: rng.randrange(1, len(raw))]
    elif kind == "non-utf8":
        raw[rng.randrange(len(raw))] = 0xFF
    elif kind == "wrong-type":
        raw = bytearray(json.dumps({"base_model_name_or_path": ["a"], "r": "4"}).encode())
    elif kind == "empty":
        raw = bytearray()
    elif kind == "nan":
        raw = bytearray(b'{"base_model_name_or_path": "/no/such/base", "r": NaN}')
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_adapter_config_is_never_a_traceback(kind: str, tmp_path: Path) -> None:
    data = tmp_path / "data" / "mt_bench"
    data.mkdir(parents=True)
    (data / "question.jsonl").write_text(
        json.dumps({"question_id": 1, "category": "writing", "turns": ["hi"]}) + "\n"
    )
    folder = adapter_folder(tmp_path, "/no/such/base", r=8, peft_type="LORA", target_modules=["q_proj"])
    damage(folder / "adapter_config.json", kind, random.Random(f"adapter-{kind}"))
    result = CliRunner().invoke(
        app, ["generate", "--model-path", str(folder), "--data-dir", str(tmp_path / "data"), "--no-progress"]
    )
    shown = f"exit {result.exit_code}\n{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert result.exit_code == 2, shown
    assert "Traceback" not in result.stderr
    assert "adapter_config.json" in result.stderr or "/no/such/base" in result.stderr, shown
