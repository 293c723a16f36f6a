"""`mtb results` for Arena-Hard v0.1: Bradley–Terry win rates against the baseline."""

from __future__ import annotations

from pathlib import Path

from mtb.data import DataDir, file_stem_safe
from mtb.errors import DataError, UsageError
from mtb.jsonl import refuse_device
from mtb.protocols.arena_hard import scoring, style
from mtb.protocols.base import ResultsRequest, ScoreReport
from mtb.provenance import is_run_file
from mtb.tables import Table

# Upstream's defaults: 100 rounds, numpy seeded with 42.
DEFAULT_ROUNDS, DEFAULT_SEED = 100, 42


def refuse_mt_bench_flags(request: ResultsRequest) -> None:
    """The results flags only MT-bench's judgments answer to, refused for both Arena-Hard versions."""
    if request.strict:
        # Arena-Hard records carry their run_id too, but results do not compare runs' settings yet.
        raise UsageError("--strict checks MT-bench judgments; Arena-Hard results do not check settings yet")
    if request.compare:
        raise UsageError("--compare works with MT-bench single grading")
    if request.position_bias:
        raise UsageError("--position-bias works with MT-bench pairwise judgments")
    if request.language_penalty != "none":
        raise UsageError("--language-penalty works with MT-bench single grading")


def judgment_files(
    source: Path, models: list[str] | None, bench: str
) -> tuple[list[Path], list[Path], list[str]]:
    """The judgment files at `source` (one per model, named after it), those of `models`
    (--model-list; None: all), and a warning for any listed model without one.

    `source` is the judge's folder, or (`--input-file`) one model's judgment file, which
    scores that model: the flag means a judgment file in every family.
    """
    if source.is_dir():
        files = sorted(p for p in source.glob("*.jsonl") if p.is_file() and not is_run_file(p))
    elif source.exists():
        refuse_device(source)  # /dev/zero would be read for ever
        files = [source]
    elif source.is_symlink():  # exists() follows the link: a loop or a missing target
        raise DataError(source, "a symbolic link to nothing readable (a loop, or a missing target)")
    else:
        files = []
    if not files:
        raise DataError(source, f"no judgment files here; run `mtb judge --bench {bench}` first")
    chosen = [p for p in files if models is None or p.stem in models]
    warnings = []
    if models is not None:
        if not chosen:
            raise UsageError(f"no judgment file in {source} for {', '.join(models)}")
        absent = [m for m in models if m not in {p.stem for p in chosen}]
        if absent:
            warnings.append(f"no judgment file in {source} for: {', '.join(absent)}")
    return files, chosen, warnings


def score(data: DataDir, request: ResultsRequest) -> ScoreReport:
    if request.plot is not None:
        raise UsageError("--plot draws MT-bench scores by category; Arena-Hard has a single category")
    if request.mode not in (None, "pairwise-baseline"):
        raise UsageError(f"{data.bench.name} is scored against its baseline (--mode pairwise-baseline)")
    refuse_mt_bench_flags(request)
    if request.category is not None:
        raise UsageError(f"--category applies to Arena-Hard v2.0, not {data.bench.name}")
    judge = request.judge_model or data.bench.default_judge
    source = request.input_file or data.judgment_dir / file_stem_safe(judge)
    baseline = request.baseline_model or data.bench.default_baseline or ""
    rounds = request.rounds or DEFAULT_ROUNDS
    seed = DEFAULT_SEED if request.seed is None else request.seed
    control = request.control
    files, chosen, warnings = judgment_files(source, request.models, data.bench.name)
    _check_baseline(data, source, files, baseline, explicit=request.baseline_model is not None)
    known = frozenset(q.question_id for q in data.questions())
    # The default folder is the judge's (judges that differ only by '/' share it); an --input-file
    # file or folder is read as it is, so its judge is --judge-model when given, else the one it holds.
    wanted = judge if request.input_file is None or request.judge_model else None
    notes = []
    if control is None:
        counts = scoring.battles_by_model(chosen, known, wanted)
        read = {m: (c.lines, c.duplicates, c.unknown) for m, c in counts.items()}
        judged = {m: (c.questions, c.judges) for m, c in counts.items()}
        unscored = sum(c.unscored_games for c in counts.values())
        without = [m for m, c in counts.items() if c.battles == 0]
    else:
        games = scoring.games_by_model(chosen, known, wanted)
        read = {m: (g.lines, g.duplicates, g.unknown) for m, g in games.items()}
        judged = {m: (len(g.games), g.judges) for m, g in games.items()}
        unscored, without = 0, []
    warnings += judge_warnings(source, {m: j for m, (_, j) in judged.items()}, wanted)
    warnings += _reading_warnings({p.stem: p for p in chosen}, read, data.question_path)
    warnings += _incomplete_warning(data.bench.name, {m: n for m, (n, _) in judged.items()}, len(known))
    if unscored:
        notes.append(f"{unscored} game(s) without a verdict label were left out")
    if control is None:
        unscored_only = [m for m in without if counts[m].lines]
        if unscored_only:
            warnings.append(f"no scored game against {baseline} for: {', '.join(unscored_only)} (left out)")
        if len(without) == len(counts):
            raise DataError(source, f"no scored game against {baseline} in any judgment file here")
        scored = [m for m in counts if m not in without]
        avg_tokens = scoring.avg_tokens_by_model({m: data.answer_path(m) for m in [*scored, baseline]})
        scores = scoring.arena_scores(counts, baseline, rounds=rounds, seed=seed, avg_tokens=avg_tokens)
    else:
        answer_paths = {m: data.answer_path(m) for m in [*games, baseline]}
        missing = [str(p) for p in answer_paths.values() if not p.exists()]
        if missing:
            raise DataError(missing[0], "style control needs the answers of every model and of the baseline")
        totals = style.style_totals_by_model(answer_paths)
        avg_tokens = scoring.avg_tokens_by_model(answer_paths)
        try:
            result = style.style_controlled_scores(
                {m: g.games for m, g in games.items()},
                totals,
                baseline,
                control,
                rounds=rounds,
                seed=seed,
                avg_tokens=avg_tokens,
            )
        except UsageError as exc:
            raise DataError(source, str(exc)) from None
        scores = result.scores
        if result.left_out:
            warnings.append(
                f"no scored game with style data against {baseline} for: {', '.join(result.left_out)} "
                "(left out)"
            )
        coefficients = ", ".join(f"{name} {value:+.3f}" for name, value in result.coefficients.items())
        notes.append(f"style coefficients ({control} control): {coefficients}")
    rows = [
        [s.model, s.score, f"({s.ci_low - s.score:+.1f}, {s.ci_high - s.score:+.1f})", s.avg_tokens]
        for s in scores
    ]
    held = f", {control} controlled" if control else ""
    title = f"{data.bench.name}: win rate against {baseline}{held}, 95% CI from {rounds} bootstrap rounds"
    table = Table(title, ["model", "score", "95% CI", "avg_tokens"], rows)
    csv_rows = [[s.model, s.score, s.ci_low, s.ci_high, s.avg_tokens] for s in scores]
    return ScoreReport(
        records=[s.to_json() for s in scores],
        tables=[table],
        flat=Table(title, ["model", "score", "ci_low", "ci_high", "avg_tokens"], csv_rows),
        warnings=warnings,
        notes=notes,
        sources=[source],
        bootstrap={s.model: list(s.rounds) for s in scores if s.rounds},
    )


