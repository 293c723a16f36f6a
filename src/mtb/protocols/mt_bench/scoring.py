"""Scores from judgment files, with FastChat's show_result semantics.

Single mode: judgments whose verdict could not be parsed (score -1) are left
out and counted; turn means are over each turn's rows; the average is over
every remaining row pooled (FastChat's "Average"), not the mean of turn means.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from mtb.errors import UsageError
from mtb.jsonl import read_records
from mtb.protocols.mt_bench.records import PairJudgment, SingleJudgment
from mtb.protocols.mt_bench.verdicts import UNPARSED
from mtb.records import QuestionId, sortable_id
from mtb.stats.bootstrap import percentile_interval, seeded_rng
from mtb.tables import Table, record_of

J = TypeVar("J", SingleJudgment, PairJudgment)


@dataclass(frozen=True)
class Loaded(Generic[J]):
    judgments: list[J]
    duplicates: int  # lines repeating an earlier judgment of the same key; the last one counts
    # Judgments of an item (model, question, turn, judge) that a later line judged again under
    # another prompt name: left out, or one item would count twice in the means.
    reprompted: list[J] = field(default_factory=list)


def _load_once_each(path: Path, parse: Callable[[dict[str, Any]], J]) -> Loaded[J]:
    latest: dict[tuple[Any, ...], J] = {}
    last_prompt: dict[tuple[Any, ...], str] = {}  # per item, the prompt of its last line
    lines = 0
    for judgment in read_records(path, parse):
        lines += 1
        latest[judgment.key] = judgment
        last_prompt[judgment.item] = judgment.judge[1]
    kept = [j for j in latest.values() if last_prompt[j.item] == j.judge[1]]
    reprompted = [j for j in latest.values() if last_prompt[j.item] != j.judge[1]]
    return Loaded(kept, lines - len(latest), reprompted)


def load_single_judgments(path: Path) -> Loaded[SingleJudgment]:
    return _load_once_each(path, SingleJudgment.from_json)


def load_pair_judgments(path: Path) -> Loaded[PairJudgment]:
    return _load_once_each(path, PairJudgment.from_json)


@dataclass(frozen=True)
class ModelScore:
    model: str
    turn_means: dict[int, float]
    average: float | None  # None when every verdict lacked a rating (never NaN)
    judgments: int  # judgments counted in the average
    excluded: int  # judgments left out because their verdict had no rating
    categories: dict[str, float]
    # Bootstrap 95% intervals over questions: "average", "turn_1", ... → (low, high).
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    # With --samples K: rated judgments behind the item means, and the judge's own spread
    # (the standard deviation across an item's samples, averaged over items with two or more).
    samples: int | None = None
    judge_sd: float | None = None
    # Where the average falls among the other models in the same file (published baselines).
    placement: str | None = None
    # Judged turns whose answer is not in the benchmark's language (manifest `language`), else None.
    wrong_language: int | None = None
    # The average in each bootstrap round, for `mtb quality` (not printed).
    average_rounds: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"model": self.model}
        for turn, mean in sorted(self.turn_means.items()):
            row[f"turn_{turn}"] = mean
        row.update(
            average=self.average,
            judgments=self.judgments,
            excluded=self.excluded,
            categories=dict(self.categories),
        )
        if self.ci:
            row["ci"] = {name: list(bounds) for name, bounds in self.ci.items()}
        if self.samples is not None:
            row.update(samples=self.samples, judge_sd=self.judge_sd)
        if self.placement is not None:
            row["placement"] = self.placement
        if self.wrong_language is not None:
            row["wrong_language"] = self.wrong_language
        return row


def _rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def single_scores(
    judgments: Iterable[SingleJudgment],
    categories: dict[QuestionId, str],
    *,
    turns: int,
    category_order: Sequence[str] = (),
    model_list: Sequence[str] | None = None,
    include_unrated: bool = False,
) -> list[ModelScore]:
    """One score per model, best first.

    A model whose every verdict lacks a rating is left out, or, with
    `include_unrated`, kept with 0 judgments, its excluded count and no average.
    """
    by_model: dict[str, list[SingleJudgment]] = defaultdict(list)
    for judgment in judgments:
        if model_list is None or judgment.model in model_list:
            by_model[judgment.model].append(judgment)

    scores = []
    for model, rows in by_model.items():
        kept = [j for j in rows if j.score != UNPARSED]
        if not kept:
            if include_unrated:
                scores.append(ModelScore(model, {}, None, 0, len(rows), {}))
            continue
        turn_means = {}
        for turn in range(1, turns + 1):
            turn_scores = [j.score for j in kept if j.turn == turn]
            if turn_scores:
                turn_means[turn] = _mean(turn_scores)
        per_category: dict[str, list[float]] = defaultdict(list)
        for j in kept:
            per_category[categories.get(j.question_id, "unknown")].append(j.score)
        rank = {name: i for i, name in enumerate(category_order)}
        ordered = sorted(per_category, key=lambda c: (rank.get(c, len(rank)), c))
        scores.append(
            ModelScore(
                model=model,
                turn_means=turn_means,
                average=_mean([j.score for j in kept]),
                judgments=len(kept),
                excluded=len(rows) - len(kept),
                categories={c: _mean(per_category[c]) for c in ordered},
            )
        )
    scores.sort(key=lambda s: (s.average is None, -(s.average or 0.0)))
    return scores


@dataclass(frozen=True)
class Collapsed:
    """Judgments with the --samples of one item replaced by their mean (one row per item)."""

    items: list[SingleJudgment]
    samples: dict[str, int]  # rated samples per model, for models with any item judged more than once
    judge_sd: dict[str, float]  # per model: the mean over items of the samples' standard deviation
    unrated_samples: int  # samples without a rating, in items that have rated ones (left out)


def collapse_samples(judgments: Iterable[SingleJudgment]) -> Collapsed:
    """One row per (model, question, turn, judge, prompt): the mean of its rated samples.

    With one sample per item (every published file) the rows come back as they are,
    so FastChat's pooled average is unchanged. An item whose samples all lack a
    rating stays one unrated row (-1).
    """
    import statistics

    groups: dict[tuple[Any, ...], list[SingleJudgment]] = defaultdict(list)
    for j in judgments:
        groups[j.key[:-1]].append(j)
    items: list[SingleJudgment] = []
    spreads: dict[str, list[float]] = defaultdict(list)
    samples: Counter[str] = Counter()
    repeated: set[str] = set()
    unrated = 0
    for rows in groups.values():
        rated = [j.score for j in rows if j.score != UNPARSED]
        first = min(rows, key=lambda j: j.sample)
        if len(rows) == 1:
            items.append(first)
        else:
            repeated.add(first.model)
            unrated += len(rows) - len(rated) if rated else 0
            items.append(replace(first, score=_mean(rated) if rated else UNPARSED))
        samples[first.model] += len(rated)
        if len(rated) >= 2:
            spreads[first.model].append(statistics.stdev(rated))
    return Collapsed(
        items,
        {m: samples[m] for m in repeated},
        {m: _mean(v) for m, v in spreads.items()},
        unrated,
    )


def with_samples(scores: Sequence[ModelScore], collapsed: Collapsed) -> list[ModelScore]:
    return [
        replace(s, samples=collapsed.samples[s.model], judge_sd=collapsed.judge_sd.get(s.model))
        if s.model in collapsed.samples
        else s
        for s in scores
    ]


def placement(score: float, others: Sequence[tuple[str, float]], same_items: int | None = None) -> str:
    """Where `score` falls among other models' averages: "between a (7.94) and b (7.90)".

    An equal average is a tie, said as one ("tied with a (7.94)"), never "below every
    other model". `same_items`, when given, is the number of question turns the
    others' averages were taken over (the ones this model was judged on).
    """
    ties = [m for m, v in others if math.isclose(v, score, rel_tol=0, abs_tol=1e-9)]
    above = [(m, v) for m, v in others if v > score and m not in ties]
    below = [(m, v) for m, v in others if v < score and m not in ties]
    nearest_above = min(above, key=lambda mv: mv[1]) if above else None
    nearest_below = max(below, key=lambda mv: mv[1]) if below else None
    on = f" (on the same {same_items} question turns)" if same_items is not None else ""
    if ties:
        text = f"tied with {', '.join(ties)} ({score:.2f})"
        if nearest_above:
            text += f"; next above: {nearest_above[0]} ({nearest_above[1]:.2f})"
        if nearest_below:
            text += f"; next below: {nearest_below[0]} ({nearest_below[1]:.2f})"
        return text + on
    if nearest_above and nearest_below:
        (high_name, high), (low_name, low) = nearest_above, nearest_below
        return f"between {high_name} ({high:.2f}) and {low_name} ({low:.2f})" + on
    if nearest_below:
        return f"above every other model here; next: {nearest_below[0]} ({nearest_below[1]:.2f})" + on
    if nearest_above:
        return f"below every other model here; next: {nearest_above[0]} ({nearest_above[1]:.2f})" + on
    if same_items is not None:
        return f"no other model here was judged on the same {same_items} question turns"
    return "no other model to compare with"


def with_placement(scores: Sequence[ModelScore], judgments: Sequence[SingleJudgment]) -> list[ModelScore]:
    """Each score placed among the other models of the same judgment file, on the same question turns.

    A model run on 5 questions (--first-n 5) is compared with the others' averages over
    those 5 questions' turns, and only with models judged on every one of them; a
    model judged on fewer is left out. Where some other model's average had to be
    taken over fewer turns than it has, the placement says on how many.
    """
    rated: dict[str, dict[tuple[QuestionId, int], list[float]]] = defaultdict(lambda: defaultdict(list))
    judged: dict[str, set[tuple[QuestionId, int]]] = defaultdict(set)
    for j in judgments:
        judged[j.model].add((j.question_id, j.turn))
        if j.score != UNPARSED:
            rated[j.model][(j.question_id, j.turn)].append(j.score)
    placed = []
    for s in scores:
        if s.average is None:
            placed.append(s)
            continue
        items = judged[s.model]
        others: list[tuple[str, float]] = []
        narrowed = skipped = False
        for model, covered in judged.items():
            if model == s.model:
                continue
            if not items <= covered:
                skipped = True  # judged on fewer of these turns: not compared
                continue
            values = [v for item in items for v in rated[model].get(item, [])]
            if not values:
                continue
            others.append((model, sum(values) / len(values)))
            narrowed = narrowed or len(covered) > len(items)
        said = narrowed or (skipped and not others)
        placed.append(replace(s, placement=placement(s.average, others, len(items) if said else None)))
    return placed


# ---------------------------------------------------------------- uncertainty

DEFAULT_ROUNDS = 1000


def _per_question(rows: Sequence[SingleJudgment], turns: int) -> tuple[list[QuestionId], Any, Any]:
    """Per question: score sums and counts, column 0 for all turns, column t for turn t."""
    import numpy as np

    order = sorted({j.question_id for j in rows}, key=sortable_id)
    index = {qid: i for i, qid in enumerate(order)}
    sums = np.zeros((len(order), turns + 1))
    counts = np.zeros((len(order), turns + 1))
    for j in rows:
        i = index[j.question_id]
        sums[i, 0] += j.score
        counts[i, 0] += 1
        if j.turn <= turns:
            sums[i, j.turn] += j.score
            counts[i, j.turn] += 1
    return order, sums, counts


def bootstrap_means(rows: Sequence[SingleJudgment], turns: int, *, rounds: int, seed: int, model: str) -> Any:
    """rounds × (turns + 1): per round, the average (column 0) and each turn's mean, resampling
    questions with replacement.

    A question carries all its turns with it, so the turn-1 and turn-2 scores
    of one answer stay together, and the average stays FastChat's pooled mean.
    """
    import numpy as np

    _, sums, counts = _per_question(rows, turns)
    draws = seeded_rng(seed, model).integers(0, len(sums), size=(rounds, len(sums)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[draws].sum(axis=1) / counts[draws].sum(axis=1)


def bootstrap_intervals(
    rows: Sequence[SingleJudgment], turns: int, *, rounds: int, seed: int, model: str
) -> dict[str, tuple[float, float]]:
    """95% intervals for the average and each turn mean, from `bootstrap_means`."""
    means = bootstrap_means(rows, turns, rounds=rounds, seed=seed, model=model)
    return intervals_of(means, rows, turns)


def intervals_of(means: Any, rows: Sequence[SingleJudgment], turns: int) -> dict[str, tuple[float, float]]:
    _, _, counts = _per_question(rows, turns)
    intervals = {"average": percentile_interval(means[:, 0])}
    for turn in range(1, turns + 1):
        if counts[:, turn].any():
            intervals[f"turn_{turn}"] = percentile_interval(means[:, turn])
    return intervals


def with_intervals(
    scores: Sequence[ModelScore],
    judgments: Iterable[SingleJudgment],
    *,
    turns: int,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
) -> list[ModelScore]:
    kept: dict[str, list[SingleJudgment]] = defaultdict(list)
    for j in judgments:
        if j.score != UNPARSED:
            kept[j.model].append(j)
    out = []
    for s in scores:
        if not kept[s.model]:
            out.append(s)
            continue
        means = bootstrap_means(kept[s.model], turns, rounds=rounds, seed=seed, model=s.model)
        average_rounds = tuple(float(v) for v in means[:, 0])
        out.append(replace(s, ci=intervals_of(means, kept[s.model], turns), average_rounds=average_rounds))
    return out


@dataclass(frozen=True)
class Comparison:
    model_a: str
    model_b: str
    difference: float  # average of model_a minus average of model_b, over shared questions
    ci_low: float
    ci_high: float
    questions: int
    rounds: int
    # Per category: the same paired bootstrap over the category's shared questions.
    categories: dict[str, CategoryDifference] = field(default_factory=dict)

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def to_json(self) -> dict[str, Any]:
        row = record_of(self, "model_a model_b difference ci_low ci_high questions significant")
        if self.categories:
            row["categories"] = {name: c.to_json() for name, c in self.categories.items()}
        return row


@dataclass(frozen=True)
class CategoryDifference:
    difference: float
    ci_low: float
    ci_high: float
    questions: int

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def to_json(self) -> dict[str, Any]:
        return record_of(self, "difference ci_low ci_high questions significant")


def _paired(s_a: Any, c_a: Any, s_b: Any, c_b: Any, draws: Any) -> tuple[float, float, float]:
    """The difference of pooled means and its 95% interval over the drawn question indices."""
    difference = s_a.sum() / c_a.sum() - s_b.sum() / c_b.sum()
    samples = s_a[draws].sum(axis=1) / c_a[draws].sum(axis=1) - s_b[draws].sum(axis=1) / c_b[draws].sum(
        axis=1
    )
    low, high = percentile_interval(samples)
    return float(difference), low, high


def compare_models(
    judgments: Iterable[SingleJudgment],
    model_a: str,
    model_b: str,
    *,
    turns: int,
    rounds: int,
    seed: int,
    categories: dict[QuestionId, str] | None = None,
    category_order: Sequence[str] = (),
) -> Comparison:
    """Paired bootstrap of the difference in average score, over the questions both were judged on."""

    if model_a == model_b:
        # One model's rows would fill both sides: a difference of 0 "measured" over nothing.
        raise UsageError(f"--compare needs two different models, got '{model_a}' twice")
    rows: dict[str, list[SingleJudgment]] = {model_a: [], model_b: []}
    for j in judgments:
        if j.model in rows and j.score != UNPARSED:
            rows[j.model].append(j)
    for model, found in rows.items():
        if not found:
            raise UsageError(f"--compare: no usable judgments for '{model}'")
    order_a, sums_a, counts_a = _per_question(rows[model_a], turns)
    order_b, sums_b, counts_b = _per_question(rows[model_b], turns)
    shared = sorted(set(order_a) & set(order_b), key=sortable_id)
    if not shared:
        raise UsageError(f"--compare: '{model_a}' and '{model_b}' share no judged question")
    pick_a = [order_a.index(q) for q in shared]
    pick_b = [order_b.index(q) for q in shared]
    s_a, c_a = sums_a[pick_a, 0], counts_a[pick_a, 0]
    s_b, c_b = sums_b[pick_b, 0], counts_b[pick_b, 0]
    # The same questions are drawn for both models: the comparison is paired.
    draws = seeded_rng(seed, model_a, model_b).integers(0, len(shared), size=(rounds, len(shared)))
    difference, low, high = _paired(s_a, c_a, s_b, c_b, draws)
    per_category: dict[str, CategoryDifference] = {}
    if categories is not None:
        import numpy as np

        rank = {name: i for i, name in enumerate(category_order)}
        names = sorted(
            {categories.get(q, "unknown") for q in shared}, key=lambda c: (rank.get(c, len(rank)), c)
        )
        for name in names:
            inside = np.array([i for i, q in enumerate(shared) if categories.get(q, "unknown") == name])
            # Each category resamples its own questions, paired as the whole is.
            picks = seeded_rng(seed, model_a, model_b, name).integers(
                0, len(inside), size=(rounds, len(inside))
            )
            diff, c_low, c_high = _paired(s_a[inside], c_a[inside], s_b[inside], c_b[inside], picks)
            per_category[name] = CategoryDifference(diff, c_low, c_high, len(inside))
    return Comparison(model_a, model_b, difference, low, high, len(shared), rounds, per_category)


def single_table(scores: Sequence[ModelScore], turns: int, *, categories: bool, title: str = "") -> Table:
    """One row per model; with `categories`, a column per category after the totals."""
    turn_names = [f"turn_{t}" for t in range(1, turns + 1)]
    with_ci = any(s.ci for s in scores)
    columns = ["model", *turn_names, "average"]
    if with_ci:
        columns += ["average_ci_low", "average_ci_high"]
    columns += ["judgments", "excluded"]
    language = any(s.wrong_language is not None for s in scores)
    if language:
        columns.append("wrong_language")
    category_names: list[str] = []
    if categories:
        for score in scores:
            category_names += [c for c in score.categories if c not in category_names]
    rows = []
    for score in scores:
        flat = score.to_json()
        row = [flat.get(c) for c in ["model", *turn_names, "average"]]
        if with_ci:
            row += list(score.ci.get("average", (None, None)))
        row += [score.judgments, score.excluded]
        if language:
            row.append(score.wrong_language)
        row += [score.categories.get(c) for c in category_names]
        rows.append(row)
    return Table(title, columns + category_names, rows)


def category_table(scores: Sequence[ModelScore]) -> Table:
    names: list[str] = []
    for score in scores:
        names += [c for c in score.categories if c not in names]
    return Table(
        "Mean score by category",
        ["model", *names],
        [[s.model, *(s.categories.get(c) for c in names)] for s in scores],
    )


# ---------------------------------------------------------------- pairwise


@dataclass(frozen=True)
class PairScore:
    """FastChat's pairwise numbers for one model, and the bias diagnostics FastChat hides."""

    model: str
    win: int
    loss: int
    tie: int  # includes the matches whose two games disagreed, as in FastChat
    excluded: int  # matches left out because a game named no winner
    inconsistent_rate: float | None  # games disagree once positions are swapped
    first_position_rate: float | None  # decisive games won by whichever answer was shown first
    longer_answer_win_rate: float | None  # decided matches won by the longer answer

    @property
    def judgments(self) -> int:
        return self.win + self.loss + self.tie

    # None for a model whose every match named no winner in some game (never NaN).
    @property
    def win_rate(self) -> float | None:
        return _rate(self.win, self.judgments)

    @property
    def loss_rate(self) -> float | None:
        return _rate(self.loss, self.judgments)

    @property
    def win_rate_adjusted(self) -> float | None:
        return self.win_rate_adjusted_or(None)

    def win_rate_adjusted_or(self, default: float | None) -> float | None:
        return (self.win + 0.5 * self.tie) / self.judgments if self.judgments else default

    def to_json(self) -> dict[str, Any]:
        return record_of(
            self,
            "model win loss tie win_rate loss_rate win_rate_adjusted judgments excluded"
            " inconsistent_rate first_position_rate longer_answer_win_rate",
        )


