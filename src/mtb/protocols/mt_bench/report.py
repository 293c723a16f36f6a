"""`mtb results` for MT-bench: which judgment file, which numbers, which tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from mtb.data import DataDir, can_name_a_file
from mtb.errors import DataError, UsageError
from mtb.protocols.base import ResultsRequest, ScoredRuns, ScoreReport
from mtb.protocols.mt_bench import scoring
from mtb.protocols.mt_bench.judging import pair_judgment_path, single_judgment_path
from mtb.protocols.mt_bench.records import PairJudgment, SingleJudgment
from mtb.protocols.mt_bench.verdicts import UNPARSED
from mtb.tables import Table

MODES = ("single", "pairwise-baseline", "pairwise-all")

J = TypeVar("J", SingleJudgment, PairJudgment)


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
    if request.position_bias and single:
        raise UsageError("--position-bias works with --mode pairwise-baseline or pairwise-all")
    if request.language_penalty != "none" and not single:
        raise UsageError("--language-penalty works with single grading (--mode single)")
    judge = request.judge_model or data.bench.default_judge
    path = request.input_file or (single_judgment_path if single else pair_judgment_path)(data, judge)
    # Plain `mtb results` scores the default judge's file only: say which other judges' files exist.
    others = (
        other_judges(data, path, single) if request.judge_model is None and not request.input_file else []
    )
    if not path.exists():
        if path.is_symlink():  # exists() follows the link: a loop or a missing target is "not there"
            raise DataError(path, "a symbolic link to nothing readable (a loop, or a missing target)")
        if others:
            raise DataError(path, f"no judgments by the default judge {judge} here; {_others_line(others)}")
        raise DataError(path, "no judgments here; run `mtb judge` first, or pass --input-file")
    if request.compare and not single:
        raise UsageError("--compare works with --mode single")
    if request.plot is not None and (not single or request.compare):
        raise UsageError("--plot draws single-grading scores by category (--mode single, without --compare)")
    rounds = request.rounds or scoring.DEFAULT_ROUNDS
    seed = request.seed or 0
    # The default file is the judge's; an --input-file is read as it is, so its judge is
    # --judge-model when given, else the one judge it holds.
    wanted_judge = judge if request.input_file is None or request.judge_model else None
    if single:
        report = _single(data, path, request, rounds, seed, wanted_judge)
    else:
        baseline = (
            (request.baseline_model or data.bench.default_baseline) if mode == "pairwise-baseline" else None
        )
        report = _pairwise(
            data,
            path,
            request.models,
            baseline,
            wanted_judge,
            position_bias=request.position_bias,
            strict=request.strict,
        )
    report.sources = [path]
    if others:
        report.notes.append(f"scored the default judge {judge}'s file; {_others_line(others)}")
    return report


def other_judges(data: DataDir, scored: Path, single: bool) -> list[str]:
    """The judges with a judgment file of this mode beside `scored`, other than its own."""
    from mtb.provenance import is_run_file

    folder = data.judgment_dir
    suffix = "_single.jsonl" if single else "_pair.jsonl"
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(suffix)
        for p in folder.glob(f"*{suffix}")
        if p.is_file() and p != scored and not is_run_file(p)
    )


def _others_line(judges: list[str]) -> str:
    shown = ", ".join(judges[:8]) + (f" and {len(judges) - 8} more" if len(judges) > 8 else "")
    return f"other judges' files here: {shown} (--judge-model NAME scores one)"


def _examples(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def belonging(
    data: DataDir, path: Path, judgments: list[J], judge: str | None
) -> tuple[list[J], str, list[str]]:
    """The judgments that belong in one table: by one judge, of the benchmark's (question, turn)s.

    Judge names that differ only by '/' share a file name, so a file may hold
    several judges; a line for a question id not in the question file ("81"
    where ids are numbers) or for a turn the question does not have is left out.
    What is left out is counted in the warnings. Raises when nothing is left.
    """
    if not judgments:
        raise DataError(path, "holds no judgments; run `mtb judge` first")
    judges = Counter(j.judge[0] for j in judgments)
    if judge is None:
        if len(judges) > 1:
            found = ", ".join(f"{name} ({count})" for name, count in judges.most_common())
            raise UsageError(
                f"{path} holds judgments by several judges: {found}; choose one with --judge-model"
            )
        judge = next(iter(judges))
    turns = {q.question_id: len(q.turns) for q in data.questions()}
    warnings = []
    others = {name: n for name, n in judges.items() if name != judge}
    if others:
        found = ", ".join(f"{name} ({n})" for name, n in sorted(others.items()))
        warnings.append(f"{path}: left out {sum(others.values())} judgment(s) by other judges: {found}")
    by_judge = [j for j in judgments if j.judge[0] == judge]
    if not by_judge:
        raise DataError(
            path,
            f"holds no judgments by '{judge}' (judges here: {', '.join(sorted(judges))}); pass --judge-model",
        )
    unknown = [j for j in by_judge if j.question_id not in turns]
    beyond = [j for j in by_judge if j.question_id in turns and j.turn > turns[j.question_id]]
    if unknown:
        ids = list(dict.fromkeys(j.question_id for j in unknown))
        warnings.append(
            f"{path}: left out {len(unknown)} judgment(s) of questions not in "
            f"{data.question_path}: {_examples(ids)}"
        )
    if beyond:
        where = list(dict.fromkeys((j.question_id, j.turn) for j in beyond))
        shown = ", ".join(f"question {q} turn {t}" for q, t in where[:5])
        warnings.append(
            f"{path}: left out {len(beyond)} judgment(s) of turns the question does not have: {shown}"
        )
    kept = [j for j in by_judge if j.question_id in turns and j.turn <= turns[j.question_id]]
    if not kept:
        raise DataError(
            path, f"holds no judgments of {data.bench.name}'s questions and turns (see the warnings)"
        )
    return kept, judge, warnings


def _duplicates_warning(duplicates: int, path: Path) -> list[str]:
    if not duplicates:
        return []
    return [f"{path} repeats {duplicates} judgment(s); each is counted once (the last line wins)"]


def _off_scale_warning(path: Path, judgments: Sequence[SingleJudgment]) -> list[str]:
    """Scores outside the 1-10 scale the judge prompts ask for ([[11]], [[0]], or a hand-edited
    -2.5): FastChat averages them as they are, and so does mtb, but never without saying so."""
    off = [j for j in judgments if j.score != UNPARSED and not 1 <= j.score <= 10]
    if not off:
        return []
    shown = ", ".join(f"{j.model} question {j.question_id} turn {j.turn}: {j.score:g}" for j in off[:3])
    more = f" and {len(off) - 3} more" if len(off) > 3 else ""
    return [
        f"{path}: {len(off)} score(s) outside the 1-10 scale are counted as they are (as FastChat "
        f"does): {shown}{more}"
    ]


def _reprompted_warning(loaded: scoring.Loaded[Any], path: Path) -> list[str]:
    """Items judged again under another prompt name: only the last line's prompt counts."""
    if not loaded.reprompted:
        return []
    kept = {j.item: j.judge[1] for j in loaded.judgments}
    first = loaded.reprompted[0]
    prompts = sorted({j.judge[1] for j in loaded.reprompted})
    return [
        f"{path}: left out {len(loaded.reprompted)} judgment(s) of items judged again under another "
        f"prompt (the last line counts), e.g. question {first.question_id} turn {first.turn}: "
        f"{first.judge[1]} then {kept[first.item]}; prompts left out: {_examples(prompts)}"
    ]


