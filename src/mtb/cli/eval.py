"""`mtb eval`: generate, judge and show the results in one command, for one model or many.

Each step is the same function its own command runs (`run_generate`,
`run_judge`, `score_results`); this module only chooses their arguments, runs
them in order, stops when a later step could not mean anything, and writes the
run summary (`mtb.evaluate`).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    PriceInOption,
    PriceOutOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    stderr_console,
)
from mtb.cli.judge import JudgeMode
from mtb.cli.local_options import (
    LOCAL,
    LOCAL_JUDGE,
    BackendOption,
    BaseModelOption,
    BatchSizeOption,
    ChatTemplateOption,
    DtypeOption,
    GpuMemoryOption,
    JudgeBackendOption,
    JudgeBaseModelOption,
    JudgeBatchSizeOption,
    JudgeChatTemplateOption,
    JudgeDtypeOption,
    JudgeGpuMemoryOption,
    JudgeMaxModelLenOption,
    JudgeMergeAdapterOption,
    JudgeRevisionOption,
    JudgeTensorParallelOption,
    MaxModelLenOption,
    MergeAdapterOption,
    RevisionOption,
    TensorParallelOption,
)
from mtb.cli.results import OutputFormat

if TYPE_CHECKING:
    from rich.console import Console

    from mtb.data import DataDir
    from mtb.evaluate import ModelSpec, Step
    from mtb.protocols.base import ScoreReport

# Worse outcomes win when steps are combined: interrupted, then bad usage or input, then failed items.
_SEVERITY = {EXIT_OK: 0, EXIT_FAILED: 1, EXIT_USAGE: 2, EXIT_INTERRUPTED: 3}

API = "Model behind an API (--model)"
JUDGE = "Judge"


def worst(codes: list[int]) -> int:
    return max(codes, key=lambda code: _SEVERITY.get(code, 1), default=EXIT_OK)


@cli_errors
def evaluate(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="A model behind an API (repeat for several).", rich_help_panel=API),
    ] = None,
    model_path: Annotated[
        list[str] | None,
        typer.Option(
            "--model-path",
            help="A local model folder, LoRA adapter folder or Hugging Face repo id (repeat for several).",
            rich_help_panel=LOCAL,
        ),
    ] = None,
    model_id: Annotated[
        list[str] | None,
        typer.Option(
            "--model-id",
            help="Name in file names and results: of the one model, or of each --model-path in order.",
        ),
    ] = None,
    models_file: Annotated[
        Path | None,
        typer.Option(
            "--models-file",
            help="A TOML file of [[model]] tables, each a model (model or model_path) and its own options "
            "(model_id, api_base, provider, base_model, max_tokens, temperature, ...); flags give the "
            "defaults.",
        ),
    ] = None,
    api_base: Annotated[
        list[str] | None,
        typer.Option(
            "--api-base",
            help="The models' OpenAI-compatible base URL \\[env: OPENAI_BASE_URL]; repeat for replicas.",
            rich_help_panel=API,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="The models' API key \\[env: the provider's variable].",
            show_default=False,
            rich_help_panel=API,
        ),
    ] = None,
    provider: Annotated[
        str,
        typer.Option(
            "--provider", help="The models' provider: openai, litellm or fake.", rich_help_panel=API
        ),
    ] = "openai",
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            help="Generation: requests in flight per endpoint \\[default: 8; local: every question at once].",
        ),
    ] = None,
    num_choices: Annotated[int, typer.Option("--num-choices", min=1, help="Answers per question.")] = 1,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            "--max-new-tokens",
            min=1,
            help="New tokens per turn \\[default: the benchmark's].",
        ),
    ] = None,
    force_temperature: Annotated[
        float | None,
        typer.Option("--force-temperature", min=0.0, help="One temperature for all questions."),
    ] = None,
    system_prompt: Annotated[
        str | None, typer.Option("--system-prompt", help="A system message before each conversation.")
    ] = None,
    backend: BackendOption = "auto",
    chat_template: ChatTemplateOption = None,
    dtype: DtypeOption = None,
    revision: RevisionOption = None,
    base_model: BaseModelOption = None,
    merge_adapter: MergeAdapterOption = False,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, help="Choice i is sampled with seed + i.", rich_help_panel=LOCAL),
    ] = None,
    batch_size: BatchSizeOption = None,
    tensor_parallel_size: TensorParallelOption = None,
    max_model_len: MaxModelLenOption = None,
    gpu_memory_utilization: GpuMemoryOption = None,
    mode: Annotated[
        JudgeMode | None,
        typer.Option(
            "--mode",
            help="single, pairwise-baseline (against --baseline-model) or pairwise-all \\[default: the "
            "benchmark's].",
            rich_help_panel=JUDGE,
        ),
    ] = None,
    baseline_model: Annotated[
        str | None,
        typer.Option("--baseline-model", help="pairwise-baseline: the baseline.", rich_help_panel=JUDGE),
    ] = None,
    judge_model: Annotated[
        str | None,
        typer.Option(
            "--judge-model", help="Judge model \\[default: the benchmark's, gpt-4].", rich_help_panel=JUDGE
        ),
    ] = None,
    judge_api_base: Annotated[
        str | None,
        typer.Option(
            "--judge-api-base", envvar="MTB_JUDGE_API_BASE", help="Judge's base URL.", rich_help_panel=JUDGE
        ),
    ] = None,
    judge_api_key: Annotated[
        str | None,
        typer.Option(
            "--judge-api-key",
            envvar="MTB_JUDGE_API_KEY",
            help="Judge's API key \\[default: the provider's variable].",
            show_default=False,
            rich_help_panel=JUDGE,
        ),
    ] = None,
    judge_provider: Annotated[
        str, typer.Option("--judge-provider", help="openai, litellm or fake.", rich_help_panel=JUDGE)
    ] = "openai",
    reference_model: Annotated[
        str | None,
        typer.Option(
            "--reference-model", help="Whose reference answers \\[default: gpt-4].", rich_help_panel=JUDGE
        ),
    ] = None,
    judge_parallel: Annotated[
        int | None,
        typer.Option(
            "--judge-parallel",
            min=1,
            help="Judging: requests in flight \\[default: 8; a local judge: 256, batched].",
            rich_help_panel=JUDGE,
        ),
    ] = None,
    samples: Annotated[
        int,
        typer.Option(
            "--samples", min=1, help="single: K judgments per answer and turn.", rich_help_panel=JUDGE
        ),
    ] = 1,
    judge_model_path: Annotated[
        str | None,
        typer.Option(
            "--judge-model-path",
            help="A local judge (model folder, adapter folder or repo id); loaded after the models are "
            "released.",
            rich_help_panel=LOCAL_JUDGE,
        ),
    ] = None,
    judge_backend: JudgeBackendOption = "auto",
    judge_chat_template: JudgeChatTemplateOption = None,
    judge_dtype: JudgeDtypeOption = None,
    judge_revision: JudgeRevisionOption = None,
    judge_base_model: JudgeBaseModelOption = None,
    judge_merge_adapter: JudgeMergeAdapterOption = False,
    judge_batch_size: JudgeBatchSizeOption = None,
    judge_tensor_parallel_size: JudgeTensorParallelOption = None,
    judge_max_model_len: JudgeMaxModelLenOption = None,
    judge_gpu_memory_utilization: JudgeGpuMemoryOption = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Dollars for the whole eval (generation and judging): each paid step gets what is left; "
            "what is done is kept, and a rerun continues. The judge needs a price.",
        ),
    ] = None,
    price_in: PriceInOption = None,
    price_out: PriceOutOption = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            help="single: also the difference of two models' averages (overall and per category) in the "
            "summary.",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse to score judgments made under different settings.")
    ] = False,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="table, json, csv or markdown.")] = (
        OutputFormat.table
    ),
    first_n: FirstNOption = None,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    progress: ProgressOption = True,
) -> None:
    """Generate, judge and show the results, then write a summary to DATA/<bench>/eval/.

    Models come from --model / --model-path (repeat them) or --models-file. A rerun
    sends no request for what is done. --price-in/--price-out price the judge; a
    model's own price goes in the models file. Results go to stdout (--format json:
    the same JSON as `mtb results`), everything else to stderr. Exit code: the worst
    of the steps.
    """
    from mtb.benchmarks import Benchmark
    from mtb.cli.generate import run_generate
    from mtb.cli.judge import run_judge
    from mtb.cli.results import ResultsMode, score_results
    from mtb.data import DataDir
    from mtb.errors import UsageError
    from mtb.evaluate import check_names, load_models_file, models_from_flags

    console = stderr_console()
    began = time.time()
    began_at = dt.datetime.now(dt.timezone.utc)
    if models_file is not None:
        if model or model_path or model_id:
            raise UsageError("give the models either with --model/--model-path or in --models-file, not both")
        specs = load_models_file(models_file)
    else:
        specs = models_from_flags(model or [], model_path or [], model_id or [])
    names = [spec.name for spec in specs]
    check_names(names)
    if len(set(names)) != len(names):
        raise UsageError(f"two models share a name ({', '.join(names)}): set --model-id for each")
    if compare is not None and mode not in (None, JudgeMode.single):
        raise UsageError("--compare works with --mode single")
    benchmark = Benchmark.load(bench)
    data = DataDir(data_dir, benchmark)
    judge_name = judge_model or (judge_model_path.rstrip("/").split("/")[-1] if judge_model_path else None)
    if max_cost is not None and judge_model_path is None:
        from mtb import cost

        # The judge's price is needed for the cap: say so before any model answers anything.
        cost.check_cap(
            max_cost,
            cost.resolve_price(judge_name or benchmark.default_judge, price_in, price_out),
            judge_name or benchmark.default_judge,
        )

    run = _Eval(console, data, names, judge_name, mode, began_at, began, output_format)
    shared = {
        "num_choices": num_choices,
        "max_tokens": max_tokens,
        "force_temperature": force_temperature,
        "system_prompt": system_prompt,
        "parallel": parallel,
        "first_n": first_n,
        "bench": bench,
        "data_dir": data_dir,
        "timeout": timeout,
        "max_attempts": max_attempts,
        "progress": progress,
    }
    api_defaults = {"api_base": api_base, "api_key": api_key, "provider": provider}
    local_defaults = {
        "backend": backend,
        "chat_template": chat_template,
        "dtype": dtype,
        "revision": revision,
        "base_model": base_model,
        "merge_adapter": merge_adapter,
        "seed": seed,
        "batch_size": batch_size,
        "tensor_parallel_size": tensor_parallel_size,
        "max_model_len": max_model_len,
        "gpu_memory_utilization": gpu_memory_utilization,
    }

    # 1. Generate, model by model; a local model is released before the next one (or the judge) loads.
    for spec in specs:
        defaults = api_defaults if spec.model is not None else local_defaults
        arguments: dict[str, Any] = {**shared, **defaults, **spec.generate_arguments()}
        if spec.model is not None and max_cost is not None:
            arguments["max_cost"] = run.left_for(spec, arguments, max_cost)
            if arguments["max_cost"] is not None and arguments["max_cost"] <= 0:
                run.skip(f"generate {spec.name}", "--max-cost is spent")
                run.finish()
        run.step(f"generate {spec.name}", functools.partial(run_generate, **arguments))
        if run.steps[-1].exit_code in (EXIT_USAGE, EXIT_INTERRUPTED):
            run.finish()
    if run.code() != EXIT_OK:
        # Judging part of the answers would score a model on the questions it happened to answer.
        run.finish("some answers are missing, so nothing was judged")

    # 2. Judge every model's answers in one plan (a local judge loads once).
    judge_cap = None
    if max_cost is not None and judge_model_path is None:
        from mtb.evaluate import logged_spending

        judge_cap = round(max_cost - logged_spending(data, began)["cost_usd"], 6)
        if judge_cap <= 0:
            run.skip("judge", "--max-cost was spent by generation")
            run.finish()
    run.step(
        "judge",
        functools.partial(
            run_judge,
            mode=mode,
            baseline_model=baseline_model,
            judge_model=judge_model,
            judge_api_base=judge_api_base,
            judge_api_key=judge_api_key,
            judge_provider=judge_provider,
            reference_model=reference_model,
            judge_model_path=judge_model_path,
            judge_backend=judge_backend,
            judge_chat_template=judge_chat_template,
            judge_dtype=judge_dtype,
            judge_revision=judge_revision,
            judge_base_model=judge_base_model,
            judge_merge_adapter=judge_merge_adapter,
            judge_batch_size=judge_batch_size,
            judge_tensor_parallel_size=judge_tensor_parallel_size,
            judge_max_model_len=judge_max_model_len,
            judge_gpu_memory_utilization=judge_gpu_memory_utilization,
            model_list=names,
            parallel=judge_parallel,
            first_n=first_n,
            samples=samples,
            bench=bench,
            data_dir=data_dir,
            timeout=timeout,
            max_attempts=max_attempts,
            max_cost=judge_cap,
            price_in=price_in,
            price_out=price_out,
            progress=progress,
        ),
    )
    if run.steps[-1].exit_code in (EXIT_USAGE, EXIT_INTERRUPTED):
        run.finish()

    # 3. Results: the models' rows (with their placement), and the comparison for the summary.
    # After failed judgments (exit 1) they are still shown: what was judged is scored, the rest is missing.
    results_mode = ResultsMode(mode.value) if mode else None
    judged = run.steps[-1].exit_code == EXIT_OK

    def score() -> int:
        from mtb.errors import MtbError

        try:
            run.report = score_results(
                mode=results_mode,
                model_list=names,
                judge_model=judge_name,
                baseline_model=baseline_model,
                strict=strict,
                bench=bench,
                data_dir=data_dir,
            ).report
        except MtbError as exc:
            if judged:
                raise
            # Nothing (or not enough) was judged to score: the judge step's failure (a 401,
            # a server that is down) is the cause, and its exit code and name are the run's.
            run.console.print(f"results: none to show ({escape(str(exc))})", highlight=False)
            return EXIT_FAILED
        if compare is not None:
            run.compared = score_results(
                mode=results_mode, judge_model=judge_name, compare=compare, bench=bench, data_dir=data_dir
            ).report
        return EXIT_OK

    run.step("results", score)
    run.finish()


@dataclass
class _Eval:
    """One `mtb eval` as it runs: its steps so far, and how to end it (summary, results, exit code)."""

    console: Console
    data: DataDir
    names: list[str]
    judge_name: str | None
    mode: JudgeMode | None
    began_at: dt.datetime
    began: float
    output_format: OutputFormat
    steps: list[Step] = field(default_factory=list)
    report: ScoreReport | None = None
    compared: ScoreReport | None = None

    def step(self, name: str, action: Callable[[], int]) -> None:
        """Run one step; its own errors become its exit code, said with the step's name."""
        from mtb.errors import MtbError
        from mtb.evaluate import Step

        self.console.rule(f"mtb eval: {escape(name)}", style="dim")
        started = time.time()
        try:
            code = action()
        except MtbError as exc:
            self.console.print(f"[red]error[/red] in {escape(name)}: {escape(str(exc))}", highlight=False)
            code = exc.exit_code
        except KeyboardInterrupt:
            self.console.print(
                f"[yellow]interrupted[/yellow] in {escape(name)}; everything completed so far is saved"
            )
            code = EXIT_INTERRUPTED
        self.steps.append(Step(name, time.time() - started, code))

    def skip(self, name: str, why: str) -> None:
        from mtb.evaluate import Step

        self.console.print(f"[red]{escape(name)}: not started[/red]: {escape(why)}", highlight=False)
        self.steps.append(Step(name, 0.0, EXIT_FAILED, why))

    def code(self) -> int:
        return worst([s.exit_code for s in self.steps])

    def left_for(self, spec: ModelSpec, arguments: dict[str, Any], max_cost: float) -> float | None:
        """What is left of --max-cost for this model's generation; None when the model has no price."""
        from mtb import cost
        from mtb.evaluate import logged_spending

        price = cost.resolve_price(spec.model or "", arguments.get("price_in"), arguments.get("price_out"))
        if price is None:
            self.console.print(
                f"note: no price for '{escape(spec.name)}' (set price_in/price_out in --models-file): its "
                "generation is not counted against --max-cost",
                highlight=False,
            )
            return None
        spent = float(logged_spending(self.data, self.began)["cost_usd"])
        return round(max_cost - spent, 6)

    def finish(self, why: str | None = None) -> NoReturn:
        """Write the summary, print the results last (stdout), and exit with the worst step's code."""
        from mtb import tables
        from mtb.cli.results import emit
        from mtb.errors import MtbError
        from mtb.evaluate import latest_run, logged_spending, summary_paths, write_summary
        from mtb.provenance import mtb_version

        code = self.code()
        failed = next((s.name for s in self.steps if s.exit_code == code), None) if code else None
        if failed is not None:
            reason = f": {why}" if why else ""
            self.console.print(
                f"[red]mtb eval: step '{escape(failed)}' failed[/red]{escape(reason)}; "
                "run the same command again to continue",
                highlight=False,
            )
        settings: dict[str, Any] = {}
        notes: list[str] = []
        spending: dict[str, Any] = {}
        try:
            for name in self.names:
                answers = self.data.bench.protocol.answer_output(self.data, name).path
                settings[f"answers {name}"] = latest_run(answers)
            for source in self.report.sources if self.report else []:
                settings[f"judgments {source.name}"] = latest_run(source)
            spending = logged_spending(self.data, self.began)
        except MtbError as exc:  # a bad side record must not hide the scores
            notes.append(str(exc))
        scores = self.report.records if self.report else None
        rows = scores if isinstance(scores, list) else []
        summary = {
            "bench": self.data.bench.name,
            "started": self.began_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(time.time() - self.began, 3),
            "mtb_version": mtb_version(),
            "models": self.names,
            "judge": self.judge_name or self.data.bench.default_judge,
            "mode": self.mode.value if self.mode else "default",
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
        try:
            write_summary(json_path, markdown_path, summary)
            self.console.print(f"summary: {escape(str(markdown_path))} (and .json)", highlight=False)
        except MtbError as exc:
            self.console.print(f"[yellow]warning:[/yellow] {escape(str(exc))}", highlight=False)
        if self.compared is not None:
            for table in self.compared.tables:
                self.console.print(tables.to_rich(table, self.console.width))
        if self.report is not None:
            emit(self.report, self.output_format)
        raise typer.Exit(code)
