"""One rate controller per endpoint, shared by every request in flight to it.

    RateLimits       limits the user knows (requests and tokens per minute), paced from the start
    read_headers     a response's rate-limit headers → RateInfo; garbage is left out, with why
    Bucket           a token bucket: what a limit holds now, how fast it refills, how much it holds
    RateController   when the next request may go, from four things:
                       - a hold every sender waits out (Retry-After), one request in line after
                         another, so that a hold's end is not a stampede;
                       - how many may be in flight: a window that grows by one per window of
                         replies and halves on a 429 it did not expect (AIMD), within --parallel;
                       - the buckets, known (RateLimits) or seen (OpenAI's x-ratelimit-*,
                         Anthropic's anthropic-ratelimit-*), each request taking its estimated
                         tokens before it is sent;
                       - a period's budget: a 429 with Retry-After ends a period, and the
                         requests the server took in it (one more than the last budget at
                         most) are what the next period sends at once; past them, one
                         request at a time, until the server says stop.
                         Under a fixed window (N a second) that is one request turned away per
                         window, where every request in flight used to be.

The controller never sleeps by itself: `acquire` is given the clock and the sleep, so
that tests can drive it; every other method takes `now`.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mtb.cost import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY

# A reset further off than this, or a count larger, is not a rate limit but a broken header.
LONGEST_RESET = 86_400.0  # a day: OpenAI's daily limits reset within one
LARGEST_COUNT = 1e12
# A period's budget is forgotten when a period runs this many times longer than the last
# one without a 429: the limit has lifted, or is not a window of fixed length.
PERIOD_PATIENCE = 2.0

Outcome = Literal["served", "limited", "failed", "unsent"]


def approximate_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """The prompt's tokens as `mtb.cost.TokenCounter(exact=False)` counts them: fast, for every request."""
    return (
        sum(math.ceil(len(m.get("content") or "") / 4) + TOKENS_PER_MESSAGE for m in messages)
        + TOKENS_PER_REPLY
    )


def request_tokens(messages: Sequence[Mapping[str, str]], max_tokens: int) -> int:
    """What a request takes from a tokens-per-minute limit: its prompt and all of `max_tokens`.

    OpenAI counts a request so when it arrives (its cookbook's parallel processor does the
    same), so the reply's length, unknown before, never makes a request overdraw the limit.
    """
    return approximate_tokens(messages) + max(0, max_tokens)


@dataclass(frozen=True)
class RateLimits:
    """Limits the user knows (`--rpm`, `--tpm`, a models file): paced from the first request."""

    rpm: float | None = None  # requests per minute
    tpm: float | None = None  # tokens per minute, a request counting its prompt and max_tokens

    def __post_init__(self) -> None:
        for name, value in (("rpm", self.rpm), ("tpm", self.tpm)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a number above 0, not {value}")


class RequestTooLarge(Exception):
    """A request takes more tokens than a token limit allows in a whole minute: no pace fits it.

    Paced anyway, it went out once the bucket was full and left a debt that the next request
    waited out (60 tokens a minute and requests of 2,000 tokens: half an hour each), for a
    request the server refuses ("Request too large") whatever the wait.
    """


# -- the headers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitState:
    """One limit as a server reports it."""

    limit: float  # per minute, as OpenAI and Anthropic both state their limits
    remaining: float
    reset: float | None  # seconds until the limit is whole again; None when not said


@dataclass(frozen=True)
class RateInfo:
    requests: LimitState | None = None
    tokens: LimitState | None = None
    retry_after: float | None = None
    # (header, value, why) for each value left out as garbage
    bad: tuple[tuple[str, str, str], ...] = ()


class BadHeader(ValueError):
    pass


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadHeader("not a number") from None
    if not math.isfinite(number):
        raise BadHeader("not a number")
    if number < 0:
        raise BadHeader("negative")
    if number > LARGEST_COUNT:
        raise BadHeader("too large to be a limit")
    return number


# OpenAI's durations: "6m0s", "1s", "20ms", "1h2m3.5s"; a bare number is seconds.
_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+(?:\.\d+)?)ms)?"
)


