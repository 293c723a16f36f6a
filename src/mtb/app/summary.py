"""`mtb eval`'s models (from flags or a TOML file) and its run summary.

The three steps themselves are `generate`, `judge` and `results`' own functions;
this module knows no Typer. It reads what those steps leave beside the data
(the answer and judgment files' run files, the cost log) and writes the summary:

    DATA/<bench>/eval/<UTC time>-<model ids>.json   every number, for a program
    DATA/<bench>/eval/<UTC time>-<model ids>.md     the same, for a person
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtb import validate
from mtb.app.options import MAX_CHOICES, MAX_PARALLEL
from mtb.data import DataDir
from mtb.errors import DataError, UsageError
from mtb.jsonl import finite

# --- the models ---------------------------------------------------------------

# A models file's keys and the `generate` parameter each one sets (the same meaning as the flag).
MODEL_KEYS: dict[str, tuple[validate.Kind, str]] = {
    "model": (str, "model"),
    "model_path": (str, "model_path"),
    "model_id": (str, "model_id"),
    "api_base": ((str, list), "api_base"),
    "api_key_env": (str, "api_key"),
    "provider": (str, "provider"),
    "parallel": (int, "parallel"),
    "num_choices": (int, "num_choices"),
    "max_tokens": (int, "max_tokens"),
    "temperature": ((int, float), "force_temperature"),
    "system_prompt": (str, "system_prompt"),
    "price_in": ((int, float), "price_in"),
    "price_out": ((int, float), "price_out"),
    "rpm": ((int, float), "rpm"),
    "tpm": ((int, float), "tpm"),
    "backend": (str, "backend"),
    "chat_template": (str, "chat_template"),
    "dtype": (str, "dtype"),
    "revision": (str, "revision"),
    "base_model": (str, "base_model"),
    "merge_adapter": (bool, "merge_adapter"),
    "seed": (int, "seed"),
    "batch_size": (int, "batch_size"),
    "tensor_parallel_size": (int, "tensor_parallel_size"),
    "num_gpus_total": (int, "num_gpus_total"),
    "max_model_len": (int, "max_model_len"),
    "gpu_memory_utilization": ((int, float), "gpu_memory_utilization"),
}
# Keys that must be above 0 (and, for the share of GPU memory, at most 1).
_POSITIVE = {
    "parallel",
    "num_choices",
    "max_tokens",
    "batch_size",
    "tensor_parallel_size",
    "num_gpus_total",
    "max_model_len",
}
# Names, paths and URLs end up in file names and log lines: a file name's limit is plenty.
MAX_NAME = 255
_NON_NEGATIVE = {"temperature", "price_in", "price_out", "seed"}


@dataclass
class ModelSpec:
    """One model to evaluate: `model` (an API) or `model_path` (local), and its own `generate` options."""

    model: str | None = None
    model_path: str | None = None
    model_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The name of its answer file and its rows in the results, as `generate` picks it."""
        given = self.model or self.model_path or ""
        return self.model_id or given.rstrip("/").split("/")[-1]

    @property
    def named_by(self) -> str:
        """The flag (or models-file key) its name comes from, for a message about the name."""
        return "--model-id" if self.model_id else "--model" if self.model else "--model-path"

    def generate_arguments(self) -> dict[str, Any]:
        return {"model": self.model, "model_path": self.model_path, "model_id": self.model_id, **self.options}


def check_names(models: Sequence[ModelSpec]) -> None:
    """Refuse, before any model answers, a name the later steps cannot carry.

    The judge and results steps take the names as a `--model-list`, which reads spaces
    and commas as separators: 'my model' was generated, then judged as 'my' and 'model'
    (no answers), after the generation had been paid for.
    """
    from mtb.data import file_stem_safe

    for model in models:
        name = model.name
        if not name.strip() or any(c.isspace() or c == "," for c in name):
            raise UsageError(
                f"the model name '{name}' (from {model.named_by}) is empty or holds a space or comma, "
                "which --model-list reads as a separator: set model_id (--model-id) to a name without them"
            )
        file_stem_safe(name)  # a name too long to name its answer file


