"""`mtb results --bench chatbot-arena --battles FILE`: ratings from human votes, FastChat's way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mtb.data import DataDir
from mtb.errors import DataError, UsageError
from mtb.protocols.base import ResultsRequest, ScoreReport
from mtb.protocols.chatbot_arena import ratings
from mtb.protocols.chatbot_arena.battles import read_battles
from mtb.protocols.chatbot_arena.ratings import ModelRating as ModelRating
from mtb.protocols.chatbot_arena.records import A_WINS, B_WINS, Battles, Filters
from mtb.tables import Table

# FastChat 0.2.36's report_elo_analysis_results: 100 rounds; later code seeds numpy with 0.
DEFAULT_ROUNDS, DEFAULT_SEED = 100, 0


def _check_request(data: DataDir, request: ResultsRequest) -> None:
    name = data.bench.name
    for flag, given in (
        ("--mode", request.mode is not None),
        ("--judge-model", request.judge_model is not None),
        ("--baseline-model", request.baseline_model is not None),
        ("--input-file", request.input_file is not None),
        ("--compare", request.compare is not None),
        ("--category", request.category is not None),
        ("--model-list", request.models is not None),
        ("--language-penalty", request.language_penalty != "none"),
    ):
        if given:
            raise UsageError(
                f"{flag} does not apply to {name}, which rates models from a battle log (--battles)"
            )
    if request.control not in (None, "style"):
        raise UsageError(f"--{request.control}-control is not Arena's; {name} has --style-control")
    if request.battle_log.rating not in (None, "bt", "elo"):
        raise UsageError(f"--rating must be bt or elo, not {request.battle_log.rating}")
    if request.battle_log.rating == "elo" and request.control is not None:
        raise UsageError("--style-control fits Bradley–Terry ratings; it cannot go with --rating elo")


def keep_models_with(battles: Battles, minimum: int) -> tuple[Battles, list[str]]:
    """`battles` without the models that have fewer than `minimum` battles (and their battles)."""
    m = len(battles.models)
    count = np.bincount(battles.model_a, minlength=m) + np.bincount(battles.model_b, minlength=m)
    dropped = [battles.models[i] for i in np.flatnonzero(count < minimum)]
    if not dropped:
        return battles, []
    keep_model = count >= minimum
    keep = keep_model[battles.model_a] & keep_model[battles.model_b]
    new_id = np.cumsum(keep_model) - 1
    return (
        replace(
            battles,
            models=[name for name, k in zip(battles.models, keep_model, strict=True) if k],
            model_a=new_id[battles.model_a[keep]].astype(np.int32),
            model_b=new_id[battles.model_b[keep]].astype(np.int32),
            outcome=battles.outcome[keep],
            tstamp=battles.tstamp[keep],
            style_a=None if battles.style_a is None else battles.style_a[keep],
            style_b=None if battles.style_b is None else battles.style_b[keep],
        ),
        dropped,
    )


def groups_that_never_met(battles: Battles) -> list[list[str]]:
    """The models in groups with no battle between them (connected parts of the battle graph).

    Ratings are only comparable within a group: across groups nothing was measured, and the
    gap between them is whatever the fit's starting point and penalty left.
    """
    parent = list(range(len(battles.models)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(battles.model_a.tolist(), battles.model_b.tolist(), strict=True):
        parent[root(a)] = root(b)
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(battles.models):
        groups.setdefault(root(i), []).append(name)
    return sorted(groups.values(), key=lambda g: (-len(g), g))


def one_result_only(battles: Battles) -> list[str]:
    """Models whose every battle ended the same way for them (all won, all lost or all tied, one
    battle included): each bootstrap round redraws that result, so their interval is about 0 wide."""
    m = len(battles.models)
    seen = np.zeros((m, 3), dtype=bool)  # per model: won, lost, tied
    won_by_a, won_by_b = battles.outcome == A_WINS, battles.outcome == B_WINS
    tied = ~(won_by_a | won_by_b)
    for side, won, lost in ((battles.model_a, won_by_a, won_by_b), (battles.model_b, won_by_b, won_by_a)):
        seen[side[won], 0] = True
        seen[side[lost], 1] = True
        seen[side[tied], 2] = True
    played = np.bincount(battles.model_a, minlength=m) + np.bincount(battles.model_b, minlength=m)
    return [battles.models[i] for i in range(m) if played[i] and seen[i].sum() == 1]


def compute(
    battles: Battles,
    *,
    rating: str = "bt",
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    anchor: tuple[str, float] | None = None,
    ci: bool = True,
    style: bool = False,
) -> tuple[list[ModelRating], np.ndarray | None]:
    """Each model's rating, best first, and (style control) the style coefficients."""
    m = len(battles.models)
    order = np.argsort(battles.tstamp, kind="stable")
    a, b, outcome = battles.model_a[order], battles.model_b[order], battles.outcome[order]
    online = ratings.online_elo(a, b, outcome, m)
    played = np.bincount(a, minlength=m) + np.bincount(b, minlength=m)
    rng = np.random.default_rng(seed)
    coefficients = None
    samples: np.ndarray | None = None
    if rating == "elo":
        anchor_used = anchor
        boot = ratings.elo_bootstrap(a, b, outcome, m, rounds, rng)
        samples = ratings.anchor_shift(boot, battles.models, anchor_used)
        # FastChat's get_median_elo_from_bootstrap rounds each median with int(v + 0.5).
        point = np.floor(np.nanmedian(samples, axis=0) + 0.5)
    else:
        anchor_used = anchor or ratings.FASTCHAT_ANCHOR
        if style:
            assert battles.style_a is not None and battles.style_b is not None
            features = ratings.style_features(battles.style_a, battles.style_b)
            y = ratings.scores_of(battles.outcome)
            params = ratings.fit(battles.model_a, battles.model_b, y, np.ones(len(battles)), m, features)
            coefficients = params[m:]
            if ci:
                samples = np.full((rounds, m), np.nan)
                size = len(battles)
                for r in range(rounds):
                    # Row resampling, as weights: features differ per battle, so there are no cells.
                    weight = np.bincount(rng.integers(0, size, size), minlength=size).astype(np.float64)
                    beta = ratings.fit(
                        battles.model_a, battles.model_b, y, weight, m, features, start=params
                    )[:m]
                    present = (
                        np.bincount(battles.model_a, weight, minlength=m)
                        + np.bincount(battles.model_b, weight, minlength=m)
                    ) > 0
                    samples[r, present] = ratings.to_ratings(beta[present])
        else:
            cells = ratings.cells_of(battles)
            y, n = cells.score_and_weight()
            params = ratings.fit(cells.a, cells.b, y, n, m)
            if ci:
                samples = ratings.bt_bootstrap(cells, m, rounds, rng, params)
        point = ratings.anchor_shift(ratings.to_ratings(params[:m]), battles.models, anchor_used)
        if samples is not None:
            samples = ratings.anchor_shift(samples, battles.models, anchor_used)
    if samples is not None:
        low, high = np.nanpercentile(samples, [2.5, 97.5], axis=0)
        rank = ratings.rank_of(low, high)
    results = [
        ModelRating(
            model=battles.models[i],
            rating=float(point[i]),
            ci_low=float(low[i]) if samples is not None else None,
            ci_high=float(high[i]) if samples is not None else None,
            rank=int(rank[i]) if samples is not None else None,
            battles=int(played[i]),
            online_elo=float(online[i]),
        )
        for i in range(m)
    ]
    results.sort(key=lambda r: (-r.rating, r.model))
    return results, coefficients


