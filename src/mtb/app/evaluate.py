"""Evaluate: generate, judge and score one model or many, and write the run's summary.

    report = evaluate(EvalSpec(model=["gpt-4o-mini"], judge_model="gpt-4"), reporter)
    report.records        # what `mtb eval --format json` (and `mtb results`) prints

When the judge does not share the models' device (an API judge, or any judge
of API models), judging follows generation: each answer's judgments start as
soon as the answer is written. A local judge of local models waits, as the
models are released first. One `Budget` serves every step (`--max-cost` is for
the whole eval).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtb.app.generate import GenerateReport, GenerateSpec, Generation
from mtb.app.judge import AnswerWatch, JudgeReport, JudgeSpec, Judging
from mtb.app.options import (
    MAX_PARALLEL,
    Answering,
    Judged,
    LocalOptions,
    Scope,
    check_fields,
    check_limits,
    flag,
)
from mtb.app.reporter import says_unfinished_lines
from mtb.app.results import ResultsReport, ResultsSpec, results
from mtb.app.summary import ModelSpec, Step
from mtb.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, MtbError, UsageError

if TYPE_CHECKING:
    from mtb.app.reporter import Level, Reporter
    from mtb.cost import Budget
    from mtb.data import DataDir
    from mtb.progress import ProgressSink

# Worse outcomes win when steps are combined: interrupted, then bad usage or input, then failed items.
_SEVERITY = {EXIT_OK: 0, EXIT_FAILED: 1, EXIT_USAGE: 2, EXIT_INTERRUPTED: 3}


def worst(codes: list[int]) -> int:
    return max(codes, key=lambda code: _SEVERITY.get(code, 1), default=EXIT_OK)


@dataclass
class EvalSpec(Answering, Judged, Scope):
    """`mtb eval`'s flags: the models, their defaults, the judge, and the results."""

    model: list[str] | None = None
    model_path: list[str] | None = None
    model_id: list[str] | None = None
    models_file: Path | None = None
    # The models' defaults (a models file's entries override them).
    api_base: list[str] | None = None
    api_key: str | None = field(default=None, repr=False)
    provider: str = "openai"
    parallel: int | None = flag(minimum=1, maximum=MAX_PARALLEL)
    local: LocalOptions = field(default_factory=LocalOptions)
    judge_parallel: int | None = flag(minimum=1, maximum=MAX_PARALLEL)
    judge_rpm: float | None = None
    judge_tpm: float | None = None
    # The results.
    compare: tuple[str, str] | None = None
    strict: bool = False
    # Judge again the verdicts that held no rating (as `mtb judge --retry-unparsed`).
    retry_unparsed: bool = False
    # Judge each answer as soon as it is written, where the judge does not share the models' device.
    pipeline: bool = True

    def __post_init__(self) -> None:
        check_fields(self)
        self.check_judge()
        check_limits(("--rpm", self.rpm), ("--tpm", self.tpm))
        check_limits(("--judge-rpm", self.judge_rpm), ("--judge-tpm", self.judge_tpm))
        if self.compare is not None and self.mode not in (None, "single"):
            raise UsageError("--compare works with --mode single")
        if self.max_cost is not None and not self.max_cost > 0:
            raise UsageError(f"--max-cost must be a number of dollars above 0, not {self.max_cost}")

    def models(self) -> list[ModelSpec]:
        from mtb.app.summary import check_names, load_models_file, models_from_flags

        if self.models_file is not None:
            if self.model or self.model_path or self.model_id:
                raise UsageError(
                    "give the models either with --model/--model-path or in --models-file, not both"
                )
            specs = load_models_file(self.models_file)
        else:
            specs = models_from_flags(self.model or [], self.model_path or [], self.model_id or [])
        check_names(specs)
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise UsageError(f"two models share a name ({', '.join(names)}): set --model-id for each")
        return specs

    def generate_spec(self, model: ModelSpec) -> GenerateSpec:
        """One model's generation: the eval's defaults, then the model's own options."""
        values: dict[str, Any] = {
            "num_choices": self.num_choices,
            "max_tokens": self.max_tokens,
            "force_temperature": self.force_temperature,
            "system_prompt": self.system_prompt,
            "parallel": self.parallel,
            "first_n": self.first_n,
            "bench": self.bench,
            "data_dir": self.data_dir,
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
        }
        if model.model is not None:
            values |= {"rpm": self.rpm, "tpm": self.tpm}
            # The Batch API is for models behind an API; a local model in the same eval runs here.
            values |= {"batch": self.batch, "no_wait": self.no_wait, "forget_batches": self.forget_batches}
            values |= {"api_base": self.api_base, "api_key": self.api_key, "provider": self.provider}
        else:
            local = {name: getattr(self.local, name) for name in LocalOptions.names()}
            local.pop("num_gpus_total")  # a models file's own; not a flag of eval
            values |= local
        values |= model.generate_arguments()
        local_options = LocalOptions.take(values)
        # The judge's price is --price-in/--price-out; a model's own is in the models file.
        values.setdefault("price_in", None)
        values.setdefault("price_out", None)
        return GenerateSpec(**values, local=local_options)

    def judge_spec(self, names: list[str]) -> JudgeSpec:
        return JudgeSpec(
            mode=self.mode,
            baseline_model=self.baseline_model,
            judge_model=self.judge_model,
            judge_api_base=self.judge_api_base,
            judge_api_key=self.judge_api_key,
            judge_provider=self.judge_provider,
            reference_model=self.reference_model,
            judge_model_path=self.judge_model_path,
            judge_local=self.judge_local,
            model_list=names,
            parallel=self.judge_parallel,
            first_n=self.first_n,
            samples=self.samples,
            bench=self.bench,
            data_dir=self.data_dir,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            price_in=self.price_in,
            price_out=self.price_out,
            rpm=self.judge_rpm,
            tpm=self.judge_tpm,
            batch=self.batch and self.judge_model_path is None,
            no_wait=self.no_wait and self.judge_model_path is None,
            forget_batches=self.forget_batches,
            retry_unparsed=self.retry_unparsed,
        )


