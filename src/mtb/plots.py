"""The per-category radar chart MT-bench results are known for (`mtb results --plot`).

matplotlib is the optional extra `mtb[plot]`; it is imported inside `write_radar`,
never when this module loads. One trace per model, one axis per category, 0-10.
PNG and SVG come straight from matplotlib; HTML is the SVG inside a small page
that needs no script and no network.
"""

from __future__ import annotations

import html
import io
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mtb.errors import MissingExtraError, UsageError
from mtb.protocols.mt_bench.scoring import ModelScore
from mtb.tables import shown

FORMATS = (".png", ".svg", ".html")
SCALE = (0.0, 10.0)


def trace_id(model: str) -> str:
    """The SVG element id of a model's trace (also how tests find it)."""
    return "trace-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in model)


def radar_axes(scores: Sequence[ModelScore], category_order: Sequence[str]) -> list[str]:
    """The benchmark's categories in its order, then any others the scores have."""
    seen = [c for c in category_order if any(c in s.categories for s in scores)]
    for score in scores:
        seen += [c for c in score.categories if c not in seen]
    return seen


def radar_figure(scores: Sequence[ModelScore], category_order: Sequence[str], title: str) -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never a window
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError("matplotlib", "plot") from None

    axes_names = radar_axes(scores, category_order)
    if len(axes_names) < 3:
        raise UsageError(f"a radar chart needs at least 3 categories; these judgments have {len(axes_names)}")
    angles = [2 * math.pi * i / len(axes_names) for i in range(len(axes_names))]
    figure = plt.figure(figsize=(8, 8))
    ax: Any = figure.add_subplot(polar=True)  # a PolarAxes; the stubs type it as plain Axes
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_ylim(*SCALE)
    ax.set_yticks([2, 4, 6, 8, 10])
    ax.set_xticks(angles)
    ax.set_xticklabels(axes_names)
    for score in scores:
        values = [score.categories.get(c, 0.0) for c in axes_names]
        (line,) = ax.plot(
            [*angles, angles[0]],
            [*values, values[0]],
            linewidth=1.5,
            label=f"{shown(score.model)} ({score.average:.2f})",
        )
        line.set_gid(trace_id(score.model))
        ax.fill([*angles, angles[0]], [*values, values[0]], alpha=0.08, color=line.get_color())
    ax.set_title(shown(title), pad=24)
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize="small")
    return figure


def write_radar(
    path: Path, scores: Sequence[ModelScore], category_order: Sequence[str], title: str
) -> list[str]:
    """Draw and save the chart; return notes for the user (characters the font lacks)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--plot: {path} must end in .png, .svg or .html")
    if not scores:
        raise UsageError("--plot: no scores to draw")
    with missing_glyphs(path) as notes:
        save_figure(path, radar_figure(scores, category_order, title), title)
    return notes


_GLYPH = re.compile(r"Glyph \d+ \((.+)\) missing from font")


def _character(described: str) -> str:
    """The character matplotlib names as `\\N{KATAKANA LETTER RU}` (or shows as it is)."""
    import unicodedata

    if described.startswith("\\N{") and described.endswith("}"):
        try:
            return unicodedata.lookup(described[3:-1])
        except KeyError:
            return described
    return described


@contextmanager
def missing_glyphs(path: Path) -> Iterator[list[str]]:
    """Gather matplotlib's missing-glyph warnings into one note, yielded as a list to fill.

    A CJK or emoji model name drew as empty boxes, with one UserWarning (and the source line
    that raised it) per character on stderr; the user gets one line saying which and why.
    """
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield notes
    missing = []
    for warning in caught:
        match = _GLYPH.search(str(warning.message))
        if match is None:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            continue
        char = _character(match.group(1))
        if char not in missing:
            missing.append(char)
    if missing:
        shown_chars = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        notes.append(
            f"{path}: the chart's font has no glyph for {shown_chars}: names using them show as boxes "
            "(install a font that has them, such as Noto Sans CJK, for matplotlib to use)"
        )


def check_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"--plot: {path} must end in .png, .svg or .html")


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend, or the extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never a window
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError("matplotlib", "plot") from None
    return plt


def save_figure(path: Path, figure: Any, title: str) -> None:
    """PNG or SVG as matplotlib writes them; HTML: the SVG inside a page that needs no script or network."""
    import matplotlib.pyplot as plt

    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if suffix == ".html":
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", bbox_inches="tight")
            svg = buffer.getvalue()
            svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype; HTML embeds the element
            page = (
                "<!doctype html>\n<html><head><meta charset='utf-8'>"
                "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
                "style-src 'unsafe-inline'\">"
                f"<title>{html.escape(title)}</title></head>\n<body>\n{svg}\n</body></html>\n"
            )
            path.write_text(page, encoding="utf-8")
        else:
            figure.savefig(path, format=suffix[1:], bbox_inches="tight", dpi=150)
    finally:
        plt.close(figure)
