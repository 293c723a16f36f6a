"""Money: the price table, token counts, the estimate before a run, the cap during it, the log after.

    prices/prices.toml   list prices per million tokens, with date and source (data, ours)
    find_price           a model name → its entry (exact, provider prefix, snapshot suffix)
    TokenCounter         cl100k through bpe-openai (offline), else a labelled chars/4 guess
    estimate             tokens × prices for the requests a plan will send
    Meter                what a run spends, from each response's `usage`; with --max-cost,
                         the gate the engine's Caller asks before each request, which
                         reserves each request's worst case (prompt + max_tokens)
    the run log          DATA/<bench>/runs/cost.jsonl: tokens and cost of each run, which
                         `mtb results` sums for the judgments it shows

Protocols know no prices: they say which messages a run will send and what their judges
wrote before (`PlannedRun.requests`, `past_outputs`); this module turns that into money.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb import validate
from mtb.errors import UsageError
from mtb.resources import load_toml, resource_dir

if TYPE_CHECKING:
    from mtb.backends.base import Completion, Message
    from mtb.data import DataDir

PRICE_FLAGS = "--price-in and --price-out (USD per million tokens)"
# The chat format's own tokens around each message and before the reply (OpenAI's published
# accounting for its chat models); small next to the contents, but they add up over 5,000 prompts.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
# How many past replies are enough to take a median from; more would only cost time.
HISTORY_SAMPLE = 2000
CHUNK = 200_000  # characters bpe-openai is given at once


class BudgetExhausted(Exception):
    """--max-cost would be passed by the next request; the run starts no more."""


@dataclass(frozen=True)
class Price:
    name: str  # the table entry ("gpt-4"), or the flags that gave it
    input: float  # USD per million input tokens
    output: float  # USD per million output tokens
    date: str | None = None
    source: str | None = None
    # The Batch API's prices (`--batch`), where the provider has one.
    batch_input: float | None = None
    batch_output: float | None = None

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000

    def for_batch(self) -> Price | None:
        """The price of the same tokens sent through the Batch API; None where none is known."""
        if self.batch_input is None or self.batch_output is None:
            return None
        return Price(f"{self.name} (batch)", self.batch_input, self.batch_output, self.date, self.source)

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.name,
            "input_per_million": self.input,
            "output_per_million": self.output,
            "date": self.date,
            "source": self.source,
        }


def prices_file() -> Path:
    return resource_dir("prices") / "prices.toml"


def load_prices(path: Path | None = None) -> dict[str, Price]:
    """Every name and alias in the table → its Price; a bad entry is `path: models.NAME: problem`."""
    path = path or prices_file()
    table = load_toml(path)
    with validate.in_file(path):
        models = validate.field(table, "models", dict)
    prices: dict[str, Price] = {}
    for name, entry in models.items():
        with validate.in_file(path, where=f"models.{name}"):
            if not isinstance(entry, dict):
                raise ValueError("must be a table")
            batch = [_non_negative(entry, k) if k in entry else None for k in ("batch_input", "batch_output")]
            if (batch[0] is None) != (batch[1] is None):
                raise ValueError("give both batch_input and batch_output, or neither")
            price = Price(
                name,
                _non_negative(entry, "input"),
                _non_negative(entry, "output"),
                validate.field(entry, "date", str),
                validate.field(entry, "source", str),
                batch[0],
                batch[1],
            )
            for key in (name, *validate.string_list(entry, "aliases", default=[])):
                if key in prices:
                    raise ValueError(f"'{key}' is priced twice")
                prices[key] = price
    return prices


def _non_negative(entry: dict[str, Any], key: str) -> float:
    value = validate.number(entry, key)
    if value < 0:
        raise ValueError(f"field '{key}' must be 0 or more, got {value}")
    return value


# A snapshot's suffix: a date (2024-08-06, 20240620, 0613), Gemini's -001, or -latest.
SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{3}|latest)$")


def find_price(model: str, prices: dict[str, Price]) -> Price | None:
    """The entry for `model`: exact, then without a provider prefix, then without a snapshot suffix."""
    candidates = [model]
    if "/" in model:
        candidates.append(model.rsplit("/", 1)[1])
    for name in list(candidates):
        bare = SNAPSHOT_SUFFIX.sub("", name)
        if bare != name:
            candidates.append(bare)
    for name in candidates:
        if name in prices:
            return prices[name]
    return None


def resolve_price(
    model: str, price_in: float | None, price_out: float | None, batch: bool = False
) -> Price | None:
    """The price to use for `model`: the flags over the table (its batch price with `batch`, where
    it has one); None when neither knows it. Flags are taken as the price paid, batch or not."""
    for flag, value in (("--price-in", price_in), ("--price-out", price_out)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise UsageError(f"{flag} must be a number of dollars, 0 or more, not {value}")
    listed = find_price(model, load_prices())
    if price_in is None and price_out is None:
        return (listed.for_batch() or listed) if batch and listed is not None else listed
    if listed is None and (price_in is None or price_out is None):
        raise UsageError(f"'{model}' is not in mtb's price table; give both {PRICE_FLAGS}")
    return Price(
        listed.name if listed else model,
        price_in if price_in is not None else listed.input,  # type: ignore[union-attr]
        price_out if price_out is not None else listed.output,  # type: ignore[union-attr]
        listed.date if listed else None,
        "--price-in/--price-out" if listed is None else f"{listed.source}, with --price-in/--price-out",
    )


class TokenCounter:
    """cl100k_base counts through bpe-openai (its vocabulary ships in the wheel: offline), cached
    per distinct text; without bpe-openai, a labelled estimate of one token per four characters."""

    def __init__(self, exact: bool = True) -> None:
        self._asked_exact = exact
        self._loaded = not exact  # the tokenizer loads on first use (about 0.7 s): none paid for nothing
        self._encoding: Any = None
        self._cache: dict[str, int] = {}

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            try:
                import bpe_openai

                self._encoding = bpe_openai.get_encoding("cl100k_base")
            except ImportError:
                self._encoding = None

    @property
    def exact(self) -> bool:
        self._load()
        return self._encoding is not None

    @property
    def method(self) -> str:
        if self.exact:
            return "counted with cl100k_base (bpe-openai)"
        if not self._asked_exact:
            return "estimated as characters / 4 (counted exactly with --dry-run or --max-cost)"
        return "estimated as characters / 4: bpe-openai is not installed (pip install 'mtb[arena]')"

    def text(self, text: str) -> int:
        found = self._cache.get(text)
        if found is None:
            self._load()
            if self._encoding is not None:
                # bpe-openai refuses inputs near a million characters; a text that long is
                # counted in pieces (a token may be split at a seam: off by one per piece).
                found = sum(
                    len(self._encoding.encode(text[at : at + CHUNK], disallowed_special=()))
                    for at in range(0, max(len(text), 1), CHUNK)
                )
            else:
                found = math.ceil(len(text) / 4)
            if len(self._cache) > 100_000:  # a long run: keep memory bounded
                self._cache.clear()
            self._cache[text] = found
        return found

    def messages(self, messages: Sequence[Message]) -> int:
        contents = sum(self.text(m.get("content") or "") + TOKENS_PER_MESSAGE for m in messages)
        return contents + TOKENS_PER_REPLY


def median_tokens(texts: Iterable[str], counter: TokenCounter, limit: int = HISTORY_SAMPLE) -> int | None:
    """The median length of up to `limit` of `texts` (None when there are none)."""
    lengths = []
    for text in texts:
        lengths.append(counter.text(text))
        if len(lengths) >= limit:
            break
    return round(statistics.median(lengths)) if lengths else None


@dataclass
class Estimate:
    requests: int
    input_tokens: int
    output_tokens: int
    price: Price | None
    notes: list[str] = field(default_factory=list)

    @property
    def cost(self) -> float | None:
        return None if self.price is None else self.price.cost(self.input_tokens, self.output_tokens)

    def summary(self) -> dict[str, Any]:
        """The keys the plan JSON gains."""
        cost = self.cost
        return {
            "estimated_tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "estimated_cost_usd": None if cost is None else round(cost, 2),
            "price": None if self.price is None else self.price.to_json(),
            "estimate_notes": self.notes,
        }


def no_price_note(model: str) -> str:
    return f"no price for '{model}' in mtb's price table: no cost estimate; give {PRICE_FLAGS}"


def estimate_judging(
    requests: Iterable[Sequence[Message]],
    past_outputs: Iterable[str],
    default_output: int,
    max_tokens: int,
    price: Price | None,
    model: str,
    counter: TokenCounter,
) -> tuple[Estimate, int]:
    """The estimate for a judge run, and the output tokens expected per request (for the Meter)."""
    count = input_tokens = 0
    for messages in requests:
        count += 1
        input_tokens += counter.messages(messages)
    history = median_tokens(past_outputs, counter)
    if history is not None:
        per_request = min(history, max_tokens)
        source = f"the median of this judge's past replies in the data directory ({history} tokens)"
    else:
        per_request = min(default_output, max_tokens)
        source = f"the benchmark's default ({per_request} tokens a reply; no past judgments to learn from)"
    notes = [f"input tokens {counter.method}", f"output tokens: {count} requests × {source}"]
    if price is None:
        notes.append(no_price_note(model))
    return Estimate(count, input_tokens, count * per_request, price, notes), per_request


def estimate_generation(
    turns: Iterable[Sequence[str]],
    system_prompt: str | None,
    choices: int,
    past_turns: Iterable[str],
    max_tokens: int,
    price: Price | None,
    model: str,
    counter: TokenCounter,
) -> tuple[Estimate, int]:
    """Each question's turns sent with the replies before them, the replies `per_turn` tokens long."""
    history = median_tokens(past_turns, counter)
    per_turn = max_tokens if history is None else min(history, max_tokens)
    count = input_tokens = 0
    for question in turns:
        sent = TOKENS_PER_REPLY + (counter.text(system_prompt) + TOKENS_PER_MESSAGE if system_prompt else 0)
        for position, user_turn in enumerate(question):
            sent += counter.text(user_turn) + TOKENS_PER_MESSAGE
            if position:
                sent += per_turn + TOKENS_PER_MESSAGE  # the model's own earlier reply
            input_tokens += sent * choices
            count += choices
    if history is None:
        source = f"--max-tokens ({max_tokens} a turn, an upper bound: no answers in the data directory yet)"
    else:
        source = f"the median turn of the answers in the data directory ({history} tokens)"
    notes = [
        f"input tokens {counter.method}; earlier turns' replies counted at the output estimate",
        f"output tokens: {count} requests × {source}",
    ]
    if price is None:
        notes.append(no_price_note(model))
    return Estimate(count, input_tokens, count * per_turn, price, notes), per_turn