def selected_matches(
    judgments: Iterable[PairJudgment], *, baseline: str | None, model_list: Sequence[str] | None
) -> Iterator[PairJudgment]:
    """The matches a pairwise table counts: against the baseline (when given), of listed models."""
    for j in judgments:
        if baseline is not None and baseline not in (j.model_1, j.model_2):
            continue
        if model_list is not None:
            if baseline is not None:
                other = j.model_2 if j.model_1 == baseline else j.model_1
                if other not in model_list:
                    continue
            elif j.model_1 not in model_list or j.model_2 not in model_list:
                continue
        yield j


def pair_scores(
    judgments: Iterable[PairJudgment],
    *,
    baseline: str | None,
    model_list: Sequence[str] | None = None,
    answer_length: Callable[[str, QuestionId, int], int | None] = lambda model, qid, turn: None,
) -> list[PairScore]:
    """FastChat's show_result for the pairwise modes, plus bias diagnostics.

    In pairwise-baseline mode (`baseline` given) only matches involving the
    baseline count and the baseline gets no row. `model_list` keeps matches
    whose other model is listed (FastChat's filter, whichever order the match
    was stored in) and, without a baseline, matches whose two models are both
    listed. A model whose every match has a game naming no winner is kept, with
    0 judgments and no rates. `answer_length(model, question_id, turn)` gives
    the length of an answer, for the longer-answer diagnostic.
    """
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for j in selected_matches(judgments, baseline=baseline, model_list=model_list):
        models = (j.model_1, j.model_2)
        if "error" in (j.g1_winner, j.g2_winner):
            for m in models:
                counts[m]["excluded"] += 1
            continue
        consistent = j.g1_winner == j.g2_winner
        for m in models:
            counts[m]["inconsistent"] += not consistent
            # Game 1 showed model_1 first, game 2 showed model_2 first.
            for winner, first in ((j.g1_winner, "model_1"), (j.g2_winner, "model_2")):
                if winner != "tie":
                    counts[m]["decisive_games"] += 1
                    counts[m]["first_won"] += winner == first
        if j.g1_winner == "tie" or not consistent:
            for m in models:
                counts[m]["tie"] += 1
            continue
        winner, loser = (j.model_1, j.model_2) if j.g1_winner == "model_1" else (j.model_2, j.model_1)
        counts[winner]["win"] += 1
        counts[loser]["loss"] += 1
        lengths = (answer_length(winner, j.question_id, j.turn), answer_length(loser, j.question_id, j.turn))
        if lengths[0] is not None and lengths[1] is not None and lengths[0] != lengths[1]:
            for m in models:
                counts[m]["length_decided"] += 1
                counts[m]["longer_won"] += lengths[0] > lengths[1]

    scores = []
    for model, c in counts.items():
        if model == baseline:
            continue
        matches = c["win"] + c["loss"] + c["tie"]
        scores.append(
            PairScore(
                model=model,
                win=c["win"],
                loss=c["loss"],
                tie=c["tie"],
                excluded=c["excluded"],
                inconsistent_rate=_rate(c["inconsistent"], matches),
                first_position_rate=_rate(c["first_won"], c["decisive_games"]),
                longer_answer_win_rate=_rate(c["longer_won"], c["length_decided"]),
            )
        )
    scores.sort(key=lambda s: (not s.judgments, -(s.win_rate_adjusted_or(0.0) or 0.0)))
    return scores