@dataclass
class EvalReport:
    """The eval's steps, its scores (`records`: what --format json prints) and its summary files."""

    exit_code: int
    steps: list[Step]
    failed_step: str | None
    results: ResultsReport | None
    compared: ResultsReport | None
    summary: dict[str, Any]
    summary_path: Path | None
    generated: list[GenerateReport] = field(default_factory=list)
    judged: JudgeReport | None = None
    pipelined: bool = False

    @property
    def records(self) -> list[dict[str, Any]] | dict[str, Any] | None:
        return self.results.records if self.results is not None else None

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


class PlanInOneLine:
    """The eval's reporter for its judge step: the plan in one line, not 30 lines of JSON amid the progress.

    `mtb judge --dry-run` prints the whole plan; in an eval the line is enough.
    """

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def say(self, text: str, *, level: Level = "info", tag: str | None = None) -> None:
        self.reporter.say(text, level=level, tag=tag)

    def data(self, obj: dict[str, Any]) -> None:
        self.reporter.say(plan_line(obj))

    def section(self, title: str) -> None:
        self.reporter.section(title)

    def progress(self, label: str) -> ProgressSink:
        return self.reporter.progress(label)


def plan_line(plan: dict[str, Any]) -> str:
    """A judge plan in one line: what is to be judged, by whom, the estimate, and where it goes."""
    parts = [f"judge: {plan.get('judge')}"]
    if "to_make" in plan:
        parts.append(
            f"{plan['to_make']} judgment(s) to make ({plan.get('already_done', 0)} already done), "
            f"{plan.get('judge_calls', plan['to_make'])} call(s)"
        )
    tokens = plan.get("estimated_tokens")
    if isinstance(tokens, dict):
        cost = plan.get("estimated_cost_usd")
        money = "no price known" if cost is None else f"about ${cost:,.2f}"
        parts.append(
            f"estimate {tokens.get('input', 0):,} input + {tokens.get('output', 0):,} output tokens, {money}"
        )
    if plan.get("output"):
        parts.append(f"→ {plan['output']}")
    return "; ".join(parts)


