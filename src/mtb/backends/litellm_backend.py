"""Backend for providers that are not OpenAI-compatible, through litellm (extra `mtb[litellm]`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

# litellm fetches a price table from the network when imported unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
import openai

from mtb.backends.base import (
    BackendError,
    Completion,
    EndpointConfig,
    Message,
    SamplingParams,
    rate_headers,
    within,
)
from mtb.backends.openai_compat import backend_error_from, client_timeout, completion_from, local_error

# litellm passes the provider's own headers on with this prefix (x-ratelimit-* also without).
PROVIDER_PREFIX = "llm_provider-"


class LiteLLMBackend:
    def __init__(self, config: EndpointConfig) -> None:
        self.config = config

    async def complete(self, messages: Sequence[Message], params: SamplingParams) -> Completion:
        extra: dict[str, Any] = {}
        if params.seed is not None:
            extra["seed"] = params.seed
        try:
            response = await within(self.config.timeout, self._call(messages, params, extra))
        except openai.OpenAIError as exc:  # litellm's exceptions subclass openai's
            raise backend_error_from(exc) from None
        except (UnicodeError, ValueError) as exc:  # our own request refused before it was sent
            raise local_error(exc) or BackendError("malformed", f"malformed response: {exc}") from None
        return completion_from(response, _headers_of(response))

    async def _call(self, messages: Sequence[Message], params: SamplingParams, extra: dict[str, Any]) -> Any:
        return await litellm.acompletion(
            model=self.config.model,
            messages=list(messages),
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            api_base=self.config.api_base,
            api_key=self.config.api_key,
            timeout=client_timeout(self.config),
            # mtb's engine is the only retry layer.
            num_retries=0,
            max_retries=0,
            **extra,
        )

    async def aclose(self) -> None:
        return None


def _headers_of(response: Any) -> dict[str, str]:
    """The provider's rate-limit headers, where litellm keeps them (`_hidden_params`)."""
    hidden = getattr(response, "_hidden_params", None)
    found = hidden.get("additional_headers") if isinstance(hidden, dict) else None
    if not isinstance(found, dict):
        return {}
    unprefixed = {str(k).removeprefix(PROVIDER_PREFIX): v for k, v in found.items()}
    return rate_headers(unprefixed)
