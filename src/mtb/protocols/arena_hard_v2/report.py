"""`mtb results` for Arena-Hard v2.0: per category, mean label scores against the baseline."""

from __future__ import annotations

from functools import partial
from typing import Any

from mtb.data import DataDir, file_stem_safe
from mtb.errors import DataError, UsageError
from mtb.protocols.arena_hard.report import judge_warnings, judgment_files, refuse_mt_bench_flags
from mtb.protocols.arena_hard.scanning import map_files
from mtb.protocols.arena_hard_v2 import scoring
from mtb.protocols.arena_hard_v2.settings import CategorySetting
from mtb.protocols.base import ResultsRequest, ScoreReport
from mtb.records import ModelAnswer, QuestionId
from mtb.tables import Table

DEFAULT_ROUNDS, DEFAULT_SEED = 100, 42  # upstream: 100 rounds (unseeded)


def _metadata(answer: ModelAnswer) -> dict[str, Any]:
    from mtb.protocols.arena_hard_v2.records import answer_metadata, answer_text

    found = answer.extra.get("metadata")
    return found if isinstance(found, dict) else answer_metadata(answer_text(answer))


def score(
    data: DataDir, request: ResultsRequest, judge_default: str, settings: dict[str, CategorySetting]
) -> ScoreReport:
    name = data.bench.name
    if request.plot is not None:
        raise UsageError(f"--plot draws MT-bench scores by category; not for {name}")
    if request.mode not in (None, "pairwise-baseline"):
        raise UsageError(f"{name} is scored against its baselines (--mode pairwise-baseline)")
    refuse_mt_bench_flags(request)
    if request.baseline_model is not None:
        raise UsageError(
            f"{name} takes each category's baseline from JUDGE_SETTINGS in utils/judge_utils.py; "
            "--baseline-model does not apply"
        )
    judge = request.judge_model or judge_default
    source = request.input_file or data.judgment_dir / file_stem_safe(judge)
    _, chosen, warnings = judgment_files(source, request.models, name)
    notes: list[str] = []
    rounds = request.rounds or DEFAULT_ROUNDS
    seed = DEFAULT_SEED if request.seed is None else request.seed
    questions = data.questions()
    category_of: dict[QuestionId, str] = {q.question_id: q.category for q in questions}
    known = list(dict.fromkeys(q.category for q in questions))
    if request.category is not None and request.category not in known:
        raise UsageError(f"unknown category '{request.category}' (known: {', '.join(known)})")

    # As in v0.1: the default folder is the judge's; an --input-file file or folder holds whichever judge.
    wanted = judge if request.input_file is None or request.judge_model else None
    read: list[scoring.FileJudgments] = map_files(partial(scoring.read_judgment_file, judge=wanted), chosen)
    judged = {p.stem: r for p, r in zip(chosen, read, strict=True)}
    warnings += judge_warnings(source, {m: r.judges for m, r in judged.items()}, wanted)
    size = {c: sum(1 for q in questions if q.category == c) for c in known}
    for model, found in judged.items():
        if found.duplicates:
            warnings.append(
                f"{model}: {found.duplicates} judgment line(s) repeat a uid; the last line of each is used"
            )
        unknown = sum(1 for uid in found.labels if uid not in category_of)
        if unknown:
            warnings.append(f"{model}: {unknown} judgment(s) name a uid the question file lacks; left out")
    present = {category_of[uid] for f in judged.values() for uid in f.labels if uid in category_of}
    categories = [request.category] if request.category else [c for c in known if c in present]
    if not categories:
        raise DataError(source, "holds no judgments of this benchmark's questions")

    answers_cache: dict[str, dict[QuestionId, ModelAnswer] | None] = {}

    def answers_of(model: str) -> dict[QuestionId, ModelAnswer] | None:
        if model not in answers_cache:
            path = data.answer_path(model)
            answers_cache[model] = data.answers(model) if path.exists() else None
        return answers_cache[model]

    def avg_tokens(model: str, category: str) -> int | None:
        answers = answers_of(model)
        if answers is None:
            return None
        lengths = [
            int(_metadata(a)["token_len"]) for uid, a in answers.items() if category_of.get(uid) == category
        ]
        return int(sum(lengths) / len(lengths)) if lengths else None

    records: list[dict[str, Any]] = []
    tables, flat_rows = [], []
    # Each model's rounds (`mtb quality`), kept when one category is scored: a model has one score then.
    bootstrap: dict[str, list[float]] = {}
    for category in categories:
        setting = settings.get(category)
        if setting is None:
            raise UsageError(f"{category}: JUDGE_SETTINGS in utils/judge_utils.py names no baseline for it")
        baseline = setting.baseline
        entries: dict[str, list[tuple[QuestionId, list[float]]]] = {}
        for model, found in judged.items():
            if model == baseline:
                continue
            rows = []
            unscored = 0
            in_category = 0
            for uid, labels in found.labels.items():
                if category_of.get(uid) != category:
                    continue
                in_category += 1
                values = scoring.record_scores(labels)
                if values is None:
                    unscored += 1
                else:
                    rows.append((uid, values))
            if 0 < in_category < size[category]:
                # Scored over the questions judged only: it does not rank fairly against a complete model.
                warnings.append(
                    f"{category}: {model} is incomplete: judged on {in_category} of {size[category]} "
                    "questions; its score is over those only"
                )
            if unscored:
                notes.append(
                    f"{category}: {model}: {unscored} of {in_category} judgment(s) without two verdict "
                    "labels were left out"
                )
            if rows:
                entries[model] = rows
            elif in_category:
                warnings.append(f"{category}: {model} has no judgment with two verdict labels; not scored")
        if not entries:
            if request.category is not None:
                raise DataError(source, f"holds no scored judgments in category {category}")
            continue
        scores: list[scoring.V2Score] = []
        if request.control is None:
            for model, rows in entries.items():
                flat = [v for _, values in rows for v in values]
                mean, low, high = scoring.bootstrap_mean(flat, rounds, seed, model)
                if len(categories) == 1:
                    bootstrap[model] = [100 * v for v in scoring.bootstrap_means(flat, rounds, seed, model)]
                scores.append(
                    scoring.V2Score(
                        model,
                        category,
                        baseline,
                        100 * mean,
                        100 * low,
                        100 * high,
                        avg_tokens(model, category),
                        len(rows),
                    )
                )
        else:
            base_answers = answers_of(baseline)
            if base_answers is None:
                raise DataError(
                    data.answer_path(baseline), "style control needs the baseline's answers (their metadata)"
                )
            style_rows: dict[str, list[tuple[list[float], list[float], list[float]]]] = {}
            for model, rows in entries.items():
                own = answers_of(model)
                if own is None:
                    raise DataError(data.answer_path(model), "style control needs every model's answers")
                style_rows[model] = [
                    (
                        values,
                        scoring.style_totals(_metadata(own[uid])),
                        scoring.style_totals(_metadata(base_answers[uid])),
                    )
                    for uid, values in rows
                    if uid in own and uid in base_answers
                ]
                if len(style_rows[model]) < len(rows):
                    warnings.append(
                        f"{category}: {model}: {len(rows) - len(style_rows[model])} judgment(s) left out of "
                        f"style control: no answer of {model} or of {baseline} for their question"
                    )
            result = scoring.style_controlled(style_rows, request.control, rounds=rounds, seed=seed)
            for model, (median, low, high) in result.scores.items():
                scores.append(
                    scoring.V2Score(
                        model,
                        category,
                        baseline,
                        median,
                        low,
                        high,
                        avg_tokens(model, category),
                        len(style_rows[model]),
                    )
                )
            shown = ", ".join(f"{n} {v:+.3f}" for n, v in result.coefficients.items())
            notes.append(f"{category}: style coefficients ({request.control} control): {shown}")
        scores.append(
            scoring.V2Score(baseline, category, baseline, 50.0, 50.0, 50.0, avg_tokens(baseline, category), 0)
        )
        if bootstrap:
            bootstrap[baseline] = [50.0] * rounds
        scores.sort(key=lambda s: s.score, reverse=True)
        held = f", {request.control} controlled" if request.control else ""
        title = (
            f"{name} {category}: score against {baseline} (%){held}, "
            f"{scoring.CI_LEVEL} CI (5th-95th percentile) from {rounds} bootstrap rounds"
        )
        tables.append(
            Table(
                title,
                ["model", "score", f"{scoring.CI_LEVEL} CI", "avg_tokens"],
                [
                    [
                        s.model,
                        s.score,
                        f"(-{s.score - s.ci_low:.1f} / +{s.ci_high - s.score:.1f})",
                        s.avg_tokens,
                    ]
                    for s in scores
                ],
            )
        )
        records += [s.to_json() for s in scores]
        flat_rows += [[s.category, s.model, s.score, s.ci_low, s.ci_high, s.avg_tokens] for s in scores]
    if not tables:
        raise DataError(source, "holds no judgment with two verdict labels")
    flat_title = f"{name}: score against each category's baseline (%), {scoring.CI_LEVEL} CI"
    return ScoreReport(
        records=records,
        tables=tables,
        flat=Table(flat_title, ["category", "model", "score", "ci_low", "ci_high", "avg_tokens"], flat_rows),
        warnings=warnings,
        notes=notes,
        sources=[source],
        bootstrap=bootstrap,
    )
