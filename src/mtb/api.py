"""mtb from Python: the same use cases as the commands, as functions.

    import mtb

    report = mtb.evaluate(model_path="out/checkpoint-500", model_id="ckpt-500", judge_model="gpt-4")
    report.records          # what `mtb eval --format json` prints
    mtb.results(model_list=["ckpt-500", "ckpt-1000"]).records

Keyword arguments are the flags in snake_case (`--first-n` is `first_n`, a
local judge's `--judge-dtype` is `judge_dtype`); an unknown one is a TypeError
naming the closest. Bad values raise `mtb.UsageError`, bad input files
`mtb.DataError`, and a run that did not complete (failed items, a server that
refused or stopped answering, `--max-cost` reached) `mtb.RunFailed`, which holds
the report. Nothing is printed to stdout: messages go to the `mtb` logger, and
`progress=True` draws bars on stderr.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from mtb.errors import EXIT_OK, MtbError

if TYPE_CHECKING:
    from mtb.app.evaluate import EvalReport
    from mtb.app.generate import GenerateReport
    from mtb.app.judge import JudgeReport
    from mtb.app.reporter import Level
    from mtb.app.results import ResultsReport
    from mtb.progress import ProgressSink

Report = TypeVar("Report")


class RunFailed(MtbError):
    """The run did not complete: `report` holds what was done, and a rerun does only the rest."""

    def __init__(self, message: str, report: Any, exit_code: int) -> None:
        super().__init__(message)
        self.report = report
        self.exit_code = exit_code


class LoggingReporter:
    """Messages to the `mtb` logger; with `progress`, bars on stderr."""

    def __init__(self, progress: bool = False, logger: logging.Logger | None = None) -> None:
        self.show_progress = progress
        self.logger = logger or logging.getLogger("mtb")
        self._board: Any = None

    def say(self, text: str, *, level: Level = "info", tag: str | None = None) -> None:
        levels = {"info": logging.INFO, "note": logging.INFO, "warning": logging.WARNING}
        label = (None if level == "info" else level) if tag is None else tag
        self.logger.log(levels.get(level, logging.ERROR), "%s%s", f"{label}: " if label else "", text)

    def data(self, obj: dict[str, Any]) -> None:
        import json

        self.logger.info("%s", json.dumps(obj))

    def section(self, title: str) -> None:
        self.logger.info("mtb eval: %s", title)

    def progress(self, label: str) -> ProgressSink:
        if not self.show_progress:
            from mtb.app.reporter import Quiet

            return Quiet()
        from mtb.consoles import stderr_console
        from mtb.progress import ProgressBoard, make_progress

        console = stderr_console()
        if self._board is None and console.is_terminal:
            self._board = ProgressBoard(console)
        return make_progress(console, label, board=self._board)


def _spec(spec_class: type, function: str, options: dict[str, Any], prefixes: dict[str, str]) -> Any:
    """Flat keyword arguments (as the flags) into a spec; its local-model options by prefix."""
    from mtb.app.options import LocalOptions, unknown_arguments

    fields = [f.name for f in dataclasses.fields(spec_class)]
    known = [name for name in fields if name not in prefixes]
    known += [f"{prefix}{name}" for prefix in prefixes.values() for name in LocalOptions.names()]
    unknown_arguments(function, options, [*known, "progress"])
    values = dict(options)
    for field_name, prefix in prefixes.items():
        values[field_name] = LocalOptions.take(values, prefix)
    return spec_class(**values)


def _signature(spec_class: type, prefixes: dict[str, str], returns: str) -> inspect.Signature:
    """The keyword arguments an API function takes, for help() and notebooks: the spec's, flattened."""
    from mtb.app.options import LocalOptions

    parameters = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=_default(f), annotation=f.type)
        for f in dataclasses.fields(spec_class)
        if f.name not in prefixes
    ]
    for prefix in prefixes.values():
        parameters += [
            inspect.Parameter(
                f"{prefix}{f.name}", inspect.Parameter.KEYWORD_ONLY, default=_default(f), annotation=f.type
            )
            for f in dataclasses.fields(LocalOptions)
            if f.name != "flag_prefix"
        ]
    parameters.append(inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=False))
    return inspect.Signature(parameters, return_annotation=returns)