def _incomplete_warning(
    data: DataDir, judgments: Sequence[SingleJudgment] | Sequence[PairJudgment], models: list[str]
) -> list[str]:
    """Models judged on fewer question turns than the benchmark has: their means are over fewer items,
    so they do not rank fairly against a complete model (a judge run cut short, a --first-n trial).
    Pairwise, `judgments` are the matches against one baseline."""
    expected = {(q.question_id, t) for q in data.questions() for t in range(1, len(q.turns) + 1)}
    covered: dict[str, set[tuple[Any, int]]] = {m: set() for m in models}
    for j in judgments:
        for model in (j.model,) if isinstance(j, SingleJudgment) else (j.model_1, j.model_2):
            if model in covered:
                covered[model].add((j.question_id, j.turn))
    short = {m: len(seen) for m, seen in covered.items() if len(seen) < len(expected)}
    if not short:
        return []
    found = ", ".join(f"{m} ({n} of {len(expected)})" for m, n in short.items())
    return [
        f"incomplete: judged on fewer question turns than {data.bench.name} has: {found}; "
        "their numbers are over the turns judged only"
    ]


def _incomplete_matches_warning(
    data: DataDir, matches: Sequence[PairJudgment], models: list[str]
) -> list[str]:
    """pairwise-all: models with fewer matches than each other model on every question turn. Their
    win rates are over the matches judged only (a judge run cut short, a model added later), as an
    incomplete model's numbers are in the other modes."""
    turns = {(q.question_id, t) for q in data.questions() for t in range(1, len(q.turns) + 1)}
    met: dict[str, dict[str, set[tuple[Any, int]]]] = {
        m: {o: set() for o in models if o != m} for m in models
    }
    for j in matches:
        if j.model_1 in met and j.model_2 in met[j.model_1]:
            met[j.model_1][j.model_2].add((j.question_id, j.turn))
            met[j.model_2][j.model_1].add((j.question_id, j.turn))
    found = []
    for model, opponents in met.items():
        judged = sum(len(seen) for seen in opponents.values())
        expected = len(turns) * len(opponents)
        if judged < expected:
            short = [o for o, seen in opponents.items() if len(seen) < len(turns)]
            found.append(f"{model} ({judged} of {expected}; missing against {_examples(short)})")
    if not found:
        return []
    return [
        f"incomplete: fewer matches than pairwise-all has (each model against each other on every "
        f"question turn of {data.bench.name}): {', '.join(found)}; their win rates are over the matches "
        "judged only"
    ]


