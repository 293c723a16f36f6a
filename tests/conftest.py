"""Shared fixtures: the benchmark data copied to a temp dir, the HTTP test server, fast retries.

Tests that need something this machine may lack skip with the reason shown
(`-ra`), and carry a marker so that a run can select them or leave them out:

    data      the published benchmark data (../shared/data, or MTB_SHARED_DATA);
              added to every test that uses shared_data, data_dir or arena_dir
    browser   Debian's chromium driven by Playwright (the chromium fixture)
    gpu       a CUDA GPU (vLLM)
    slow      takes more than a few seconds

Where the suite must be complete (CI=true, or MTB_REQUIRE_DATA=1), missing
data fails instead of skipping; in CI, so does a missing chromium.
"""

from __future__ import annotations

import os

# Set before anything imports huggingface_hub or litellm: both read these at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["NO_COLOR"] = "1"
os.environ["COLUMNS"] = "200"

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from typer.testing import CliRunner

from mtb.testing.openai_server import OpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MTB_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


# CI must run everything it can; elsewhere a missing prerequisite is a skip with its reason.
IN_CI = _flag("CI")
REQUIRE_DATA = IN_CI or _flag("MTB_REQUIRE_DATA")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it needs, judged from the fixtures it uses (directly or not)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "shared_data" in fixtures:  # data_dir, arena_dir and browse_data request it too
            item.add_marker(pytest.mark.data)
        if "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)


def unavailable(reason: str, *, required: bool) -> NoReturn:
    """Fail where the test must run, skip with the reason elsewhere."""
    if required:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may reach a real provider with a developer's real key, or pick up
    # a developer's judge settings.
    from mtb.backends.credentials import every_key_variable

    for name in (*every_key_variable(), "MTB_DATA_DIR", "MTB_JUDGE_API_BASE", "MTB_JUDGE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff that waits milliseconds, through the variables the commands read (RetryPolicy.from_env).

    Set in the environment, they also reach the `mtb` processes some tests start.
    """
    monkeypatch.setenv("MTB_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("MTB_RETRY_MAX_DELAY", "0.05")
    monkeypatch.setenv("MTB_BATCH_POLL_SECONDS", "0.05")  # batches at the test server take 50 ms


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "mt_bench" / "question.jsonl").exists():
        unavailable(
            f"published benchmark data not found at {SHARED_DATA}; set MTB_SHARED_DATA",
            required=REQUIRE_DATA,
        )
    return SHARED_DATA


@pytest.fixture
def data_dir(tmp_path: Path, shared_data: Path) -> Path:
    """A writable copy of the MT-bench data (tests never write into ../shared)."""
    root = tmp_path / "data"
    shutil.copytree(shared_data / "mt_bench", root / "mt_bench")
    shutil.copy(shared_data / "judge_prompts.jsonl", root / "judge_prompts.jsonl")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a trained BPE tokenizer and a chat template, saved once per session."""
    pytest.importorskip("transformers", reason="needs the local extra: pip install -e '.[local]'")
    from mtb.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_adapter(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter with random weights on the tiny model, its config naming the base folder."""
    pytest.importorskip("peft", reason="needs the local extra: pip install -e '.[local]'")
    from mtb.testing.tiny_model import build_tiny_adapter

    return build_tiny_adapter(tiny_model, tmp_path_factory.mktemp("adapters") / "tiny-lora")


@pytest.fixture(scope="session")
def tiny_model_without_template(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model, its tokenizer without a chat template."""
    folder = tmp_path_factory.mktemp("models") / "no-template"
    shutil.copytree(tiny_model, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = folder / "tokenizer_config.json"
    settings = json.loads(config.read_text())
    settings.pop("chat_template", None)
    config.write_text(json.dumps(settings))
    return folder


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


ARENA_MODELS = ("gpt-4-0314", "gpt-3.5-turbo-0125", "claude-3-haiku-20240307")


@pytest.fixture
def arena_dir(tmp_path: Path, shared_data: Path) -> Path:
    """A writable copy of Arena-Hard v0.1: questions, config, and three models' answers."""
    root = tmp_path / "data"
    source = shared_data / "arena-hard-v0.1"
    target = root / "arena-hard-v0.1"
    shutil.copytree(source / "config", target / "config")
    shutil.copy(source / "question.jsonl", target / "question.jsonl")
    (target / "model_answer").mkdir()
    for model in ARENA_MODELS:
        shutil.copy(source / "model_answer" / f"{model}.jsonl", target / "model_answer" / f"{model}.jsonl")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


CHROMIUM = os.environ.get("MTB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright (never Playwright's own downloaded browsers).

    Module scope, not session: Playwright's sync API keeps an event loop running
    while it is open, and later tests call asyncio.run().
    """
    if not Path(CHROMIUM).exists():
        unavailable(
            f"{CHROMIUM} not found: apt-get install chromium, or set MTB_CHROMIUM (CI installs it)",
            required=IN_CI,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[dev]'", required=IN_CI)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


ARENA_V2_FILES = (
    "question.jsonl",
    "config/arena-hard-v2.0.yaml",
    "utils/judge_utils.py",
    "model_answer/o3-mini-2025-01-31.jsonl",
)


@pytest.fixture(scope="session")
def arena_v2_source(shared_data: Path) -> Path:
    """The published Arena-Hard-Auto v2.0 files (read only)."""
    source = shared_data / "arena-hard-v2.0"
    missing = [name for name in ARENA_V2_FILES if not (source / name).exists()]
    if missing:
        pytest.skip(f"Arena-Hard-Auto v2.0 data not found under {source}: {', '.join(missing)}")
    return source


@pytest.fixture
def arena_v2_dir(tmp_path: Path, arena_v2_source: Path) -> Path:
    """A writable copy of Arena-Hard-Auto v2.0: questions, judge config, JUDGE_SETTINGS, o3-mini's answers."""
    root = tmp_path / "data"
    for name in ARENA_V2_FILES:
        target = root / "arena-hard-v2.0" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(arena_v2_source / name, target)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root
