"""The seed paper's judge-bias experiments (arXiv 2306.05685, §4.2), on an MT-bench benchmark.

    verbosity(VerbositySpec, reporter)   the repetitive-list attack (the paper's Table 3)
    position(PositionSpec, reporter)     two answers of one model, judged in both orders under
                                         each prompt (the paper's Table 2)

Both plan and estimate before any request (`dry_run` stops there), run through the
engine (resume, crash-safe JSONL, replies of unfinished items kept), and write their
records under DATA/<bench>/bias/, so a rerun pays for nothing twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mtb.app.options import MAX_PARALLEL, check_fields, flag
from mtb.app.reporter import says_unfinished_lines
from mtb.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from mtb.app.reporter import Reporter
    from mtb.backends.base import EndpointConfig, Message, SamplingParams
    from mtb.benchmarks import Benchmark
    from mtb.cost import Estimate, Meter
    from mtb.data import DataDir
    from mtb.jobs import Completer, OutputSpec, RunReport, Task
    from mtb.protocols.mt_bench.bias import NumberedList
    from mtb.protocols.mt_bench.prompts import Verdicts
    from mtb.protocols.mt_bench.records import JudgePrompt
    from mtb.protocols.mt_bench.settings import MtBenchSettings
    from mtb.provenance import Run
    from mtb.records import ModelAnswer, Question

# The paper: 23 answers for the attack; two answers per question at temperature 0.7 for position bias.
DEFAULT_ANSWERS = 23
POSITION_TEMPERATURE = 0.7
PromptName = Literal["default", "rename"]
PROMPTS: tuple[PromptName, ...] = ("default", "rename")
REPHRASE_MAX_TOKENS = 1024
# What a verbosity record names each game's winner: the answer, not the position.
VERBOSITY_GAME_1 = {"A": "original", "B": "attacked"}
VERBOSITY_GAME_2 = {"A": "attacked", "B": "original"}


@dataclass
class BiasCommon:
    """The judge and the run: the flags both experiments share."""

    judge_model: str | None = None
    judge_api_base: str | None = None
    judge_api_key: str | None = field(default=None, repr=False)
    judge_provider: str = "openai"
    api_base: str | None = None  # the rephrasing (verbosity) or answering (position) model's
    api_key: str | None = field(default=None, repr=False)
    provider: str = "openai"
    seed: int = flag(0, minimum=0)
    parallel: int = flag(8, minimum=1, maximum=MAX_PARALLEL)
    bench: str = "mt_bench"
    data_dir: Path = Path("data")
    timeout: float = flag(600.0, minimum=0.1, maximum=86_400.0)
    max_attempts: int = flag(8, minimum=1)
    dry_run: bool = False


@dataclass
class VerbositySpec(BiasCommon):
    """`mtb bias verbosity`'s flags."""

    model_list: list[str] | None = None
    answers: int = flag(DEFAULT_ANSWERS, minimum=1)
    rephrase_model: str = "gpt-4"
    control: bool = False

    def __post_init__(self) -> None:
        check_fields(self)
        if self.model_list is not None:
            names = [name for value in self.model_list for name in value.replace(",", " ").split()]
            self.model_list = list(dict.fromkeys(names)) or None


@dataclass
class PositionSpec(BiasCommon):
    """`mtb bias position`'s flags."""

    model: str | None = None
    prompt: list[PromptName] = field(default_factory=lambda: list(PROMPTS))
    first_n: int | None = flag(minimum=1)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.model:
            raise UsageError("give --model: the model whose two answers to each question are compared")
        self.prompt = list(dict.fromkeys(self.prompt)) or list(PROMPTS)


@dataclass
class BiasReport:
    """What an experiment shows: `records` as --format json prints them, the plan, the exit code."""

    records: list[dict[str, Any]] | dict[str, Any]
    plan: dict[str, Any]
    exit_code: int
    runs: list[RunReport] = field(default_factory=list)


# ---------------------------------------------------------------- shared plumbing


@dataclass(frozen=True)
class _Bench:
    benchmark: Benchmark
    data: DataDir
    settings: MtBenchSettings
    pair_prompt: JudgePrompt
    verdicts: Verdicts
    judge_model: str
    judge_params: SamplingParams