class _Stop(Exception):
    """The eval ends here: a later step could not mean anything."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why or "")
        self.why = why


@dataclass
class _Eval:
    spec: EvalSpec
    reporter: Reporter
    names: list[str]
    data: DataDir
    budget: Budget
    began: float = field(default_factory=time.time)
    began_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    steps: list[Step] = field(default_factory=list)
    generated: list[GenerateReport] = field(default_factory=list)
    judged: JudgeReport | None = None
    scored: ResultsReport | None = None
    compared: ResultsReport | None = None
    # What each step was expected to cost before it ran, by step name ("generate m1", "judge").
    estimates: dict[str, Any] = field(default_factory=dict)
    unreadable: bool = False  # a model scored has no readable verdict: a rerun would not change it

    def code(self) -> int:
        return worst([s.exit_code for s in self.steps])

    def failed(self, name: str, started: float, exc: BaseException) -> None:
        """A step's own error becomes its exit code, said with the step's name."""
        if isinstance(exc, KeyboardInterrupt):
            self.reporter.say(
                f"in {name}; everything completed so far is saved", level="note", tag="interrupted"
            )
            code = EXIT_INTERRUPTED
        else:
            assert isinstance(exc, MtbError)
            self.reporter.say(f"in {name}: {exc}", level="error")
            code = exc.exit_code
        self.steps.append(Step(name, time.time() - started, code))

    def stop_if_fatal(self) -> None:
        if self.steps and self.steps[-1].exit_code in (EXIT_USAGE, EXIT_INTERRUPTED):
            raise _Stop()

    def skip(self, name: str, why: str) -> None:
        self.reporter.say(f"{name}: not started: {why}", level="error", tag="")
        self.steps.append(Step(name, 0.0, EXIT_FAILED, why))
        raise _Stop()

    # -- one after the other ----------------------------------------------------------

    def sequential(self, models: list[ModelSpec]) -> None:
        from mtb.app.judge import judge
        from mtb.app.runs import run_until_done

        for model in models:
            name = f"generate {model.name}"
            self.reporter.section(name)
            if self.budget.left is not None and self.budget.left <= 0:
                self.skip(name, "--max-cost is spent")
            started = time.time()
            try:
                generation = Generation(self.spec.generate_spec(model), self.reporter, self.budget)
                self.estimates[name] = step_estimate(generation)
                run_until_done(generation.execute(), [generation.report])
                report = generation.finish()
            except (MtbError, KeyboardInterrupt) as exc:
                self.failed(name, started, exc)
                self.stop_if_fatal()
                continue
            self.generated.append(report)
            self.steps.append(Step(name, time.time() - started, report.exit_code))
            self.stop_if_fatal()
        if self.code() != EXIT_OK:
            # Judging part of the answers would score a model on the questions it happened to answer.
            raise _Stop("some answers are missing, so nothing was judged")
        self.reporter.section("judge")
        if self.budget.left is not None and self.budget.left <= 0 and self.spec.judge_model_path is None:
            self.skip("judge", "--max-cost was spent by generation")
        started = time.time()
        try:
            self.judged = judge(self.spec.judge_spec(self.names), PlanInOneLine(self.reporter), self.budget)
        except (MtbError, KeyboardInterrupt) as exc:
            self.failed("judge", started, exc)
            self.stop_if_fatal()
            return
        self.estimates["judge"] = judge_estimate(self.judged.plan)
        self.steps.append(Step("judge", time.time() - started, self.judged.exit_code))
        self.stop_if_fatal()

    # -- the judge following generation -------------------------------------------------

    def pipelined(self, models: list[ModelSpec]) -> None:
        from mtb.app.preflight import placeholder_files, remove_if_empty
        from mtb.app.runs import run_until_done
        from mtb.engine import done_keys

        # Every step was checked (keys, paths, data, prices) by the preflight; what fails
        # while the steps are prepared is raised as it is: nothing has run, nothing is summed up.
        generations: list[Generation] = []
        watch = AnswerWatch()
        for model in models:
            generation = Generation(self.spec.generate_spec(model), self.reporter, self.budget)
            generations.append(generation)
            self.estimates[f"generate {model.name}"] = step_estimate(generation)
            watch.add(model.name, done_keys(generation.output))
        # The judge plans from the answer files, which generation is about to open: made now
        # (empty), and taken away again if the judge cannot start, or if nothing is written.
        started = time.time()
        with placeholder_files([g.output.path for g in generations], keep=True) as created:
            judging = Judging(self.spec.judge_spec(self.names), self.reporter, self.budget, follow=watch)
            if judging.estimate() is not None:  # a dry run's plan: eval makes none
                raise UsageError("the judge stopped before its first call")
            if self.spec.judge_model_path is None:
                judging.resolve_endpoint()
        self.estimates["judge"] = follow_estimate(judging, self.spec)

        self.reporter.section("generate " + ", ".join(self.names) + ", judged as answers are written")
        timings: dict[str, tuple[float, float]] = {}
        errors: dict[str, BaseException] = {}

        async def generate_then_close() -> None:
            try:
                for generation in generations:
                    name = generation.spec.name
                    begun = time.time()

                    def written(spec: Any, record: dict[str, Any], name: str = name) -> None:
                        watch.add(name, {spec.key(record)})

                    try:
                        await generation.execute(on_written=written)
                    except MtbError as exc:
                        errors[name] = exc
                    timings[name] = (begun, time.time())
            finally:
                watch.close()

        async def both() -> None:
            judge_task = asyncio.create_task(judging.execute())
            try:
                await generate_then_close()
            finally:
                await judge_task

        run_until_done(both(), [g.report for g in generations] + [judging.report])
        remove_if_empty(created)
        for generation in generations:
            name = generation.spec.name
            begun, ended = timings.get(name, (started, time.time()))
            if name in errors:
                self.failed(f"generate {name}", begun, errors[name])
                continue
            report = generation.finish()
            self.generated.append(report)
            self.steps.append(Step(f"generate {name}", ended - begun, report.exit_code))
        self.judged = judging.finish()
        self.steps.append(Step("judge", time.time() - started, self.judged.exit_code))
        self.stop_if_fatal()
        if any(s.exit_code != EXIT_OK for s in self.steps if s.name.startswith("generate ")):
            raise _Stop("some answers are missing, so no results were scored (the judgments made are kept)")

    # -- results and the summary --------------------------------------------------------

    def score(self) -> None:
        spec = self.spec
        judged = self.code() == EXIT_OK
        self.reporter.section("results")
        started = time.time()
        code = EXIT_OK
        try:
            self.scored = results(
                ResultsSpec(
                    mode=spec.mode,
                    model_list=self.names,
                    judge_model=spec.judge_name,
                    baseline_model=spec.baseline_model,
                    strict=spec.strict,
                    bench=spec.bench,
                    data_dir=spec.data_dir,
                ),
                self.reporter,
            )
            if spec.compare is not None:
                self.compared = results(
                    ResultsSpec(
                        mode=spec.mode,
                        judge_model=spec.judge_name,
                        compare=spec.compare,
                        bench=spec.bench,
                        data_dir=spec.data_dir,
                    ),
                    self.reporter,
                    say_cost=False,  # the same judgments' cost was said just above
                )
            code = unreadable(self.scored, self.reporter)
            self.unreadable = code != EXIT_OK
        except MtbError as exc:
            if judged:
                self.failed("results", started, exc)
                return
            # Nothing (or not enough) was judged to score: the judge step's failure (a 401,
            # a server that is down) is the cause, and its exit code and name are the run's.
            self.reporter.say(f"results: none to show ({exc})")
            code = EXIT_FAILED
        self.steps.append(Step("results", time.time() - started, code))

    def estimate_and_spend(self) -> dict[str, Any]:
        """Per step, what it was expected to cost before it ran beside what it spent."""
        spent: dict[str, float | None] = {f"generate {g.model}": g.cost_usd for g in self.generated}
        if self.judged is not None:
            spent["judge"] = self.judged.cost_usd
        return {
            step: {**estimate, "spent_usd": None if spent.get(step) is None else round(spent[step] or 0, 6)}
            for step, estimate in self.estimates.items()
        }

    def finish(self, why: str | None, pipelined: bool) -> EvalReport:
        from mtb.app.summary import (
            adapter_of,
            latest_run,
            logged_spending,
            questions_note,
            questions_run,
            summary_paths,
            write_summary,
        )
        from mtb.provenance import mtb_version

        code = self.code()
        failed = next((s.name for s in self.steps if s.exit_code == code), None) if code else None
        if failed is not None:
            reason = f": {why}" if why else ""
            # A usage or input error is not cured by a rerun: the step's own message says what to fix.
            stopped = [g.run for g in self.generated] + (
                [self.judged.run] if self.judged and self.judged.run else []
            )
            # Stopped outright (a refused key, an unknown model) or judged without a readable verdict:
            # the same command would end the same way.
            unreadable_run = any(r.completed and r.unparsed_new >= r.completed for r in stopped)
            if code == EXIT_USAGE or unreadable_run or self.unreadable or any(run.fatal for run in stopped):
                again = ""
            else:
                again = "; run the same command again to continue"
            self.reporter.say(f"mtb eval: step '{failed}' failed{reason}{again}", level="error", tag="")
        settings: dict[str, Any] = {}
        notes: list[str] = []
        spending: dict[str, Any] = {}
        questions: dict[str, Any] = {}
        adapters: dict[str, Any] = {}
        try:
            for name in self.names:
                answers = self.data.bench.protocol.answer_output(self.data, name).path
                settings[f"answers {name}"] = latest_run(answers)
                questions[name] = questions_run(self.data, name, self.spec.first_n)
                adapter = adapter_of(answers)
                if adapter is not None:
                    adapters[name] = adapter
            for source in self.scored.sources if self.scored else []:
                settings[f"judgments {source.name}"] = latest_run(source)
            spending = logged_spending(self.data, self.began)
        except MtbError as exc:  # a bad side record must not hide the scores
            notes.append(str(exc))
        notes += [line for name, counts in questions.items() if (line := questions_note(name, counts))]
        scores = self.scored.records if self.scored else None
        rows = scores if isinstance(scores, list) else []
        mode = self.spec.mode or (self.judged.plan.get("mode") if self.judged else None)
        summary = {
            "bench": self.data.bench.name,
            "started": self.began_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(time.time() - self.began, 3),
            "mtb_version": mtb_version(),
            "models": self.names,
            "judge": self.spec.judge_name or self.data.bench.default_judge,
            "judge_is_default": self.spec.judge_name is None,
            "mode": mode or "the benchmark's default",
            "mode_is_default": self.spec.mode is None,
            "questions": questions,
            "adapters": adapters,
            "estimate": self.estimate_and_spend(),
            "pipelined": pipelined,
            "exit_code": code,
            "failed_step": failed,
            "scores": scores,
            "compare": self.compared.records if self.compared else None,
            "placement": {
                r["model"]: r["placement"] for r in rows if isinstance(r, dict) and r.get("placement")
            },
            "settings": settings,
            "cost": spending,
            "steps": [s.to_json() for s in self.steps],
            "notes": notes,
        }
        json_path, markdown_path = summary_paths(self.data, self.names, self.began_at)
        written: Path | None = json_path
        try:
            write_summary(json_path, markdown_path, summary)
            self.reporter.say(f"summary: {markdown_path} (and .json)")
        except MtbError as exc:
            self.reporter.say(str(exc), level="warning")
            written = None
        return EvalReport(
            code,
            self.steps,
            failed,
            self.scored,
            self.compared,
            summary,
            written,
            self.generated,
            self.judged,
            pipelined,
        )


def judge_follows(spec: EvalSpec, models: list[ModelSpec]) -> bool:
    """Whether the judge can run while the models answer: it does not share their device."""
    if not spec.pipeline:
        return False
    return spec.judge_model_path is None or all(m.model is not None for m in models)


@says_unfinished_lines
def evaluate(spec: EvalSpec, reporter: Reporter) -> EvalReport:
    """Generate, judge and score every model; the summary goes to DATA/<bench>/eval/."""
    from mtb import cost
    from mtb.benchmarks import Benchmark
    from mtb.data import DataDir

    models = spec.models()
    benchmark = Benchmark.load(spec.bench)
    data = DataDir(spec.data_dir, benchmark)
    if spec.max_cost is not None and spec.judge_model_path is None:
        judge = spec.judge_name or benchmark.default_judge
        # The judge's price is needed for the cap: say so before any model answers anything.
        cost.check_cap(spec.max_cost, cost.resolve_price(judge, spec.price_in, spec.price_out), judge)
    from mtb.app.preflight import check_eval

    # Every step is checked before the first request; a problem is raised here, and nothing is written.
    check_eval(spec, models, data)
    run = _Eval(spec, reporter, [m.name for m in models], data, cost.Budget(spec.max_cost))
    pipelined = judge_follows(spec, models)
    why: str | None = None
    try:
        if pipelined:
            run.pipelined(models)
        else:
            run.sequential(models)
        run.score()
    except _Stop as stop:
        why = stop.why
    return run.finish(why, pipelined)


def step_estimate(generation: Generation) -> dict[str, Any]:
    """What a generation was expected to cost: an API model's estimate; a local model costs no money."""
    estimate = getattr(generation, "estimate", None)
    if estimate is not None:
        return dict(estimate)
    return {"estimated_cost_usd": 0.0, "estimate_notes": ["a local model: no money is spent"]}


