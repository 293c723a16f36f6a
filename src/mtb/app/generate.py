"""Generate: answer a benchmark's questions with one model, behind an API or loaded here.

    spec = GenerateSpec(model="gpt-4o-mini", bench="mt_bench", data_dir=Path("data"))
    report = generate(spec, reporter)          # report.exit_code, report.run.completed, ...

`Generation` is the same work in three phases (prepare, `execute` inside an
event loop, `finish`), so that `mtb eval` can run it beside a judge that
follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb.app.options import (
    MAX_PARALLEL,
    Answering,
    LocalOptions,
    Scope,
    check_fields,
    flag,
    name_from_path,
    rate_limits,
)
from mtb.app.reporter import says_unfinished_lines
from mtb.app.runs import finish_run, log_spending, run_until_done
from mtb.errors import UsageError

if TYPE_CHECKING:
    from mtb.app.reporter import Reporter
    from mtb.cost import Budget, Meter
    from mtb.engine import OutputSpec, RunReport


@dataclass
class GenerateSpec(Answering, Scope):
    """`mtb generate`'s flags; None means the benchmark's (or mtb's) default."""

    model: str | None = None
    model_path: str | None = None
    model_id: str | None = None
    api_base: list[str] | None = None
    api_key: str | None = field(default=None, repr=False)
    provider: str = "openai"
    parallel: int | None = flag(minimum=1, maximum=MAX_PARALLEL)
    local: LocalOptions = field(default_factory=LocalOptions)

    def __post_init__(self) -> None:
        check_fields(self)
        self.check_batch(local=self.model_path is not None, provider=self.provider)
        if self.batch and len(self.api_base or []) > 1:
            raise UsageError("--batch sends to one endpoint: give one --api-base")
        if (self.model is None) == (self.model_path is None):
            raise UsageError(
                "give exactly one of --model (a model behind an API) and --model-path (a local model)"
            )
        if self.model is not None:
            given = self.local.given()
            if given:
                raise UsageError(f"{', '.join(given)} only apply to local models (--model-path)")
        else:
            api_only = {
                "--api-base": self.api_base,
                "--api-key": self.api_key,
                "--max-cost": self.max_cost,
                "--price-in": self.price_in,
                "--price-out": self.price_out,
            }
            given = [name for name, value in api_only.items() if value is not None and value != []]
            if self.provider != "openai":
                given.append("--provider")
            if given:
                raise UsageError(f"{', '.join(given)} only apply to API models (--model)")

    @property
    def name(self) -> str:
        """The name of its answer file and its rows in the results."""
        return self.model_id or name_from_path(self.model or self.model_path or "")


@dataclass
class GenerateReport:
    """What one generation did: the engine's counts, the file, and what it cost."""

    model: str
    output: Path
    run: RunReport
    exit_code: int
    cost_line: str | None = None
    cost_usd: float | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Generation:
    """One model's generation, checked and estimated before any request."""

    def __init__(self, spec: GenerateSpec, reporter: Reporter, budget: Budget | None = None) -> None:
        from mtb import cost
        from mtb.benchmarks import Benchmark
        from mtb.data import DataDir, select_questions
        from mtb.engine import RunReport, done_keys
        from mtb.generation import GenerationSettings, answer_output
        from mtb.provenance import sha256_text

        self.spec = spec
        self.reporter = reporter
        self.budget = budget if budget is not None else cost.Budget(spec.max_cost)
        self.benchmark = Benchmark.load(spec.bench)
        self.benchmark.protocol.check_generation(self.benchmark)  # e.g. a missing extra, before any request
        self.data = DataDir(spec.data_dir, self.benchmark)
        self.questions = select_questions(self.data.questions(), spec.first_n)
        self.settings = GenerationSettings(
            model_id=spec.name,
            num_choices=spec.num_choices,
            max_tokens=spec.max_tokens or self.benchmark.max_tokens,
            force_temperature=spec.force_temperature,
            system_prompt=spec.system_prompt,
        )
        self.output: OutputSpec = answer_output(self.data, spec.name, self.questions)
        self.done = done_keys(self.output)
        self.report = RunReport(self.output.path)
        self.meter: Meter | None = None
        self.started = time.time()
        # How these answers are made, in <answers>.runs.jsonl; each record points to it by run_id.
        self.sampling: dict[str, Any] = {
            "bench": self.benchmark.name,
            "temperature": spec.force_temperature if spec.force_temperature is not None else "per category",
            "max_tokens": self.settings.max_tokens,
            "num_choices": spec.num_choices,
            "system_prompt_sha256": sha256_text(spec.system_prompt) if spec.system_prompt else None,
        }
        if spec.model is not None:
            self._prepare_api(spec.model)
        else:
            from mtb.backends.adapters import resolve_adapter
            from mtb.backends.local import check_model_path

            check_model_path(spec.model_path or "", "--model-path")
            resolve_adapter(spec.model_path or "", spec.local.base_model)
            self.local_config = spec.local.config(spec.model_path or "")

    @property
    def left(self) -> int:
        return sum(1 for q in self.questions if q.question_id not in self.done)

    def _prepare_api(self, model: str) -> None:
        from mtb import cost
        from mtb.backends import resolve_endpoint

        spec = self.spec
        price = cost.resolve_price(model, spec.price_in, spec.price_out, batch=spec.batch)
        cost.check_cap(spec.max_cost, price, model)
        if price is None and self.budget.cap is not None:
            # An eval's cap: a model without a price cannot be counted against it.
            self.reporter.say(
                f"no price for '{spec.name}' (set price_in/price_out in --models-file): its "
                "generation is not counted against --max-cost"
            )
        # One endpoint per replica; with no --api-base, the provider's own variables decide.
        bases: list[str | None] = [b for b in (spec.api_base or []) if b] or [None]
        self.configs = [
            resolve_endpoint(
                "generate",
                spec.provider,
                model,
                base,
                spec.api_key,
                spec.timeout,
                key_option="--api-key",
                base_option="--api-base",
            )
            for base in bases
        ]
        replicas = f" on {len(self.configs)} replicas" if len(self.configs) > 1 else ""
        self.reporter.say(
            f"generate: {model}{replicas} as '{spec.name}', {len(self.questions)} questions × "
            f"{spec.num_choices} choice(s) → {self.output.path}"
        )
        # The cost before any call: the questions still to answer, the replies from the answers on disk.
        counter = cost.TokenCounter()
        estimate, reply_tokens = cost.estimate_generation(
            [q.turns for q in self.questions if q.question_id not in self.done],
            spec.system_prompt,
            spec.num_choices,
            _past_turns(self.data),
            self.settings.max_tokens,
            price,
            model,
            counter,
        )
        expected = estimate.cost
        money = "no price known" if expected is None else f"about ${expected:,.2f}"
        self.reporter.say(
            f"estimate: {estimate.input_tokens:,} input + {estimate.output_tokens:,} output tokens, {money}"
            + "".join(f"\n  {note}" for note in estimate.notes)
        )
        self.estimate = estimate.summary()
        left = self.budget.left
        if left is not None and expected is not None and expected > left:
            self.reporter.say(
                f"the estimate (${expected:,.2f}) is above what --max-cost leaves (${left:,.2f}): "
                "the run will stop part way",
                level="note",
            )
        # A model without a price is not counted against an eval's cap (it cannot be).
        budget = self.budget if price is not None else cost.Budget()
        self.meter = cost.Meter(price, budget, counter, reply_tokens)

    async def execute(self, on_written: Callable[[OutputSpec, dict[str, Any]], None] | None = None) -> None:
        """Answer what is missing; `on_written` hears of each answer as it is written."""
        if self.spec.model is not None:
            await self._execute_api(self.spec.model, on_written)
        elif self.left:
            await self._execute_local(on_written)

    def _jobs(self, caller: Any) -> list[Any]:
        from mtb.engine import Job
        from mtb.generation import generation_tasks

        benchmark, settings, questions = self.benchmark, self.settings, self.questions
        return [Job(self.output, lambda done: generation_tasks(questions, done, caller, benchmark, settings))]

    async def _execute_api(
        self, model: str, on_written: Callable[[OutputSpec, dict[str, Any]], None] | None
    ) -> None:
        from mtb.engine import api_endpoints, serve_jobs
        from mtb.provenance import Run, endpoint_settings
        from mtb.retry import RetryPolicy

        spec, configs = self.spec, self.configs
        parallel = spec.parallel or 8
        provenance = Run.for_output(
            self.output.path,
            "generate",
            {
                **endpoint_settings(spec.provider, model, [c.api_base for c in configs]),
                **self.sampling,
                **({"batch": True} if spec.batch else {}),
            },
        )
        if spec.batch:
            from mtb.app.runs import run_in_batches

            await run_in_batches(
                configs[0],
                self._jobs,
                report=self.report,
                reporter=self.reporter,
                progress=self.reporter.progress(f"generate {spec.name}"),
                meter=self.meter,
                run=provenance,
                wait=not spec.no_wait,
                forget=spec.forget_batches,
                on_written=on_written,
            )
            return
        await serve_jobs(
            lambda: api_endpoints(configs, parallel, rate_limits(spec.rpm, spec.tpm)),
            self._jobs,
            report=self.report,
            workers=parallel * len(configs),
            policy=RetryPolicy.from_env(spec.max_attempts),
            progress=self.reporter.progress(f"generate {spec.name}"),
            meter=self.meter,
            run=provenance,
            on_written=on_written,
        )

    async def _execute_local(self, on_written: Callable[[OutputSpec, dict[str, Any]], None] | None) -> None:
        from mtb.app.options import describe_model
        from mtb.backends.local import (
            TEMPLATE_FIELD,
            answer_fields,
            open_local_backend,
            release_local_backend,
        )
        from mtb.engine import Endpoint, serve_jobs
        from mtb.provenance import Run
        from mtb.retry import RetryPolicy

        spec, config = self.spec, self.local_config
        self.reporter.say(f"loading {config.model_path} (backend: {config.backend}) ...")
        kind, local = open_local_backend(config)
        try:
            self.settings = replace(
                self.settings, seed=config.seed, record_extra=answer_fields(local, config)
            )
            self.reporter.say(
                f"generate: {describe_model(config, local)} with {kind} as '{spec.name}', "
                f"{len(self.questions)} questions × {spec.num_choices} choice(s), chat template sha256 "
                f"{local.template_sha256[:12]} → {self.output.path}"
            )
            # Every conversation at once by default: the backend batches what arrives together.
            workers = spec.parallel or max(1, len(self.questions) * spec.num_choices)
            provenance = Run.for_output(
                self.output.path,
                "generate",
                {
                    "model": config.model_path,
                    "provider": "local",
                    "backend": kind,
                    "dtype": config.dtype,
                    "revision": config.revision,
                    "seed": config.seed,
                    TEMPLATE_FIELD: local.template_sha256,
                    **self.sampling,
                },
            )
            await serve_jobs(
                lambda: [Endpoint(local, workers, name=config.model_path, key_hint="")],
                self._jobs,
                report=self.report,
                workers=workers,
                policy=RetryPolicy.from_env(spec.max_attempts),
                progress=self.reporter.progress(f"generate {spec.name}"),
                run=provenance,
                on_written=on_written,
            )
            stats = local.stats
            if stats.batches:
                self.reporter.say(
                    f"{kind}: {stats.rows} turns in {stats.batches} batches (largest {stats.largest_batch}), "
                    f"{stats.generated_tokens} tokens generated"
                )
        finally:
            # The model's memory (GPU or CPU) goes back now: `mtb eval` may load a local judge next.
            release_local_backend(local)
            self.reporter.say(f"released {config.model_path}")

    def finish(self) -> GenerateReport:
        """Say what happened, log what it cost, and return the report."""
        if self.spec.model_path is not None and not self.left and not self.report.stats.requests:
            # Nothing left: a rerun (of `mtb eval` too) does not spend minutes loading a model for nothing.
            self.reporter.say(
                f"answers: 0 new, {len(self.questions)} already in {self.output.path}, 0 failed; 0 requests "
                "(the model was not loaded)"
            )
            return GenerateReport(self.spec.name, self.output.path, self.report, 0)
        # The answers already there to the questions asked (--first-n), not the whole file's.
        self.report.already_done = sum(1 for q in self.questions if q.question_id in self.done)
        code = finish_run(self.report, self.reporter, "answers")
        line, cost_usd = log_spending(
            self.meter, self.report, self.data, "generate", self.spec.model or "", self.started, self.reporter
        )
        return GenerateReport(self.spec.name, self.output.path, self.report, code, line, cost_usd)


@says_unfinished_lines
def generate(spec: GenerateSpec, reporter: Reporter, budget: Budget | None = None) -> GenerateReport:
    """Answer every question still missing from the model's answer file; a rerun answers only those."""
    generation = Generation(spec, reporter, budget)
    run_until_done(generation.execute(), [generation.report])
    return generation.finish()


def _past_turns(data: Any) -> Any:
    """Every answer turn in the data directory's answer files, for the median reply length."""
    from mtb.errors import MtbError

    for name in data.answer_models():
        try:
            answers = data.answers(name)
        except MtbError:
            continue  # a bad file is judge's to report; the estimate does without it
        for answer in answers.values():
            for choice in answer.choices:
                yield from (turn for turn in choice.turns if turn)