@dataclass
class _Ticket:
    input_tokens: int | None  # counted when known; None: count only if the server gives no usage
    reserved: float  # the request's worst case, held against the cap while it is in flight


class Budget:
    """The dollars one command may spend (`--max-cost`), shared by every run it makes.

    Created once per command (for `mtb eval`, once for all its steps, generation and
    judging alike, even when they run at the same time) and passed down: what one step
    spent is what the next one cannot, with no re-reading of the cost log between
    steps. Without a cap it only counts.
    """

    def __init__(self, cap: float | None = None) -> None:
        self.cap = cap
        self.spent = 0.0
        self.reserved = 0.0  # the worst cases of the requests in flight
        self.in_flight = 0
        self.closed: str | None = None
        self._changed: asyncio.Event | None = None

    @property
    def left(self) -> float | None:
        return None if self.cap is None else round(self.cap - self.spent, 6)

    def changed(self) -> asyncio.Event:
        # Made inside the event loop that waits on it; a step that runs its own loop starts afresh.
        if self._changed is None or self.in_flight == 0:
            self._changed = asyncio.Event()
        return self._changed

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()


class Meter:
    """What one run spends, and (with a capped budget) the gate before each request.

    Spent money is counted from each response's `usage`, or from counted tokens where a server
    gives none. A request may start only while the budget's spent + the worst cases of the
    requests in flight + its own worst case stay within the cap. A request's worst case is its
    prompt and all of its max_tokens at the price, the prompt counted here and scaled up by
    the most a server has counted beyond that so far in the run: so no reply, however long,
    and no server counting more than mtb does, takes the spend past the cap. When a request
    does not fit, it waits for requests in flight to finish (their real cost replaces their
    worst case), and when nothing is in flight and it still does not fit, the budget closes:
    no request starts after that, in this run or any other sharing the budget.
    """

    def __init__(
        self,
        price: Price | None,
        cap: float | Budget | None = None,
        counter: TokenCounter | None = None,
        expected_output: int = 300,
    ) -> None:
        budget = cap if isinstance(cap, Budget) else Budget(cap)
        if budget.cap is not None and price is None:
            raise ValueError("a cap needs a price")
        self.price = price
        self.budget = budget
        self.counter = counter or TokenCounter()
        # What the plan expects a reply to take: said beside the worst case when the cap stops a run.
        self.expected_output = expected_output
        self.input_tokens = 0
        self.output_tokens = 0
        self.responses = 0
        self.without_usage = 0  # responses whose tokens were counted here, not by the server
        self.spent = 0.0  # by this run; the budget holds what every run sharing it spent
        # The most a server counted of a prompt, over what mtb counted of it (1: no more), and
        # the longest reply it reported: what the next request's worst case must allow for.
        self.input_scale = 1.0
        self.longest_output = 0

    @property
    def cap(self) -> float | None:
        return self.budget.cap

    @property
    def closed(self) -> str | None:
        return self.budget.closed

    @property
    def gated(self) -> bool:
        return self.budget.cap is not None and self.price is not None

    def _expected_output(self, max_tokens: int) -> int:
        # What this run's replies have been so far is the best guess for the next one.
        expected = self.output_tokens / self.responses if self.responses else self.expected_output
        return min(max_tokens, max(1, round(expected)))

    def worst_case(self, input_tokens: int, max_tokens: int) -> float:
        """The most a request of `input_tokens` (as counted here) may cost."""
        assert self.price is not None
        prompt = math.ceil(input_tokens * self.input_scale)
        return self.price.cost(prompt, max(max_tokens, self.longest_output))

    async def admit(self, messages: Sequence[Message], max_tokens: int) -> _Ticket:
        if not self.gated:
            return _Ticket(None, 0.0)
        budget = self.budget
        assert budget.cap is not None and self.price is not None
        input_tokens = self.counter.messages(messages)
        while True:
            # Worked out again after each wait: a reply may have shown the server counts more.
            worst = self.worst_case(input_tokens, max_tokens)
            if budget.closed is not None:
                raise BudgetExhausted(budget.closed)
            if budget.spent + budget.reserved + worst <= budget.cap:
                break
            if budget.in_flight == 0:
                expected = self.price.cost(input_tokens, self._expected_output(max_tokens))
                budget.closed = (
                    f"--max-cost ${budget.cap:.2f} reached: ${budget.spent:.4f} spent, and the next request "
                    f"(about ${expected:.4f}, up to ${worst:.4f} with all of its max_tokens) could pass it; "
                    "everything done is kept, and the same command with a higher --max-cost "
                    "(or none) continues"
                )
                budget.notify()
                raise BudgetExhausted(budget.closed)
            # No await between the check and the wait: a settle cannot slip in unseen.
            changed = budget.changed()
            changed.clear()
            await changed.wait()
        budget.reserved += worst
        budget.in_flight += 1
        return _Ticket(input_tokens, worst)

    def settle(self, ticket: _Ticket, completion: Completion | None, messages: Sequence[Message]) -> None:
        """Count a finished request (None: it failed, and is taken to have cost nothing)."""
        budget = self.budget
        if completion is not None:
            self._count(completion, ticket.input_tokens, messages)
        if self.gated:
            budget.in_flight -= 1
            budget.reserved = max(0.0, budget.reserved - ticket.reserved) if budget.in_flight else 0.0
            budget.notify()

    def count(self, completion: Completion, messages: Sequence[Message]) -> None:
        """Count a reply paid for without this run's admission (a batch an earlier run submitted)."""
        self._count(completion, None, messages)

    def _count(self, completion: Completion, counted: int | None, messages: Sequence[Message]) -> None:
        usage = completion.usage
        if usage is not None:
            input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
            if counted:
                self.input_scale = max(self.input_scale, input_tokens / counted)
            self.longest_output = max(self.longest_output, output_tokens)
        else:
            self.without_usage += 1
            input_tokens = counted if counted is not None else self.counter.messages(messages)
            output_tokens = self.counter.text(completion.text)
        self.responses += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        if self.price is not None:
            dollars = self.price.cost(input_tokens, output_tokens)
            self.spent += dollars
            self.budget.spent += dollars

    def cost(self) -> float | None:
        return None if self.price is None else self.spent

    def line(self) -> str:
        """One line for the end of a run."""
        tokens = f"{self.input_tokens:,} input + {self.output_tokens:,} output tokens"
        if self.without_usage:
            tokens += f" ({self.without_usage} replies without usage: counted here)"
        if self.price is None:
            return f"cost: {tokens}; no price known ({PRICE_FLAGS} give one)"
        cap = f" of --max-cost ${self.cap:.2f}" if self.cap is not None else ""
        return f"cost: {tokens}, ${self.spent:.4f}{cap} at {self.price.name} prices"


