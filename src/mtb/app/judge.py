"""Judge: a judge model grades the answers (single, pairwise-baseline, pairwise-all).

    report = judge(JudgeSpec(judge_model="gpt-4", model_list=["m1"]), reporter)

The plan (every request, its estimated cost, what is missing) is made before any
call; `dry_run` stops there and returns it. `Judging` splits the work into
prepare, `execute` and `finish` so that `mtb eval` can run a judge that follows
generation, judging each answer as soon as it is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb.app.options import MAX_PARALLEL, Judged, Scope, check_fields, flag, rate_limits
from mtb.app.reporter import says_unfinished_lines
from mtb.app.runs import finish_run, log_spending, run_until_done, unreadable_verdicts
from mtb.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from mtb.app.reporter import Reporter
    from mtb.cost import Budget, Meter
    from mtb.engine import Caller, Job, RunReport
    from mtb.protocols.base import PlannedRun
    from mtb.records import QuestionId

# A local judge batches what is in flight: every pending judgment goes to the model together.
LOCAL_JUDGE_PARALLEL = 256


@dataclass
class JudgeSpec(Judged, Scope):
    """`mtb judge`'s flags; None means the benchmark's default."""

    model_list: list[str] | None = None
    parallel: int | None = flag(minimum=1, maximum=MAX_PARALLEL)
    dry_run: bool = False
    retry_unparsed: bool = False
    category: str | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if self.model_list is not None:
            # `a b`, `a,b` and repeated flags alike; the same model twice is once.
            names = [name for value in self.model_list for name in value.replace(",", " ").split()]
            self.model_list = list(dict.fromkeys(names)) or None
        self.check_judge()
        self.check_batch(local=self.judge_model_path is not None, provider=self.judge_provider)

    def request(self, models: list[str] | None = None, questions: frozenset[QuestionId] | None = None) -> Any:
        from mtb.protocols.base import JudgeRequest

        return JudgeRequest(
            mode=self.mode,
            judge_model=self.judge_name,
            baseline_model=self.baseline_model,
            reference_model=self.reference_model,
            models=models if models is not None else self.model_list,
            first_n=self.first_n,
            retry_unparsed=self.retry_unparsed,
            category=self.category,
            samples=self.samples,
            only_questions=questions,
        )


@dataclass
class JudgeReport:
    """The plan (what `--dry-run` prints), and for a real run what the engine did."""

    plan: dict[str, Any]
    output: Path
    exit_code: int
    run: RunReport | None = None
    unparsed: int = 0
    gaps: list[str] = field(default_factory=list)
    cost_line: str | None = None
    cost_usd: float | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


class AnswerWatch:
    """The answers written so far, per model, for a judge that follows generation."""

    def __init__(self) -> None:
        self.answered: dict[str, set[Any]] = {}
        self.closed = False
        self._changed = asyncio.Event()

    def add(self, model: str, keys: set[Any]) -> None:
        self.answered.setdefault(model, set()).update(keys)
        self._changed.set()

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    async def changes(self, settle: float = 0.05) -> AsyncIterator[bool]:
        """Yield after answers arrive (gathered for `settle` seconds); True once no more will come."""
        while True:
            await self._changed.wait()
            if not self.closed:
                await asyncio.sleep(settle)
            self._changed.clear()
            closed = self.closed
            yield closed
            if closed:
                return


class Judging:
    """One judge run: planned and estimated before any call; with `follow`, judging answers as written."""

    def __init__(
        self,
        spec: JudgeSpec,
        reporter: Reporter,
        budget: Budget | None = None,
        follow: AnswerWatch | None = None,
    ) -> None:
        from mtb import cost
        from mtb.benchmarks import Benchmark
        from mtb.data import DataDir
        from mtb.engine import RunReport

        self.spec = spec
        self.reporter = reporter
        self.budget = budget if budget is not None else cost.Budget(spec.max_cost)
        self.follow = follow
        self.started = time.time()
        if spec.judge_model_path is not None:
            from mtb.backends.adapters import resolve_adapter
            from mtb.backends.local import check_model_path

            # A wrong path fails before the plan, even in a dry run; nothing heavy is imported for it.
            check_model_path(spec.judge_model_path, "--judge-model-path")
            resolve_adapter(spec.judge_model_path, spec.judge_local.base_model)
        self.benchmark = Benchmark.load(spec.bench)
        self.data = DataDir(spec.data_dir, self.benchmark)
        self.planned: PlannedRun = self._first_plan()
        self.report = RunReport(self.planned.output)
        self.meter: Meter | None = None
        self.endpoint: Any = None
        self.gaps = list(self.planned.gaps)
        self.plan: dict[str, Any] = dict(self.planned.summary)

    def _first_plan(self) -> PlannedRun:
        if self.follow is None:
            return self.benchmark.protocol.plan_judging(self.data, self.spec.request())
        # Following generation: plan what can be judged now; later plans add what gets answered.
        return self._plans_now()[0]

    def _plans_now(self) -> list[PlannedRun]:
        """A plan for every model (or, pairwise-all, every question all models answered) ready now."""
        assert self.follow is not None
        answered = self.follow.answered
        models = self.spec.model_list or list(answered)
        protocol = self.benchmark.protocol
        if self.spec.mode == "pairwise-all":
            ready = frozenset.intersection(*(frozenset(answered.get(m, ())) for m in models))
            return [protocol.plan_judging(self.data, self.spec.request(models, ready))]
        return [
            protocol.plan_judging(self.data, self.spec.request([m], frozenset(answered.get(m, ()))))
            for m in models
        ]

    # -- before any call --------------------------------------------------------------

    def estimate(self) -> JudgeReport | None:
        """Check what is missing and estimate the cost; a report to return now, or None to go on."""
        from mtb import cost

        spec, run = self.spec, self.planned
        if self.gaps:
            fatal = run.gaps_are_fatal and self.follow is None
            lines = "\n".join(f"  - {gap}" for gap in self.gaps)
            if fatal:
                self.reporter.say(f"cannot judge yet; missing:\n{lines}", level="error")
                return JudgeReport(self.plan, run.output, EXIT_USAGE, gaps=self.gaps)
            self.reporter.say(f"skipped; missing:\n{lines}", level="warning")
        # The cost before any call: the prompts counted, the replies from the judge's history.
        price = cost.resolve_price(run.judge_model, spec.price_in, spec.price_out, batch=spec.batch)
        cost.check_cap(self.budget.cap, price, run.judge_model)
        # Exact counting costs about a second (loading the tokenizer, then 3M tokens for a full run):
        # paid where the count matters (a plan to read, a cap to keep), not on every run's critical path.
        plan_counter = cost.TokenCounter(exact=spec.dry_run or self.budget.cap is not None)
        estimate, reply_tokens = cost.estimate_judging(
            run.requests() if self.follow is None else (),
            run.past_outputs(),
            run.default_output_tokens,
            run.params.max_tokens,
            price,
            run.judge_model,
            plan_counter,
        )
        if self.follow is None:
            self.plan.update(estimate.summary())
        if spec.dry_run:
            return JudgeReport(self.plan, run.output, EXIT_OK)
        if self.follow is None:
            self.reporter.data(self.plan)
        else:
            self.reporter.say(
                f"judge: {run.judge_model} judges each answer as soon as it is written → {run.output}"
            )
        expected, left = estimate.cost, self.budget.left
        if self.follow is None and left is not None and expected is not None and expected > left:
            self.reporter.say(
                f"the estimate (${expected:,.2f}) is above --max-cost (${left:,.2f}): "
                "the run will stop part way",
                level="note",
            )
        if spec.judge_model_path is None:
            # API judges are metered (and capped); local judges cost no money.
            # Replies without `usage` are counted exactly, the tokenizer loading only if one comes.
            self.meter = cost.Meter(price, self.budget, cost.TokenCounter(), reply_tokens)
        return None

    # -- the calls ------------------------------------------------------------------------

    def _more_jobs(self) -> Callable[[Caller], AsyncIterator[list[Job]]] | None:
        follow = self.follow
        if follow is None:
            return None

        async def more(caller: Caller) -> AsyncIterator[list[Job]]:
            async for _ in follow.changes():
                jobs: list[Job] = []
                for plan in self._plans_now():
                    if plan.gaps and plan.gaps_are_fatal:
                        continue  # not all of this model's inputs are there yet
                    jobs.extend(plan.make_jobs(caller))
                yield jobs

        return more

    def _provenance(self, endpoint_fields: dict[str, Any]) -> Any:
        from mtb.provenance import Run

        run = self.planned
        made_with = {
            "bench": self.benchmark.name,
            "temperature": run.params.temperature,
            "max_tokens": run.params.max_tokens,
            **run.provenance,
        }
        return Run.for_output(run.output, "judge", {**endpoint_fields, **made_with})

    async def execute(self) -> None:
        if self.spec.judge_model_path is not None:
            await self._execute_local(self.spec.judge_model_path)
        else:
            await self._execute_api()

    async def _execute_api(self) -> None:
        from mtb.engine import api_endpoints, serve_jobs
        from mtb.provenance import endpoint_settings
        from mtb.retry import RetryPolicy

        spec, run = self.spec, self.planned
        config = self.endpoint or self.resolve_endpoint()
        parallel = spec.parallel or 8
        make_jobs = run.make_jobs if self.follow is None else lambda caller: []
        endpoint = endpoint_settings(spec.judge_provider, run.judge_model, [config.api_base])
        provenance = self._provenance({**endpoint, **({"batch": True} if spec.batch else {})})
        if spec.batch:
            from mtb.app.runs import run_in_batches

            await run_in_batches(
                config,
                make_jobs,
                report=self.report,
                reporter=self.reporter,
                progress=self.reporter.progress("judge"),
                meter=self.meter,
                run=provenance,
                wait=not spec.no_wait,
                forget=spec.forget_batches,
                more=self._more_jobs(),
            )
            return
        await serve_jobs(
            lambda: api_endpoints([config], parallel, rate_limits(spec.rpm, spec.tpm)),
            make_jobs,
            report=self.report,
            workers=parallel,
            policy=RetryPolicy.from_env(spec.max_attempts),
            progress=self.reporter.progress("judge"),
            meter=self.meter,
            run=provenance,
            more=self._more_jobs(),
        )

    def resolve_endpoint(self) -> Any:
        """The judge's endpoint; a missing key stops here, before any call (of the judge or a model).

        The judge's own key and base URL: never the generation server's OPENAI_BASE_URL,
        never the OpenAI key for another provider.
        """
        from mtb.backends import resolve_endpoint

        spec = self.spec
        self.endpoint = resolve_endpoint(
            "judge",
            spec.judge_provider,
            self.planned.judge_model,
            spec.judge_api_base,
            spec.judge_api_key,
            spec.timeout,
            key_option="--judge-api-key",
            base_option="--judge-api-base",
        )
        return self.endpoint

    async def _execute_local(self, model_path: str) -> None:
        """Load the judge here (transformers or vLLM) and run the planned judgments through it.

        The protocol's jobs are the same as for an API judge: the same prompts (as
        messages, rendered by the judge's own chat template), the same verdict
        parsing and unparsed counting.
        """
        from mtb.app.options import describe_model
        from mtb.backends.local import open_local_backend, release_local_backend
        from mtb.engine import Endpoint, serve_jobs
        from mtb.retry import RetryPolicy

        spec, run = self.spec, self.planned
        if self.follow is None and next(iter(run.requests()), None) is None:
            # Nothing left to judge: a rerun (of `mtb eval` too) loads no model for nothing.
            self.reporter.say("nothing left to judge: the judge was not loaded")
            return
        config = spec.judge_local.config(model_path)
        self.reporter.say(f"loading judge {config.model_path} (backend: {config.backend}) ...")
        kind, local = open_local_backend(config)
        self.reporter.say(
            f"judge: {describe_model(config, local)} with {kind} as '{run.judge_model}', "
            f"chat template sha256 {local.template_sha256[:12]}"
        )
        workers = spec.parallel or LOCAL_JUDGE_PARALLEL
        try:
            await serve_jobs(
                lambda: [Endpoint(local, workers, name=config.model_path, key_hint="")],
                run.make_jobs if self.follow is None else lambda caller: [],
                report=self.report,
                workers=workers,
                policy=RetryPolicy.from_env(spec.max_attempts),
                progress=self.reporter.progress("judge"),
                run=self._provenance(
                    {"model": run.judge_model, "provider": "local", "model_path": model_path}
                ),
                more=self._more_jobs(),
            )
        finally:
            release_local_backend(local)
        stats = local.stats
        if stats.batches:
            self.reporter.say(
                f"{kind}: {stats.rows} judgments in {stats.batches} batches (largest {stats.largest_batch}), "
                f"{stats.generated_tokens} tokens generated"
            )

    def finish(self) -> JudgeReport:
        """Say what happened, log what it cost, and return the report."""
        run, report = self.planned, self.report
        already = self._already_in_scope()
        if already is not None:  # the judgments of the models asked for, not the whole file's
            report.already_done = already
        code = finish_run(report, self.reporter, "judgments")
        line, cost_usd = log_spending(
            self.meter, report, self.data, "judge", run.judge_model, self.started, self.reporter
        )
        if report.unparsed:
            self.reporter.say(
                f"{report.unparsed} judgment(s) hold a verdict without a score or winner "
                "(left out of results); judge them again with --retry-unparsed",
                level="warning",
                tag="",
            )
        code = unreadable_verdicts(report, code, self.reporter)
        if code == EXIT_OK and self.follow is not None and self.gaps:
            code = EXIT_FAILED
        return JudgeReport(self.plan, run.output, code, report, report.unparsed, self.gaps, line, cost_usd)

    def _already_in_scope(self) -> int | None:
        """How many of the judgments asked for were made before this run; None when it cannot be told."""
        from mtb.errors import MtbError

        if self.follow is None:
            before = self.plan.get("already_done")
            return before if isinstance(before, int) else None
        try:  # planned again now: what is done in scope, less what this run made
            done = [plan.summary.get("already_done") for plan in self._plans_now()]
        except MtbError:
            return None
        counts = [n for n in done if isinstance(n, int)]
        if len(counts) != len(done):
            return None
        return max(0, sum(counts) - self.report.completed)


@says_unfinished_lines
def judge(spec: JudgeSpec, reporter: Reporter, budget: Budget | None = None) -> JudgeReport:
    """Plan, estimate and (unless `dry_run`) run the judgments still missing."""
    judging = Judging(spec, reporter, budget)
    early = judging.estimate()
    if early is not None:
        return early
    if spec.judge_model_path is None:
        judging.resolve_endpoint()
    run_until_done(judging.execute(), [judging.report])
    return judging.finish()