PAIR_COLUMNS = [
    "model",
    "win",
    "loss",
    "tie",
    "win_rate",
    "loss_rate",
    "win_rate_adjusted",
    "inconsistent_rate",
    "first_position_rate",
    "longer_answer_win_rate",
    "excluded",
]


def pair_table(scores: Sequence[PairScore], title: str = "") -> Table:
    return Table(title, PAIR_COLUMNS, [[s.to_json()[c] for c in PAIR_COLUMNS] for s in scores])


# ---------------------------------------------------------------- position bias


@dataclass(frozen=True)
class PositionBias:
    """The paper's position-bias table (Table 2) for one judge and prompt, over matches judged in
    both orders. Game 1 shows model_1 first, game 2 shows model_2 first."""

    judge: tuple[str, str]  # (judge model, prompt name), as in the records
    consistent: int  # the same verdict in both orders, ties included
    biased_first: int  # the first-shown answer won both games
    biased_second: int  # the second-shown answer won both games
    error: int  # anything else: a tie in one order only, or a game naming no winner
    pairs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "judge": list(self.judge),
            "consistency": _rate(self.consistent, self.pairs),
            "biased_first": _rate(self.biased_first, self.pairs),
            "biased_second": _rate(self.biased_second, self.pairs),
            "error": _rate(self.error, self.pairs),
            "pairs": self.pairs,
        }


def position_class(g1_winner: str, g2_winner: str) -> str:
    if g1_winner == g2_winner and g1_winner != "error":
        return "consistent"
    if (g1_winner, g2_winner) == ("model_1", "model_2"):
        return "biased_first"
    if (g1_winner, g2_winner) == ("model_2", "model_1"):
        return "biased_second"
    return "error"


def position_bias(judgments: Iterable[PairJudgment]) -> list[PositionBias]:
    """One row per (judge model, prompt), in the order the judges first appear."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for j in judgments:
        counts[j.judge][position_class(j.g1_winner, j.g2_winner)] += 1
    return [
        PositionBias(
            judge,
            c["consistent"],
            c["biased_first"],
            c["biased_second"],
            c["error"],
            sum(c.values()),
        )
        for judge, c in counts.items()
    ]


BIAS_COLUMNS = ["judge", "prompt", "consistency", "biased_first", "biased_second", "error", "pairs"]


def bias_table(rows: Sequence[PositionBias], title: str = "") -> Table:
    return Table(
        title,
        BIAS_COLUMNS,
        [[b.judge[0], b.judge[1], *(b.to_json()[c] for c in BIAS_COLUMNS[2:])] for b in rows],
    )
