"""Synthetic Chatbot Arena battle logs in FastChat's clean_battle format, for tests and bench/.

Models have hidden Elo-scale strengths; each battle's outcome is drawn from the
Bradley–Terry probability (shifted by the answers' length difference, so that
style control has something to find), with ties, `tie (bothbad)`, non-anonymous
rows, several languages, conv_metadata and dedup_tag, as the public log has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

LANGUAGES = ("English", "Chinese", "Russian", "German", "unknown")


def model_names(n_models: int) -> list[str]:
    return [f"model-{i:03d}" for i in range(n_models)]


def generate(
    path: Path,
    n_battles: int,
    n_models: int,
    *,
    seed: int = 0,
    layout: str = "json",
    tie_rate: float = 0.25,
    non_anonymous_rate: float = 0.1,
    length_effect: float = 0.3,
) -> dict[str, Any]:
    """Write `n_battles` battles to `path` ("json": an indented array as FastChat writes; "jsonl").

    Returns the hidden strengths by model name (Elo scale), for tests that want them.
    """
    rng = np.random.default_rng(seed)
    names = model_names(n_models)
    strength = rng.normal(1000.0, 120.0, n_models)
    # Some models are far more popular than others, as in the Arena.
    popularity = rng.gamma(2.0, 1.0, n_models)
    popularity /= popularity.sum()
    a = rng.choice(n_models, n_battles, p=popularity)
    b = (a + 1 + rng.choice(n_models - 1, n_battles)) % n_models
    tokens_a = rng.integers(20, 1500, n_battles)
    tokens_b = rng.integers(20, 1500, n_battles)
    length = (tokens_a - tokens_b) / (tokens_a + tokens_b + 1)
    logit = np.log(10) * (strength[a] - strength[b]) / 400 + length_effect * length
    p_a = 1 / (1 + np.exp(-logit))
    tie = rng.random(n_battles) < tie_rate
    a_wins = rng.random(n_battles) < p_a
    bothbad = rng.random(n_battles) < 0.4
    decided = np.where(a_wins, "model_a", "model_b")
    winner = np.where(tie, np.where(bothbad, "tie (bothbad)", "tie"), decided)
    anony = rng.random(n_battles) >= non_anonymous_rate
    language = rng.choice(len(LANGUAGES), n_battles, p=[0.6, 0.15, 0.1, 0.1, 0.05])
    # Distinct, increasing time stamps: FastChat sorts with an unstable sort, so equal ones are ambiguous.
    tstamp = 1_682_000_000.0 + np.cumsum(rng.uniform(0.5, 40.0, n_battles)).round(4)
    turn = rng.integers(1, 4, n_battles)
    sampled = rng.random(n_battles) < 0.8
    high_freq = rng.random(n_battles) < 0.1
    counts = rng.poisson(1.5, (n_battles, 6, 2)).tolist()
    stamps = tstamp.tolist()  # Python floats: their repr is JSON
    with path.open("w", encoding="utf-8") as out:
        if layout == "json":
            out.write("[\n")
        for i in range(n_battles):
            c = counts[i]
            meta = (
                f'"conv_metadata": {{"sum_user_tokens": {int(turn[i]) * 30}, '
                f'"sum_assistant_a_tokens": {int(tokens_a[i])}, '
                f'"sum_assistant_b_tokens": {int(tokens_b[i])}, '
                f'"context_a_tokens": {int(turn[i]) * 30}, "context_b_tokens": {int(turn[i]) * 30}, '
                f'"turns": {int(turn[i])}, '
                f'"header_count_a": {{"h1": {c[0][0]}, "h2": {c[0][1]}, "h3": 0, "h4": 0, '
                f'"h5": 0, "h6": 0}}, '
                f'"list_count_a": {{"ordered": {c[1][0]}, "unordered": {c[1][1]}}}, '
                f'"bold_count_a": {{"**": {c[2][0]}, "__": {c[2][1]}}}, '
                f'"header_count_b": {{"h1": {c[3][0]}, "h2": {c[3][1]}, "h3": 0, "h4": 0, '
                f'"h5": 0, "h6": 0}}, '
                f'"list_count_b": {{"ordered": {c[4][0]}, "unordered": {c[4][1]}}}, '
                f'"bold_count_b": {{"**": {c[5][0]}, "__": {c[5][1]}}}}}'
            )
            record = (
                f'{{"question_id": "{i:08x}", "model_a": "{names[a[i]]}", "model_b": "{names[b[i]]}", '
                f'"winner": "{winner[i]}", "judge": "arena_user_{i % 977}", "turn": {int(turn[i])}, '
                f'"anony": {"true" if anony[i] else "false"}, "language": "{LANGUAGES[language[i]]}", '
                f'"tstamp": {stamps[i]!r}, {meta}, '
                f'"dedup_tag": {{"high_freq": {"true" if high_freq[i] else "false"}, '
                f'"sampled": {"true" if sampled[i] else "false"}}}}}'
            )
            if layout == "json":
                out.write(("  " if i == 0 else ",\n  ") + record)
            else:
                out.write(record + "\n")
        if layout == "json":
            out.write("\n]\n")
    return {name: float(s) for name, s in zip(names, strength, strict=True)}


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The whole file as dicts (for reference implementations in tests, never for mtb itself)."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]
