"""`mtb --help` and `mtb results` must not import the heavy optional packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "torch",
    "transformers",
    "vllm",
    "litellm",
    "matplotlib",
    "playwright",
    "huggingface_hub",
    "pyarrow",
)


@pytest.fixture
def tripwires(tmp_path: Path) -> tuple[Path, Path]:
    """Stand-in packages that leave a mark when imported; they shadow any real install."""
    stubs, marks = tmp_path / "stubs", tmp_path / "marks"
    marks.mkdir()
    for name in HEAVY:
        (stubs / name).mkdir(parents=True)
        (stubs / name / "__init__.py").write_text(
            f"import pathlib\npathlib.Path({str(marks)!r}, {name!r}).touch()\n"
            "def __getattr__(name):\n    raise AttributeError(name)\n"
        )
    return stubs, marks


def run_mtb(stubs: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(stubs), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "mtb", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_help_imports_nothing_heavy(tripwires: tuple[Path, Path]) -> None:
    stubs, marks = tripwires
    for args in (
        ["--help"],
        ["generate", "--help"],
        ["judge", "--help"],
        ["results", "--help"],
        ["download-baselines", "--help"],
        ["browse", "--help"],
    ):
        result = run_mtb(stubs, *args)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in marks.iterdir()) == []


def test_results_imports_nothing_heavy(tripwires: tuple[Path, Path], data_dir: Path) -> None:
    stubs, marks = tripwires
    path = data_dir / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    path.parent.mkdir(parents=True)
    row = {
        "question_id": 81,
        "model": "m",
        "judge": ["gpt-4", "single-v1"],
        "user_prompt": "p",
        "judgment": "[[5]]",
        "score": 5,
        "turn": 1,
        "tstamp": 0,
    }
    path.write_text(json.dumps(row) + "\n")
    result = run_mtb(stubs, "results", "--data-dir", str(data_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["average"] == 5
    assert sorted(p.name for p in marks.iterdir()) == []


def test_the_tripwire_does_fire(tripwires: tuple[Path, Path]) -> None:
    """Proof that the two tests above can fail: the litellm backend does import litellm."""
    stubs, marks = tripwires
    run_mtb(stubs, code="import mtb.backends.litellm_backend")
    assert "litellm" in [p.name for p in marks.iterdir()]
