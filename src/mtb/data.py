"""The data directory, in FastChat's layout (`fastchat/llm_judge/data`).

    DATA/judge_prompts.jsonl
    DATA/mt_bench/question.jsonl
    DATA/mt_bench/reference_answer/<model>.jsonl
    DATA/mt_bench/model_answer/<model>.jsonl      one file per model, named after it
    DATA/mt_bench/model_judgment/<judge>_single.jsonl

Which files a benchmark uses comes from its manifest (`questions/<bench>.toml`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mtb.benchmarks import Benchmark
from mtb.errors import DataError
from mtb.jsonl import read_records
from mtb.records import JudgePrompt, ModelAnswer, Question, QuestionId

HOW_TO_PROVIDE = (
    "point --data-dir (or MTB_DATA_DIR) at a folder in FastChat's layout, "
    "for example a copy of FastChat's fastchat/llm_judge/data"
)


def file_stem_safe(name: str) -> str:
    """A model or judge name as a file name: FastChat uses the name itself; '/' cannot be."""
    return name.replace("/", "_")


@dataclass(frozen=True)
class DataDir:
    root: Path
    bench: Benchmark

    def _required(self, relative: str) -> Path:
        path = self.root / relative
        if not path.exists():
            raise DataError(path, f"not found; {HOW_TO_PROVIDE}")
        return path

    @property
    def answer_dir(self) -> Path:
        return self.root / self.bench.answer_dir

    @property
    def judgment_dir(self) -> Path:
        return self.root / self.bench.judgment_dir

    def answer_path(self, model: str) -> Path:
        return self.answer_dir / f"{file_stem_safe(model)}.jsonl"

    def single_judgment_path(self, judge: str) -> Path:
        return self.judgment_dir / f"{file_stem_safe(judge)}_single.jsonl"

    def pair_judgment_path(self, judge: str) -> Path:
        return self.judgment_dir / f"{file_stem_safe(judge)}_pair.jsonl"

    def questions(self) -> list[Question]:
        path = self._required(self.bench.question_file)
        questions = read_records(path, Question.from_json)
        if not questions:
            raise DataError(path, "holds no questions")
        seen: set[QuestionId] = set()
        for question in questions:
            if question.question_id in seen:
                raise DataError(path, f"question_id {question.question_id!r} appears twice")
            seen.add(question.question_id)
        return questions

    def judge_prompts(self) -> dict[str, JudgePrompt]:
        path = self._required(self.bench.judge_prompt_file)
        return {p.name: p for p in read_records(path, JudgePrompt.from_json)}

    def answer_models(self) -> list[str]:
        """Every model with an answer file; as in FastChat, the file name is the model's name."""
        if not self.answer_dir.is_dir():
            return []
        return sorted(p.stem for p in self.answer_dir.glob("*.jsonl"))

    def answers(self, model: str) -> dict[QuestionId, ModelAnswer]:
        return load_answer_file(self.answer_path(model))

    def reference_answers(self, reference_model: str) -> dict[QuestionId, ModelAnswer]:
        path = self.root / self.bench.reference_dir / f"{file_stem_safe(reference_model)}.jsonl"
        if not path.exists():
            raise DataError(
                path,
                f"no reference answers from '{reference_model}'; pass --reference-model "
                f"with the name of a file in {path.parent}, or {HOW_TO_PROVIDE}",
            )
        return load_answer_file(path)


def load_answer_file(path: Path) -> dict[QuestionId, ModelAnswer]:
    """Answers keyed by question id; a later line for the same question wins, as in FastChat."""
    return {a.question_id: a for a in read_records(path, ModelAnswer.from_json)}


def select_questions(questions: Iterable[Question], first_n: int | None) -> list[Question]:
    chosen = list(questions)
    return chosen[:first_n] if first_n is not None else chosen