def _load(spec: BiasCommon) -> _Bench:
    from mtb.backends.base import SamplingParams
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir
    from mtb.errors import DataError
    from mtb.protocols.mt_bench.judging import judge_prompts

    benchmark = Benchmark.load(spec.bench)
    if benchmark.protocol_name != "mt-bench":
        raise UsageError(f"the bias experiments run on MT-bench benchmarks, not {benchmark.name}")
    data = DataDir(spec.data_dir, benchmark)
    settings: MtBenchSettings = benchmark.settings
    name = settings.prompt_map.prompt_name("pairwise", False, 1)
    prompts = judge_prompts(data, settings)
    if name not in prompts:
        raise DataError(data.root / settings.judge_prompt_file, f"no judge prompt named '{name}'")
    return _Bench(
        benchmark,
        data,
        settings,
        prompts[name],
        settings.prompt_map.verdicts,
        spec.judge_model or benchmark.default_judge,
        SamplingParams(temperature=settings.judge_temperature, max_tokens=settings.judge_max_tokens),
    )


def _answer(question: Question, model: str, text: str) -> ModelAnswer:
    """One text as a one-turn answer, for the pair prompt's renderer."""
    from mtb.records import Choice, ModelAnswer

    return ModelAnswer(question.question_id, "", model, [Choice(0, [text])], 0.0)


def _output(
    path: Path, parse: Callable[[dict[str, Any]], Any], current: Callable[[dict[str, Any]], bool]
) -> OutputSpec:
    """A records file keyed by (model, question_id), each record checked by `parse`; a record whose
    inputs changed since (`current` says no) is made again."""
    from mtb.jobs import OutputSpec
    from mtb.records import sortable_id

    return OutputSpec(
        path=path,
        parse=parse,
        key=lambda r: (r["model"], r["question_id"]),
        sort_key=lambda r: (str(r["model"]), sortable_id(r["question_id"])),
        is_done=current,
    )


# What each game's winner may be in a verbosity record (None: the rephrasing had no list, not
# judged), and the control's one game.
VERBOSITY_WINNERS = (*VERBOSITY_GAME_1.values(), "tie", "error")
CONTROL_WINNERS = ("first", "second", "tie", "error")


def _record_of(record: dict[str, Any]) -> None:
    """The fields every bias record has: which answer (model, question) it is about."""
    from mtb import validate
    from mtb.records import question_id_of

    validate.field(record, "model", str)
    question_id_of(record)


def parse_rephrasing(record: dict[str, Any]) -> dict[str, Any]:
    """A line of the rephrasings file; a wrong field is a ValueError (`path:line` to the reader)."""
    from mtb import validate

    _record_of(record)
    for name in ("list", "rephrased"):
        validate.field(record, name, str)
    return record


def parse_verbosity_record(record: dict[str, Any]) -> dict[str, Any]:
    """A line of the attack's records: what the summary counts is checked, so a hand-edited or
    damaged record is `path:line`, never a KeyError, nor a winner counted as nothing."""
    from mtb import validate

    _record_of(record)
    usable = validate.field(record, "rephrase_usable", bool)
    validate.field(record, "original", str)
    for game in ("g1_winner", "g2_winner"):
        winner = record.get(game)
        if usable and winner not in VERBOSITY_WINNERS:
            raise ValueError(f"field '{game}' must be one of {', '.join(VERBOSITY_WINNERS)}, got {winner!r}")
    return record


def parse_control_record(record: dict[str, Any]) -> dict[str, Any]:
    """A line of the control's records (each original judged against itself)."""
    from mtb import validate

    _record_of(record)
    validate.field(record, "original", str)
    if record.get("winner") not in CONTROL_WINNERS:
        raise ValueError(
            f"field 'winner' must be one of {', '.join(CONTROL_WINNERS)}, got {record.get('winner')!r}"
        )
    return record


def _endpoint(
    spec: BiasCommon, role: Literal["generate", "judge"], model: str, model_option: str = "--model"
) -> EndpointConfig:
    from mtb.backends import resolve_endpoint

    if role == "judge":
        return resolve_endpoint(
            "judge",
            spec.judge_provider,
            model,
            spec.judge_api_base,
            spec.judge_api_key,
            spec.timeout,
            key_option="--judge-api-key",
            base_option="--judge-api-base",
        )
    return resolve_endpoint(
        "generate",
        spec.provider,
        model,
        spec.api_base,
        spec.api_key,
        spec.timeout,
        key_option="--api-key",
        base_option="--api-base",
        model_option=model_option,
    )


@dataclass
class _Step:
    """One engine run: an endpoint, the jobs it fills, and what it spends."""

    label: str
    config: EndpointConfig
    jobs: Callable[[Completer], list[Any]]
    output: Path
    run: Run
    meter: Meter | None
    model: str
    report: RunReport = field(init=False)

    def __post_init__(self) -> None:
        from mtb.jobs import RunReport

        self.report = RunReport(self.output)


