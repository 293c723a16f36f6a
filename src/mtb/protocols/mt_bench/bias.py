"""The MT-bench pieces of the seed paper's judge-bias experiments (arXiv 2306.05685, §4.2).

    find_numbered_list   the first list numbered n, n+1, ... of at least two items in an answer
    attacked_answer      the repetitive-list attack: a rephrasing of the list inserted at its start
    rename_prompt        the pair prompt with its assistants renamed, and verdicts that follow the names

The experiments themselves (selection, requests, files, summaries) are `mtb.app.bias`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mtb.errors import UsageError
from mtb.protocols.mt_bench.prompts import Verdicts
from mtb.protocols.mt_bench.records import JudgePrompt

# A list item: optional indentation, a number, "." or ")", then text on the same line.
_ITEM = re.compile(r"^[ \t]*(\d{1,4})[.)][ \t]+\S", re.MULTILINE)
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class NumberedList:
    start: int  # where the first item's line begins
    end: int  # where the paragraph of the last item ends (a blank line, or the end of the text)
    items: int

    def text_of(self, answer: str) -> str:
        return answer[self.start : self.end]


def find_numbered_list(text: str) -> NumberedList | None:
    """The first run of items numbered consecutively (1, 2, 3 or 4, 5, ...) with at least two items.

    A number out of sequence (a nested list starting again at 1) ends the run; the
    search then goes on from the next item.
    """
    items = list(_ITEM.finditer(text))
    for first_index, first in enumerate(items):
        run = [first]
        for item in items[first_index + 1 :]:
            if int(item.group(1)) != int(run[-1].group(1)) + 1:
                break
            run.append(item)
        if len(run) >= 2:
            last = run[-1]
            ending = _PARAGRAPH_END.search(text, last.end())
            return NumberedList(first.start(), ending.start() if ending else len(text.rstrip()), len(run))
    return None


# mtb's own words for the rephrasing the paper had GPT-4 do: the same items, no new information.
REPHRASE_INSTRUCTION = (
    "Rewrite the numbered list below in different words. Keep the same items in the same order, "
    "each with the same meaning, as a numbered list. Add no information and leave nothing out. "
    "Reply with the rewritten list only.\n\n{numbered_list}"
)


def rephrase_request(numbered_list: str) -> str:
    return REPHRASE_INSTRUCTION.format(numbered_list=numbered_list)


def usable_rephrasing(reply: str) -> str | None:
    """The numbered list in the rephraser's reply (its other words left out), or None if it has none."""
    found = find_numbered_list(reply)
    return found.text_of(reply).strip() if found is not None else None


def attacked_answer(answer: str, found: NumberedList, rephrased_list: str) -> str:
    """The text before the list, the rephrased list, then the original list and everything after it."""
    return answer[: found.start] + rephrased_list.strip() + "\n" + answer[found.start :]


# ---------------------------------------------------------------- renamed assistants

# Names that are neither letters a judge reads as positions nor "Assistant A/B".
RENAMED = {"A": "X", "B": "Y"}
# "Assistant" in any case, the letter in capitals only ("the assistant a ..." is an article).
_ASSISTANT = re.compile(r"\b((?i:assistant))\s+([AB])\b")
_LABEL = re.compile(r"\[\[([AB])\]\]")


def _rename(text: str) -> str:
    text = _ASSISTANT.sub(lambda m: f"{m.group(1)} {RENAMED[m.group(2)]}", text)
    return _LABEL.sub(lambda m: f"[[{RENAMED[m.group(1)]}]]", text)


def rename_prompt(prompt: JudgePrompt, verdicts: Verdicts) -> tuple[JudgePrompt, Verdicts]:
    """The pair prompt with "Assistant A/B" called "Assistant X/Y" (its verdict labels too), and the
    verdict rules reading the new labels: "X" still names the answer shown first."""
    renamed = replace(
        prompt,
        name=f"{prompt.name}-rename",
        system_prompt=_rename(prompt.system_prompt),
        prompt_template=_rename(prompt.prompt_template),
    )
    for text in (renamed.system_prompt, renamed.prompt_template):
        if _ASSISTANT.search(text):
            raise UsageError(f"judge prompt '{prompt.name}': could not rename every 'Assistant A/B' in it")
    labels = tuple((winner, _rename(label)) for winner, label in verdicts.pair_labels)
    return renamed, Verdicts(verdicts.rating_patterns, labels)