def _duration(value: str) -> float:
    text = value.strip()
    found = _DURATION.fullmatch(text)
    if found and any(found.groupdict().values()):
        parts = found.groupdict()
        seconds = (
            float(parts["h"] or 0) * 3600
            + float(parts["m"] or 0) * 60
            + float(parts["s"] or 0)
            + float(parts["ms"] or 0) / 1000
        )
    else:
        seconds = _number(text)
    if seconds > LONGEST_RESET:
        raise BadHeader("further off than a day")
    return seconds


def _moment(value: str, now: float) -> float:
    """Seconds from `now` (wall clock) to an RFC 3339 time (Anthropic's resets)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        # Some servers send a plain duration here instead.
        return _duration(value)
    seconds = moment - now
    if seconds < -1.0:  # a second of clock skew is not garbage
        raise BadHeader("a time in the past")
    if seconds > LONGEST_RESET:
        raise BadHeader("further off than a day")
    return max(0.0, seconds)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date).

    Raises KeyError when neither is there, BadHeader (saying which and why) for garbage:
    negative, not a number, a date in the past. A long wait is not garbage: the engine
    stops the run on it, saying so (mtb.retry).
    """
    wall = time.time() if now is None else now
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return _seconds_after(float(milliseconds) / 1000)
        except (ValueError, BadHeader) as exc:
            raise BadHeader(f"retry-after-ms: {_why(exc)}") from None
    value = headers["retry-after"]
    try:
        return _seconds_after(float(value))
    except BadHeader as exc:
        raise BadHeader(f"retry-after: {exc}") from None
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BadHeader("retry-after: not a number of seconds or an HTTP date") from None
    seconds = moment.timestamp() - wall
    if seconds < -1.0:
        raise BadHeader("retry-after: a date in the past")
    return max(0.0, seconds)


def _seconds_after(seconds: float) -> float:
    if math.isnan(seconds) or seconds == -math.inf:
        raise BadHeader("not a number")
    if seconds < 0:
        raise BadHeader("negative")
    return seconds  # +inf stays: a wait for ever, which stops the run (mtb.retry.decide)


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, BadHeader) else "not a number"


