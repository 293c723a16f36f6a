"""Where each provider finds its API key and base URL, as data.

A key belongs to one provider: the OpenAI key goes to OpenAI (or to the
OpenAI-compatible server the user named), never to Anthropic through litellm,
and an Anthropic model never receives OPENAI_BASE_URL. So each provider in the
registry (`mtb.backends`) declares, per model name, which variables hold its
key and base URL; `mtb.backends.resolve_endpoint` applies them.

Nothing here imports a provider SDK: a missing key is reported before any
backend (and litellm, ~3 s to import) is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from mtb.errors import UsageError

# The OpenAI endpoint, named explicitly: given no base URL, the openai SDK (and
# litellm's openai/ route) would read OPENAI_BASE_URL by itself, and a local
# generation server set there would silently capture the judge.
OPENAI_API_BASE = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Credentials:
    """How one provider finds the key and base URL for one model."""

    # Variables that may hold the key, in the order they are read; the first is
    # the one named in messages. Empty: the key is not checked here (cloud
    # credential chains such as Bedrock's and Vertex's, or no network at all).
    key_variables: tuple[str, ...] = ()
    # The variable a *generation* endpoint takes its base URL from by default.
    # The judge never reads it (see resolve_endpoint).
    base_variable: str | None = None
    # Used when no base URL is given, so that no SDK falls back to its own variable.
    default_base: str | None = None
    # A self-hosted OpenAI-compatible server (vllm serve, Ollama, ...) at an
    # explicit base URL accepts any key, so none is required there.
    key_optional_with_base: bool = False


OPENAI_CREDENTIALS = Credentials(
    key_variables=("OPENAI_API_KEY",),
    base_variable="OPENAI_BASE_URL",
    default_base=OPENAI_API_BASE,
    key_optional_with_base=True,
)

# litellm's model names start with their provider ("anthropic/claude-3-5-sonnet-20240620").
# Each prefix maps to the variables litellm itself reads for that provider's key
# (same order); an empty tuple marks providers that authenticate with their
# cloud's own credentials, which are not checked. A prefix not listed here is
# not checked either: litellm reads whatever it needs, and a bad key stops the
# run at the first 401.
LITELLM_KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "cohere": ("COHERE_API_KEY", "CO_API_KEY"),
    "cohere_chat": ("COHERE_API_KEY", "CO_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"),
    "perplexity": ("PERPLEXITYAI_API_KEY",),
    "bedrock": (),
    "vertex_ai": (),
    "sagemaker": (),
}


def openai_credentials(model: str) -> Credentials:
    # Any OpenAI-compatible server: the model name is the server's, prefix or not
    # (OpenRouter's "anthropic/claude-3.5-sonnet" is still OpenAI's wire format).
    return OPENAI_CREDENTIALS


def litellm_credentials(model: str) -> Credentials:
    prefix, slash, _ = model.partition("/")
    if not slash or not prefix:
        # Without a prefix litellm guesses the provider from the name, and so
        # would pick a key (and maybe OPENAI_BASE_URL) that we cannot foresee.
        raise UsageError(
            f"litellm model names start with their provider, e.g. anthropic/claude-3-5-sonnet-20240620 "
            f"or gemini/gemini-1.5-pro (got '{model}')"
        )
    if prefix == "openai":
        # The one litellm route that speaks to OpenAI, so the one that reads OPENAI_*.
        return Credentials(
            key_variables=("OPENAI_API_KEY",), base_variable="OPENAI_BASE_URL", default_base=OPENAI_API_BASE
        )
    return Credentials(key_variables=LITELLM_KEY_VARIABLES.get(prefix, ()))


def every_key_variable() -> list[str]:
    """Every variable some provider reads a key or base URL from (the tests clear them all)."""
    names = {"OPENAI_API_KEY", "OPENAI_BASE_URL"}
    for variables in LITELLM_KEY_VARIABLES.values():
        names.update(variables)
    return sorted(names)
