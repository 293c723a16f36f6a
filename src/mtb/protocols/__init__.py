"""The protocol registry: a benchmark manifest's `protocol` → the package that judges and scores it.

    mt-bench        FastChat's llm_judge: single grading or pairwise, judge_prompts.jsonl, a prompt map
    arena-hard      arena-hard-auto v0.1: five-label pairwise against a baseline, Bradley–Terry
    arena-hard-v2   arena-hard-auto v2.0: per-category baselines, mean label scores
    chatbot-arena   Chatbot Arena: Bradley–Terry and Elo ratings from human votes (battle logs)

Each package is imported only when a benchmark of its family is used, and
exposes `PROTOCOL`, an object of `mtb.protocols.base.BenchmarkProtocol`.
This table is the only place that names them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mtb.protocols.base import BenchmarkProtocol

_PACKAGES = {
    "mt-bench": "mtb.protocols.mt_bench",
    "arena-hard": "mtb.protocols.arena_hard",
    "arena-hard-v2": "mtb.protocols.arena_hard_v2",
    "chatbot-arena": "mtb.protocols.chatbot_arena",
}


def protocol_names() -> list[str]:
    return sorted(_PACKAGES)


def get_protocol(name: str) -> BenchmarkProtocol:
    package = importlib.import_module(_PACKAGES[name])
    protocol: BenchmarkProtocol = package.PROTOCOL
    return protocol
