"""Provider registry. Each factory imports its SDK only when it is used.

Each provider also declares where it finds its credentials (`credentials.py`),
and `resolve_endpoint` turns the command line and the environment into an
EndpointConfig with them, before any backend exists:

    openai    any OpenAI-compatible server; OPENAI_API_KEY, OPENAI_BASE_URL
    litellm   providers that are not OpenAI-compatible; the key variable follows
              the model's prefix (anthropic/ -> ANTHROPIC_API_KEY, ...)
    fake      in-process, deterministic replies, no key (`fake.py`)

Models run on this machine (transformers, vLLM) are opened by
`mtb.backends.local.open_local_backend` instead: they are loaded once, before
the run, and need no endpoint configuration.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from mtb.backends.base import (
    Backend,
    BackendError,
    Completion,
    EndpointConfig,
    Message,
    SamplingParams,
)
from mtb.backends.credentials import Credentials, litellm_credentials, openai_credentials
from mtb.errors import MissingExtraError, UsageError
from mtb.startup import long_lived_imports

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "Credentials",
    "EndpointConfig",
    "Message",
    "SamplingParams",
    "create_backend",
    "provider_credentials",
    "provider_names",
    "resolve_endpoint",
]

BackendFactory = Callable[[EndpointConfig], Backend]
# From a model name to where its key and base URL come from; raises UsageError
# for a name the provider cannot serve.
CredentialRule = Callable[[str], Credentials]


@dataclass(frozen=True)
class Provider:
    create: BackendFactory
    credentials: CredentialRule


_PROVIDERS: dict[str, Provider] = {}


def _register(name: str, credentials: CredentialRule) -> Callable[[BackendFactory], BackendFactory]:
    def add(factory: BackendFactory) -> BackendFactory:
        _PROVIDERS[name] = Provider(factory, credentials)
        return factory

    return add


@_register("openai", openai_credentials)
def _openai(config: EndpointConfig) -> Backend:
    """Any OpenAI-compatible server: OpenAI, vllm serve, SGLang, TGI, Ollama, llama.cpp."""
    with long_lived_imports():
        from mtb.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(config)


@_register("litellm", litellm_credentials)
def _litellm(config: EndpointConfig) -> Backend:
    """Providers that are not OpenAI-compatible (Anthropic, Gemini, Bedrock, ...)."""
    try:
        with long_lived_imports():
            from mtb.backends.litellm_backend import LiteLLMBackend
    except ImportError as exc:
        if exc.name == "litellm":
            raise MissingExtraError("litellm", "litellm") from None
        raise
    return LiteLLMBackend(config)


def _fake_credentials(model: str) -> Credentials:
    from mtb.backends.fake import parse_fake_model

    parse_fake_model(model)  # an unknown fake model is a usage error now, not at the first call
    return Credentials()


@_register("fake", _fake_credentials)
def _fake(config: EndpointConfig) -> Backend:
    """Deterministic replies computed in process: smoke runs and engine tests, no server."""
    from mtb.backends.fake import FakeBackend

    return FakeBackend(config)


def provider_names() -> list[str]:
    return sorted(_PROVIDERS)


def _provider(name: str) -> Provider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise UsageError(f"unknown provider '{name}' (known: {', '.join(provider_names())})") from None


def provider_credentials(provider: str, model: str) -> Credentials:
    """Where `provider` finds the key and base URL for `model`."""
    return _provider(provider).credentials(model)


def create_backend(config: EndpointConfig) -> Backend:
    return _provider(config.provider).create(config)


Role = Literal["judge", "generate"]

# Variables that belong to one role, read before the provider's own: they let the
# judge live elsewhere than the model under test (a local generation server and
# a hosted judge in one shell).
ROLE_VARIABLES: dict[Role, tuple[str | None, str | None]] = {
    "judge": ("MTB_JUDGE_API_BASE", "MTB_JUDGE_API_KEY"),
    "generate": (None, None),
}
ROLE_NAMES: dict[Role, str] = {"judge": "judge", "generate": "model"}


def _or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _control_character(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _check_key(key: str, source: str) -> None:
    """Refuse a key no HTTP header can carry; the message names `source`, never the key."""
    if _control_character(key):
        hint = " (a line ending? strip the trailing \\r or \\n)" if key != key.strip() else ""
        raise UsageError(f"{source} contains a control character{hint}")
    if not key.isascii():
        raise UsageError(f"{source} contains a non-ASCII character")
    if key != key.strip():
        raise UsageError(f"{source} starts or ends with a space")


def _check_base(base: str, source: str) -> None:
    if _control_character(base) or base != base.strip():
        raise UsageError(f"{source} contains a control character or surrounding space: {base.strip()!r}")
    try:
        parts = urllib.parse.urlsplit(base)
    except ValueError as exc:
        raise UsageError(f"{source} is not a URL: {exc}") from None
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: its password is a secret too.
        raise UsageError(f"{source} must not contain user:pass@ (pass the key with the API key option)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{source} must be an http:// or https:// URL (got {base!r})")


def resolve_endpoint(
    role: Role,
    provider: str,
    model: str,
    api_base: str | None = None,
    api_key: str | None = None,
    timeout: float = 600.0,
    *,
    key_option: str | None = None,
    base_option: str | None = None,
    model_option: str | None = None,
    environ: Mapping[str, str] | None = None,
    connect_timeout: float = 10.0,
) -> EndpointConfig:
    """The endpoint for `model` in `role`, its key and base URL taken from the right places.

    Base URL: `api_base`; else, for the judge, MTB_JUDGE_API_BASE; for
    generation, the provider's base variable (OPENAI_BASE_URL); else the
    provider's own endpoint. OPENAI_BASE_URL never moves the judge.
    Key: `api_key`; else, for the judge, MTB_JUDGE_API_KEY; else the first set
    of the provider's key variables for this model (OPENAI_API_KEY for openai,
    ANTHROPIC_API_KEY for litellm's anthropic/ models, ...).

    Raises UsageError, naming the variable to set, when a key is needed and
    none is found; nothing is imported or called before that. An explicit base
    URL for the openai provider (a local server) needs no key. `key_option` is
    how the caller lets the user pass the key (e.g. "--judge-api-key"), `base_option`
    the base URL and `model_option` the model (default: --judge-model or --model), named
    in messages; `environ` defaults to os.environ.

    A key or base URL the HTTP client would refuse (a control character, such
    as the "\r" of a file saved on Windows; non-ASCII text; user:pass@ in the
    URL) is a UsageError naming where it came from, and never showing the key.
    """
    env = os.environ if environ is None else environ

    def read(variable: str | None) -> str | None:
        return (env.get(variable) or None) if variable else None

    rule = _provider(provider)  # an unknown provider is said as such
    try:
        credentials = rule.credentials(model)
    except UsageError as exc:  # a model the provider cannot have: say which option named it
        named_by = model_option or ("--judge-model" if role == "judge" else "--model")
        raise UsageError(f"{named_by}: {exc}") from None
    role_base, role_key = ROLE_VARIABLES[role]
    # The provider's own base variable serves generation only: set for a local
    # model server, it must not capture the judge.
    provider_base = credentials.base_variable if role == "generate" else None

    # An option may be filled from the role's variable (typer's envvar=): name
    # the variable then, as that is where the user has to look.
    def given(value: str | None, option: str | None, variable: str | None, default: str) -> str:
        return variable if variable and value == read(variable) else option or default

    base_sources = [
        (api_base, given(api_base, base_option, role_base, "the base URL")),
        (read(role_base), role_base),
        (read(provider_base), provider_base),
    ]
    key_sources = [(api_key, given(api_key, key_option, role_key, "the API key")), (read(role_key), role_key)]
    key_sources += [(read(v), v) for v in credentials.key_variables]
    base, base_from = next(((v, w) for v, w in base_sources if v), (None, None))
    key, key_from = next(((v, w) for v, w in key_sources if v), (None, None))
    if key:
        _check_key(key, key_from or "the API key")
    if base:
        _check_base(base, base_from or "the base URL")

    places = [v for v in (*credentials.key_variables[:1], role_key, key_option) if v]
    key_hint = _or_list(places) if places else f"the credentials {provider} uses for {model}"
    if not key and credentials.key_variables and not (base and credentials.key_optional_with_base):
        others = [v for v in (role_key, key_option) if v]
        also = f" (or {_or_list(others)})" if others else ""
        raise UsageError(
            f"no API key for the {ROLE_NAMES[role]} '{model}': set {credentials.key_variables[0]}{also}"
        )
    return EndpointConfig(
        provider=provider,
        model=model,
        api_base=base or credentials.default_base,
        api_key=key,
        key_hint=key_hint,
        timeout=timeout,
        connect_timeout=connect_timeout,
    )