def _check_baseline(data: DataDir, source: Path, files: list[Path], baseline: str, *, explicit: bool) -> None:
    """Judgment records do not name their baseline, so rule out the baselines they cannot have had."""
    if any(p.stem == file_stem_safe(baseline) for p in files):
        raise UsageError(
            f"'{baseline}' cannot be the baseline of the judgments in {source}: it was judged there "
            f"itself, against another baseline (this benchmark's is {data.bench.default_baseline})"
        )
    answers = data.answer_path(baseline)
    if explicit and baseline != data.bench.default_baseline and not answers.exists():
        raise UsageError(
            f"no judgment in {source} can be against '{baseline}': it has no answers ({answers} does "
            f"not exist); the judgments there are against the baseline they were judged with "
            f"(this benchmark's is {data.bench.default_baseline})"
        )


def _reading_warnings(
    paths: dict[str, Path], read: dict[str, tuple[int, int, int]], questions: Path
) -> list[str]:
    """Per judgment file: lines repeated, lines of unknown questions, files with no line at all."""
    warnings = []
    for model, (lines, duplicates, unknown) in read.items():
        path = paths[model]
        if not lines:
            warnings.append(f"{path} holds no judgments; {model} is left out")
        if duplicates:
            warnings.append(
                f"{path} repeats {duplicates} judgment(s); each is counted once (the last line wins)"
            )
        if unknown:
            warnings.append(f"{path}: left out {unknown} judgment(s) of questions not in {questions}")
    return warnings


def judge_warnings(folder: Path, judges: dict[str, dict[str, int]], wanted: str | None) -> list[str]:
    """Lines by judges other than the one asked for were left out: say so. Without one asked for
    (an --input-file folder), lines by several judges cannot be scored together."""
    seen: dict[str, int] = {}
    for found in judges.values():
        for name, n in found.items():
            seen[name] = seen.get(name, 0) + n
    if wanted is None:
        if len(seen) > 1:
            shown = ", ".join(f"{name} ({n})" for name, n in sorted(seen.items()))
            raise UsageError(
                f"{folder} holds judgments by several judges: {shown}; choose one with --judge-model"
            )
        return []
    others = {name: n for name, n in seen.items() if name != wanted}
    if not others:
        return []
    shown = ", ".join(f"{name} ({n})" for name, n in sorted(others.items()))
    return [f"{folder}: left out {sum(others.values())} judgment(s) by other judges: {shown}"]


def _incomplete_warning(bench: str, judged: dict[str, int], questions: int) -> list[str]:
    """Models judged on fewer questions than the benchmark has (a judge run cut short, a --first-n
    trial): their win rates are over those questions only, so they do not rank fairly."""
    short = {model: n for model, n in judged.items() if 0 < n < questions}
    if not short:
        return []
    found = ", ".join(f"{m} ({n} of {questions})" for m, n in short.items())
    return [
        f"incomplete: judged on fewer questions than {bench} has: {found}; "
        "their scores are over the questions judged only"
    ]
