"""`--plot` for Chatbot Arena: ratings with their 95% intervals, and the pairwise win-fraction heatmap.

The win fraction of row over column is FastChat's: (row's wins as model_a + row's wins as
model_b) / (battles between them), ties counted in the battles and not as wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mtb.protocols.chatbot_arena.records import A_WINS, B_WINS, Battles

if TYPE_CHECKING:
    from mtb.protocols.chatbot_arena.ratings import ModelRating


def win_fractions(battles: Battles, order: Sequence[str]) -> np.ndarray:
    """(models, models): how often the row model beat the column model; NaN where they never met."""
    m = len(battles.models)
    code = battles.model_a.astype(np.int64) * m + battles.model_b
    played = np.bincount(code, minlength=m * m).reshape(m, m)
    a_won = np.bincount(code[battles.outcome == A_WINS], minlength=m * m).reshape(m, m)
    b_won = np.bincount(code[battles.outcome == B_WINS], minlength=m * m).reshape(m, m)
    total = played + played.T
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = (a_won + b_won.T) / total
    fraction[total == 0] = np.nan
    index = [battles.models.index(name) for name in order]
    picked: np.ndarray = fraction[np.ix_(index, index)]
    return picked


def write_ratings_plot(path: Path, results: Sequence[ModelRating], battles: Battles, title: str) -> list[str]:
    """Draw and save the chart; return notes for the user (characters the font lacks)."""
    from mtb import plots

    plots.check_path(path)
    with plots.missing_glyphs(path) as notes:
        _draw(path, results, battles, title)
    return notes


def _draw(path: Path, results: Sequence[ModelRating], battles: Battles, title: str) -> None:
    from mtb import plots
    from mtb.tables import shown

    plt = plots.pyplot()
    names = [r.model for r in results]
    # Control characters as escapes: an ESC in a name made the SVG invalid XML.
    labels = [shown(name) for name in names]
    size = max(6.0, 0.25 * len(names) + 3)
    figure, (left, right) = plt.subplots(1, 2, figsize=(2 * size, size))
    y = np.arange(len(names))[::-1]
    rating = np.array([r.rating for r in results])
    low = np.array([r.rating if r.ci_low is None else r.ci_low for r in results])
    high = np.array([r.rating if r.ci_high is None else r.ci_high for r in results])
    left.errorbar(rating, y, xerr=[rating - low, high - rating], fmt="o", capsize=3)
    left.set_yticks(y, labels, fontsize="small")
    left.set_xlabel("rating (95% interval)")
    left.set_title(title)
    image = right.imshow(win_fractions(battles, names), vmin=0.0, vmax=1.0, cmap="RdBu")
    right.set_xticks(range(len(names)), labels, rotation=90, fontsize="x-small")
    right.set_yticks(range(len(names)), labels, fontsize="x-small")
    right.set_title("fraction of battles the row model won against the column model")
    figure.colorbar(image, ax=right, fraction=0.046)
    figure.tight_layout()
    plots.save_figure(path, figure, title)