def _run_steps(spec: BiasCommon, steps: Sequence[_Step], reporter: Reporter, data: DataDir) -> int:
    """Each step in turn (a later one reads what an earlier one wrote); the worst exit code."""
    from mtb.app.runs import finish_run, log_spending, run_until_done
    from mtb.engine import api_endpoints, serve_jobs
    from mtb.retry import RetryPolicy

    started = time.time()

    async def work() -> None:
        for step in steps:
            await serve_jobs(
                lambda step=step: api_endpoints([step.config], spec.parallel),  # type: ignore[misc]
                step.jobs,
                report=step.report,
                workers=spec.parallel,
                policy=RetryPolicy.from_env(spec.max_attempts),
                progress=reporter.progress(step.label),
                meter=step.meter,
                run=step.run,
            )
            if step.report.fatal or step.report.interrupted or step.report.cost_stop:
                return

    run_until_done(work(), [s.report for s in steps])
    code = EXIT_OK
    for step in steps:
        step_code = finish_run(step.report, reporter, step.label)
        log_spending(step.meter, step.report, data, f"bias {step.label}", step.model, started, reporter)
        code = max(code, step_code)
    return code


def _meter(model: str, expected_output: int) -> Meter:
    from mtb import cost

    return cost.Meter(cost.resolve_price(model, None, None), None, cost.TokenCounter(), expected_output)


def _estimate(
    requests: Sequence[Sequence[Message]], output_tokens: int, model: str, counter: Any
) -> Estimate:
    """Tokens and dollars of `requests`, each reply `output_tokens` long."""
    from mtb import cost

    price = cost.resolve_price(model, None, None)
    input_tokens = sum(counter.messages(m) for m in requests)
    notes = [f"input tokens {counter.method}", f"output tokens: {len(requests)} × {output_tokens}"]
    if price is None:
        notes.append(cost.no_price_note(model))
    return cost.Estimate(len(requests), input_tokens, len(requests) * output_tokens, price, notes)


def _total(estimates: Sequence[Estimate]) -> float | None:
    costs = [e.cost for e in estimates]
    return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 2)


