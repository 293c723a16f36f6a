import email.utils

import pytest

from mtb.backends.base import BackendError
from mtb.errors import UsageError
from mtb.retry import Circumstances, RetryDecision, RetryPolicy, decide, parse_retry_after

POLICY = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=8.0, max_retry_after=120.0)


def status(code: int, retry_after: float | None = None) -> BackendError:
    return BackendError("status", f"HTTP {code}", code, retry_after)


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(code: int) -> None:
    decision = decide(status(code), 1, POLICY, rand=lambda: 0.0)
    assert decision.retry and not decision.fatal


@pytest.mark.parametrize("kind", ["timeout", "connection", "malformed"])
def test_transport_failures_are_retried(kind: str) -> None:
    assert decide(BackendError(kind, kind), 1, POLICY).retry  # type: ignore[arg-type]


def test_bad_request_fails_the_item_only() -> None:
    decision = decide(status(400), 1, POLICY)
    assert not decision.retry and not decision.fatal


@pytest.mark.parametrize("code", [401, 403, 404])
def test_auth_and_missing_model_stop_the_run(code: int) -> None:
    decision = decide(status(code), 1, POLICY)
    assert decision.fatal and not decision.retry


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    low = [decide(status(500), n, POLICY, rand=lambda: 0.0).wait for n in range(1, 5)]
    high = [decide(status(500), n, POLICY, rand=lambda: 1.0).wait for n in range(1, 5)]
    assert low == [0.5, 1.0, 2.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0]
    assert (
        decide(status(500), 4, RetryPolicy(max_attempts=9, base_delay=1, max_delay=3), rand=lambda: 1.0).wait
        == 3
    )


def test_retry_after_is_honoured_and_capped() -> None:
    assert decide(status(429, 2.0), 1, POLICY, rand=lambda: 0.0).wait == 2.0
    assert decide(status(429, 2.0), 1, POLICY, rand=lambda: 1.0).wait == 2.0
    assert decide(status(503, 120.0), 1, POLICY, rand=lambda: 0.0).wait == 120.0


@pytest.mark.parametrize("code", [429, 503])
@pytest.mark.parametrize("seconds", [120.5, 3600.0, 1e9, float("inf")])
def test_a_retry_after_longer_than_mtb_waits_stops_the_run_saying_so(code: int, seconds: float) -> None:
    # Was: waited 120 s and retried, up to 100 times for a 429 (hours for a daily quota).
    decision = decide(status(code, seconds), 1, POLICY)
    assert decision.fatal and not decision.retry
    assert "Retry-After" in decision.reason and "longer than mtb waits (120 s)" in decision.reason


def test_attempts_run_out() -> None:
    assert decide(status(500), 4, POLICY).retry
    assert not decide(status(500), 5, POLICY).retry


def test_a_429_that_says_when_is_never_counted_against_the_attempts() -> None:
    # Was: a budget of 100 such 429s, after which the item failed (2 judgments of 320 did).
    policy = RetryPolicy(max_attempts=3)
    assert decide(status(429, 1.0), 10_000, policy).retry
    explained = Circumstances(explained_wait=0.25)
    assert decide(status(429), 10_000, policy, context=explained) == RetryDecision(retry=True, wait=0.25)
    assert not decide(status(429), 3, policy).retry  # a bare 429, its headers silent: bounded
    assert not decide(status(503, 1.0), 3, policy).retry  # a 503 that says when is still a failure


def test_patience_with_429s_is_bounded_by_time() -> None:
    context = Circumstances(explained_wait=1.0, unserved_for=20.0, stall_after=20.0)
    decision = decide(status(429, 1.0), 1, POLICY, context=context)
    assert decision.fatal and not decision.retry
    assert "turned every request away (rate limited) for 20 s (two timeouts of 10 s)" in decision.reason
    assert decide(
        status(429, 1.0), 1, POLICY, context=Circumstances(unserved_for=19.9, stall_after=20.0)
    ).retry


def test_a_timeout_is_retried_at_most_twice() -> None:
    timeout = BackendError("timeout", "request timed out")
    assert [decide(timeout, n, RetryPolicy(max_attempts=8)).retry for n in (1, 2, 3)] == [True, True, False]
    assert not decide(timeout, 2, RetryPolicy(max_attempts=2)).retry  # --max-attempts still bounds it


@pytest.mark.parametrize("kind", ["timeout", "connection"])
def test_two_timeouts_of_silence_stop_the_run(kind: str) -> None:
    error = BackendError(kind, "request timed out")  # type: ignore[arg-type]
    quiet = Circumstances(silent_for=6.2, stall_after=6.0)
    decision = decide(error, 1, POLICY, context=quiet)
    assert decision.fatal and "the server stopped answering: nothing came back for 6.2 s" in decision.reason
    assert "(two timeouts of 3 s)" in decision.reason
    assert decide(error, 1, POLICY, context=Circumstances(silent_for=5.9, stall_after=6.0)).retry
    # A 503 is an answer: the server is there, and the attempts bound it.
    assert decide(status(503), 1, POLICY, context=quiet).retry


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: 1_000_000) == pytest.approx(30)


def test_policy_from_env_defaults() -> None:
    policy = RetryPolicy.from_env(3, environ={})
    assert policy == RetryPolicy(max_attempts=3)
    assert (policy.base_delay, policy.max_delay) == (0.5, 60.0)


def test_policy_from_env_reads_the_delays() -> None:
    policy = RetryPolicy.from_env(4, environ={"MTB_RETRY_BASE_DELAY": "0.25", "MTB_RETRY_MAX_DELAY": " 2 "})
    assert (policy.max_attempts, policy.base_delay, policy.max_delay) == (4, 0.25, 2.0)
    assert RetryPolicy.from_env(1, environ={"MTB_RETRY_BASE_DELAY": "0"}).base_delay == 0.0


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "1e999"])
@pytest.mark.parametrize("variable", ["MTB_RETRY_BASE_DELAY", "MTB_RETRY_MAX_DELAY"])
def test_policy_from_env_rejects_bad_values(variable: str, value: str) -> None:
    with pytest.raises(UsageError, match=f"{variable} must be a number of seconds"):
        RetryPolicy.from_env(2, environ={variable: value})


def test_the_test_suite_sets_fast_waits_through_the_environment() -> None:
    # conftest's fast_retries: what every command run in these tests uses.
    policy = RetryPolicy.from_env(8)
    assert (policy.base_delay, policy.max_delay) == (0.01, 0.05)
