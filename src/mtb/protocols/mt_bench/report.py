"""`mtb results` for MT-bench: which judgment file, which numbers, which tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mtb.data import DataDir
from mtb.errors import DataError, UsageError
from mtb.protocols.base import ResultsRequest, ScoreReport
from mtb.protocols.mt_bench import scoring
from mtb.protocols.mt_bench.judging import pair_judgment_path, single_judgment_path
from mtb.tables import Table

MODES = ("single", "pairwise-baseline", "pairwise-all")


def score(data: DataDir, request: ResultsRequest) -> ScoreReport:
    mode = request.mode or "single"
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}' (known: {', '.join(MODES)})")
    if request.control is not None:
        raise UsageError(
            f"--{request.control}-control applies to Arena-Hard results (--bench arena-hard-v0.1)"
        )
    if request.category is not None:
        raise UsageError(f"--category applies to Arena-Hard v2.0, not {data.bench.name}")
    single = mode == "single"
    judge = request.judge_model or data.bench.default_judge
    path = request.input_file or (single_judgment_path if single else pair_judgment_path)(data, judge)
    if not path.exists():
        raise DataError(path, "no judgments here; run `mtb judge` first, or pass --input-file")
    if request.compare and not single:
        raise UsageError("--compare works with --mode single")
    if request.plot is not None and (not single or request.compare):
        raise UsageError("--plot draws single-grading scores by category (--mode single, without --compare)")
    rounds = request.rounds or scoring.DEFAULT_ROUNDS
    seed = request.seed or 0
    if single:
        return _single(data, path, request, rounds, seed)
    baseline = (
        (request.baseline_model or data.bench.default_baseline) if mode == "pairwise-baseline" else None
    )
    return _pairwise(data, path, request.models, baseline)


def _duplicates_warning(duplicates: int, path: Path) -> list[str]:
    if not duplicates:
        return []
    return [f"{path} repeats {duplicates} judgment(s); each is counted once (the last line wins)"]


def _missing_warning(wanted: list[str] | None, found: list[str]) -> list[str]:
    missing = [m for m in wanted or [] if m not in found]
    return [f"no usable judgments for: {', '.join(missing)}"] if missing else []


def _single(data: DataDir, path: Path, request: ResultsRequest, rounds: int, seed: int) -> ScoreReport:
    loaded = scoring.load_single_judgments(path)
    warnings = _duplicates_warning(loaded.duplicates, path)
    turns = data.bench.turns
    if request.compare:
        result = scoring.compare_models(
            loaded.judgments, *request.compare, turns=turns, rounds=rounds, seed=seed
        )
        verdict = "an interval that excludes 0" if result.significant else "an interval that includes 0: not"
        note = (
            f"{result.model_a} − {result.model_b}: {result.difference:+.3f} "
            f"over {result.questions} questions, "
            f"{verdict} a significant difference at 95% ({rounds} paired bootstrap rounds)"
        )
        row = [
            result.model_a,
            result.model_b,
            result.difference,
            result.ci_low,
            result.ci_high,
            result.questions,
        ]
        table = Table(
            "Paired comparison", ["model_a", "model_b", "difference", "ci_low", "ci_high", "questions"], [row]
        )
        return ScoreReport(result.to_json(), [table], table, warnings, [note])
    categories = {q.question_id: q.category for q in data.questions()}
    scores = scoring.single_scores(
        loaded.judgments,
        categories,
        turns=turns,
        category_order=data.bench.category_order,
        model_list=request.models,
    )
    if request.ci:
        scores = scoring.with_intervals(scores, loaded.judgments, turns=turns, rounds=rounds, seed=seed)
    warnings += _missing_warning(request.models, [s.model for s in scores])
    notes = []
    excluded = sum(s.excluded for s in scores)
    if excluded:
        notes.append(f"{excluded} judgment(s) without a rating were left out (see the 'excluded' column)")
    title = f"{data.bench.name} single grading — {path.name}"
    if request.plot is not None:
        from mtb.plots import write_radar

        write_radar(request.plot, scores, data.bench.category_order, title)
        notes.append(f"radar chart written to {request.plot}")
    return ScoreReport(
        records=[s.to_json() for s in scores],
        tables=[
            scoring.single_table(scores, turns, categories=False, title=title),
            scoring.category_table(scores),
        ],
        flat=scoring.single_table(scores, turns, categories=True),
        warnings=warnings,
        notes=notes,
    )


def _pairwise(data: DataDir, path: Path, wanted: list[str] | None, baseline: str | None) -> ScoreReport:
    loaded = scoring.load_pair_judgments(path)
    warnings = _duplicates_warning(loaded.duplicates, path)
    lengths: dict[str, dict[Any, Any]] = {}

    def answer_length(model: str, qid: Any, turn: int) -> int | None:
        if model not in lengths:
            answer_path = data.answer_path(model)
            lengths[model] = data.answers(model) if answer_path.exists() else {}
        answer = lengths[model].get(qid)
        turns = answer.choices[0].turns if answer else []
        return len(turns[turn - 1]) if len(turns) >= turn else None

    scores = scoring.pair_scores(
        loaded.judgments, baseline=baseline, model_list=wanted, answer_length=answer_length
    )
    warnings += _missing_warning(wanted, [s.model for s in scores])
    notes = []
    excluded = sum(s.excluded for s in scores)
    if excluded:
        notes.append(f"{excluded} match(es) with a game naming no winner were left out")
    against = f" against {baseline}" if baseline else ""
    table = scoring.pair_table(scores, f"{data.bench.name} pairwise{against} — {path.name}")
    return ScoreReport([s.to_json() for s in scores], [table], table, warnings, notes)