def _pair_messages(bench: _Bench, prompt: JudgePrompt, question: Question, first: str, second: str) -> Any:
    from mtb.protocols.mt_bench.prompts import render_pair

    return render_pair(
        prompt, question, _answer(question, "A", first), _answer(question, "B", second), 1, None
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# ---------------------------------------------------------------- verbosity


@dataclass(frozen=True)
class _Target:
    """One answer picked for the attack."""

    model: str
    question: Question
    answer: str
    found: NumberedList  # the answer's first numbered list

    @property
    def start(self) -> int:
        return self.found.start

    @property
    def numbered_list(self) -> str:
        return self.found.text_of(self.answer)

    @property
    def key(self) -> tuple[str, Any]:
        return (self.model, self.question.question_id)


def _candidates(bench: _Bench, models: Sequence[str]) -> list[_Target]:
    """Every first-turn answer holding a numbered list of two or more items, in a stable order."""
    from mtb.protocols.mt_bench.bias import find_numbered_list
    from mtb.records import sortable_id

    questions = {q.question_id: q for q in bench.data.questions()}
    found = []
    for model in sorted(models):
        path = bench.data.answer_path(model)
        if not path.is_file():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        for question_id, answer in sorted(bench.data.answers(model).items(), key=lambda i: sortable_id(i[0])):
            question = questions.get(question_id)
            text = answer.choices[0].turns[0] if answer.choices[0].turns else ""
            numbered = find_numbered_list(text)
            if question is not None and numbered is not None:
                found.append(_Target(model, question, text, numbered))
    return found


def _pick(bench: _Bench, spec: VerbositySpec) -> list[_Target]:
    models = spec.model_list or bench.data.answer_models()
    if not models:
        raise UsageError(f"no answer files in {bench.data.answer_dir}; run `mtb generate` first")
    candidates = _candidates(bench, models)
    if len(candidates) < spec.answers:
        raise UsageError(
            f"only {len(candidates)} first-turn answer(s) of {', '.join(models)} hold a numbered list of "
            f"two or more items; ask for that many (--answers {len(candidates)}) or add models"
        )
    # Seeded, over a list in a stable order: the same seed picks the same answers anywhere.
    picked = random.Random(spec.seed).sample(range(len(candidates)), spec.answers)
    return [candidates[i] for i in sorted(picked)]


def verbosity_paths(data: DataDir, judge: str, rephrase_model: str) -> tuple[Path, Path, Path]:
    """The rephrasings (one file per rephrasing model), the attack records and the control records."""
    from mtb.data import file_stem_safe

    folder = data.root / data.bench.question_file
    folder = folder.parent / "bias" / "verbosity"
    return (
        folder / "rephrased" / f"{file_stem_safe(rephrase_model)}.jsonl",
        folder / f"{file_stem_safe(judge)}.jsonl",
        folder / f"{file_stem_safe(judge)}_control.jsonl",
    )


@says_unfinished_lines
def verbosity(spec: VerbositySpec, reporter: Reporter) -> BiasReport:
    """Pick, rephrase, attack, judge in both orders (and with `control`, each original against itself)."""
    from mtb import cost
    from mtb.jobs import Job, Task, all_of, read_existing
    from mtb.protocols.mt_bench.bias import (
        REPHRASE_INSTRUCTION,
        attacked_answer,
        rephrase_request,
        usable_rephrasing,
    )
    from mtb.protocols.mt_bench.verdicts import parse_pair_verdict
    from mtb.provenance import Run, endpoint_settings, sha256_text

    bench = _load(spec)
    targets = _pick(bench, spec)
    by_key = {t.key: t for t in targets}
    rephrase_path, records_path, control_path = verbosity_paths(
        bench.data, bench.judge_model, spec.rephrase_model
    )
    instruction_sha256 = sha256_text(REPHRASE_INSTRUCTION)

    def rephrase_current(record: dict[str, Any]) -> bool:
        target = by_key.get((record["model"], record["question_id"]))
        return target is None or record.get("list") == target.numbered_list

    rephrase_output = _output(rephrase_path, parse_rephrasing, rephrase_current)
    rephrased: dict[Hashable, dict[str, Any]] = {}

    def attacked_of(target: _Target) -> str | None:
        record = rephrased.get(target.key)
        usable = usable_rephrasing(record["rephrased"]) if record else None
        return attacked_answer(target.answer, target.found, usable) if usable else None

    def judged_current(record: dict[str, Any]) -> bool:
        target = by_key.get((record["model"], record["question_id"]))
        if target is None:
            return True
        return record.get("original") == target.answer and record.get("attacked") == attacked_of(target)

    def control_current(record: dict[str, Any]) -> bool:
        target = by_key.get((record["model"], record["question_id"]))
        return target is None or record.get("original") == target.answer

    records_output = _output(records_path, parse_verbosity_record, judged_current)
    control_output = _output(control_path, parse_control_record, control_current)

    def load_rephrased() -> None:
        rephrased.clear()
        for record in read_existing(rephrase_output):
            rephrased[(record["model"], record["question_id"])] = record

    load_rephrased()
    rephrase_params = _params(0.0, REPHRASE_MAX_TOKENS)

    # -- the plan and its estimate, before any request
    counter = cost.TokenCounter(exact=spec.dry_run)
    to_rephrase = [t for t in targets if not (t.key in rephrased and rephrase_current(rephrased[t.key]))]
    done_records = {
        (r["model"], r["question_id"]) for r in read_existing(records_output) if judged_current(r)
    }
    to_judge = [t for t in targets if t.key not in done_records]
    done_control = {
        (r["model"], r["question_id"]) for r in read_existing(control_output) if control_current(r)
    }
    to_control = [t for t in targets if spec.control and t.key not in done_control]
    rephrase_estimate = _estimate(
        [[{"role": "user", "content": rephrase_request(t.numbered_list)}] for t in to_rephrase],
        round(sum(counter.text(t.numbered_list) for t in to_rephrase) / max(1, len(to_rephrase))),
        spec.rephrase_model,
        counter,
    )
    # Before rephrasing, an attacked answer is estimated as its list written twice.
    judge_requests = []
    for t in to_judge:
        guess = t.answer[: t.start] + t.numbered_list + "\n" + t.answer[t.start :]
        judge_requests += [
            _pair_messages(bench, bench.pair_prompt, t.question, t.answer, guess),
            _pair_messages(bench, bench.pair_prompt, t.question, guess, t.answer),
        ]
    judge_requests += [
        _pair_messages(bench, bench.pair_prompt, t.question, t.answer, t.answer) for t in to_control
    ]
    judge_estimate = _estimate(judge_requests, PAIR_REPLY_TOKENS, bench.judge_model, counter)
    plan = {
        "experiment": "verbosity (repetitive list)",
        "bench": bench.benchmark.name,
        "judge": bench.judge_model,
        "prompt": bench.pair_prompt.name,
        "rephrase_model": spec.rephrase_model,
        "rephrase_instruction_sha256": instruction_sha256,
        "answers": len(targets),
        "control": spec.control,
        "rephrase_requests": rephrase_estimate.requests,
        "judge_requests": judge_estimate.requests,
        "estimated_cost_usd": _total([rephrase_estimate, judge_estimate]),
        "estimate": {"rephrase": rephrase_estimate.summary(), "judge": judge_estimate.summary()},
        "records": str(records_path),
    }
    if spec.dry_run:
        return BiasReport(plan, plan, EXIT_OK)
    reporter.data(plan)

    # -- the requests
    def rephrase_tasks(caller: Completer, done: set[Hashable]) -> list[Task]:
        def make(target: _Target) -> Task:
            async def run() -> dict[str, Any]:
                messages = [{"role": "user", "content": rephrase_request(target.numbered_list)}]
                reply = await caller.complete(messages, rephrase_params)
                return {
                    "question_id": target.question.question_id,
                    "model": target.model,
                    "list": target.numbered_list,
                    "rephrased": reply.text,
                    "rephrase_model": spec.rephrase_model,
                    "tstamp": time.time(),
                }

            return Task(target.key, f"rephrase {target.model} question {target.question.question_id}", run)

        return [make(t) for t in targets if t.key not in done]

    def judge_tasks(caller: Completer, done: set[Hashable]) -> list[Task]:
        def make(target: _Target) -> Task | None:
            record = rephrased.get(target.key)
            if record is None:
                return None  # its rephrasing failed: counted there, asked again by the next run
            attacked = attacked_of(target)

            async def run() -> dict[str, Any]:
                row: dict[str, Any] = {
                    "question_id": target.question.question_id,
                    "model": target.model,
                    "original": target.answer,
                    "attacked": attacked,
                    "g1_winner": None,
                    "g2_winner": None,
                    "judge": [bench.judge_model, bench.pair_prompt.name],
                    "rephrase_model": spec.rephrase_model,
                    "rephrased": record["rephrased"],
                    "rephrase_usable": attacked is not None,
                    "tstamp": time.time(),
                }
                if attacked is None:
                    return row  # no list in the reply: recorded as it is, never judged, never dropped
                game_1 = _pair_messages(bench, bench.pair_prompt, target.question, target.answer, attacked)
                game_2 = _pair_messages(bench, bench.pair_prompt, target.question, attacked, target.answer)
                first, second = await all_of(
                    caller.complete(game_1, bench.judge_params), caller.complete(game_2, bench.judge_params)
                )
                winner_1 = parse_pair_verdict(first.text, bench.verdicts)
                winner_2 = parse_pair_verdict(second.text, bench.verdicts)
                row.update(
                    g1_winner=VERBOSITY_GAME_1.get(winner_1, winner_1),
                    g2_winner=VERBOSITY_GAME_2.get(winner_2, winner_2),
                    g1_judgment=first.text,
                    g2_judgment=second.text,
                )
                return row

            return Task(target.key, f"judge {target.model} question {target.question.question_id}", run)

        tasks = [make(t) for t in targets if t.key not in done]
        return [t for t in tasks if t is not None]

    def control_tasks(caller: Completer, done: set[Hashable]) -> list[Task]:
        def make(target: _Target) -> Task:
            async def run() -> dict[str, Any]:
                messages = _pair_messages(
                    bench, bench.pair_prompt, target.question, target.answer, target.answer
                )
                reply = await caller.complete(messages, bench.judge_params)
                winner = parse_pair_verdict(reply.text, bench.verdicts)
                return {
                    "question_id": target.question.question_id,
                    "model": target.model,
                    "original": target.answer,
                    "winner": {"A": "first", "B": "second"}.get(winner, winner),
                    "judge": [bench.judge_model, bench.pair_prompt.name],
                    "judgment": reply.text,
                    "tstamp": time.time(),
                }

            return Task(target.key, f"control {target.model} question {target.question.question_id}", run)

        return [make(t) for t in targets if t.key not in done] if spec.control else []

    rephrase_config = _endpoint(spec, "generate", spec.rephrase_model, "--rephrase-model")
    judge_config = _endpoint(spec, "judge", bench.judge_model)
    rephrase_run = Run.for_output(
        rephrase_path,
        "bias verbosity: rephrase",
        {
            **endpoint_settings(spec.provider, spec.rephrase_model, [rephrase_config.api_base]),
            "rephrase_instruction_sha256": instruction_sha256,
            "temperature": rephrase_params.temperature,
            "max_tokens": rephrase_params.max_tokens,
        },
    )
    judge_run = Run.for_output(
        records_path,
        "bias verbosity: judge",
        {
            **endpoint_settings(spec.judge_provider, bench.judge_model, [judge_config.api_base]),
            "bench": bench.benchmark.name,
            "prompt": bench.pair_prompt.name,
            "prompt_sha256": sha256_text(
                bench.pair_prompt.system_prompt + "\0" + bench.pair_prompt.prompt_template
            ),
            "rephrase_model": spec.rephrase_model,
            "rephrase_instruction_sha256": instruction_sha256,
            "answers": spec.answers,
            "seed": spec.seed,
            "temperature": bench.judge_params.temperature,
            "max_tokens": bench.judge_params.max_tokens,
        },
    )

    def judge_jobs(caller: Completer) -> list[Job]:
        # What the rephrasing step has just written decides which records are current.
        load_rephrased()
        jobs = [Job(records_output, lambda done: judge_tasks(caller, done))]
        if spec.control:
            jobs.append(Job(control_output, lambda done: control_tasks(caller, done)))
        return jobs

    steps = [
        _Step(
            "rephrase",
            rephrase_config,
            lambda caller: [Job(rephrase_output, lambda done: rephrase_tasks(caller, done))],
            rephrase_path,
            rephrase_run,
            _meter(spec.rephrase_model, REPHRASE_MAX_TOKENS // 4),
            spec.rephrase_model,
        ),
        _Step(
            "judge",
            judge_config,
            judge_jobs,
            records_path,
            judge_run,
            _meter(bench.judge_model, PAIR_REPLY_TOKENS),
            bench.judge_model,
        ),
    ]
    code = _run_steps(spec, steps, reporter, bench.data)
    records = {(r["model"], r["question_id"]): r for r in read_existing(records_output)}
    control = (
        {(r["model"], r["question_id"]): r for r in read_existing(control_output)} if spec.control else {}
    )
    summary = verbosity_summary(
        bench.judge_model,
        [records[t.key] for t in targets if t.key in records],
        [control[t.key] for t in targets if t.key in control] if spec.control else None,
        len(targets),
        records_path,
    )
    if code == EXIT_OK and summary["judged"] + summary["rephrase_unusable"] < len(targets):
        code = EXIT_FAILED
    return BiasReport(summary, plan, code, [s.report for s in steps])


PAIR_REPLY_TOKENS = 250  # a pairwise verdict compares both answers first (judging.DEFAULT_OUTPUT_TOKENS)


def _params(temperature: float, max_tokens: int, seed: int | None = None) -> SamplingParams:
    from mtb.backends.base import SamplingParams

    return SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed)


def verbosity_summary(
    judge: str,
    records: Sequence[dict[str, Any]],
    control: Sequence[dict[str, Any]] | None,
    answers: int,
    path: Path,
) -> dict[str, Any]:
    """The attack's numbers from its records: a failure is the attacked answer winning both games."""
    judged = [r for r in records if r.get("rephrase_usable")]
    failures = sum(1 for r in judged if r["g1_winner"] == r["g2_winner"] == "attacked")
    summary: dict[str, Any] = {
        "judge": judge,
        "answers": answers,
        "failures": failures,
        "failure_rate": _rate(failures, len(judged)),
        "records": str(path),
        "judged": len(judged),
        "rephrase_unusable": sum(1 for r in records if not r.get("rephrase_usable")),
        # Per order: game 1 shows the original first, game 2 the attacked answer first.
        "attacked_won_g1": _rate(sum(1 for r in judged if r["g1_winner"] == "attacked"), len(judged)),
        "attacked_won_g2": _rate(sum(1 for r in judged if r["g2_winner"] == "attacked"), len(judged)),
        "errors": sum(1 for r in judged for g in ("g1_winner", "g2_winner") if r[g] == "error"),
    }
    if control is not None:
        summary["control_pairs"] = len(control)
        summary["control_tie_rate"] = _rate(sum(1 for r in control if r["winner"] == "tie"), len(control))
    return summary


# ---------------------------------------------------------------- position


def position_paths(data: DataDir, model: str, judge: str, prompt_name: str) -> tuple[Path, Path]:
    """The model's two answers per question, and one pair file per judge and prompt."""
    from mtb.data import file_stem_safe

    folder = (data.root / data.bench.question_file).parent / "bias" / "position" / file_stem_safe(model)
    return (
        folder / "answers.jsonl",
        folder / f"{file_stem_safe(judge)}_{file_stem_safe(prompt_name)}_pair.jsonl",
    )


def sample_names(model: str) -> tuple[str, str]:
    """The two answers' names in the pair files (two names, so `mtb results` scores them as a pair)."""
    return f"{model}#1", f"{model}#2"


@says_unfinished_lines
def position(spec: PositionSpec, reporter: Reporter) -> BiasReport:
    """Two answers per first-turn question at temperature 0.7, judged in both orders under each prompt."""
    from mtb import cost
    from mtb.data import select_questions
    from mtb.jobs import Job, Task, all_of, read_existing
    from mtb.protocols import fastchat
    from mtb.protocols.mt_bench import scoring
    from mtb.protocols.mt_bench.bias import rename_prompt
    from mtb.protocols.mt_bench.judging import GAME_1_WINNERS, GAME_2_WINNERS
    from mtb.protocols.mt_bench.judging import pair_output as pair_output_of
    from mtb.protocols.mt_bench.records import PairJudgment, pair_key
    from mtb.protocols.mt_bench.verdicts import parse_pair_verdict
    from mtb.provenance import Run, endpoint_settings, sha256_text
    from mtb.records import ModelAnswer

    assert spec.model is not None
    model = spec.model
    bench = _load(spec)
    questions = select_questions(bench.data.questions(), spec.first_n)
    by_id = {q.question_id: q for q in questions}
    prompts: dict[PromptName, tuple[JudgePrompt, Verdicts]] = {}
    for name in spec.prompt:
        prompts[name] = (
            (bench.pair_prompt, bench.verdicts)
            if name == "default"
            else rename_prompt(bench.pair_prompt, bench.verdicts)
        )
    answers_path, _ = position_paths(bench.data, model, bench.judge_model, bench.pair_prompt.name)
    pair_paths = {
        name: position_paths(bench.data, model, bench.judge_model, prompt.name)[1]
        for name, (prompt, _) in prompts.items()
    }
    answer_output = replace(
        fastchat.answer_output(answers_path), is_done=lambda r: len(r.get("choices", [])) >= 2
    )
    first_name, second_name = sample_names(model)
    max_tokens = bench.benchmark.max_tokens
    seeds = (spec.seed, spec.seed + 1)

    def pair_output(name: PromptName) -> OutputSpec:
        # FastChat's pair schema and keys (mtb.protocols.mt_bench.judging), in this experiment's file.
        return replace(
            pair_output_of(bench.data, bench.judge_model, retry_unparsed=False), path=pair_paths[name]
        )

    # -- the plan and its estimate
    counter = cost.TokenCounter(exact=spec.dry_run)
    answered = {r["question_id"] for r in read_existing(answer_output) if answer_output.is_done(r)}
    to_answer = [q for q in questions if q.question_id not in answered]
    past = [t for m in bench.data.answer_models() for a in _quiet_answers(bench.data, m) for t in a]
    generation_estimate, per_answer = cost.estimate_generation(
        [[q.turns[0]] for q in to_answer],
        None,
        2,
        past,
        max_tokens,
        cost.resolve_price(model, None, None),
        model,
        counter,
    )
    judge_requests: list[Any] = []
    filler = "word " * per_answer  # an answer as long as the estimate's (about a token a word)
    for name, (prompt, _) in prompts.items():
        done = {r["question_id"] for r in read_existing(pair_output(name))}
        for q in questions:
            if q.question_id not in done:
                judge_requests += [_pair_messages(bench, prompt, q, filler, filler)] * 2
    judge_estimate = _estimate(judge_requests, PAIR_REPLY_TOKENS, bench.judge_model, counter)
    plan = {
        "experiment": "position bias (two answers of one model)",
        "bench": bench.benchmark.name,
        "model": model,
        "judge": bench.judge_model,
        "prompts": {name: prompt.name for name, (prompt, _) in prompts.items()},
        "questions": len(questions),
        "temperature": POSITION_TEMPERATURE,
        "seeds": list(seeds),
        "generation_requests": generation_estimate.requests,
        "judge_requests": judge_estimate.requests,
        "estimated_cost_usd": _total([generation_estimate, judge_estimate]),
        "estimate": {"generation": generation_estimate.summary(), "judge": judge_estimate.summary()},
        "records": {name: str(path) for name, path in pair_paths.items()},
    }
    if spec.dry_run:
        return BiasReport(plan, plan, EXIT_OK)
    reporter.data(plan)

    def answer_tasks(caller: Completer, done: set[Hashable]) -> list[Task]:
        def make(question: Question) -> Task:
            async def run() -> dict[str, Any]:
                messages = [{"role": "user", "content": question.turns[0]}]
                replies = await all_of(
                    *(caller.complete(messages, _params(POSITION_TEMPERATURE, max_tokens, s)) for s in seeds)
                )
                extra = {"temperature": POSITION_TEMPERATURE, "seeds": list(seeds)}
                return fastchat.answer_record(question, [[r.text] for r in replies], model, extra)

            return Task(question.question_id, f"answer question {question.question_id} twice", run)

        return [make(q) for q in questions if q.question_id not in done]

    def judge_tasks(name: PromptName, caller: Completer, done: set[Hashable]) -> list[Task]:
        prompt, verdicts = prompts[name]
        answers: dict[Any, ModelAnswer] = {
            a.question_id: a for a in (ModelAnswer.from_json(r) for r in read_existing(answer_output))
        }

        def make(question: Question, answer: ModelAnswer) -> Task:
            first, second = answer.choices[0].turns[0], answer.choices[1].turns[0]

            async def run() -> dict[str, Any]:
                game_1 = _pair_messages(bench, prompt, question, first, second)
                game_2 = _pair_messages(bench, prompt, question, second, first)
                reply_1, reply_2 = await all_of(
                    caller.complete(game_1, bench.judge_params), caller.complete(game_2, bench.judge_params)
                )
                winner_1 = parse_pair_verdict(reply_1.text, verdicts)
                winner_2 = parse_pair_verdict(reply_2.text, verdicts)
                return PairJudgment(
                    question_id=question.question_id,
                    model_1=first_name,
                    model_2=second_name,
                    g1_winner=GAME_1_WINNERS.get(winner_1, winner_1),
                    g2_winner=GAME_2_WINNERS.get(winner_2, winner_2),
                    judge=(bench.judge_model, prompt.name),
                    g1_user_prompt=game_1[-1]["content"],
                    g1_judgment=reply_1.text,
                    g2_user_prompt=game_2[-1]["content"],
                    g2_judgment=reply_2.text,
                    turn=1,
                    tstamp=time.time(),
                ).to_json()

            key = pair_key(first_name, second_name, question.question_id, 1, bench.judge_model, prompt.name)
            return Task(key, f"{name} prompt, question {question.question_id}", run)

        tasks = []
        for question in questions:
            answer = answers.get(question.question_id)
            if answer is None or len(answer.choices) < 2:
                continue  # its answers failed: counted there, asked again by the next run
            task = make(question, answer)
            if task.key not in done:
                tasks.append(task)
        return tasks

    generate_config = _endpoint(spec, "generate", model)
    judge_config = _endpoint(spec, "judge", bench.judge_model)
    generate_run = Run.for_output(
        answers_path,
        "bias position: answer",
        {
            **endpoint_settings(spec.provider, model, [generate_config.api_base]),
            "temperature": POSITION_TEMPERATURE,
            "seeds": list(seeds),
            "max_tokens": max_tokens,
        },
    )
    judge_runs = {
        name: Run.for_output(
            pair_paths[name],
            "bias position: judge",
            {
                **endpoint_settings(spec.judge_provider, bench.judge_model, [judge_config.api_base]),
                "bench": bench.benchmark.name,
                "mode": "pairwise-all",
                "prompts": {prompt.name: sha256_text(prompt.system_prompt + "\0" + prompt.prompt_template)},
                "temperature": bench.judge_params.temperature,
                "max_tokens": bench.judge_params.max_tokens,
            },
        )
        for name, (prompt, _) in prompts.items()
    }
    steps = [
        _Step(
            "answer",
            generate_config,
            lambda caller: [Job(answer_output, lambda done: answer_tasks(caller, done))],
            answers_path,
            generate_run,
            _meter(model, per_answer),
            model,
        )
    ]
    for name in prompts:
        steps.append(
            _Step(
                f"judge ({name} prompt)",
                judge_config,
                lambda caller, name=name: [  # type: ignore[misc]
                    Job(pair_output(name), lambda done: judge_tasks(name, caller, done))
                ],
                pair_paths[name],
                judge_runs[name],
                _meter(bench.judge_model, PAIR_REPLY_TOKENS),
                bench.judge_model,
            )
        )
    code = _run_steps(spec, steps, reporter, bench.data)
    rows = []
    for name, (prompt, _) in prompts.items():
        path = pair_paths[name]
        judgments = scoring.load_pair_judgments(path).judgments if path.exists() else []
        mine = [
            j
            for j in judgments
            if j.judge == (bench.judge_model, prompt.name) and j.question_id in by_id and j.turn == 1
        ]
        found = scoring.position_bias(mine)
        counts = found[0] if found else scoring.PositionBias((bench.judge_model, prompt.name), 0, 0, 0, 0, 0)
        shown = counts.to_json()
        rows.append(
            {
                "judge": bench.judge_model,
                "prompt": name,
                "prompt_name": prompt.name,
                "consistency": shown["consistency"],
                "biased_first": shown["biased_first"],
                "biased_second": shown["biased_second"],
                "error": shown["error"],
                "pairs": counts.pairs,
                "records": str(path),
            }
        )
        if code == EXIT_OK and counts.pairs < len(questions):
            code = EXIT_FAILED
    return BiasReport(rows, plan, code, [s.report for s in steps])


def _quiet_answers(data: DataDir, model: str) -> list[list[str]]:
    """A model's first turns, for the median answer length; a bad file is left out of the estimate."""
    from mtb.errors import MtbError

    try:
        return [[a.choices[0].turns[0]] for a in data.answers(model).values() if a.choices[0].turns]
    except MtbError:
        return []