def models_from_flags(
    models: Sequence[str], model_paths: Sequence[str], model_ids: Sequence[str]
) -> list[ModelSpec]:
    """`--model`/`--model-path`, repeated; `--model-id` names the one model, or each `--model-path`."""
    specs = [ModelSpec(model=m) for m in models] + [ModelSpec(model_path=p) for p in model_paths]
    if not specs:
        raise UsageError("name the model(s) to evaluate: --model, --model-path or --models-file")
    if model_ids:
        if len(specs) == 1 and len(model_ids) == 1:
            specs[0].model_id = model_ids[0]
        elif len(model_ids) == len(model_paths):
            for spec, model_id in zip(specs[len(models) :], model_ids, strict=True):
                spec.model_id = model_id
        else:
            raise UsageError(
                f"{len(model_ids)} --model-id for {len(model_paths)} --model-path: with several models, "
                "give one --model-id per --model-path, in order (API models are named by --model; "
                "or use --models-file)"
            )
    return specs


def load_models_file(path: Path) -> list[ModelSpec]:
    """A TOML file of `[[model]]` tables, each a model and its own options; errors name the file and model."""
    from mtb.benchmarks import load_toml

    table = load_toml(path)
    with validate.in_file(path):
        unknown = sorted(set(table) - {"model"})
        if unknown:
            raise ValueError(
                f"unknown top-level key(s) {', '.join(unknown)}: list models as [[model]] tables"
            )
        entries = validate.field(table, "model", list, "a list of [[model]] tables", non_empty=True)
    specs: list[ModelSpec] = []
    for number, entry in enumerate(entries, start=1):
        with validate.in_file(path, where=f"model #{number}"):
            if not isinstance(entry, dict):
                raise ValueError("each model must be a [[model]] table")
            specs.append(_model_entry(entry, path.parent))
    seen: dict[str, int] = {}
    for number, spec in enumerate(specs, start=1):
        if spec.name in seen:
            raise DataError(
                path,
                f"model #{number}: its name '{spec.name}' is model #{seen[spec.name]}'s too "
                "(set model_id to tell them apart)",
            )
        seen[spec.name] = number
    return specs


def _model_entry(entry: dict[str, Any], folder: Path) -> ModelSpec:
    if "api_key" in entry:
        raise ValueError("keys never go in files: name the variable that holds it with api_key_env")
    unknown = sorted(set(entry) - set(MODEL_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(MODEL_KEYS)})")
    if ("model" in entry) == ("model_path" in entry):
        raise ValueError("give exactly one of model (a model behind an API) and model_path (a local model)")
    values: dict[str, Any] = {}
    for key, (kind, _) in MODEL_KEYS.items():
        value = validate.field(entry, key, kind, default=None, non_empty=kind is str)
        if value is None:
            continue
        if isinstance(value, str) and key != "system_prompt" and len(value) > MAX_NAME:
            raise ValueError(f"field '{key}' is {len(value):,} characters long (at most {MAX_NAME})")
        if key == "api_base":
            value = [value] if isinstance(value, str) else validate.string_list(entry, key)
        if key in ("rpm", "tpm") and not value > 0:
            raise ValueError(f"field '{key}' must be above 0 (per minute), got {value}")
        if key in _POSITIVE and value < 1:
            raise ValueError(f"field '{key}' must be 1 or more, got {value}")
        # As the flags: a trillion workers, or answers per question, filled memory before any request.
        most = {"parallel": MAX_PARALLEL, "num_choices": MAX_CHOICES}.get(key)
        if most is not None and value > most:
            raise ValueError(f"field '{key}' must be at most {most}, got {value}")
        if key in _NON_NEGATIVE and value < 0:
            raise ValueError(f"field '{key}' must be 0 or more, got {value}")
        if key == "gpu_memory_utilization" and not 0 < value <= 1:
            raise ValueError(f"field '{key}' must be above 0 and at most 1, got {value}")
        values[key] = value
    if "api_key_env" in values:
        variable = values["api_key_env"]
        key_value = os.environ.get(variable)
        if not key_value:
            raise ValueError(f"api_key_env names {variable}, which is not set")
        values["api_key_env"] = key_value
    if "chat_template" in values:  # relative to the models file, as a person writing it expects
        values["chat_template"] = folder / values["chat_template"]
    options = {MODEL_KEYS[key][1]: value for key, value in values.items()}
    return ModelSpec(
        model=options.pop("model", None),
        model_path=options.pop("model_path", None),
        model_id=options.pop("model_id", None),
        options=options,
    )