def score(data: DataDir, request: ResultsRequest) -> ScoreReport:
    _check_request(data, request)
    path = request.battle_log.battles or data.root / data.bench.settings.battles
    if request.battle_log.battles is None and not path.exists():
        raise UsageError(
            f"no battle log at {path}: pass --battles FILE, or fetch the public one with "
            f"`mtb download-baselines --bench {data.bench.name}`"
        )
    style = request.control == "style"
    filters = Filters(
        anonymous_only=not request.battle_log.include_non_anonymous,
        languages=frozenset(request.battle_log.languages) if request.battle_log.languages else None,
        exclude_ties=request.battle_log.exclude_ties,
        dedup=request.battle_log.dedup,
        style=style,
    )
    battles = read_battles(path, filters)
    warnings: list[str] = []
    notes = [f"{path}: {battles.read:,} battle(s) read, {len(battles):,} used"]
    if battles.skipped:
        notes[0] += " (left out: " + ", ".join(f"{n:,} {why}" for why, n in battles.skipped.items()) + ")"
    if request.battle_log.min_battles:
        battles, dropped = keep_models_with(battles, request.battle_log.min_battles)
        if dropped:
            notes.append(
                f"{len(dropped)} model(s) with fewer than {request.battle_log.min_battles} battles left out: "
                + ", ".join(dropped)
            )
    if len(battles) == 0:
        raise DataError(path, "no battle left to rate after the filters" if battles.read else "has no battle")
    rating = request.battle_log.rating or "bt"
    rounds = request.rounds or DEFAULT_ROUNDS
    seed = DEFAULT_SEED if request.seed is None else request.seed
    if request.battle_log.anchor is not None and request.battle_log.anchor[0] not in battles.models:
        raise UsageError(f"--anchor: {request.battle_log.anchor[0]} has no battle here")
    results, coefficients = compute(
        battles,
        rating=rating,
        rounds=rounds,
        seed=seed,
        anchor=request.battle_log.anchor,
        ci=request.ci or rating == "elo",
        style=style,
    )
    groups = groups_that_never_met(battles)
    if len(groups) > 1:
        shown = "; ".join(
            ", ".join(g[:4]) + (f" and {len(g) - 4} more" if len(g) > 4 else "") for g in groups[:3]
        )
        warnings.append(
            f"the battles fall into {len(groups)} groups of models that never met ({shown}): ratings and "
            "ranks compare only within a group"
        )
    alike = one_result_only(battles)
    if alike and any(r.ci_low is not None for r in results):
        warnings.append(
            "every battle ended the same way for: "
            + ", ".join(alike[:10])
            + (f" and {len(alike) - 10} more" if len(alike) > 10 else "")
            + "; the bootstrap redraws that one result, so their intervals understate the uncertainty"
        )
    if coefficients is not None:
        names = ("length", "headers", "lists", "bold")
        notes.append(
            "style coefficients: "
            + ", ".join(f"{n} {v:+.3f}" for n, v in zip(names, coefficients, strict=True))
        )
    if request.plot is not None:
        from mtb.protocols.chatbot_arena.plot import write_ratings_plot

        notes += write_ratings_plot(
            request.plot, results, battles, f"{data.bench.name}: {_kind(rating, style)}"
        )
    title = (
        f"{data.bench.name}: {_kind(rating, style)}, 95% CI from {rounds} bootstrap rounds, "
        f"{len(battles):,} battles"
    )

    def bounds(r: ModelRating) -> str:
        if r.ci_low is None or r.ci_high is None:
            return "-"
        return f"({r.ci_low - r.rating:+.1f}, {r.ci_high - r.rating:+.1f})"

    rows = [
        [r.model, r.rank, round(r.rating, 1), bounds(r), r.battles, round(r.online_elo, 1)] for r in results
    ]
    table = Table(title, ["model", "rank", "rating", "95% CI", "battles", "online_elo"], rows)
    flat_rows = [[r.model, r.rank, r.rating, r.ci_low, r.ci_high, r.battles, r.online_elo] for r in results]
    flat = Table(title, ["model", "rank", "rating", "ci_low", "ci_high", "battles", "online_elo"], flat_rows)
    return ScoreReport(
        records=[r.to_json() for r in results], tables=[table], flat=flat, warnings=warnings, notes=notes
    )


def _kind(rating: str, style: bool) -> str:
    if rating == "elo":
        return "median of bootstrap online Elo"
    return "Bradley–Terry, style controlled" if style else "Bradley–Terry"
