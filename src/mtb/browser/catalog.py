"""What `mtb browse` shows, read from the data directory and served as JSON.

A benchmark is any folder `DATA/<bench>/` holding `question.jsonl` (FastChat's
and arena-hard-auto's layout). Everything else is optional and read if present:

    <bench>/model_answer/<model>.jsonl
    <bench>/reference_answer/<model>.jsonl
    <bench>/model_judgment/<judge>_single.jsonl     FastChat single grading
    <bench>/model_judgment/<judge>_pair.jsonl       FastChat pairwise (two games per turn)
    <bench>/model_judgment/<judge>/<model>.jsonl    Arena-Hard (two games per question)
    <bench>/config/judge_config.yaml                Arena-Hard's baseline model
    <bench>/leaderboard/*.csv                       a published leaderboard
    <bench>/human_judgments.json[l]|.parquet        FastChat's published human votes (and
    <bench>/gpt4_pair_judgments.json[l]|.parquet    GPT-4's), for the judge-agreement view
    chatbot-arena/*.json, *.jsonl                   FastChat clean_battle logs: the Arena
                                                    ratings view (rated on first request)

Files are read lazily, once per benchmark. A file that cannot be read is
reported in `problems` and left out; the page still works. No file outside
the data directory is read, even through a symbolic link.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mtb.browser.records import read_any_answer, read_any_games, read_any_question
from mtb.errors import DataError, MtbError
from mtb.jsonl import UnfinishedLine, decode_line, is_unfinished, read_text, unfinished_lines
from mtb.protocols.mt_bench.records import PairJudgment, SingleJudgment
from mtb.records import QuestionId

T = TypeVar("T")

LABEL_CHARS = 128
# Bootstrap rounds for the leaderboard's intervals: 31 models in well under a second.
LEADERBOARD_ROUNDS = 300  # FastChat's qa_browser shows the first 128 characters of a question


@dataclass
class BenchData:
    name: str
    questions: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # model -> qid -> turns
    references: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    single: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    pair: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    games: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    single_files: list[Path] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    heavy_loaded: bool = False
    baseline: str | None = None
    published: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    agreement: dict[str, Any] | None = None
    # The models this data directory's own runs made (an answer file with its run file beside
    # it, or a model of an eval summary), newest first: what the user works on.
    own_models: list[str] = field(default_factory=list)
    # The eval summaries in <bench>/eval/: file, started, models, and the markdown itself.
    summaries: list[dict[str, Any]] = field(default_factory=list)


VOTE_FILES = (
    "human_judgments.json",
    "human_judgments.jsonl",
    "gpt4_pair_judgments.json",
    "gpt4_pair_judgments.jsonl",
    # The Hub's Parquet files, as `download-baselines --bench mt_bench` stores them.
    "human_judgments.parquet",
    "gpt4_pair_judgments.parquet",
)


ARENA_FOLDER = "chatbot-arena"  # the chatbot-arena manifest's folder in the data directory
ARENA_BENCH = "chatbot-arena"


class Catalog:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._loaded: dict[str, BenchData] = {}
        self._lock = threading.Lock()
        # Ratings take seconds on a large log: their own lock, so questions stay browsable meanwhile.
        self._arena_lock = threading.Lock()
        self._arena: dict[str, dict[str, Any]] = {}

    # -- files ---------------------------------------------------------------

    def inside(self, path: Path) -> bool:
        """True when `path`, links followed, lies in the data directory."""
        try:
            return path.resolve().is_relative_to(self.root)
        except OSError:
            return False

    def _files(self, folder: Path, pattern: str) -> list[Path]:
        if not folder.is_dir() or not self.inside(folder):
            return []
        from mtb.provenance import is_run_file

        # Run files (`x.runs.jsonl`, how each output was made) are neither answers nor judgments.
        return sorted(
            p for p in folder.glob(pattern) if p.is_file() and not is_run_file(p) and self.inside(p)
        )

    def benchmarks(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [
            child.name
            for child in sorted(self.root.iterdir())
            if child.is_dir()
            and (child / "question.jsonl").is_file()
            and self.inside(child / "question.jsonl")
        ]

    def bench(self, name: str, *, full: bool = True) -> BenchData:
        """A benchmark's data; `full=False` reads only its questions and file names."""
        if name not in self.benchmarks():
            raise KeyError(name)
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name)
            data = self._loaded[name]
            if full and not data.heavy_loaded:
                self._load_heavy(data)
            return data

    def _records(self, path: Path, parse: Callable[[dict[str, Any]], T], data: BenchData) -> Iterator[T]:
        """Each line of `path` read through the record layer's `parse`; a bad line is listed in
        `problems` as path:line and left out, and a file that cannot be read at all stops there."""
        try:
            for number, obj in iter_json_lines_tolerant(path, data.problems):
                try:
                    yield parse(obj)
                except ValueError as exc:
                    data.problems.append(str(DataError(path, str(exc), number)))
        except MtbError as exc:
            data.problems.append(str(exc))

    def _load(self, name: str) -> BenchData:
        folder = self.root / name
        data = BenchData(name)
        for parsed in self._records(folder / "question.jsonl", read_any_question, data):
            question: dict[str, Any] = {
                "id": str(parsed.question_id),
                "category": parsed.category or "uncategorised",
                "turns": parsed.turns,
                "reference": parsed.reference or [],
            }
            data.questions.append(question)
            data.by_id[question["id"]] = question
        data.models = [p.stem for p in self._files(folder / "model_answer", "*.jsonl")]
        judgments = folder / "model_judgment"
        names = {p.name.removesuffix("_single.jsonl") for p in self._files(judgments, "*_single.jsonl")}
        names |= {p.name.removesuffix("_pair.jsonl") for p in self._files(judgments, "*_pair.jsonl")}
        if judgments.is_dir() and self.inside(judgments):
            names |= {d.name for d in judgments.iterdir() if d.is_dir() and self._files(d, "*.jsonl")}
        data.judges = sorted(names)
        data.summaries = self._summaries(folder / "eval", data)
        data.own_models = self._own_models(folder, data)
        config = folder / "config" / "judge_config.yaml"
        if config.is_file() and self.inside(config):
            try:
                match = re.search(r"^baseline_model:\s*([^\s#]+)", read_text(config), re.M)
            except MtbError as exc:
                data.problems.append(str(exc))
            else:
                data.baseline = match.group(1).strip("'\"") if match else None
        for path in self._files(folder / "leaderboard", "*.csv")[-1:]:
            try:
                rows = list(csv.reader(io.StringIO(read_text(path), newline="")))
            except MtbError as exc:
                data.problems.append(str(exc))
                continue
            except csv.Error as exc:
                data.problems.append(str(DataError(path, f"not valid CSV ({exc})")))
                continue
            if rows:
                data.published = {"file": path.name, "header": rows[0], "rows": rows[1:]}
        return data

    def _summaries(self, folder: Path, data: BenchData) -> list[dict[str, Any]]:
        """`mtb eval`'s summaries, newest first: each JSON's models and start, and its markdown."""
        import json

        found = []
        for path in reversed(self._files(folder, "*.json")):
            markdown = path.with_suffix(".md")
            try:
                summary = json.loads(read_text(path))
                text = read_text(markdown) if markdown.is_file() and self.inside(markdown) else ""
            except (MtbError, ValueError) as exc:
                data.problems.append(f"{path}: {exc}")
                continue
            models = summary.get("models") if isinstance(summary, dict) else None
            if not isinstance(models, list):
                continue
            found.append(
                {
                    "file": str(path.relative_to(self.root)),
                    "started": str(summary.get("started", "")),
                    "models": [str(m) for m in models],
                    "markdown": text,
                }
            )
        return found

    def _own_models(self, folder: Path, data: BenchData) -> list[str]:
        """The models of this directory's own runs, newest first: answers mtb made here (a run file
        beside them), then the models of eval summaries."""
        from mtb.provenance import run_file_for

        answers = self._files(folder / "model_answer", "*.jsonl")
        made = [(run_file_for(p).stat().st_mtime, p.stem) for p in answers if run_file_for(p).is_file()]
        names = [name for _, name in sorted(made, reverse=True)]
        for summary in data.summaries:
            names += [m for m in summary["models"] if m in data.models]
        return list(dict.fromkeys(names))

    def _load_heavy(self, data: BenchData) -> None:
        """Answers, references and judgments: the bulk, read on the first question or leaderboard asked."""
        folder = self.root / data.name
        for kind, target in (("model_answer", data.answers), ("reference_answer", data.references)):
            for path in self._files(folder / kind, "*.jsonl"):
                by_question: dict[str, list[str]] = {}
                for answer in self._records(path, read_any_answer, data):
                    by_question[str(answer.question_id)] = answer.choices[0].turns
                target[path.stem] = by_question
        judgments = folder / "model_judgment"
        for path in self._files(judgments, "*_single.jsonl"):
            data.single_files.append(path)
            for single in self._records(path, SingleJudgment.from_json, data):
                data.single[str(single.question_id)].append(
                    {
                        "model": single.model,
                        "judge": single.judge[0],
                        "prompt": single.judge[1],
                        "turn": single.turn,
                        "score": single.score,
                        "judgment": single.judgment,
                    }
                )
        for path in self._files(judgments, "*_pair.jsonl"):
            for pair in self._records(path, PairJudgment.from_json, data):
                data.pair[str(pair.question_id)].append(
                    {
                        "model_1": pair.model_1,
                        "model_2": pair.model_2,
                        "judge": pair.judge[0],
                        "prompt": pair.judge[1],
                        "turn": pair.turn,
                        "g1_winner": pair.g1_winner,
                        "g2_winner": pair.g2_winner,
                        "g1_judgment": pair.g1_judgment,
                        "g2_judgment": pair.g2_judgment,
                    }
                )
        if judgments.is_dir() and self.inside(judgments):
            for judge_dir in sorted(p for p in judgments.iterdir() if p.is_dir()):
                for path in self._files(judge_dir, "*.jsonl"):
                    for record in self._records(path, read_any_games, data):
                        data.games[str(record.question_id)].append(
                            {
                                "model": record.model or path.stem,
                                "judge": record.judge or judge_dir.name,
                                "games": [
                                    {"score": str(g.score), "judgment": g.judgment} for g in record.games
                                ],
                            }
                        )
        data.heavy_loaded = True

    # -- payloads -------------------------------------------------------------

    def index(self) -> dict[str, Any]:
        benches = []
        for name in self.benchmarks():
            data = self.bench(name, full=False)  # the first page needs no answers yet
            categories = list(dict.fromkeys(q["category"] for q in data.questions))
            benches.append(
                {
                    "name": name,
                    "categories": categories,
                    "questions": [
                        {"id": q["id"], "category": q["category"], "label": _label(q)} for q in data.questions
                    ],
                    "models": data.models,
                    "own_models": data.own_models,
                    "judges": data.judges,
                    "baseline": data.baseline,
                    "problems": data.problems,
                }
            )
        # The page opens on the newest model of the user's own runs, where there is one.
        focus = next(
            ({"bench": b["name"], "model": b["own_models"][0]} for b in benches if b["own_models"]), None
        )
        return {"benchmarks": benches, "arena": [p.name for p in self.arena_logs()], "focus": focus}

    # -- Chatbot Arena ratings -------------------------------------------------

    def arena_logs(self) -> list[Path]:
        """The battle logs in DATA/chatbot-arena/, the manifest's default first. Names only: cheap."""
        folder = self.root / ARENA_FOLDER
        logs = sorted({*self._files(folder, "*.json"), *self._files(folder, "*.jsonl")})
        default = _default_battle_log()
        return sorted(logs, key=lambda p: (p.name != default, p.name))

    def arena(self, log: str) -> dict[str, Any]:
        """The ratings of one battle log, computed by the chatbot-arena protocol's own report on the
        first request and kept. A log that cannot be rated gives no rows and says why in `problems`."""
        path = next((p for p in self.arena_logs() if p.name == log), None)
        if path is None:
            raise KeyError(log)
        with self._arena_lock:
            if log not in self._arena:
                self._arena[log] = self._rate(path)
            return self._arena[log]

    def _rate(self, path: Path) -> dict[str, Any]:
        import time

        from mtb.benchmarks import Benchmark
        from mtb.data import DataDir
        from mtb.protocols.base import BattleLogRequest, ResultsRequest

        result: dict[str, Any] = {"file": path.name, "title": "", "rows": [], "notes": [], "problems": []}
        started = time.monotonic()
        try:
            bench = Benchmark.load(ARENA_BENCH)
            # `mtb results --bench chatbot-arena --battles FILE`, with its defaults (100 rounds).
            report = bench.protocol.score(
                DataDir(self.root, bench), ResultsRequest(battle_log=BattleLogRequest(battles=path))
            )
        except MtbError as exc:
            result["problems"].append(str(exc))
            return self._relative(result, path)
        except (ValueError, ArithmeticError) as exc:  # a log the fit cannot rate; the page goes on
            result["problems"].append(str(DataError(path, f"cannot be rated ({exc})")))
            return self._relative(result, path)
        result["title"] = report.tables[0].title if report.tables else ""
        # JSON has no NaN (a bound no bootstrap round could give): the page shows "-" for None.
        result["rows"] = [
            {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
            for row in report.records
            if isinstance(row, dict)
        ]
        result["notes"] = [*report.notes, *report.warnings]
        result["seconds"] = round(time.monotonic() - started, 3)
        return self._relative(result, path)

    def _relative(self, result: dict[str, Any], path: Path) -> dict[str, Any]:
        """Messages name the log relative to the data directory: an export shows no local paths."""
        shown = str(path.relative_to(self.root))
        for key in ("notes", "problems"):
            result[key] = [message.replace(str(path), shown) for message in result[key]]
        return result

    def question(self, bench: str, question_id: str, models: list[str] | None = None) -> dict[str, Any]:
        data = self.bench(bench)
        question = data.by_id[question_id]
        keep = set(models) if models is not None else None

        def wanted(*names: str) -> bool:
            return keep is None or all(n in keep for n in names)

        return {
            "question": question,
            "answers": {m: a[question_id] for m, a in data.answers.items() if question_id in a and wanted(m)},
            "references": {m: a[question_id] for m, a in data.references.items() if question_id in a},
            "single": [j for j in data.single.get(question_id, []) if wanted(j["model"])],
            "pair": [j for j in data.pair.get(question_id, []) if wanted(j["model_1"], j["model_2"])],
            "games": [j for j in data.games.get(question_id, []) if wanted(j["model"])],
            "baseline": data.baseline,
            "problems": data.problems,
        }

    def leaderboard(self, bench: str, models: list[str] | None = None) -> dict[str, Any]:
        from mtb.benchmarks import Benchmark
        from mtb.protocols.mt_bench import scoring

        data = self.bench(bench)
        try:
            order: tuple[str, ...] = Benchmark.load(bench).category_order
        except MtbError:
            order = tuple(dict.fromkeys(q["category"] for q in data.questions))
        categories: dict[QuestionId, str] = {}
        for q in data.questions:
            categories[q["id"]] = q["category"]
            if q["id"].isdigit():
                categories[int(q["id"])] = q["category"]
        turns = max((len(q["turns"]) for q in data.questions), default=1)
        tables = []
        for path in data.single_files:
            try:
                with unfinished_lines() as left_out:  # a file `mtb judge` is appending to
                    loaded = scoring.load_single_judgments(path)
            except MtbError as exc:
                data.problems.append(str(exc))
                continue
            data.problems += [str(line) for line in left_out if str(line) not in data.problems]
            scores = scoring.single_scores(
                loaded.judgments, categories, turns=turns, category_order=order, model_list=models
            )
            # 95% intervals over questions, as `mtb results` gives them (fewer rounds: a page, not a paper).
            scores = scoring.with_intervals(
                scores, loaded.judgments, turns=turns, rounds=LEADERBOARD_ROUNDS, seed=0
            )
            axes = [c for c in order if any(c in s.categories for s in scores)]
            tables.append(
                {
                    "judge": path.name.removesuffix("_single.jsonl"),
                    "file": path.name,
                    "turns": turns,
                    "categories": axes,
                    "rows": [s.to_json() for s in scores],
                }
            )
        summaries = [
            summary
            for summary in data.summaries
            if models is None or any(m in models for m in summary["models"])
        ]
        return {
            "bench": bench,
            "single": tables,
            "published": data.published,
            "summaries": summaries,
            "problems": data.problems,
        }

    def agreement(self, bench: str, models: list[str] | None = None) -> dict[str, Any]:
        """Each pair of judges (mtb pair files, published human and GPT-4 votes): agreement per turn,
        and the matches where they disagree; with `models`, only matches between those models.
        Read once per benchmark."""
        from mtb.protocols.mt_bench import agreement as votes_of

        data = self.bench(bench, full=False)
        with self._lock:
            if data.agreement is not None and models is None:
                return data.agreement
            folder = self.root / bench
            paths = [
                folder / name
                for name in VOTE_FILES
                if (folder / name).is_file() and self.inside(folder / name)
            ]
            paths += self._files(folder / "model_judgment", "*_pair.jsonl")
            votes: list[votes_of.Vote] = []
            problems: list[str] = []
            for path in paths:
                try:
                    read = votes_of.read_votes(path)
                except MtbError as exc:  # the file is left out; the others are still compared
                    problems.append(str(exc))
                    continue
                votes += [v for v in read.votes if models is None or {v.model_a, v.model_b} <= set(models)]
                problems += read.left_out
            try:
                grouped = votes_of.group(votes)
            except MtbError as exc:
                problems.append(str(exc))
                grouped = {}
            judges = sorted({v.judge for v in votes} - {votes_of.AUTHOR})
            pairs = []
            for judge_1, judge_2 in votes_of.default_pairs(judges):
                rows = votes_of.agreement(grouped, judge_1, judge_2)
                pairs.append(
                    {
                        "judge_1": judge_1,
                        "judge_2": judge_2,
                        "rows": [r.to_json() for r in rows],
                        "disagreements": []
                        if judge_1 == judge_2
                        else votes_of.disagreements(grouped, judge_1, judge_2),
                    }
                )
            result = {
                "bench": bench,
                "files": [p.name for p in paths],
                "judges": judges,
                "pairs": pairs,
                "problems": problems,
            }
            if models is None:
                data.agreement = result
            return result


def _default_battle_log() -> str | None:
    """The file name `mtb results --bench chatbot-arena` reads when --battles is not given."""
    from mtb.benchmarks import find_manifest
    from mtb.resources import load_toml

    try:
        files = load_toml(find_manifest(ARENA_BENCH)).get("files", {})
    except MtbError:
        return None
    battles = files.get("battles") if isinstance(files, dict) else None
    return Path(battles).name if isinstance(battles, str) else None


def _label(question: dict[str, Any]) -> str:
    first = question["turns"][0] if question["turns"] else ""
    text = " ".join(first.split())
    return f"{question['id']}: {text[:LABEL_CHARS]}{'...' if len(text) > LABEL_CHARS else ''}"


def iter_json_lines_tolerant(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like `mtb.jsonl.iter_json_lines`, but a bad line is listed in `problems` and skipped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        problems.append(str(DataError(path, f"cannot be read ({exc.strerror or exc})")))
        return
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                obj = decode_line(path, raw, number)
            except DataError as exc:
                # A file being written (`mtb judge` appending) is shown without its unfinished last
                # line; the page says so where it lists what it skipped.
                problems.append(str(UnfinishedLine(path, number)) if is_unfinished(raw) else str(exc))
                continue
            if obj is not None:
                yield number, obj
