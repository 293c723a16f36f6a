"""`mtb results` for Arena-Hard v0.1: Bradley–Terry win rates against the baseline."""

from __future__ import annotations

from mtb.data import DataDir, file_stem_safe
from mtb.errors import DataError, UsageError
from mtb.protocols.arena_hard import scoring, style
from mtb.protocols.base import ResultsRequest, ScoreReport
from mtb.tables import Table

# Upstream's defaults: 100 rounds, numpy seeded with 42.
DEFAULT_ROUNDS, DEFAULT_SEED = 100, 42


def score(data: DataDir, request: ResultsRequest) -> ScoreReport:
    if request.plot is not None:
        raise UsageError("--plot draws MT-bench scores by category; Arena-Hard has a single category")
    if request.mode not in (None, "pairwise-baseline"):
        raise UsageError(f"{data.bench.name} is scored against its baseline (--mode pairwise-baseline)")
    if request.compare:
        raise UsageError("--compare works with MT-bench single grading")
    if request.category is not None:
        raise UsageError(f"--category applies to Arena-Hard v2.0, not {data.bench.name}")
    judge = request.judge_model or data.bench.default_judge
    folder = request.input_file or data.judgment_dir / file_stem_safe(judge)
    baseline = request.baseline_model or data.bench.default_baseline or ""
    rounds = request.rounds or DEFAULT_ROUNDS
    seed = DEFAULT_SEED if request.seed is None else request.seed
    control = request.control
    files = sorted(p for p in folder.glob("*.jsonl") if p.is_file()) if folder.is_dir() else []
    if not files:
        raise DataError(folder, f"no judgment files here; run `mtb judge --bench {data.bench.name}` first")
    chosen = [p for p in files if request.models is None or p.stem in request.models]
    avg_tokens = scoring.avg_tokens_by_model(
        {m: data.answer_path(m) for m in [*(p.stem for p in chosen), baseline]}
    )
    notes = []
    if control is None:
        counts = scoring.battles_by_model(chosen)
        unscored = sum(c.unscored_games for c in counts.values())
        if unscored:
            notes.append(f"{unscored} game(s) without a verdict label were left out")
        scores = scoring.arena_scores(counts, baseline, rounds=rounds, seed=seed, avg_tokens=avg_tokens)
    else:
        games = scoring.games_by_model(chosen)
        answer_paths = {m: data.answer_path(m) for m in [*games, baseline]}
        missing = [str(p) for p in answer_paths.values() if not p.exists()]
        if missing:
            raise DataError(missing[0], "style control needs the answers of every model and of the baseline")
        totals = style.style_totals_by_model(answer_paths)
        result = style.style_controlled_scores(
            games, totals, baseline, control, rounds=rounds, seed=seed, avg_tokens=avg_tokens
        )
        scores = result.scores
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
        notes=notes,
    )
