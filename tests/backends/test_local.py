"""What the local backends share: backend choice, vLLM's arguments, and the error messages."""

from __future__ import annotations

import pytest

from mtb.backends.local import pick_backend
from mtb.backends.local_base import LocalModelConfig, load_error, vllm_engine_arguments
from mtb.errors import UsageError


def test_vllm_arguments_map_the_flags() -> None:
    config = LocalModelConfig(
        model_path="org/m",
        dtype="bfloat16",
        revision="v2",
        seed=3,
        tensor_parallel_size=2,
        num_gpus_total=8,
        max_model_len=4096,
        gpu_memory_utilization=0.8,
    )
    assert vllm_engine_arguments(config) == {
        "model": "org/m",
        "tokenizer": "org/m",
        "revision": "v2",
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "seed": 3,
        "max_model_len": 4096,
        "data_parallel_size": 4,  # 8 GPUs, 2 per replica
    }
    single = vllm_engine_arguments(LocalModelConfig(model_path="m", tensor_parallel_size=2, num_gpus_total=2))
    assert "data_parallel_size" not in single and "max_model_len" not in single
    with pytest.raises(UsageError, match="not a multiple"):
        vllm_engine_arguments(LocalModelConfig(model_path="m", tensor_parallel_size=2, num_gpus_total=3))


def test_out_of_memory_suggests_what_to_change() -> None:
    torch = pytest.importorskip("torch", reason="needs the local extra")
    error = load_error(
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), LocalModelConfig("m")
    )
    message = str(error)
    assert "--tensor-parallel-size" in message and "--max-model-len" in message
    assert "Tried to allocate 2.00 GiB" in message


def test_offline_and_bad_dtype_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE=1" in str(load_error(OSError("not cached"), LocalModelConfig("org/m")))
    bad = load_error(
        TypeError("'bfloat16' is not supported on this device"), LocalModelConfig("m", dtype="bfloat16")
    )
    assert "--dtype bfloat16 is not supported here" in str(bad)


def test_explicit_backends_are_kept_and_unknown_ones_refused() -> None:
    assert pick_backend("hf") == "hf" and pick_backend("vllm") == "vllm"
    with pytest.raises(UsageError, match="unknown --backend"):
        pick_backend("tgi")