# -- the run log ---------------------------------------------------------------


def log_path(data: DataDir) -> Path:
    return data.question_path.parent / "runs" / "cost.jsonl"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


def record_run(
    data: DataDir,
    *,
    command: str,
    model: str,
    output: Path,
    meter: Meter,
    started: float,
    requests: int,
    completed: int,
    run_id: str | None = None,
) -> str | None:
    """Append the run's tokens and cost to the run log; a warning if it cannot be written.

    `run_id` is the run its records carry (provenance): what ties a judgment to what it cost.
    """
    path = log_path(data)
    record = {
        "run_id": run_id,
        "command": command,
        "model": model,
        "output": _relative(output, data.root),
        "started": round(started, 3),
        "finished": round(time.time(), 3),
        "requests": requests,
        "completed": completed,
        "input_tokens": meter.input_tokens,
        "output_tokens": meter.output_tokens,
        "replies_without_usage": meter.without_usage,
        "cost_usd": None if meter.price is None else round(meter.spent, 6),
        "price": None if meter.price is None else meter.price.to_json(),
        "max_cost_usd": meter.cap,
        "stopped_by_max_cost": meter.closed is not None,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError as exc:
        return f"{path}: the run's cost could not be logged ({exc.strerror or exc})"
    return None


@dataclass
class LoggedCost:
    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0  # runs with no price: their tokens are counted, their cost is not

    def note(self) -> str:
        money = f"${self.cost_usd:,.2f}"
        if self.unpriced:
            money += f" (+ {self.unpriced} run(s) without a price)"
        return (
            f"cost: {self.runs} logged run(s) wrote to these files, for every model in them (no judgment "
            f"shown names a run with a logged cost): {self.input_tokens:,} input + "
            f"{self.output_tokens:,} output tokens, {money}"
        )


def logged_cost(data: DataDir, sources: Sequence[Path]) -> LoggedCost | None:
    """The judge runs whose output is (or holds, or lies in) one of `sources`; None when none is logged."""
    from mtb.jsonl import iter_json_lines

    path = log_path(data)
    if not sources or not path.is_file():
        return None
    wanted = [Path(_relative(source, data.root)) for source in sources]
    total = LoggedCost()
    for number, obj in iter_json_lines(path):
        with validate.in_file(path, number):
            if validate.field(obj, "command", str) != "judge":
                continue
            output = Path(validate.field(obj, "output", str))
            if not any(output == w or output in w.parents or w in output.parents for w in wanted):
                continue
            input_tokens = validate.field(obj, "input_tokens", int)
            output_tokens = validate.field(obj, "output_tokens", int)
            cost = validate.number(obj, "cost_usd", default=None)
        total.runs += 1
        total.input_tokens += input_tokens
        total.output_tokens += output_tokens
        if cost is None:
            total.unpriced += 1
        else:
            total.cost_usd += cost
    return total if total.runs else None


def dollars(amount: float) -> str:
    """$0.0168 below a dollar (a short run's cost is cents or less), $1,234.56 above."""
    return f"${amount:,.4f}" if abs(amount) < 1 else f"${amount:,.2f}"


@dataclass(frozen=True)
class LoggedRun:
    """One paid run in the cost log, found by the run id its records carry."""

    cost_usd: float | None
    completed: int
    input_tokens: int
    output_tokens: int


def logged_runs(data: DataDir) -> dict[str, LoggedRun]:
    """Every logged run that names its run id (runs logged before mtb noted it are left out)."""
    from mtb.jsonl import iter_json_lines

    path = log_path(data)
    runs: dict[str, LoggedRun] = {}
    if not path.is_file():
        return runs
    for number, obj in iter_json_lines(path):
        with validate.in_file(path, number):
            run_id = validate.field(obj, "run_id", str, default=None)
            if not run_id:
                continue
            runs[run_id] = LoggedRun(
                cost_usd=validate.number(obj, "cost_usd", default=None),
                completed=validate.field(obj, "completed", int),
                input_tokens=validate.field(obj, "input_tokens", int),
                output_tokens=validate.field(obj, "output_tokens", int),
            )
    return runs


@dataclass
class ModelCost:
    """What one model's judgments (those scored) cost: each its run's cost over what the run wrote."""

    model: str
    judgments: int = 0
    logged: int = 0  # judgments whose run is in the cost log
    priced: int = 0  # of those, judgments whose run had a price
    cost_usd: float = 0.0
    runs: set[str] = field(default_factory=set)
    # Runs that also wrote judgments not counted here (other models', or later replaced): their whole cost.
    shared_runs_usd: float = 0.0

    def line(self) -> str:
        if not self.logged:
            return f"{self.model}: no logged run made its {self.judgments} judgment(s)"
        if not self.priced:
            return f"{self.model}: {self.logged} judgment(s) by a judge without a price: no cost known"
        runs = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        parts = [f"{self.model}: {dollars(self.cost_usd)} for {self.priced} judgment(s) ({runs}"]
        if self.shared_runs_usd:
            parts.append(
                f", shared with other judgments: {dollars(self.shared_runs_usd)} in all, split by judgment"
            )
        parts.append(")")
        if self.logged > self.priced:
            parts.append(f"; {self.logged - self.priced} more by a judge without a price")
        if self.judgments > self.logged:
            parts.append(f"; {self.judgments - self.logged} more made by no logged run (published ones)")
        return "".join(parts)


@dataclass
class ScoredCost:
    """What the judgments shown cost, per model and in all, through the runs that made them."""

    models: list[ModelCost]
    total_usd: float
    runs: int

    def lines(self) -> list[str]:
        if not any(m.logged for m in self.models):
            return []
        if len(self.models) == 1:
            return [f"cost: {self.models[0].line()}"]
        header = (
            f"cost of the judgments shown: {dollars(self.total_usd)} from {self.runs} logged run(s), "
            "each run's cost split over the judgments it wrote:"
        )
        return [header + "".join(f"\n  {m.line()}" for m in self.models)]


def scored_cost(data: DataDir, scored: Any) -> ScoredCost:
    """Per model, the cost of the judgments scored (`ScoredRuns`), through the runs that made them.

    A run's cost is split over the judgments it wrote: a judge run of two models costs
    each its own judgments, and `results --model-list A` shows A's, not the file's.
    Judgments without a run id (published ones) or whose run is not logged, or was
    not priced, are counted as such.
    """
    runs = logged_runs(data)
    costs = []
    for model, by_run in scored.per_model.items():
        cost = ModelCost(model)
        for run_id, count in by_run.items():
            cost.judgments += count
            run = runs.get(run_id) if run_id is not None else None
            if run_id is None or run is None:
                continue
            cost.logged += count
            if run.cost_usd is None or run.completed <= 0:
                continue
            cost.priced += count
            cost.runs.add(run_id)
            cost.cost_usd += run.cost_usd * min(count, run.completed) / run.completed
            if count < run.completed:
                cost.shared_runs_usd += run.cost_usd
        costs.append(cost)
    total, used = 0.0, 0
    for run_id, count in scored.judgments.items():
        run = runs.get(run_id) if run_id is not None else None
        if run is not None and run.cost_usd is not None and run.completed > 0:
            total += run.cost_usd * min(count, run.completed) / run.completed
            used += 1
    return ScoredCost(costs, total, used)


def check_cap(max_cost: float | None, price: Price | None, model: str) -> None:
    """--max-cost needs a price to count against."""
    if max_cost is None:
        return
    if not math.isfinite(max_cost) or max_cost <= 0:
        raise UsageError(f"--max-cost must be a number of dollars above 0, not {max_cost}")
    if price is None:
        raise UsageError(
            f"--max-cost needs a price for '{model}', which mtb's price table lacks: give {PRICE_FLAGS}"
        )