def _missing_warning(wanted: list[str] | None, found: list[str]) -> list[str]:
    missing = [m for m in wanted or [] if m not in found]
    return [f"no usable judgments for: {', '.join(missing)}"] if missing else []


def provenance_check(
    path: Path, judgments: Sequence[SingleJudgment] | Sequence[PairJudgment], strict: bool
) -> tuple[list[str], list[str]]:
    """Warnings and notes on the settings the judgments scored together were made under.

    With `strict`, judgments made under different settings are a UsageError (exit 2).
    """
    from mtb.provenance import check

    result = check(path, (j.run_id for j in judgments))
    if strict and result.conflicts:
        raise UsageError(
            f"--strict: {path} mixes judgments made under different settings: " + "; ".join(result.conflicts)
        )
    return result.warnings(path), result.notes()


def _compare(
    data: DataDir, judgments: list[SingleJudgment], request: ResultsRequest, rounds: int, seed: int
) -> tuple[Any, list[Table], Table, list[str]]:
    assert request.compare is not None
    result = scoring.compare_models(
        judgments,
        *request.compare,
        turns=data.bench.turns,
        rounds=rounds,
        seed=seed,
        categories={q.question_id: q.category for q in data.questions()},
        category_order=data.bench.category_order,
    )
    verdict = "an interval that excludes 0" if result.significant else "an interval that includes 0: not"
    note = (
        f"{result.model_a} − {result.model_b}: {result.difference:+.3f} "
        f"over {result.questions} questions, "
        f"{verdict} a significant difference at 95% ({rounds} paired bootstrap rounds)"
    )
    columns = ["model_a", "model_b", "difference", "ci_low", "ci_high", "questions"]
    row = [result.model_a, result.model_b, result.difference, result.ci_low, result.ci_high, result.questions]
    table = Table("Paired comparison", columns, [row])
    by_category = Table(
        f"By category: {result.model_a} − {result.model_b} (paired bootstrap within each category)",
        ["category", "difference", "ci_low", "ci_high", "questions", "significant"],
        [
            [name, c.difference, c.ci_low, c.ci_high, c.questions, "yes" if c.significant else "no"]
            for name, c in result.categories.items()
        ],
    )
    flat = Table(
        "",
        ["category", *columns[2:]],
        [
            ["all", *row[2:]],
            *(
                [name, c.difference, c.ci_low, c.ci_high, c.questions]
                for name, c in result.categories.items()
            ),
        ],
    )
    return result.to_json(), [table, by_category], flat, [note]


