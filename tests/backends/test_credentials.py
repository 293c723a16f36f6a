"""Each provider's key and base URL come from its own variables; the judge and generation resolve apart."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mtb.backends import provider_names, resolve_endpoint
from mtb.backends.credentials import LITELLM_KEY_VARIABLES, OPENAI_API_BASE
from mtb.errors import UsageError

OPENAI_KEY = "sk-openai-do-not-leak-1234"
GENERATION_SERVER = "http://127.0.0.1:8000/v1"
# A shell set up for generation against a local server, with an OpenAI key beside it.
GENERATION_SHELL = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": GENERATION_SERVER}
CLAUDE = "anthropic/claude-3-5-sonnet-20240620"


def test_the_registry_knows_every_provider() -> None:
    assert provider_names() == ["fake", "litellm", "openai"]
    with pytest.raises(UsageError, match=r"unknown provider 'opneai' \(known: fake, litellm, openai\)"):
        resolve_endpoint("judge", "opneai", "gpt-4", environ={})


def test_openai_judge_takes_the_openai_key_but_never_the_generation_base_url() -> None:
    config = resolve_endpoint("judge", "openai", "gpt-4", environ=GENERATION_SHELL)
    assert config.api_key == OPENAI_KEY
    # Named explicitly, so that the SDK does not read OPENAI_BASE_URL by itself either.
    assert config.api_base == OPENAI_API_BASE
    assert config.key_hint == "OPENAI_API_KEY or MTB_JUDGE_API_KEY"


def test_openai_generation_takes_both_openai_variables() -> None:
    config = resolve_endpoint("generate", "openai", "m", key_option="--api-key", environ=GENERATION_SHELL)
    assert (config.api_base, config.api_key) == (GENERATION_SERVER, OPENAI_KEY)
    assert config.key_hint == "OPENAI_API_KEY or --api-key"


def test_judge_variables_come_first_and_flags_before_them() -> None:
    env = {**GENERATION_SHELL, "MTB_JUDGE_API_BASE": "http://judge:9000/v1", "MTB_JUDGE_API_KEY": "sk-judge"}
    config = resolve_endpoint("judge", "openai", "gpt-4", environ=env)
    assert (config.api_base, config.api_key) == ("http://judge:9000/v1", "sk-judge")
    config = resolve_endpoint("judge", "openai", "gpt-4", "http://flag/v1", "sk-flag", environ=env)
    assert (config.api_base, config.api_key) == ("http://flag/v1", "sk-flag")


def test_judge_variables_do_not_touch_generation() -> None:
    env = {"MTB_JUDGE_API_BASE": "http://judge:9000/v1", "MTB_JUDGE_API_KEY": "sk-judge"}
    with pytest.raises(UsageError, match="OPENAI_API_KEY"):
        resolve_endpoint("generate", "openai", "m", environ=env)


def test_an_empty_variable_counts_as_unset() -> None:
    config = resolve_endpoint(
        "generate", "openai", "m", environ={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": ""}
    )
    assert config.api_base == OPENAI_API_BASE


def test_a_local_server_needs_no_key() -> None:
    config = resolve_endpoint("generate", "openai", "m", "http://localhost:8000/v1", environ={})
    assert (config.api_base, config.api_key) == ("http://localhost:8000/v1", None)
    config = resolve_endpoint("judge", "openai", "m", environ={"MTB_JUDGE_API_BASE": "http://localhost:1/v1"})
    assert config.api_key is None


def test_openai_without_key_or_base_names_every_place_a_key_can_come_from() -> None:
    with pytest.raises(UsageError) as info:
        resolve_endpoint("judge", "openai", "gpt-4", key_option="--judge-api-key", environ={})
    assert str(info.value) == (
        "no API key for the judge 'gpt-4': set OPENAI_API_KEY (or MTB_JUDGE_API_KEY or --judge-api-key)"
    )


def test_anthropic_judge_never_receives_the_openai_key_or_base_url() -> None:
    with pytest.raises(UsageError) as info:
        resolve_endpoint("judge", "litellm", CLAUDE, key_option="--judge-api-key", environ=GENERATION_SHELL)
    message = str(info.value)
    assert message.startswith(f"no API key for the judge '{CLAUDE}': set ANTHROPIC_API_KEY")
    assert OPENAI_KEY not in message

    env = {**GENERATION_SHELL, "ANTHROPIC_API_KEY": "sk-ant-1"}
    for role in ("judge", "generate"):
        config = resolve_endpoint(role, "litellm", CLAUDE, environ=env)  # type: ignore[arg-type]
        # No base URL at all: litellm uses Anthropic's own endpoint.
        assert (config.api_base, config.api_key) == (None, "sk-ant-1")
        assert config.key_hint.startswith("ANTHROPIC_API_KEY")


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("gemini/gemini-1.5-pro", "GEMINI_API_KEY"),
        ("mistral/mistral-large-latest", "MISTRAL_API_KEY"),
        ("groq/llama3-70b-8192", "GROQ_API_KEY"),
        ("together_ai/meta-llama/Llama-3-70b-chat-hf", "TOGETHERAI_API_KEY"),
        ("deepseek/deepseek-chat", "DEEPSEEK_API_KEY"),
        ("cohere/command-r-plus", "COHERE_API_KEY"),
    ],
)
def test_litellm_key_variable_follows_the_model_prefix(model: str, variable: str) -> None:
    with pytest.raises(UsageError, match=f"set {variable}"):
        resolve_endpoint("generate", "litellm", model, environ=GENERATION_SHELL)
    config = resolve_endpoint("generate", "litellm", model, environ={**GENERATION_SHELL, variable: "k-1"})
    assert (config.api_base, config.api_key) == (None, "k-1")


def test_litellm_reads_a_providers_other_key_variables_in_order() -> None:
    assert LITELLM_KEY_VARIABLES["gemini"] == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    config = resolve_endpoint("judge", "litellm", "gemini/gemini-1.5-pro", environ={"GOOGLE_API_KEY": "g"})
    assert config.api_key == "g"


@pytest.mark.parametrize("model", ["bedrock/anthropic.claude-3-sonnet", "vertex_ai/gemini-1.5-pro"])
def test_cloud_credentials_are_not_checked_and_get_nothing_of_openais(model: str) -> None:
    config = resolve_endpoint("judge", "litellm", model, environ=GENERATION_SHELL)
    assert (config.api_base, config.api_key) == (None, None)


def test_litellm_openai_models_read_the_openai_variables() -> None:
    judge = resolve_endpoint("judge", "litellm", "openai/gpt-4o", environ=GENERATION_SHELL)
    assert (judge.api_base, judge.api_key) == (OPENAI_API_BASE, OPENAI_KEY)
    generate = resolve_endpoint("generate", "litellm", "openai/gpt-4o", environ=GENERATION_SHELL)
    assert (generate.api_base, generate.api_key) == (GENERATION_SERVER, OPENAI_KEY)


def test_litellm_needs_the_provider_prefix() -> None:
    with pytest.raises(UsageError, match="start with their provider"):
        resolve_endpoint("judge", "litellm", "claude-3-5-sonnet-20240620", environ={})


def test_fake_needs_no_key_and_only_serves_fake_models() -> None:
    config = resolve_endpoint("judge", "fake", "fake/rating-3", environ={})
    assert (config.api_base, config.api_key) == (None, None)
    # The default judge name would write fake verdicts into gpt-4's judgment file.
    with pytest.raises(UsageError, match="--judge-model: the fake provider has no model 'gpt-4'"):
        resolve_endpoint("judge", "fake", "gpt-4", environ={})


def test_the_key_stays_out_of_repr() -> None:
    config = resolve_endpoint("judge", "openai", "gpt-4", environ=GENERATION_SHELL)
    assert OPENAI_KEY not in repr(config)


def test_the_missing_key_check_imports_no_provider_sdk() -> None:
    code = (
        "import sys\n"
        "from mtb.backends import resolve_endpoint\n"
        "from mtb.errors import UsageError\n"
        "try:\n"
        f"    resolve_endpoint('judge', 'litellm', {CLAUDE!r}, environ={{}})\n"
        "except UsageError as exc:\n"
        "    print(exc)\n"
        "print(sorted(m for m in ('litellm', 'openai') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"no API key for the judge '{CLAUDE}': set ANTHROPIC_API_KEY (or MTB_JUDGE_API_KEY)",
        "[]",
    ]
