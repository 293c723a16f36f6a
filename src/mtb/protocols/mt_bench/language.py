"""The answers' language in MT-bench results: which judged turns are in another language than the
manifest's `language`, and KoMT-Bench's penalty, which scores those turns 0."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mtb.data import DataDir, can_name_a_file
from mtb.protocols.mt_bench.records import SingleJudgment

TurnKey = tuple[str, Any, int]  # (model, question_id, turn)


def wrong_language_turns(
    data: DataDir, judgments: Sequence[SingleJudgment], language: str
) -> tuple[set[TurnKey], set[str], list[str]]:
    """The judged turns whose answer is identified as another language, the models checked, and
    warnings for the models whose answers could not be read (they are not checked)."""
    from mtb import language as identification

    identification.check_code(language, f"{data.bench.path}: language")
    flagged: set[TurnKey] = set()
    checked: set[str] = set()
    unreadable: list[str] = []
    answers_of: dict[str, dict[Any, Any] | None] = {}
    verdicts: dict[tuple[str, Any, int], bool] = {}
    for j in judgments:
        if j.model not in answers_of:
            found = can_name_a_file(j.model) and data.answer_path(j.model).is_file()
            answers_of[j.model] = data.answers(j.model) if found else None
            if found:
                checked.add(j.model)
            else:
                unreadable.append(j.model)
        answers = answers_of[j.model]
        if answers is None:
            continue
        answer = answers.get(j.question_id)
        turns = answer.choices[0].turns if answer is not None else []
        if len(turns) < j.turn:
            continue  # no answer to look at: judging would have refused it; nothing to count
        key = (j.model, j.question_id, j.turn)
        if key not in verdicts:
            verdicts[key] = identification.in_other_language(turns[j.turn - 1], language)
        if verdicts[key]:
            flagged.add(key)
    warnings = (
        [f"no answer file for {', '.join(unreadable)}: their answers' language is not checked"]
        if unreadable
        else []
    )
    return flagged, checked, warnings


def zero_scored(judgments: Sequence[SingleJudgment], flagged: set[TurnKey]) -> list[SingleJudgment]:
    """KoMT-Bench's rule: a turn answered in another language scores 0, whatever the judge said."""
    return [replace(j, score=0) if (j.model, j.question_id, j.turn) in flagged else j for j in judgments]


def count_by_model(flagged: set[TurnKey], checked: set[str]) -> dict[str, int]:
    counts = dict.fromkeys(checked, 0)
    for model, _, _ in flagged:
        counts[model] = counts.get(model, 0) + 1
    return counts
