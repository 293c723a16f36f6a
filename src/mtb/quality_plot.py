"""`mtb quality --plot`: each model's benchmark score against its reference rating, both intervals drawn.

matplotlib is the optional extra `mtb[plot]`, imported when a plot is drawn; PNG, SVG
or HTML as `mtb.plots` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mtb.plots import check_path, missing_glyphs, pyplot, save_figure, trace_id
from mtb.tables import shown

if TYPE_CHECKING:
    from mtb.stats.quality import Rated


def write_quality_plot(
    path: Path, scores: Mapping[str, Rated], ratings: Mapping[str, Rated], title: str
) -> list[str]:
    """Draw and save the chart; return notes for the user (characters the font lacks)."""
    check_path(path)
    plt = pyplot()
    figure, ax = plt.subplots(figsize=(9, 7))
    for model in sorted(scores):
        score, rating = scores[model], ratings[model]
        drawn = ax.errorbar(
            [rating.value],
            [score.value],
            xerr=[[rating.value - rating.low], [rating.high - rating.value]],
            yerr=[[score.value - score.low], [score.high - score.value]],
            fmt="o",
            capsize=3,
            markersize=4,
        )
        drawn.lines[0].set_gid(trace_id(model))
        ax.annotate(
            shown(model),
            (rating.value, score.value),
            fontsize="x-small",
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("reference rating (interval)")
    ax.set_ylabel("benchmark score (interval)")
    ax.set_title(shown(title))
    ax.grid(alpha=0.3)
    with missing_glyphs(path) as notes:
        save_figure(path, figure, title)
    return notes