# --- the summary --------------------------------------------------------------


@dataclass
class Step:
    """One step of the evaluation as it ran: `generate m1`, `judge`, `results`."""

    name: str
    seconds: float
    exit_code: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "step": self.name,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }
        if self.note:
            row["note"] = self.note
        return row


def utc_stamp(when: _dt.datetime) -> str:
    return when.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def summary_paths(data: DataDir, names: Sequence[str], started: _dt.datetime) -> tuple[Path, Path]:
    """`DATA/<bench>/eval/<UTC time>-<ids>.json` and `.md`: one pair per eval, never overwritten."""
    ids = re.sub(r"[^A-Za-z0-9._+-]+", "_", "+".join(names))[:80].strip("._") or "models"
    stem = data.question_path.parent / "eval" / f"{utc_stamp(started)}-{ids}"
    return stem.with_suffix(".json"), stem.with_suffix(".md")


def latest_run(output: Path) -> dict[str, Any] | None:
    """The last run recorded beside an answer or judgment file: how its newest records were made."""
    from mtb.provenance import read_runs, run_file_for

    runs = read_runs(run_file_for(output))
    if not runs:
        return None
    last = list(runs.values())[-1]
    return {**last, "runs_in_file": len(runs)}


def questions_run(data: DataDir, model: str, first_n: int | None) -> dict[str, Any]:
    """How many of the benchmark's questions a model was run on (--first-n) and has answers to."""
    from mtb.data import select_questions

    everything = data.questions()
    chosen = select_questions(everything, first_n)
    path = data.answer_path(model)
    answers = data.answers(model) if path.is_file() else {}
    return {
        "run": len(chosen),
        "of": len(everything),
        "answered": sum(1 for q in chosen if q.question_id in answers),
        "first_n": first_n,
    }


def questions_note(model: str, counts: Mapping[str, Any]) -> str | None:
    """A line for a reader when a model was not run on the whole benchmark, or lacks answers."""
    run, total, answered = counts["run"], counts["of"], counts["answered"]
    if run < total:
        return (
            f"{model}: run on {run} of the benchmark's {total} questions (--first-n {counts['first_n']}); "
            "its scores are over those only, and it is placed among models on the same questions"
        )
    if answered < run:
        return f"{model}: {answered} of the {run} questions run have an answer"
    return None


# What an answer record notes of a LoRA adapter (mtb.backends.adapters.record_fields).
ADAPTER_FIELDS = ("adapter", "adapter_sha256", "base_model", "base_model_fingerprint", "adapter_merged")


def adapter_of(answers: Path) -> dict[str, Any] | None:
    """The adapter and base the newest answers were made with, from the answer records; None: no adapter."""
    from mtb.jsonl import iter_json_lines

    if not answers.is_file():
        return None
    found: dict[str, Any] | None = None
    for _, obj in iter_json_lines(answers):
        if isinstance(obj.get("adapter_sha256"), str):
            found = {key: obj.get(key) for key in ADAPTER_FIELDS}
    return found


def logged_spending(data: DataDir, since: float) -> dict[str, Any]:
    """Tokens and dollars the cost log holds for runs started at or after `since` (this eval's)."""
    from mtb import cost
    from mtb.jsonl import iter_json_lines

    path = cost.log_path(data)
    totals: dict[str, Any] = {
        "runs": [],
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "unpriced_runs": 0,
    }
    if not path.is_file():
        return totals
    for number, obj in iter_json_lines(path):
        with validate.in_file(path, number):
            started = validate.number(obj, "started")
            if started < since:
                continue
            run = {
                "command": validate.field(obj, "command", str),
                "model": validate.field(obj, "model", str),
                "output": validate.field(obj, "output", str),
                "requests": validate.field(obj, "requests", int),
                "input_tokens": validate.field(obj, "input_tokens", int),
                "output_tokens": validate.field(obj, "output_tokens", int),
                "cost_usd": validate.number(obj, "cost_usd", default=None),
                "stopped_by_max_cost": validate.field(obj, "stopped_by_max_cost", bool, default=False),
            }
        totals["runs"].append(run)
        totals["input_tokens"] += run["input_tokens"]
        totals["output_tokens"] += run["output_tokens"]
        if run["cost_usd"] is None:
            totals["unpriced_runs"] += 1
        else:
            totals["cost_usd"] += run["cost_usd"]
    totals["cost_usd"] = round(totals["cost_usd"], 6)
    return totals