def judge_estimate(plan: dict[str, Any]) -> dict[str, Any]:
    """The judge plan's estimate, as the plan JSON of `mtb judge --dry-run` gives it."""
    keys = ("estimated_tokens", "estimated_cost_usd", "price", "estimate_notes", "judge_calls")
    return {key: plan[key] for key in keys if key in plan}


def follow_estimate(judging: Judging, spec: EvalSpec) -> dict[str, Any]:
    """A judge that follows generation has no total before the run (the answers are not written yet)."""
    from mtb import cost

    if spec.judge_model_path is not None:
        return {"estimated_cost_usd": 0.0, "estimate_notes": ["a local judge: no money is spent"]}
    price = cost.resolve_price(judging.planned.judge_model, spec.price_in, spec.price_out)
    return {
        "estimated_cost_usd": None,
        "price": None if price is None else price.to_json(),
        "estimate_notes": [
            "the judge follows generation: each answer is estimated as it is written, not as a total "
            "before the run (mtb judge --dry-run, after generation, gives one)"
        ],
    }


def unreadable(scored: ResultsReport | None, reporter: Reporter) -> int:
    """Models whose every verdict is unreadable fail the eval (exit 1): there is no score to show."""
    rows = scored.records if scored is not None and isinstance(scored.records, list) else []
    empty = [r for r in rows if isinstance(r, dict) and "average" in r and r["average"] is None]
    if not empty:
        return EXIT_OK
    counts = ", ".join(f"{r.get('model')} ({r.get('excluded', 0)} judgment(s))" for r in empty)
    reporter.say(
        f"no readable verdict (a score) for: {counts}; check that the judge follows its prompt, then "
        "judge them again with --retry-unparsed",
        level="error",
        tag="",
    )
    return EXIT_FAILED