def _default(spec_field: dataclasses.Field[Any]) -> Any:
    if spec_field.default is not dataclasses.MISSING:
        return spec_field.default
    return None


def _checked(report: Report, exit_code: int, what: str) -> Report:
    if exit_code == EXIT_OK:
        return report
    raise RunFailed(
        f"{what} did not complete (exit code {exit_code}); run it again to finish", report, exit_code
    )


def evaluate(*, progress: bool = False, **options: Any) -> EvalReport:
    """Generate, judge and score: `mtb eval` from Python. Returns an `EvalReport` (`.records`, `.steps`).

    Options are `mtb eval`'s flags in snake_case: `model`, `model_path`, `model_id`
    (a string or a list), `models_file`, `judge_model`, `mode`, `first_n`, `bench`,
    `data_dir`, `max_cost`, ... (see `mtb.app.evaluate.EvalSpec`).
    """
    from mtb.app.evaluate import EvalSpec
    from mtb.app.evaluate import evaluate as run

    spec = _spec(EvalSpec, "evaluate", options, {"local": "", "judge_local": "judge_"})
    report = run(spec, LoggingReporter(progress))
    return _checked(report, report.exit_code, "the evaluation")


def generate(*, progress: bool = False, **options: Any) -> GenerateReport:
    """Answer a benchmark's questions with one model: `mtb generate` from Python.

    Options are `mtb generate`'s flags in snake_case: `model` or `model_path`,
    `model_id`, `api_base`, `provider`, `parallel`, `first_n`, `dtype`, ... (see
    `mtb.app.generate.GenerateSpec`).
    """
    from mtb.app.generate import GenerateSpec
    from mtb.app.generate import generate as run

    spec = _spec(GenerateSpec, "generate", options, {"local": ""})
    report = run(spec, LoggingReporter(progress))
    return _checked(report, report.exit_code, "the generation")


def judge(*, progress: bool = False, **options: Any) -> JudgeReport:
    """Grade the answers with a judge model: `mtb judge` from Python. `dry_run=True` returns the plan.

    Options are `mtb judge`'s flags in snake_case: `judge_model`, `mode`,
    `model_list`, `baseline_model`, `parallel`, `dry_run`, ... (see
    `mtb.app.judge.JudgeSpec`).
    """
    from mtb.app.judge import JudgeSpec
    from mtb.app.judge import judge as run

    spec = _spec(JudgeSpec, "judge", options, {"judge_local": "judge_"})
    report = run(spec, LoggingReporter(progress))
    return _checked(report, report.exit_code, "the judging")


def results(**options: Any) -> ResultsReport:
    """Score the judgments: `mtb results` from Python. `.records` is what `--format json` prints.

    Options are `mtb results`' flags in snake_case: `model_list`, `mode`,
    `judge_model`, `compare`, `rounds`, `seed`, `bench`, `data_dir`, ... (see
    `mtb.app.results.ResultsSpec`).
    """
    from mtb.app.results import ResultsSpec
    from mtb.app.results import results as run

    options.pop("progress", None)
    return run(_spec(ResultsSpec, "results", options, {}), LoggingReporter())


def _describe_signatures() -> None:
    """Give each function the keyword arguments of its spec, for help() and notebooks."""
    from mtb.app.evaluate import EvalSpec
    from mtb.app.generate import GenerateSpec
    from mtb.app.judge import JudgeSpec
    from mtb.app.results import ResultsSpec

    table: list[tuple[Any, type, dict[str, str], str]] = [
        (evaluate, EvalSpec, {"local": "", "judge_local": "judge_"}, "EvalReport"),
        (generate, GenerateSpec, {"local": ""}, "GenerateReport"),
        (judge, JudgeSpec, {"judge_local": "judge_"}, "JudgeReport"),
        (results, ResultsSpec, {}, "ResultsReport"),
    ]
    for function, spec_class, prefixes, returns in table:
        function.__signature__ = _signature(spec_class, prefixes, returns)


_describe_signatures()