def write_summary(json_path: Path, markdown_path: Path, summary: Mapping[str, Any]) -> None:
    """Write both files; a folder that cannot be written is a DataError naming it."""
    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(finite(dict(summary)), indent=2, allow_nan=False) + "\n", "utf-8")
        markdown_path.write_text(render_markdown(summary), "utf-8")
    except OSError as exc:
        raise DataError(json_path.parent, f"cannot write the eval summary ({exc.strerror or exc})") from None


def _number(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _cell(text: Any) -> str:
    """Untrusted text (model names, notes) in a markdown table cell: no pipe or line break breaks it."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The summary for a person: scores, categories, comparison, placement, settings, cost, timings."""
    default_judge = " (the benchmark's default judge)" if summary.get("judge_is_default") else ""
    default_mode = " (the benchmark's default)" if summary.get("mode_is_default") else ""
    lines = [
        f"# mtb eval — {summary['bench']}",
        "",
        f"- started: {summary['started']}",
        f"- judge: {_cell(summary['judge'])}{default_judge}",
        f"- mode: {_cell(summary['mode'])}{default_mode}",
        f"- models: {', '.join(_cell(m) for m in summary['models'])}",
    ]
    for model, counts in summary.get("questions", {}).items():
        lines.append(
            f"- questions of {_cell(model)}: {counts['run']} of {counts['of']}"
            + (f" (--first-n {counts['first_n']})" if counts.get("first_n") else "")
            + (f", {counts['answered']} answered" if counts["answered"] != counts["run"] else "")
        )
    for model, adapter in summary.get("adapters", {}).items():
        lines.append(
            f"- {_cell(model)}: adapter {_cell(adapter.get('adapter'))} (sha256 "
            f"{str(adapter.get('adapter_sha256'))[:12]}) on base {_cell(adapter.get('base_model'))}"
            + (" (merged)" if adapter.get("adapter_merged") else "")
        )
    lines += [
        f"- exit code: {summary['exit_code']}"
        + (f" ({summary['failed_step']} failed)" if summary.get("failed_step") else ""),
        f"- mtb {summary['mtb_version']}",
        "",
    ]
    notes = summary.get("notes") or []
    if notes:
        lines += ["## Notes", "", *(f"- {_cell(note)}" for note in notes), ""]
    scores = summary.get("scores")
    if isinstance(scores, list) and scores:
        rows = [r for r in scores if isinstance(r, dict)]
        lines += ["## Scores", ""]
        if all("average" in r for r in rows):
            turns = sorted({k for r in rows for k in r if k.startswith("turn_")})
            header = ["model", "average", *turns, "judgments", "excluded", "placement"]
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for r in rows:
                lines.append(
                    f"| {_cell(r.get('model'))} | {_number(r.get('average'))} | "
                    + "".join(f"{_number(r.get(t))} | " for t in turns)
                    + f"{_number(r.get('judgments'))} | {_number(r.get('excluded'))} | "
                    f"{_cell(r.get('placement', ''))} |"
                )
            categories = [c for c in dict.fromkeys(c for r in rows for c in r.get("categories", {}))]
            if categories:
                lines += [
                    "",
                    "### Per category",
                    "",
                    "| category | " + " | ".join(_cell(r["model"]) for r in rows) + " |",
                ]
                lines.append("|---|" + "---|" * len(rows))
                for name in categories:
                    lines.append(
                        f"| {_cell(name)} | "
                        + " | ".join(_number(_category_mean(r.get("categories", {}).get(name))) for r in rows)
                        + " |"
                    )
        else:  # pairwise rows: their own columns, as `results` gives them
            keys = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r[k], (dict, list))))
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(_cell(_pair_cell(r.get(k))) for k in keys) + " |" for r in rows]
        lines.append("")
    compare = summary.get("compare")
    if isinstance(compare, dict):
        lines += ["## Comparison", ""]
        lines.append(
            f"{_cell(compare.get('model_a'))} − {_cell(compare.get('model_b'))}: "
            f"{_number(compare.get('difference'), 3)} (95% interval {_number(compare.get('ci_low'), 3)} to "
            f"{_number(compare.get('ci_high'), 3)}, {_number(compare.get('questions'))} questions)"
        )
        by_category = compare.get("categories")
        if isinstance(by_category, dict) and by_category:
            lines += ["", "| category | difference | 95% interval | questions |", "|---|---|---|---|"]
            for name, c in by_category.items():
                if isinstance(c, dict):
                    lines.append(
                        f"| {_cell(name)} | {_number(c.get('difference'), 3)} | "
                        f"{_number(c.get('ci_low'), 3)} to {_number(c.get('ci_high'), 3)} | "
                        f"{_number(c.get('questions'))} |"
                    )
        lines.append("")
    lines += ["## Settings", ""]
    for name, run in summary.get("settings", {}).items():
        if run is None:
            lines.append(f"- {_cell(name)}: no run file (made before mtb recorded settings)")
            continue
        shown = ", ".join(f"{k}={_cell(json.dumps(v))}" for k, v in run.get("settings", {}).items())
        lines.append(
            f"- {_cell(name)}: {run.get('command')} run {run.get('run_id')} started {run.get('started')}, "
            f"mtb {run.get('mtb_version')}: {shown}"
        )
    lines.append("")
    spending = summary.get("cost", {})
    lines += ["## Cost (this eval's runs, from the cost log)", ""]
    runs = spending.get("runs", [])
    if runs:
        lines += [
            "| command | model | requests | input tokens | output tokens | cost (USD) |",
            "|---|---|---|---|---|---|",
        ]
        for run in runs:
            lines.append(
                f"| {run['command']} | {_cell(run['model'])} | {run['requests']} | {run['input_tokens']} | "
                f"{run['output_tokens']} | {_number(run['cost_usd'], 4)} |"
            )
        unpriced = (
            f" (+ {spending['unpriced_runs']} run(s) without a price)"
            if spending.get("unpriced_runs")
            else ""
        )
        lines.append(
            f"| total | | | {spending['input_tokens']} | {spending['output_tokens']} | "
            f"{_number(spending['cost_usd'], 4)}{unpriced} |"
        )
    else:
        lines.append("No paid request was sent (everything was done, or the models and judge were local).")
    estimates = summary.get("estimate") or {}
    if estimates:
        lines += [
            "",
            "## Estimate (before the run) and spend",
            "",
            "| step | estimated tokens (in / out) | estimated (USD) | spent (USD) |",
            "|---|---|---|---|",
        ]
        for step, estimate in estimates.items():
            tokens = estimate.get("estimated_tokens")
            shown = f"{tokens['input']} / {tokens['output']}" if isinstance(tokens, dict) else "–"
            lines.append(
                f"| {_cell(step)} | {shown} | {_number(estimate.get('estimated_cost_usd'), 4)} | "
                f"{_number(estimate.get('spent_usd'), 4)} |"
            )
        for step, estimate in estimates.items():
            for note in estimate.get("estimate_notes") or []:
                lines.append(f"- {_cell(step)}: {_cell(note)}")
    lines += ["", "## Timings", "", "| step | seconds | exit code |", "|---|---|---|"]
    for step in summary.get("steps", []):
        lines.append(f"| {_cell(step['step'])} | {step['seconds']:.1f} | {step['exit_code']} |")
    return "\n".join(lines) + "\n"


def _pair_cell(value: Any) -> str:
    if value is None:
        return "–"
    return _number(value, 3) if isinstance(value, float) else str(value)


def _category_mean(value: Any) -> Any:
    """A category's mean, whether the row holds it as a number or as {mean, ...}."""
    if isinstance(value, dict):
        return value.get("mean", value.get("average"))
    return value
