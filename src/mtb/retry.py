"""Retry rules: one pure function from a failed call to "retry after w seconds" or "stop".

This is the only retry layer in mtb: provider SDKs are built with their own
retries off, so every attempt is counted here and shows up in the report.
"""

from __future__ import annotations

import email.utils
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
    # Failures (5xx, timeouts, dropped connections, ...) one request may meet.
    max_attempts: int = 8
    # 429 answers that carry Retry-After are counted apart: a busy server that
    # says when to come back is working as intended, and under a tight rate
    # limit an unlucky request may be turned away many times before its turn
    # comes. A 429 without Retry-After counts against max_attempts.
    max_rate_limited: int = 100
    base_delay: float = 0.5
    max_delay: float = 60.0
    # The longest pause a server may ask for (Retry-After) and be waited on. A longer one
    # (a 503 "back in an hour", a daily quota's 429) stops the run at once, saying so:
    # capping the wait instead would retry against the server's word, up to
    # `max_rate_limited` times (hours of waiting on a 429 that will not lift).
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


def is_retryable(error: BackendError) -> bool:
    if error.kind in ("timeout", "connection", "malformed"):
        return True
    status = error.status or 0
    return status in RETRYABLE_STATUS or status >= 500


def is_rate_limit(error: BackendError) -> bool:
    """A working rate limit: a 429 that says when to come back (Retry-After).

    Only these draw on the large `max_rate_limited` budget; a bare 429 may be a
    limit that never lifts, and is bounded by `max_attempts` like any failure.
    """
    return error.kind == "status" and error.status == 429 and error.retry_after is not None


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
) -> RetryDecision:
    """What to do after a request failed with `error` for the `attempt`-th time (1-based).

    `attempt` counts failures of the same class: 429s with Retry-After, or
    everything else.
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
    budget = policy.max_rate_limited if is_rate_limit(error) else policy.max_attempts
    if attempt >= budget:
        return RetryDecision(retry=False)
    if error.retry_after is not None:
        # The server said when, and its clock is the one that counts: waiting
        # any longer than it asked only loses throughput under a rate limit.
        return RetryDecision(retry=True, wait=error.retry_after)
    # Exponential backoff with "equal jitter": half fixed, half random.
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return RetryDecision(retry=True, wait=ceiling / 2 + rand() * ceiling / 2)


def _wait_words(seconds: float) -> str:
    return f"{seconds:,.0f} s" if math.isfinite(seconds) else "for ever"


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now())