def _single(
    data: DataDir, path: Path, request: ResultsRequest, rounds: int, seed: int, judge: str | None
) -> ScoreReport:
    loaded = scoring.load_single_judgments(path)
    warnings = _duplicates_warning(loaded.duplicates, path) + _reprompted_warning(loaded, path)
    judgments, judge, left_out = belonging(data, path, loaded.judgments, judge)
    warnings += left_out + _off_scale_warning(path, judgments)
    turns = data.bench.turns
    scored = [
        j
        for j in judgments
        if (request.compare is not None and j.model in request.compare)
        or (request.compare is None and (request.models is None or j.model in request.models))
    ]
    more_warnings, notes = provenance_check(path, scored, request.strict)
    warnings += more_warnings
    runs = ScoredRuns()
    for judgment in scored:
        runs.add(judgment.run_id, [judgment.model])
    # --samples K: each item's samples become their mean; the judge's spread is kept apart.
    collapsed = scoring.collapse_samples(judgments)
    judgments = collapsed.items
    if collapsed.unrated_samples:
        notes.append(
            f"{collapsed.unrated_samples} sample(s) without a rating were left out of their item's mean"
        )
    judgments, wrong_language = _language(data, judgments, request, warnings, notes)
    if request.compare:
        records, tables, flat, compare_notes = _compare(data, judgments, request, rounds, seed)
        return ScoreReport(records, tables, flat, warnings, notes + compare_notes, scored_runs=runs)
    categories = {q.question_id: q.category for q in data.questions()}
    scores = scoring.single_scores(
        judgments,
        categories,
        turns=turns,
        category_order=data.bench.category_order,
        model_list=request.models,
        include_unrated=True,
    )
    if not scores:
        raise UsageError(_none_listed(path, request.models or [], sorted({j.model for j in judgments})))
    if request.ci:
        scores = scoring.with_intervals(scores, judgments, turns=turns, rounds=rounds, seed=seed)
    scores = scoring.with_samples(scores, collapsed)
    if wrong_language is not None:
        scores = [replace(s, wrong_language=wrong_language.get(s.model)) for s in scores]
    # Placed among the other models judged in the same file (the published baselines, when present),
    # on the same question turns.
    scores = scoring.with_placement(scores, judgments)
    warnings += _missing_warning(request.models, [s.model for s in scores])
    warnings += _incomplete_warning(data, judgments, [s.model for s in scores])
    unrated = [s.model for s in scores if s.average is None]
    if unrated:
        warnings.append(f"no verdict with a rating for: {', '.join(unrated)} (listed with no average)")
    for s in scores:
        if s.samples is not None and s.judge_sd is not None:
            interval = s.ci.get("average")
            over = f"; 95% interval over questions {interval[0]:.2f}–{interval[1]:.2f}" if interval else ""
            notes.append(
                f"{s.model}: mean over {s.samples} rated samples {s.average:.2f}; the judge's own spread "
                f"(per-item standard deviation across samples, averaged) {s.judge_sd:.2f}{over}"
            )
    if request.models is not None:
        notes += [f"{s.model} ({s.average:.2f}): {s.placement}" for s in scores if s.placement and s.average]
    excluded = sum(s.excluded for s in scores)
    if excluded:
        notes.append(f"{excluded} judgment(s) without a rating were left out (see the 'excluded' column)")
    title = f"{data.bench.name} single grading — {path.name}"
    if request.plot is not None:
        from mtb.plots import write_radar

        notes += write_radar(
            request.plot, [s for s in scores if s.average is not None], data.bench.category_order, title
        )
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
        bootstrap={s.model: list(s.average_rounds) for s in scores if s.average_rounds},
        scored_runs=runs,
    )


def _language(
    data: DataDir,
    judgments: list[SingleJudgment],
    request: ResultsRequest,
    warnings: list[str],
    notes: list[str],
) -> tuple[list[SingleJudgment], dict[str, int] | None]:
    """With a manifest `language`: the judged turns per model answered in another one, and
    under --language-penalty zero, the judgments with those turns scored 0."""
    language = data.bench.language
    if language is None:
        if request.language_penalty != "none":
            raise UsageError(
                f"--language-penalty needs the benchmark's language: {data.bench.name}'s manifest sets "
                'none (add `language = "ko"`, an ISO 639-1 code)'
            )
        return judgments, None
    from mtb.protocols.mt_bench.language import count_by_model, wrong_language_turns, zero_scored

    flagged, checked, more = wrong_language_turns(data, judgments, language)
    warnings += more
    if request.language_penalty == "zero":
        judgments = zero_scored(judgments, flagged)
        notes.append(
            f"--language-penalty zero: {len(flagged)} judged turn(s) answered in another language than "
            f"'{language}' scored 0"
        )
    return judgments, count_by_model(flagged, checked)


def _none_listed(path: Path, wanted: list[str], found: list[str]) -> str:
    return f"no judgments in {path} for {', '.join(wanted)} (models judged there: {_examples(found)})"


