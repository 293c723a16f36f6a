"""`mtb generate`: answer a benchmark's questions with a model behind an API, or a local one."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import typer

from mtb.cli.common import (
    DEFAULT_DATA_DIR,
    BenchOption,
    DataDirOption,
    FirstNOption,
    MaxAttemptsOption,
    MaxCostOption,
    PriceInOption,
    PriceOutOption,
    ProgressOption,
    TimeoutOption,
    cli_errors,
    stderr_console,
)
from mtb.cli.local_options import (
    LOCAL,
    BackendOption,
    BaseModelOption,
    BatchSizeOption,
    ChatTemplateOption,
    DtypeOption,
    GpuMemoryOption,
    MaxModelLenOption,
    MergeAdapterOption,
    RevisionOption,
    TensorParallelOption,
    describe_model,
    given_flags,
    local_config,
)
from mtb.errors import UsageError


def run_generate(
    model: Annotated[
        str | None, typer.Option("--model", help="Model name as the API endpoint knows it.")
    ] = None,
    model_path: Annotated[
        str | None,
        typer.Option(
            "--model-path",
            help="A local model folder or Hugging Face repo id, run here (vLLM or transformers).",
            rich_help_panel=LOCAL,
        ),
    ] = None,
    model_id: Annotated[
        str | None,
        typer.Option(
            "--model-id",
            help="Name for the answer file and records \\[default: the model's last path part].",
        ),
    ] = None,
    api_base: Annotated[
        list[str] | None,
        typer.Option(
            "--api-base",
            help="OpenAI-compatible base URL ending in /v1 \\[env: OPENAI_BASE_URL, for the openai "
            "provider and litellm's openai/ models]. Repeat it for replicas of one model: requests go to "
            "the least busy, --parallel in flight on each.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="API key \\[env: the provider's variable: OPENAI_API_KEY; litellm: by the model's "
            "prefix, e.g. ANTHROPIC_API_KEY for anthropic/...].",
            show_default=False,
        ),
    ] = None,
    provider: Annotated[
        str,
        typer.Option(
            "--provider",
            help="openai (any OpenAI-compatible server), litellm (provider/model names) or fake "
            "(in-process, deterministic answers, no key; --model fake).",
        ),
    ] = "openai",
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            help="Requests in flight at once, per endpoint \\[default: 8; local: every question at once].",
        ),
    ] = None,
    num_choices: Annotated[int, typer.Option("--num-choices", min=1, help="Answers per question.")] = 1,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            "--max-new-tokens",
            "--max-new-token",
            min=1,
            help="New tokens per turn \\[default: the benchmark's, 1024].",
        ),
    ] = None,
    force_temperature: Annotated[
        float | None,
        typer.Option(
            "--force-temperature",
            min=0.0,
            help="One temperature for all questions, over the table.",
        ),
    ] = None,
    system_prompt: Annotated[
        str | None,
        typer.Option("--system-prompt", help="A system message before each conversation."),
    ] = None,
    first_n: FirstNOption = None,
    bench: BenchOption = "mt_bench",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    timeout: TimeoutOption = 600.0,
    max_attempts: MaxAttemptsOption = 8,
    max_cost: MaxCostOption = None,
    price_in: PriceInOption = None,
    price_out: PriceOutOption = None,
    progress: ProgressOption = True,
    backend: BackendOption = "auto",
    chat_template: ChatTemplateOption = None,
    dtype: DtypeOption = None,
    revision: RevisionOption = None,
    base_model: BaseModelOption = None,
    merge_adapter: MergeAdapterOption = False,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", min=0, help="Choice i is sampled with seed + i \\[default: 0].", rich_help_panel=LOCAL
        ),
    ] = None,
    batch_size: BatchSizeOption = None,
    tensor_parallel_size: TensorParallelOption = None,
    num_gpus_total: Annotated[
        int | None,
        typer.Option(
            "--num-gpus-total",
            min=1,
            help="vllm: GPUs in all; more than one replica's worth runs data-parallel replicas.",
            rich_help_panel=LOCAL,
        ),
    ] = None,
    max_model_len: MaxModelLenOption = None,
    gpu_memory_utilization: GpuMemoryOption = None,
) -> int:
    """Answer every question (both turns) and append to DATA/<bench>/model_answer/ID.jsonl.

    With --model, through an OpenAI-compatible API (or litellm); with --model-path,
    with a local model (vLLM or transformers) and its own chat template.
    A rerun only answers the questions still missing from the file.
    """
    from mtb.benchmarks import Benchmark
    from mtb.cli.reporting import print_report
    from mtb.data import DataDir, select_questions
    from mtb.engine import Job
    from mtb.generation import GenerationSettings, answer_output, generation_tasks
    from mtb.progress import make_progress
    from mtb.provenance import Run, endpoint_settings, sha256_text
    from mtb.retry import RetryPolicy

    local_flags = {
        "--chat-template": chat_template,
        "--dtype": dtype,
        "--revision": revision,
        "--base-model": base_model,
        "--merge-adapter": merge_adapter,
        "--batch-size": batch_size,
        "--tensor-parallel-size": tensor_parallel_size,
        "--num-gpus-total": num_gpus_total,
        "--max-model-len": max_model_len,
        "--gpu-memory-utilization": gpu_memory_utilization,
        "--backend": backend,
    }
    if (model is None) == (model_path is None):
        raise UsageError(
            "give exactly one of --model (a model behind an API) and --model-path (a local model)"
        )
    if model is not None:
        given = given_flags(local_flags)
        if given:
            raise UsageError(f"{', '.join(given)} only apply to local models (--model-path)")
    else:
        api_only = {
            "--api-base": api_base,
            "--api-key": api_key,
            "--max-cost": max_cost,
            "--price-in": price_in,
            "--price-out": price_out,
        }
        given = [flag for flag, value in api_only.items() if value is not None and value != []]
        if provider != "openai":
            given.append("--provider")
        if given:
            raise UsageError(f"{', '.join(given)} only apply to API models (--model)")

    console = stderr_console()
    benchmark = Benchmark.load(bench)
    benchmark.protocol.check_generation(benchmark)  # e.g. a missing extra, before any request
    data = DataDir(data_dir, benchmark)
    questions = select_questions(data.questions(), first_n)
    benchmark.protocol.check_generation(benchmark)  # e.g. a missing extra: fail before any request
    name = model or model_path or ""
    settings = GenerationSettings(
        model_id=model_id or name.rstrip("/").split("/")[-1],
        num_choices=num_choices,
        max_tokens=max_tokens or benchmark.max_tokens,
        force_temperature=force_temperature,
        system_prompt=system_prompt,
    )
    spec = answer_output(data, settings.model_id, questions)
    policy = RetryPolicy.from_env(max_attempts)
    # How these answers are made, in <answers>.runs.jsonl; each record points to it by run_id.
    sampling: dict[str, Any] = {
        "bench": benchmark.name,
        "temperature": force_temperature if force_temperature is not None else "per category",
        "max_tokens": settings.max_tokens,
        "num_choices": num_choices,
        "system_prompt_sha256": sha256_text(system_prompt) if system_prompt else None,
    }
    make_progress_sink: Any = lambda: make_progress(console, "generate", enabled=progress)  # noqa: E731

    if model is not None:
        import time

        from mtb import cost
        from mtb.backends import resolve_endpoint
        from mtb.engine import done_keys, run_on_endpoint

        price = cost.resolve_price(model, price_in, price_out)
        cost.check_cap(max_cost, price, model)

        # One endpoint per replica; with no --api-base, the provider's own variables decide.
        bases: list[str | None] = [b for b in (api_base or []) if b] or [None]
        configs = [
            resolve_endpoint(
                "generate",
                provider,
                model,
                base,
                api_key,
                timeout,
                key_option="--api-key",
                base_option="--api-base",
            )
            for base in bases
        ]
        replicas = f" on {len(configs)} replicas" if len(configs) > 1 else ""
        console.print(
            f"generate: {model}{replicas} as '{settings.model_id}', {len(questions)} questions × "
            f"{num_choices} choice(s) → {spec.path}",
            highlight=False,
            markup=False,
        )
        # The cost before any call: the questions still to answer, the replies from the answers on disk.
        done = done_keys(spec)
        counter = cost.TokenCounter()
        estimate, reply_tokens = cost.estimate_generation(
            [q.turns for q in questions if q.question_id not in done],
            system_prompt,
            num_choices,
            _past_turns(data),
            settings.max_tokens,
            price,
            model,
            counter,
        )
        expected = estimate.cost
        money = "no price known" if expected is None else f"about ${expected:,.2f}"
        console.print(
            f"estimate: {estimate.input_tokens:,} input + {estimate.output_tokens:,} output tokens, {money}"
            + "".join(f"\n  {note}" for note in estimate.notes),
            highlight=False,
            markup=False,
        )
        if max_cost is not None and expected is not None and expected > max_cost:
            console.print(
                f"note: the estimate (${expected:,.2f}) is above --max-cost (${max_cost:,.2f}): "
                "the run will stop part way",
                highlight=False,
                markup=False,
            )
        meter = cost.Meter(price, max_cost, counter, reply_tokens)
        started = time.time()
        provenance = Run.for_output(
            spec.path,
            "generate",
            {**endpoint_settings(provider, model, [c.api_base for c in configs]), **sampling},
        )
        report = run_on_endpoint(
            configs,
            lambda caller: [
                Job(spec, lambda done: generation_tasks(questions, done, caller, benchmark, settings))
            ],
            output=spec.path,
            parallel=parallel or 8,
            policy=policy,
            progress=make_progress_sink(),
            meter=meter,
            run=provenance,
        )
        code = print_report(report, console, "answers")
        if report.stats.requests:
            console.print(meter.line(), highlight=False, markup=False)
            problem = cost.record_run(
                data,
                command="generate",
                model=model,
                output=spec.path,
                meter=meter,
                started=started,
                requests=report.stats.requests,
                completed=report.completed,
            )
            if problem:
                console.print(f"warning: {problem}", highlight=False, markup=False)
        return code

    from dataclasses import replace

    from mtb.backends.local import (
        TEMPLATE_FIELD,
        answer_fields,
        open_local_backend,
        release_local_backend,
    )
    from mtb.engine import Endpoint, run_on_endpoints

    config = local_config(
        model_path or "",
        backend=backend,
        chat_template=chat_template,
        dtype=dtype,
        revision=revision,
        base_model=base_model,
        merge_adapter=merge_adapter,
        seed=seed,
        batch_size=batch_size,
        tensor_parallel_size=tensor_parallel_size,
        num_gpus_total=num_gpus_total,
        max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization,
    )
    from mtb.engine import done_keys

    if not any(q.question_id not in done_keys(spec) for q in questions):
        # Nothing left: a rerun (of `mtb eval` too) does not spend minutes loading a model for nothing.
        console.print(
            f"answers: 0 new, {len(questions)} already in {spec.path}, 0 failed; 0 requests "
            "(the model was not loaded)",
            highlight=False,
            markup=False,
        )
        return 0
    console.print(f"loading {config.model_path} (backend: {backend}) ...", highlight=False, markup=False)
    kind, local = open_local_backend(config)
    settings = replace(settings, seed=config.seed, record_extra=answer_fields(local, config))
    console.print(
        f"generate: {describe_model(config, local)} with {kind} as '{settings.model_id}', "
        f"{len(questions)} questions × "
        f"{num_choices} choice(s), chat template sha256 {local.template_sha256[:12]} → {spec.path}",
        highlight=False,
        markup=False,
    )
    # Every conversation at once by default: the backend batches what arrives together.
    workers = parallel or max(1, len(questions) * num_choices)
    provenance = Run.for_output(
        spec.path,
        "generate",
        {
            "model": config.model_path,
            "provider": "local",
            "backend": kind,
            "dtype": config.dtype,
            "revision": config.revision,
            "seed": config.seed,
            TEMPLATE_FIELD: local.template_sha256,
            **sampling,
        },
    )
    try:
        report = run_on_endpoints(
            lambda: [Endpoint(local, workers, name=config.model_path, key_hint="")],
            lambda caller: [
                Job(spec, lambda done: generation_tasks(questions, done, caller, benchmark, settings))
            ],
            output=spec.path,
            workers=workers,
            policy=policy,
            progress=make_progress_sink(),
            run=provenance,
        )
        stats = local.stats
        if stats.batches:
            console.print(
                f"{kind}: {stats.rows} turns in {stats.batches} batches (largest {stats.largest_batch}), "
                f"{stats.generated_tokens} tokens generated",
                highlight=False,
                markup=False,
            )
    finally:
        # The model's memory (GPU or CPU) goes back now: `mtb eval` loads a local judge next.
        release_local_backend(local)
        console.print(f"released {config.model_path}", highlight=False, markup=False)
    return print_report(report, console, "answers")


@cli_errors
@functools.wraps(run_generate)
def generate(*args: Any, **kwargs: Any) -> None:
    raise typer.Exit(run_generate(*args, **kwargs))


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
