"""The data directory, in FastChat's layout (`fastchat/llm_judge/data`).

    DATA/judge_prompts.jsonl
    DATA/mt_bench/question.jsonl
    DATA/mt_bench/reference_answer/<model>.jsonl
    DATA/mt_bench/model_answer/<model>.jsonl      one file per model, named after it
    DATA/mt_bench/model_judgment/<judge>_single.jsonl

Which files a benchmark uses comes from its manifest; how they are read, from
its protocol (`mtb.protocols`).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from mtb.benchmarks import Benchmark
from mtb.errors import DataError, UsageError
from mtb.records import ModelAnswer, Question, QuestionId

HOW_TO_PROVIDE = (
    "point --data-dir (or MTB_DATA_DIR) at a folder in FastChat's layout, "
    "for example a copy of FastChat's fastchat/llm_judge/data"
)


def how_to_provide(bench: Benchmark, root: Path) -> str:
    """The command that fills `root` with `bench`'s files, or where to point --data-dir.

    A benchmark whose manifest lists its files ([download]) is one command away; a
    new user meets this first, so it names the command before anything else.
    """
    if "download" not in bench.table:
        return HOW_TO_PROVIDE
    from mtb.benchmarks import find_manifest

    try:
        by_name = find_manifest(bench.path.stem) == bench.path
    except UsageError:
        by_name = False
    bench_arg = bench.path.stem if by_name else str(bench.path)
    command = f"mtb download-baselines --bench {shlex.quote(bench_arg)} --data-dir {shlex.quote(str(root))}"
    return f"fetch the benchmark's files with `{command}`, or {HOW_TO_PROVIDE}"


# A file name holds at most 255 bytes (NAME_MAX on Linux and macOS file systems). Beside an
# output `STEM.jsonl` mtb keeps `STEM.runs.jsonl`, `STEM.jsonl.lock` and, while rewriting,
# `.STEM.runs.jsonl.XXXXXXXX.tmp`: a stem longer than this leaves one of them unnamable.
MAX_STEM_BYTES = 255 - 32


def file_stem_safe(name: str) -> str:
    """A model or judge name as a file name: FastChat uses the name itself; '/' cannot be.

    A name too long to be a file name is a UsageError (the OS would answer ENAMETOOLONG
    from deep inside a run).
    """
    stem = name.replace("/", "_")
    if not stem:
        # `--model ""`: the answer file would be `.jsonl`, hidden, read back as a model '.jsonl'.
        raise UsageError("a model or judge name is empty; give one (--model, --model-id, --judge-model)")
    if "\0" in stem:  # the OS refuses it, as a ValueError from deep inside a run
        raise UsageError(
            f"the name {name!r} holds a NUL character, which no file name can: pick another name "
            "(--model-id, --judge-model)"
        )
    size = len(os.fsencode(stem))
    if size > MAX_STEM_BYTES:
        shown = name if len(name) <= 60 else f"{name[:40]}…{name[-10:]}"
        raise UsageError(
            f"the name '{shown}' is {size} bytes long; mtb names its files after models and judges, "
            f"and a file name holds at most {MAX_STEM_BYTES} bytes of it: pick a shorter name "
            "(--model-id, --judge-model)"
        )
    return stem


def can_name_a_file(name: str) -> bool:
    """Whether `name` can be a model's or judge's file name (a longer one can have no file)."""
    try:
        file_stem_safe(name)
    except UsageError:
        return False
    return True


@dataclass(frozen=True)
class DataDir:
    root: Path
    bench: Benchmark

    def required(self, relative: str) -> Path:
        path = self.root / relative
        if not path.exists():
            raise DataError(path, f"not found; {self.how_to_provide()}")
        if path.is_dir():
            raise DataError(path, "is a folder; expected a file")
        return path

    def how_to_provide(self) -> str:
        """How to fill this data directory: the download command where the manifest has one."""
        return how_to_provide(self.bench, self.root)

    @property
    def question_path(self) -> Path:
        return self.root / self.bench.question_file

    @property
    def answer_dir(self) -> Path:
        return self.root / self.bench.answer_dir

    @property
    def judgment_dir(self) -> Path:
        return self.root / self.bench.judgment_dir

    def answer_path(self, model: str) -> Path:
        return self.answer_dir / f"{file_stem_safe(model)}.jsonl"

    def questions(self) -> list[Question]:
        return self.bench.protocol.read_questions(self)

    def answer_models(self) -> list[str]:
        """Every model with an answer file; as in FastChat, the file name is the model's name."""
        if not self.answer_dir.is_dir():
            return []
        from mtb.provenance import is_run_file

        return sorted(p.stem for p in self.answer_dir.glob("*.jsonl") if p.is_file() and not is_run_file(p))

    def answers(self, model: str) -> dict[QuestionId, ModelAnswer]:
        return self.bench.protocol.read_answers(self.answer_path(model))


def unique_questions(path: Path, questions: list[Question]) -> list[Question]:
    """`questions`, checked: at least one, and no id twice."""
    if not questions:
        raise DataError(path, "holds no questions")
    seen: set[QuestionId] = set()
    for question in questions:
        if question.question_id in seen:
            raise DataError(path, f"question_id {question.question_id!r} appears twice")
        seen.add(question.question_id)
    return questions


def select_questions(
    questions: Iterable[Question], first_n: int | None, only: Collection[QuestionId] | None = None
) -> list[Question]:
    """The first `first_n` questions; with `only`, those it names (for a judge following generation)."""
    chosen = list(questions)
    chosen = chosen[:first_n] if first_n is not None else chosen
    return chosen if only is None else [q for q in chosen if q.question_id in only]
