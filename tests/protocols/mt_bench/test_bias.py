"""The MT-bench pieces of the bias experiments: numbered lists, the attack, the renamed prompt."""

from __future__ import annotations

from mtb.protocols.mt_bench.bias import (
    attacked_answer,
    find_numbered_list,
    rename_prompt,
    usable_rephrasing,
)
from mtb.protocols.mt_bench.records import JudgePrompt
from mtb.protocols.mt_bench.verdicts import FASTCHAT, parse_pair_verdict


def test_numbered_lists() -> None:
    text = "Intro.\n\n1. one\n2. two\n   still two\n3) three\n\nOutro."
    found = find_numbered_list(text)
    assert found is not None and found.items == 3
    assert found.text_of(text) == "1. one\n2. two\n   still two\n3) three"
    assert find_numbered_list("1. alone\n\nno list here") is None
    assert find_numbered_list("In 2023. we went\n1995. was a year") is None  # not consecutive
    nested = "1. a\n   1. x\n   2. y\n2. b"
    assert find_numbered_list(nested).text_of(nested).startswith("   1. x")  # type: ignore[union-attr]


def test_attack_inserts_the_rephrasing_at_the_start_of_the_list() -> None:
    text = "Intro.\n\n1. one\n2. two\n\nOutro."
    found = find_numbered_list(text)
    assert found is not None
    rephrased = usable_rephrasing("Sure! Here:\n1. first\n2. second\n\nHope it helps")
    assert rephrased == "1. first\n2. second"
    attacked = attacked_answer(text, found, rephrased)
    assert attacked == "Intro.\n\n1. first\n2. second\n1. one\n2. two\n\nOutro."
    assert usable_rephrasing("No list, sorry.") is None


def test_renamed_prompt_and_its_verdicts() -> None:
    prompt = JudgePrompt(
        "pair-v2",
        "pairwise",
        'Say "[[A]]" if assistant A is better, "[[B]]" if assistant B is, "[[C]]" for a tie. '
        "Give the assistant a fair hearing.",
        "[The Start of Assistant A's Answer]\n{answer_a}\n[The Start of Assistant B's Answer]\n{answer_b}",
        "[[A]]",
    )
    renamed, verdicts = rename_prompt(prompt, FASTCHAT)
    assert renamed.name == "pair-v2-rename"
    assert "Assistant A" not in renamed.prompt_template and "assistant B" not in renamed.system_prompt
    assert (
        "Assistant X's Answer" in renamed.prompt_template
        and '"[[Y]]" if assistant Y' in renamed.system_prompt
    )
    assert "the assistant a fair hearing" in renamed.system_prompt  # an article, left alone
    assert "{answer_a}" in renamed.prompt_template
    assert parse_pair_verdict("X wins [[X]]", verdicts) == "A"
    assert parse_pair_verdict("[[Y]]", verdicts) == "B"
    assert parse_pair_verdict("[[C]]", verdicts) == "tie"
    assert parse_pair_verdict("[[A]]", verdicts) == "error"


def test_spacing_variants_are_renamed() -> None:
    prompt = JudgePrompt("odd", "pairwise", "Assistant\tA or Assistant  B", "{answer_a}{answer_b}", "[[A]]")
    renamed, _ = rename_prompt(prompt, FASTCHAT)
    assert renamed.system_prompt == "Assistant X or Assistant Y"