def _pairwise(
    data: DataDir,
    path: Path,
    wanted: list[str] | None,
    baseline: str | None,
    judge: str | None,
    position_bias: bool = False,
    strict: bool = False,
) -> ScoreReport:
    loaded = scoring.load_pair_judgments(path)
    warnings = _duplicates_warning(loaded.duplicates, path) + _reprompted_warning(loaded, path)
    judgments, judge, left_out = belonging(data, path, loaded.judgments, judge)
    warnings += left_out
    more_warnings, provenance_notes = provenance_check(path, judgments, strict)
    warnings += more_warnings
    if baseline is not None and not any(baseline in (j.model_1, j.model_2) for j in judgments):
        models = sorted({m for j in judgments for m in (j.model_1, j.model_2)})
        raise DataError(
            path,
            f"holds no match against the baseline '{baseline}' (models judged here: {_examples(models)}); "
            "pass --baseline-model, or --mode pairwise-all",
        )
    lengths: dict[str, dict[Any, Any]] = {}

    def answer_length(model: str, qid: Any, turn: int) -> int | None:
        if model not in lengths:
            # A name too long to be a file name (a judgment file may hold any) has no answers.
            found = can_name_a_file(model) and data.answer_path(model).exists()
            lengths[model] = data.answers(model) if found else {}
        answer = lengths[model].get(qid)
        turns = answer.choices[0].turns if answer else []
        return len(turns[turn - 1]) if len(turns) >= turn else None

    # A model matched against itself would win and lose the same match: it says nothing of its
    # rank (the position-bias table below still counts it, as a check of the judge).
    itself = Counter(j.model_1 for j in judgments if j.model_1 == j.model_2)
    if itself:
        found = ", ".join(f"{m} ({n})" for m, n in sorted(itself.items()))
        warnings.append(
            f"{path}: left out {sum(itself.values())} match(es) of a model against itself: {found}"
        )
    if baseline is not None and wanted is not None and baseline in wanted:
        # The baseline gets no row of its own: "no usable judgments for" it would be untrue.
        wanted = [m for m in wanted if m != baseline]
        if not wanted:
            raise UsageError(
                f"--model-list names only the baseline '{baseline}', which gets no row; "
                "list the models to compare with it"
            )
        warnings.append(f"--model-list: '{baseline}' is the baseline; it gets no row")
    scores = scoring.pair_scores(
        [j for j in judgments if j.model_1 != j.model_2],
        baseline=baseline,
        model_list=wanted,
        answer_length=answer_length,
    )
    if not scores:
        raise UsageError(
            _none_listed(path, wanted or [], sorted({m for j in judgments for m in (j.model_1, j.model_2)}))
        )
    warnings += _missing_warning(wanted, [s.model for s in scores])
    others = [j for j in judgments if j.model_1 != j.model_2]
    if baseline is not None:
        versus = [j for j in others if baseline in (j.model_1, j.model_2)]
        warnings += _incomplete_warning(data, versus, [s.model for s in scores])
    else:
        matches = list(scoring.selected_matches(others, baseline=None, model_list=wanted))
        warnings += _incomplete_matches_warning(data, matches, [s.model for s in scores])
    unrated = [s.model for s in scores if not s.judgments]
    if unrated:
        warnings.append(
            f"no match with a winner in both games for: {', '.join(unrated)} (listed with no rates)"
        )
    notes = provenance_notes
    excluded = sum(s.excluded for s in scores)
    if excluded:
        notes.append(f"{excluded} match(es) with a game naming no winner were left out")
    against = f" against {baseline}" if baseline else ""
    table = scoring.pair_table(scores, f"{data.bench.name} pairwise{against} — {path.name}")
    if position_bias:
        # The same matches as the table above; the bias rows replace it in --format json/csv/markdown.
        matches = list(scoring.selected_matches(judgments, baseline=baseline, model_list=wanted))
        bias = scoring.position_bias(matches)
        bias_table = scoring.bias_table(bias, f"Position bias{against} — {path.name}")
        notes.append(
            "position bias: consistent = the same verdict in both orders; biased_first/second = the "
            "answer shown first/second won both games; error = anything else"
        )
        return ScoreReport([b.to_json() for b in bias], [table, bias_table], bias_table, warnings, notes)
    runs = ScoredRuns()
    for match in scoring.selected_matches(judgments, baseline=baseline, model_list=wanted):
        runs.add(match.run_id, [m for m in (match.model_1, match.model_2) if m != baseline])
    return ScoreReport([s.to_json() for s in scores], [table], table, warnings, notes, scored_runs=runs)
