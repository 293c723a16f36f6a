"""Retry rules: one pure function from a failed call to "retry after w seconds" or "stop".

This is the only retry layer in mtb: provider SDKs are built with their own
retries off, so every attempt is counted here and shows up in the report.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mtb.backends.base import BackendError
from mtb.errors import UsageError

RETRYABLE_STATUS = frozenset({408, 409, 429})
# Retrying these cannot help, and every later request would fail the same way.
FATAL_STATUS = frozenset({401, 403, 404})
# Error codes (OpenAI's "code" or "type") that no wait will cure: the account is
# out of credit. OpenAI answers these with a 429, like a rate limit.
FATAL_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})


@dataclass(frozen=True)
class RetryPolicy:
    # Failures (5xx, dropped connections, bare 429s, ...) one request may meet.
    max_attempts: int = 8
    # Timeouts are retried at most this many times (the openai SDK's default, 2): a
    # request that took the whole --timeout three times will not answer a fourth, and
    # each try costs a full timeout.
    max_timeout_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 60.0
    # The longest pause a server may ask for (Retry-After) and be waited on. A longer one
    # (a 503 "back in an hour", a daily quota's 429) stops the run at once, saying so:
    # capping the wait instead would retry against the server's word, for hours.
    max_retry_after: float = 120.0

    @classmethod
    def from_env(cls, max_attempts: int, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """The policy the commands use: backoff from MTB_RETRY_BASE_DELAY and MTB_RETRY_MAX_DELAY.

        Both are seconds (defaults 0.5 and 60). They let a test suite, or a user
        behind a very patient or very impatient server, change the waits without
        touching code; a value that is not a number >= 0 is a UsageError.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            max_attempts=max_attempts,
            base_delay=_seconds(env, "MTB_RETRY_BASE_DELAY", defaults.base_delay),
            max_delay=_seconds(env, "MTB_RETRY_MAX_DELAY", defaults.max_delay),
        )


def _seconds(environ: Mapping[str, str], variable: str, default: float) -> float:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{variable} must be a number of seconds, 0 or more (got {raw!r})")
    return value


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    wait: float = 0.0
    fatal: bool = False  # stop the whole run, not just this item
    reason: str = ""  # why the run stops, when the error's own message does not say


@dataclass(frozen=True)
class Circumstances:
    """What the engine knows beyond the error and the attempt: the endpoint's recent past."""

    # For a 429: seconds until the server takes this request again, as its Retry-After or its
    # rate-limit headers say (the engine's rate controller reads them); None when they say nothing.
    explained_wait: float | None = None
    # Seconds since the endpoint last answered anything (a reply, an error status), and since
    # it last served a request, counted only while requests were waiting on it.
    silent_for: float = 0.0
    unserved_for: float = 0.0
    # How long silence, or 429 after 429, is borne before the run stops: two timeouts (for
    # a timeout, of the kind that fired: the connect timeout or the whole request's; else
    # the whole request's), math.inf where requests have none (a model loaded here).
    stall_after: float = math.inf


def is_retryable(error: BackendError) -> bool:
    if error.kind in ("timeout", "connection", "malformed"):
        return True
    status = error.status or 0
    return status in RETRYABLE_STATUS or status >= 500


def is_fatal(error: BackendError) -> bool:
    """A failure every later request would repeat: stop the run."""
    return (
        error.kind == "fatal"
        or (error.kind == "status" and error.status in FATAL_STATUS)
        or error.code in FATAL_CODES
    )


def decide(
    error: BackendError,
    attempt: int,
    policy: RetryPolicy,
    rand: Callable[[], float] = random.random,
    context: Circumstances = Circumstances(),
) -> RetryDecision:
    """What to do after a request failed with `error` for the `attempt`-th time (1-based).

    `attempt` counts failures of the same class: timeouts, or everything else. A 429
    the server explains (Retry-After, or rate-limit headers showing the limit spent) is
    not counted: it is retried until the time bound of `context.stall_after`.
    """
    if is_fatal(error):
        return RetryDecision(retry=False, fatal=True)
    if not is_retryable(error):
        return RetryDecision(retry=False)
    if error.retry_after is not None and error.retry_after > policy.max_retry_after:
        return RetryDecision(
            retry=False,
            fatal=True,
            reason=(
                f"the server asks to wait {_wait_words(error.retry_after)} (Retry-After), longer than mtb "
                f"waits ({policy.max_retry_after:,.0f} s); run the same command again later"
            ),
        )
    each = _wait_words(context.stall_after / 2)
    if error.kind in ("timeout", "connection") and context.silent_for >= context.stall_after:
        # Every request sent in two timeouts' time has met the same silence: the items
        # would each wait out their own retries, and none would be answered.
        return RetryDecision(
            retry=False,
            fatal=True,
            reason=(
                f"the server stopped answering: nothing came back for {_wait_words(context.silent_for)} "
                f"(two timeouts of {each}); run the same command again when it answers"
            ),
        )
    wait = error.retry_after if error.retry_after is not None else context.explained_wait
    if error.status == 429 and wait is not None:
        if context.unserved_for >= context.stall_after:
            return RetryDecision(
                retry=False,
                fatal=True,
                reason=(
                    f"the server turned every request away (rate limited) for "
                    f"{_wait_words(context.unserved_for)} (two timeouts of {each}); "
                    "run the same command again later"
                ),
            )
        # The server said when, and its clock is the one that counts: waiting
        # any longer than it asked only loses throughput under a rate limit.
        return RetryDecision(retry=True, wait=max(0.0, wait))
    budget = policy.max_attempts
    if error.kind == "timeout":
        budget = min(budget, 1 + policy.max_timeout_retries)
    if attempt >= budget:
        return RetryDecision(retry=False)
    if error.retry_after is not None:
        return RetryDecision(retry=True, wait=error.retry_after)
    # Exponential backoff with "equal jitter": half fixed, half random.
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return RetryDecision(retry=True, wait=ceiling / 2 + rand() * ceiling / 2)


def _wait_words(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "for ever"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:,.0f} s"


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date).

    None when neither is there or the value is garbage (negative, not a number, a date in
    the past): the rate controller names such values once in the run's notes.
    """
    from mtb.ratelimit import BadHeader
    from mtb.ratelimit import parse_retry_after as parse

    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        return parse(lowered, now())
    except (KeyError, BadHeader):
        return None
