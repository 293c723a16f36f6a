"""Provider registry. Each factory imports its SDK only when it is used.

Models run on this machine (transformers, vLLM) are opened by
`mtb.backends.local.open_local_backend` instead: they are loaded once, before
the run, and need no endpoint configuration.
"""

from __future__ import annotations

from collections.abc import Callable

from mtb.backends.base import (
    Backend,
    BackendError,
    Completion,
    EndpointConfig,
    Message,
    SamplingParams,
)
from mtb.errors import MissingExtraError, UsageError

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "EndpointConfig",
    "Message",
    "SamplingParams",
    "create_backend",
    "provider_names",
]

BackendFactory = Callable[[EndpointConfig], Backend]
_FACTORIES: dict[str, BackendFactory] = {}


def _register(name: str) -> Callable[[BackendFactory], BackendFactory]:
    def add(factory: BackendFactory) -> BackendFactory:
        _FACTORIES[name] = factory
        return factory

    return add


@_register("openai")
def _openai(config: EndpointConfig) -> Backend:
    """Any OpenAI-compatible server: OpenAI, vllm serve, SGLang, TGI, Ollama, llama.cpp."""
    from mtb.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(config)


@_register("litellm")
def _litellm(config: EndpointConfig) -> Backend:
    """Providers that are not OpenAI-compatible (Anthropic, Gemini, Bedrock, ...)."""
    try:
        from mtb.backends.litellm_backend import LiteLLMBackend
    except ImportError as exc:
        if exc.name == "litellm":
            raise MissingExtraError("litellm", "litellm") from None
        raise
    return LiteLLMBackend(config)


def provider_names() -> list[str]:
    return sorted(_FACTORIES)


def create_backend(config: EndpointConfig) -> Backend:
    try:
        factory = _FACTORIES[config.provider]
    except KeyError:
        raise UsageError(
            f"unknown provider '{config.provider}' (known: {', '.join(provider_names())})"
        ) from None
    return factory(config)
