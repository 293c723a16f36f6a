"""The radar chart: `mtb results --plot` writes it, with one trace per model on the benchmark's axes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtb.cli.main import app

CATEGORIES = ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"]


def write_judgments(data_dir: Path, models: dict[str, int]) -> None:
    """One judgment per (model, question, turn); a model's score is fixed, so means are known."""
    questions = [json.loads(line) for line in (data_dir / "mt_bench/question.jsonl").read_text().splitlines()]
    path = data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for model, score in models.items():
            for q in questions:
                for turn in (1, 2):
                    row = {
                        "question_id": q["question_id"],
                        "model": model,
                        "judge": ["gpt-4", "single-v1"],
                        "user_prompt": "p",
                        "judgment": f"[[{score}]]",
                        "score": score,
                        "turn": turn,
                        "tstamp": 0,
                    }
                    handle.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_radar_has_one_trace_per_model(
    runner: CliRunner, data_dir: Path, tmp_path: Path, suffix: str
) -> None:
    write_judgments(data_dir, {"model-a": 8, "model-b": 3})
    out = tmp_path / f"radar{suffix}"
    result = runner.invoke(
        app, ["results", "--data-dir", str(data_dir), "--plot", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert sorted(re.findall(r'id="(trace-[^"]+)"', text)) == ["trace-model-a", "trace-model-b"]
    for category in CATEGORIES:
        assert f"{category}" in text  # matplotlib writes axis labels as text in SVG
    if suffix == ".html":
        assert (
            text.startswith("<!doctype html>")
            and "<script" not in text
            and "http://" not in text.split("<svg", 1)[0]
        )


def test_radar_png_and_its_traces(data_dir: Path, tmp_path: Path) -> None:
    from mtb.plots import radar_figure
    from mtb.protocols.mt_bench.scoring import single_scores

    write_judgments(data_dir, {"model-a": 8, "model-b": 3})
    from mtb.protocols.mt_bench.scoring import load_single_judgments

    categories = {
        json.loads(line)["question_id"]: json.loads(line)["category"]
        for line in (data_dir / "mt_bench/question.jsonl").read_text().splitlines()
    }
    loaded = load_single_judgments(data_dir / "mt_bench/model_judgment/gpt-4_single.jsonl")
    scores = single_scores(loaded.judgments, categories, turns=2, category_order=CATEGORIES)
    figure = radar_figure(scores, CATEGORIES, "t")
    ax = figure.axes[0]
    traces = {line.get_gid(): list(line.get_ydata()) for line in ax.get_lines()}
    assert traces == {"trace-model-a": [8.0] * 9, "trace-model-b": [3.0] * 9}  # closed loops: 8 axes + 1
    assert [t.get_text() for t in ax.get_xticklabels()] == CATEGORIES
    assert ax.get_ylim() == (0.0, 10.0)

    out = tmp_path / "radar.png"
    from mtb.plots import write_radar

    write_radar(out, scores, CATEGORIES, "t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_needs_a_known_format(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    write_judgments(data_dir, {"model-a": 8})
    result = runner.invoke(app, ["results", "--data-dir", str(data_dir), "--plot", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2
    assert "must end in .png, .svg or .html" in result.output


def test_odd_names_leave_the_svg_valid_and_missing_glyphs_are_one_note(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    # An ESC in a name went into the SVG as it was (invalid XML: browsers refuse the file),
    # and each character the font lacked was a UserWarning with its source line on stderr.
    import xml.dom.minidom

    write_judgments(data_dir, {"esc\x1b[31mx": 8, "日本語モデル": 3})
    out = tmp_path / "radar.svg"
    result = runner.invoke(app, ["results", "--data-dir", str(data_dir), "--plot", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "\x1b" not in text
    xml.dom.minidom.parseString(text)  # raises on a control character
    assert "esc\\x1b[31mx" in text
    assert "UserWarning" not in result.stderr and "missing from font" not in result.stderr
    notes = [line for line in result.stderr.splitlines() if "has no glyph for" in line]
    assert len(notes) <= 1  # none where a CJK font is installed
    if notes:
        assert f"{out}: the chart's font has no glyph for 日" in notes[0]
