"""The price table, name matching, token counting and the --max-cost gate (mtb.cost)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mtb import cost
from mtb.backends.base import Completion, Usage
from mtb.errors import DataError, UsageError


@pytest.fixture(scope="module")
def prices() -> dict[str, cost.Price]:
    return cost.load_prices()


def test_every_entry_has_a_price_a_date_and_a_source(prices: dict[str, cost.Price]) -> None:
    for name in ("gpt-4", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini"):
        assert name in prices
    for name in ("claude-3-5-sonnet", "claude-3-opus", "claude-3-haiku"):
        assert name in prices
    for name in ("gemini-1.5-pro", "gemini-1.5-flash", "gemini-2.0-flash"):
        assert name in prices
    for price in prices.values():
        assert price.input > 0 and price.output >= price.input
        assert price.date and price.source and price.source.startswith("https://")
    assert (prices["gpt-4"].input, prices["gpt-4"].output) == (30.0, 60.0)
    assert (prices["gpt-4-1106-preview"].input, prices["gpt-4-1106-preview"].output) == (10.0, 30.0)


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("gpt-4", "gpt-4"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4-0314", "gpt-4"),
        ("gpt-4-1106-preview", "gpt-4-turbo"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # priced apart from its family
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4.1-2025-04-14", "gpt-4.1"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("claude-3-5-sonnet-20240620", "claude-3-5-sonnet"),
        ("anthropic/claude-3-opus-20240229", "claude-3-opus"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("gemini/gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
    ],
)
def test_names_find_their_entry(prices: dict[str, cost.Price], model: str, entry: str) -> None:
    found = cost.find_price(model, prices)
    assert found is not None and found.name == entry


@pytest.mark.parametrize("model", ["gpt-4-32k", "llama-3-70b", "gpt-4o-mini-tts", "my-judge", "gpt-5"])
def test_unknown_names_find_nothing(prices: dict[str, cost.Price], model: str) -> None:
    assert cost.find_price(model, prices) is None


def test_price_flags_override_the_table() -> None:
    both = cost.resolve_price("my-judge", 1.5, 2.5)
    assert both is not None and (both.input, both.output) == (1.5, 2.5)
    one = cost.resolve_price("gpt-4", None, 100.0)
    assert one is not None and (one.input, one.output) == (30.0, 100.0)
    assert cost.resolve_price("my-judge", None, None) is None
    with pytest.raises(UsageError, match="--price-in and --price-out"):
        cost.resolve_price("my-judge", 1.0, None)
    with pytest.raises(UsageError, match="--price-in"):
        cost.resolve_price("gpt-4", -1.0, None)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('input = 1.0\noutput = 2.0\ndate = "d"', "missing field 'source'"),
        ('input = -1.0\noutput = 2.0\ndate = "d"\nsource = "s"', "0 or more"),
        ('input = nan\noutput = 2.0\ndate = "d"\nsource = "s"', "must be a number"),
        ('input = true\noutput = 2.0\ndate = "d"\nsource = "s"', "must be a number"),
        ('input = 1.0\noutput = 2.0\ndate = "d"\nsource = "s"\naliases = "x"', "must be a list"),
    ],
)
def test_a_bad_price_entry_names_the_file_and_entry(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(f'[models."m"]\n{entry}\n')
    with pytest.raises(DataError) as caught:
        cost.load_prices(path)
    assert str(caught.value).startswith(f"{path}: models.m: ")
    assert problem in str(caught.value)


def test_a_name_priced_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    entry = 'input = 1.0\noutput = 2.0\ndate = "d"\nsource = "s"\n'
    path.write_text(f'[models."a"]\n{entry}aliases = ["b"]\n[models."b"]\n{entry}')
    with pytest.raises(DataError, match="'b' is priced twice"):
        cost.load_prices(path)


def test_tokens_are_counted_with_cl100k_or_a_labelled_guess() -> None:
    exact = cost.TokenCounter()
    assert exact.exact and "cl100k" in exact.method
    assert exact.text("hello world") == 2
    assert exact.text("x" * 1_000_000) == 125_000  # past what bpe-openai takes at once: counted in pieces
    guess = cost.TokenCounter(exact=False)
    assert not guess.exact and "characters / 4" in guess.method and "--dry-run" in guess.method
    assert guess.text("x" * 10) == 3
    messages = [{"role": "system", "content": "hello world"}, {"role": "user", "content": "hello world"}]
    assert exact.messages(messages) == 2 * (2 + cost.TOKENS_PER_MESSAGE) + cost.TOKENS_PER_REPLY


PRICE = cost.Price("p", 1_000_000.0, 1_000_000.0)  # a dollar a token: easy sums


def test_the_meter_admits_while_spent_and_in_flight_fit_then_closes() -> None:
    async def scenario() -> None:
        counter = cost.TokenCounter(exact=False)
        meter = cost.Meter(PRICE, cap=30.0, counter=counter, expected_output=1)
        messages = [{"role": "user", "content": "x" * 16}]  # 4 + 3 + 3 = 10 input tokens
        first = await meter.admit(messages, max_tokens=2)  # worst case 10 + 2 = $12 reserved
        second = await meter.admit(messages, max_tokens=2)  # $24 reserved
        assert meter.budget.in_flight == 2
        # A third ($12) would pass $30 while two are in flight: it waits for them.
        third = asyncio.ensure_future(meter.admit(messages, max_tokens=2))
        await asyncio.sleep(0)
        assert not third.done()
        meter.settle(first, Completion("ok", usage=Usage(10, 1)), messages)  # $11 spent, $12 in flight
        await asyncio.sleep(0)
        assert not third.done()  # 11 + 12 + 12 > 30: still waiting
        meter.settle(second, Completion("ok", usage=Usage(5, 0)), messages)  # $16 spent, none in flight
        ticket = await third  # 16 + 12 <= 30
        meter.settle(ticket, Completion("ok", usage=Usage(10, 1)), messages)
        assert meter.spent == 27.0 and meter.budget.in_flight == 0 and meter.budget.reserved == 0
        # The next may cost up to 10 + 2 (all of its max_tokens): 39 > 30 with nothing in flight.
        with pytest.raises(cost.BudgetExhausted, match=r"--max-cost \$30.00 reached.*up to \$12.0000"):
            await meter.admit(messages, max_tokens=2)
        # Closed for good: even a request that would fit starts no more.
        with pytest.raises(cost.BudgetExhausted):
            await meter.admit([{"role": "user", "content": ""}], max_tokens=1)

    asyncio.run(scenario())


def test_each_request_reserves_its_worst_case_not_the_expected_reply() -> None:
    # Was: a request reserved its expected reply (2 tokens here), so four went at once, and
    # four replies of all 100 tokens took the spend to $440 against a cap of $250.
    async def scenario() -> None:
        meter = cost.Meter(PRICE, cap=250.0, counter=cost.TokenCounter(exact=False), expected_output=2)
        messages = [{"role": "user", "content": "x" * 16}]  # 10 input tokens: worst case $110
        tickets = [await meter.admit(messages, max_tokens=100) for _ in range(2)]
        third = asyncio.ensure_future(meter.admit(messages, max_tokens=100))
        await asyncio.sleep(0)
        assert not third.done()  # 220 + 110 > 250
        for ticket in tickets:
            meter.settle(ticket, Completion("long", usage=Usage(10, 100)), messages)
        with pytest.raises(cost.BudgetExhausted, match=r"up to \$110.0000 with all of its max_tokens"):
            await third  # $220 spent: one more could reach $330
        assert meter.spent == 220.0 <= 250.0

    asyncio.run(scenario())


def test_a_server_counting_more_than_the_prompt_raises_the_worst_case() -> None:
    async def scenario() -> None:
        meter = cost.Meter(PRICE, cap=100.0, counter=cost.TokenCounter(exact=False))
        messages = [{"role": "user", "content": "x" * 16}]  # 10 counted here
        ticket = await meter.admit(messages, max_tokens=5)
        assert ticket.reserved == 15.0
        meter.settle(ticket, Completion("ok", usage=Usage(30, 5)), messages)  # the server counted 3×
        assert meter.input_scale == 3.0
        ticket = await meter.admit(messages, max_tokens=5)
        assert ticket.reserved == 35.0  # 30 + 5
        # And a reply longer than max_tokens (a server that says so) is allowed for too.
        meter.settle(ticket, Completion("ok", usage=Usage(30, 8)), messages)
        assert meter.worst_case(10, 5) == 38.0

    asyncio.run(scenario())


def test_a_failed_request_costs_nothing_and_frees_its_reservation() -> None:
    async def scenario() -> None:
        meter = cost.Meter(PRICE, cap=15.0, counter=cost.TokenCounter(exact=False), expected_output=2)
        messages = [{"role": "user", "content": "x" * 16}]
        ticket = await meter.admit(messages, max_tokens=2)
        meter.settle(ticket, None, messages)
        assert (meter.spent, meter.budget.reserved, meter.budget.in_flight, meter.responses) == (
            0.0,
            0.0,
            0,
            0,
        )
        await meter.admit(messages, max_tokens=2)  # fits again

    asyncio.run(scenario())


def test_without_a_cap_the_meter_only_counts() -> None:
    async def scenario() -> None:
        meter = cost.Meter(None, counter=cost.TokenCounter())
        messages = [{"role": "user", "content": "hello world"}]
        ticket = await meter.admit(messages, max_tokens=10)
        meter.settle(ticket, Completion("hello world"), messages)
        assert (meter.input_tokens, meter.output_tokens, meter.without_usage) == (8, 2, 1)
        assert meter.cost() is None and "no price known" in meter.line()

    asyncio.run(scenario())


def test_one_budget_caps_two_runs_together() -> None:
    # Each request: 7 input tokens counted for the message, at most 2 output: $9 at a dollar a token.
    budget = cost.Budget(12.0)
    model = cost.Meter(PRICE, budget, cost.TokenCounter(exact=False), expected_output=2)
    judge = cost.Meter(PRICE, budget, cost.TokenCounter(exact=False), expected_output=2)
    messages = [{"role": "user", "content": "x"}]

    async def main() -> None:
        ticket = await model.admit(messages, max_tokens=2)
        model.settle(ticket, Completion(text="ok", usage=Usage(input_tokens=2, output_tokens=2)), messages)
        # The judge's own meter spent nothing, but the budget is shared: $4 + $9 would pass $12.
        with pytest.raises(cost.BudgetExhausted):
            await judge.admit(messages, max_tokens=2)

    asyncio.run(main())
    assert (model.spent, judge.spent, budget.spent, budget.left) == (4.0, 0.0, 4.0, 8.0)
    assert judge.closed is not None and model.closed == judge.closed