# (limit, remaining, reset) header names of each provider, per dimension; reset is a duration
# for OpenAI, an RFC 3339 time for Anthropic.
_OPENAI = {
    "requests": (
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ),
    "tokens": ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
}
_ANTHROPIC = {
    "requests": (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    "tokens": (
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
    # Where only the input tokens are limited (and said) apart.
    "input": (
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ),
}


def read_headers(headers: Mapping[str, str], now: float | None = None) -> RateInfo:
    """What a response's headers (names in lower case) say of the server's limits.

    A value that is garbage (negative, too large, not a number, a time in the past) is
    left out, and named in `bad`; the rest of the headers still count.
    """
    if not headers:
        return RateInfo()
    wall = time.time() if now is None else now
    bad: list[tuple[str, str, str]] = []

    def state(names: tuple[str, str, str], moment: bool) -> LimitState | None:
        limit_name, remaining_name, reset_name = names
        if remaining_name not in headers:
            return None
        values: dict[str, float | None] = {}
        for name in names:
            raw = headers.get(name)
            if raw is None:
                values[name] = None
                continue
            try:
                if name == reset_name:
                    values[name] = _moment(raw, wall) if moment else _duration(raw)
                else:
                    values[name] = _number(raw)
            except BadHeader as exc:
                bad.append((name, raw, str(exc)))
                return None
        limit, remaining = values[limit_name], values[remaining_name]
        if limit is None or remaining is None or limit <= 0:
            return None  # a rate cannot be known without its limit
        if limit < 1:
            # Not a count of requests or tokens a minute: paced by it, the next request waited
            # 60 / limit seconds (`0.001`: 17 hours), with nothing in flight and nothing said.
            bad.append((limit_name, headers[limit_name], "below 1 a minute"))
            return None
        if remaining > limit:
            bad.append((remaining_name, headers[remaining_name], f"more than the limit ({limit:g})"))
            return None
        return LimitState(limit, remaining, values[reset_name])

    requests = state(_OPENAI["requests"], False) or state(_ANTHROPIC["requests"], True)
    tokens = (
        state(_OPENAI["tokens"], False)
        or state(_ANTHROPIC["tokens"], True)
        or state(_ANTHROPIC["input"], True)
    )
    retry_after: float | None = None
    if "retry-after" in headers or "retry-after-ms" in headers:
        try:
            retry_after = parse_retry_after(headers, wall)
        except BadHeader as exc:
            name, _, why = str(exc).partition(": ")
            bad.append((name, headers.get(name, ""), why))
    return RateInfo(requests, tokens, retry_after, tuple(bad))


# -- the controller ----------------------------------------------------------------------------


@dataclass
class Bucket:
    """A limit as a token bucket: `level` at time `at`, refilled at `rate` a second up to `capacity`.

    The level may go below 0: a request larger than what the bucket holds goes once the
    bucket is full, and the next waits until its debt is paid.
    """

    rate: float
    capacity: float
    level: float
    at: float
    source: str  # says where the limit comes from, for the progress line
    counts_tokens: bool = False  # a request takes its tokens from it, else 1

    @classmethod
    def per_minute(cls, limit: float, now: float, source: str, counts_tokens: bool) -> Bucket:
        # A second's worth at once: a provider may enforce a per-minute limit over shorter
        # spans, and a bucket a minute deep would let the first minute's requests go at once.
        capacity = max(1.0, limit / 60)
        return cls(limit / 60, capacity, capacity, now, source, counts_tokens)

    def amount(self, tokens: int) -> float:
        """What a request of `tokens` takes from this bucket."""
        return tokens if self.counts_tokens else 1

    def level_at(self, now: float) -> float:
        return min(self.capacity, self.level + self.rate * max(0.0, now - self.at))

    def wait(self, amount: float, now: float) -> float:
        """Seconds until `amount` (at most a full bucket) is there; 0 if it is now."""
        missing = min(amount, self.capacity) - self.level_at(now)
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, amount: float, now: float) -> None:
        self.level, self.at = self.level_at(now) - amount, now

    def give_back(self, amount: float, now: float) -> None:
        self.level, self.at = min(self.capacity, self.level_at(now) + amount), now


@dataclass
class Permit:
    """One request sent through the controller."""

    seq: int  # the order it was sent in
    tokens: int
    period: int
    probe: bool  # sent past its period's budget, to find where the limit is


@dataclass
class _BadHeaderSeen:
    value: str
    why: str
    times: int = 1


@dataclass
class RateController:
    """When the next request to one endpoint may go; see the module's docstring."""

    ceiling: int  # --parallel: the most in flight, ever
    limits: RateLimits | None = None
    window: float = 0.0  # how many may be in flight now (AIMD), 1 ≤ window ≤ ceiling
    in_flight: int = 0
    hold_until: float = 0.0
    hold_reason: str = ""
    known: list[Bucket] = field(default_factory=list)  # from RateLimits, kept for the whole run
    seen_requests: Bucket | None = None  # from the server's headers, brought up to date by each
    seen_tokens: Bucket | None = None
    budget: int | None = None  # requests a period may send at once (learned from Retry-After)
    mean_tokens: float = 0.0  # of the requests sent so far: what a token limit's pace is in requests
    _seq: int = 0
    _decreased_at: int = -1  # no halving for 429s of requests sent before the last one
    _synced_at: int = -1  # the newest request whose headers were read: older ones are stale
    _flying: dict[int, int] = field(default_factory=dict)  # seq → tokens, of the requests in flight
    _period: int = 0
    _period_start: float = 0.0
    _period_length: float = 0.0
    _period_sent: int = 0
    _period_served: int = 0
    _line: deque[object] = field(default_factory=deque)  # requests waiting, first come first served
    _changed: asyncio.Event | None = None
    _bad: dict[str, _BadHeaderSeen] = field(default_factory=dict)
    _started: bool = False

    def __post_init__(self) -> None:
        if self.ceiling < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.window = float(self.ceiling)

    # -- when a request may go --------------------------------------------------------------

    def _start(self, now: float) -> None:
        # Known limits start full at the first request, not when the endpoint was made.
        self._started = True
        if self.limits is not None:
            if self.limits.rpm:
                self.known.append(Bucket.per_minute(self.limits.rpm, now, "--rpm", counts_tokens=False))
            if self.limits.tpm:
                self.known.append(Bucket.per_minute(self.limits.tpm, now, "--tpm", counts_tokens=True))

    def _buckets(self) -> list[Bucket]:
        found = list(self.known)
        if self.seen_requests is not None:
            found.append(self.seen_requests)
        if self.seen_tokens is not None:
            found.append(self.seen_tokens)
        return found

    def wait_before(self, tokens: int, now: float) -> float | None:
        """0 if a request of `tokens` may go now; else seconds to wait, or None: until one in flight ends."""
        if not self._started:
            self._start(now)
        if now < self.hold_until:
            return self.hold_until - now
        if self.in_flight >= int(self.window):
            return None
        if self.budget is not None:
            if self._period_sent and now - self._period_start > PERIOD_PATIENCE * self._period_length:
                self.budget = None
            elif self._period_sent >= self.budget and self.in_flight:
                return None  # past the budget: one request at a time
        wait = 0.0
        if self.known or self.seen_requests is not None or self.seen_tokens is not None:
            for bucket in self._buckets():
                if bucket.counts_tokens and tokens > bucket.rate * 60:
                    raise RequestTooLarge(
                        f"the request takes {tokens:,} tokens (its prompt and max_tokens), more than "
                        f"{bucket.source} allows in a minute ({bucket.rate * 60:,.0f}); no pace fits it"
                    )
                wait = max(wait, bucket.wait(bucket.amount(tokens), now))
        return wait

    def take(self, tokens: int, now: float) -> Permit:
        self._seq += 1
        self.in_flight += 1
        self._flying[self._seq] = tokens
        self.mean_tokens += (tokens - self.mean_tokens) / self._seq
        if self._period_sent == 0:
            self._period_start = now
        probe = self.budget is not None and self._period_sent >= self.budget
        self._period_sent += 1
        if self.known or self.seen_requests is not None or self.seen_tokens is not None:
            for bucket in self._buckets():
                bucket.take(bucket.amount(tokens), now)
        return Permit(self._seq, tokens, self._period, probe)

    async def acquire(
        self, tokens: int, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> Permit:
        """Wait for the turn of a request of `tokens`, in line behind those that came first."""
        now = clock()
        if not self._line and self.wait_before(tokens, now) == 0:
            return self.take(tokens, now)
        place = object()
        self._line.append(place)
        try:
            while True:
                now = clock()
                wait = self.wait_before(tokens, now) if self._line[0] is place else None
                if wait == 0:
                    self._line.popleft()
                    self._wake()  # the next in line looks again
                    return self.take(tokens, now)
                await self._until_change(wait, sleep)
        finally:
            if place in self._line:  # cancelled while waiting
                self._line.remove(place)
                self._wake()

    @property
    def waiting(self) -> int:
        return len(self._line)

    async def _until_change(self, seconds: float | None, sleep: Callable[[float], Awaitable[None]]) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        changed = self._changed
        if seconds is None:
            await changed.wait()
            return
        timer = asyncio.ensure_future(sleep(seconds))
        woken = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait((timer, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            woken.cancel()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    # -- what came back --------------------------------------------------------------------

    def hold(self, seconds: float, now: float, reason: str) -> None:
        """No request goes before `now + seconds`: the server asked every sender to wait."""
        if now + seconds > self.hold_until:
            self.hold_until = now + seconds
            self.hold_reason = reason
            self._wake()

    def release(
        self,
        permit: Permit,
        now: float,
        outcome: Outcome,
        headers: Mapping[str, str] | None = None,
        wall: float | None = None,
    ) -> RateInfo:
        """A request ended: `served` (the server took it), `limited` (a 429), `failed`, or `unsent`.

        Returns what its headers said (garbage left out, and kept for `notes`).
        """
        self.in_flight -= 1
        self._flying.pop(permit.seq, None)
        info = read_headers(headers, wall) if headers else RateInfo()
        for name, value, why in info.bad:
            seen = self._bad.get(name)
            if seen is None:
                self._bad[name] = _BadHeaderSeen(value, why)
            else:
                seen.times += 1
        if info.requests is not None or info.tokens is not None:
            self._sync(permit, info, now)
        if outcome == "served":
            # Additive increase: one more in flight per window's worth of replies.
            self.window = min(float(self.ceiling), self.window + 1 / self.window)
            if permit.period == self._period:
                self._period_served += 1
        elif outcome == "limited":
            # Multiplicative decrease, once per round: the 429s of requests sent before the
            # last halving say nothing new, and a probe past the budget was meant to find one.
            if permit.seq > self._decreased_at and not permit.probe:
                self.window = max(1.0, self.window / 2)
                self._decreased_at = self._seq
            if info.retry_after is not None and permit.period == self._period:
                # The period ends (the caller holds every sender until the time the server
                # gave): what the server took in it is the next period's budget. It grows by
                # one a period at most: a period that ran across the server's own window
                # boundary took two windows' worth, which the next would not get at once.
                served = self._period_served
                self.budget = served if self.budget is None or served <= self.budget else self.budget + 1
                self._period_length = max(
                    0.0, now + min(info.retry_after, LONGEST_RESET) - self._period_start
                )
                self._period += 1
                self._period_sent = self._period_served = 0
        elif outcome == "unsent":
            if permit.period == self._period:
                self._period_sent = max(0, self._period_sent - 1)
            for bucket in self._buckets():
                bucket.give_back(bucket.amount(permit.tokens), now)
        self._wake()
        return info

    def _sync(self, permit: Permit, info: RateInfo, now: float) -> None:
        """Bring the seen buckets to what the server says, less every request still in flight.

        Those sent after this one were not counted in what it says; those sent before it
        may not have reached the server yet (each request has a connection of its own, and
        they arrive in any order): counting them again errs on the side of no 429.
        """
        if permit.seq < self._synced_at:
            return  # an older word than the one already taken
        self._synced_at = permit.seq
        newer = list(self._flying.values())
        for state, counts_tokens in ((info.requests, False), (info.tokens, True)):
            if state is None:
                continue
            rate = state.limit / 60
            full = state.remaining + rate * state.reset if state.reset is not None else state.limit
            capacity = max(1.0, min(state.limit, full))
            level = state.remaining - (sum(newer) if counts_tokens else len(newer))
            source = "the server's token limit" if counts_tokens else "the server's request limit"
            bucket = Bucket(rate, capacity, level, now, source, counts_tokens)
            if counts_tokens:
                self.seen_tokens = bucket
            else:
                self.seen_requests = bucket

    def explain(self, permit: Permit, info: RateInfo, now: float) -> float | None:
        """For a 429 without Retry-After: seconds until the limit its headers report has room, or None.

        None when the headers do not show the request's limit as spent (a 429 for some
        other reason, or no headers): then it is an unexplained failure, retried a few times.
        """
        wait: float | None = None
        if info.requests is not None and info.requests.remaining < 1 and self.seen_requests is not None:
            wait = self.seen_requests.wait(1, now)
        if info.tokens is not None and info.tokens.remaining < permit.tokens and self.seen_tokens is not None:
            wait = max(wait or 0.0, self.seen_tokens.wait(permit.tokens, now))
        return wait

    # -- what to say -------------------------------------------------------------------------

    def describe(self, now: float) -> str:
        """What holds requests back now, in a few words for the progress line; "" when nothing does."""
        if now < self.hold_until:
            return f"all held {self.hold_until - now:.1f} s: {self.hold_reason}"
        parts = []
        buckets = self._buckets()
        if buckets:
            slowest = min(buckets, key=lambda bucket: bucket.level_at(now) / bucket.capacity)
            if slowest.level_at(now) < slowest.capacity / 2:
                # A limit nearly spent sets the pace, said in requests a second either way.
                per_request = max(1.0, self.mean_tokens) if slowest.counts_tokens else 1.0
                unit = f" ({slowest.rate:,.0f} tokens/s)" if slowest.counts_tokens else ""
                parts.append(
                    f"paced to {slowest.rate / per_request:,.1f} requests/s{unit} by {slowest.source}"
                )
        if self.budget is not None and self._period_sent >= self.budget:
            parts.append(f"{self.budget} sent this period, then one at a time")
        if int(self.window) < self.ceiling:
            parts.append(f"{int(self.window)} of {self.ceiling} in flight after a 429")
        return "; ".join(parts)

    def notes(self) -> list[str]:
        """One note per header whose values were garbage, for the run's report."""
        return [
            f"ignored the server's {name} header ({seen.value!r}: {seen.why})"
            + (f", and {seen.times - 1} more bad value(s) of it" if seen.times > 1 else "")
            for name, seen in self._bad.items()
        ]
