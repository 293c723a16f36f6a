"""Arena-Hard-Auto v0.1 (lm-sys/arena-hard-auto at efc012e): judging and scoring.

Judging: each model's answer meets the baseline's in two games. Game 1 shows
the baseline as assistant A, game 2 shows the model as A. The judge ends with
one of five labels ([[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]]); when its
text holds none, it is asked once more to finish its verdict (the config's
number_of_judgment_attempts). Records go to model_judgment/<judge>/<model>.jsonl.

Scoring: each game is a battle of model against baseline; a strong verdict
counts `weight` (3) times and a tie is half a win. Bradley–Terry strengths are
fitted anchored at the baseline, 95% intervals come from bootstrap rounds, and
a model's score is its predicted win rate against the baseline, in percent.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtb.backends.base import Message, SamplingParams
from mtb.data import DataDir, file_stem_safe, select_questions
from mtb.engine import Caller, Job, OutputSpec, PlannedRun, Task, done_keys
from mtb.errors import DataError, MissingExtraError, UsageError
from mtb.jsonl import iter_json_lines
from mtb.records import ModelAnswer, Question, QuestionId, sortable_id

CONTINUE_PROMPT = "continue your judgment and finish by outputting a final verdict label"
WEIGHT = 3  # how many battles a strong verdict (A>>B, B>>A) counts for, as upstream

# ---------------------------------------------------------------- answers


FENCED_CODE = re.compile(r"```([^`]*)```")
HEADERS = [re.compile(rf"^#{{{level}}}\s", re.MULTILINE) for level in range(1, 7)]
ORDERED_ITEM = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
UNORDERED_ITEM = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")


def markdown_counts(text: str) -> dict[str, dict[str, int]]:
    """Headers, list items and bold spans outside fenced code, as add_markdown_info.py counts them."""
    for block in FENCED_CODE.findall(text):
        text = text.replace(block, "")
    return {
        "header_count": {f"h{level}": len(p.findall(text)) for level, p in enumerate(HEADERS, start=1)},
        "list_count": {
            "ordered": len(ORDERED_ITEM.findall(text)),
            "unordered": len(UNORDERED_ITEM.findall(text)),
        },
        "bold_count": {"**": len(BOLD_STARS.findall(text)), "__": len(BOLD_UNDERSCORES.findall(text))},
    }


_ENCODING: Any = None


def token_length(text: str) -> int:
    """Tokens in `text` under cl100k_base, the encoding arena-hard-auto counts with.

    bpe-openai carries the vocabulary in its wheel, so counting works offline;
    its counts equal tiktoken's on all 500 published gpt-4-0314 answers
    (tests/test_arena.py).
    """
    global _ENCODING
    if _ENCODING is None:
        try:
            import bpe_openai
        except ImportError:
            raise MissingExtraError("bpe-openai", "arena") from None
        _ENCODING = bpe_openai.get_encoding("cl100k_base")
    return len(_ENCODING.encode(text, disallowed_special=()))


def answer_turn(text: str) -> dict[str, Any]:
    return {"content": text, "token_len": token_length(text)}


def conv_metadata(text: str) -> dict[str, Any]:
    return {"token_len": token_length(text), **markdown_counts(text)}


# ---------------------------------------------------------------- judging


@dataclass(frozen=True)
class JudgeConfig:
    """The parts of arena-hard-auto's config/judge_config.yaml that define a judgment."""

    system_prompt: str
    prompt_templates: tuple[str, ...]
    verdict_pattern: re.Pattern[str]
    attempts: int
    temperature: float
    max_tokens: int

    @classmethod
    def load(cls, path: Path) -> JudgeConfig:
        import yaml

        if not path.exists():
            raise DataError(path, "judge config not found; point --data-dir at arena-hard-auto's data")
        try:
            table = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise DataError(
                path, f"not valid YAML ({getattr(exc, 'problem', exc)})", None if line is None else line + 1
            ) from None
        if not isinstance(table, dict):
            raise DataError(path, "expected a mapping of settings")

        def get(key: str, kind: type | tuple[type, ...]) -> Any:
            value = table.get(key)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise DataError(path, f"'{key}' is missing or not a {getattr(kind, '__name__', kind)}")
            return value

        templates = get("prompt_template", list)
        if not templates or not all(isinstance(t, str) for t in templates):
            raise DataError(path, "'prompt_template' must be a list of strings")
        try:
            pattern = re.compile(get("regex_pattern", str))
        except re.error as exc:
            raise DataError(path, f"'regex_pattern' is not a valid regex ({exc})") from None
        return cls(
            system_prompt=get("system_prompt", str),
            prompt_templates=tuple(templates),
            verdict_pattern=pattern,
            attempts=get("number_of_judgment_attempts", int),
            temperature=float(get("temperature", (int, float))),
            max_tokens=get("max_tokens", int),
        )


def read_verdict(judgment: str, pattern: re.Pattern[str]) -> tuple[str | None, bool]:
    """(label, ask again?): no label → ask again; one distinct label → it; several → none, final."""
    labels = {m.strip("\n") for m in pattern.findall(judgment) if m != ""}
    if not labels:
        return None, True
    if len(labels) == 1:
        return labels.pop(), False
    return None, False


@dataclass(frozen=True)
class ArenaMatch:
    question: Question
    model: str
    answer: ModelAnswer
    baseline: ModelAnswer

    @property
    def label(self) -> str:
        return f"{self.model} question {self.question.question_id}"


def game_messages(
    config: JudgeConfig, question: Question, first: ModelAnswer, second: ModelAnswer
) -> list[Message]:
    """The judge's opening messages with `first` as assistant A, as upstream's gen_judgment.py."""
    values = {f"question_{i}": turn for i, turn in enumerate(question.turns, start=1)}
    a_turns, b_turns = first.choices[0].turns, second.choices[0].turns
    values.update({f"answer_{i}": turn for i, turn in enumerate(a_turns, start=1)})
    values.update({f"answer_{i}": turn for i, turn in enumerate(b_turns, start=len(a_turns) + 1)})
    messages: list[Message] = [{"role": "system", "content": config.system_prompt}]
    messages += [
        {"role": "user", "content": template.format(**values)} for template in config.prompt_templates
    ]
    return messages


async def play_game(
    caller: Caller, config: JudgeConfig, messages: list[Message], params: SamplingParams
) -> dict[str, Any]:
    conversation = list(messages)
    judgment = ""
    label: str | None = None
    for _ in range(config.attempts):
        reply = (await caller.complete(conversation, params)).text
        judgment += "\n" + reply  # upstream joins every attempt this way, leading newline included
        label, ask_again = read_verdict(judgment, config.verdict_pattern)
        conversation.append({"role": "assistant", "content": reply})
        if not ask_again:
            break
        conversation.append({"role": "user", "content": CONTINUE_PROMPT})
    return {"user_prompt": messages[1]["content"], "judgment": judgment, "score": label}


async def judge_match(
    caller: Caller, match: ArenaMatch, config: JudgeConfig, judge_model: str, params: SamplingParams
) -> dict[str, Any]:
    game_1 = game_messages(config, match.question, match.baseline, match.answer)
    game_2 = game_messages(config, match.question, match.answer, match.baseline)
    games = await asyncio.gather(*(play_game(caller, config, g, params) for g in (game_1, game_2)))
    return {
        "question_id": match.question.question_id,
        "model": match.model,
        "judge": judge_model,
        "games": list(games),
        "tstamp": time.time(),
    }


def parse_judgment(obj: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(obj.get("question_id"), (str, int)) or isinstance(obj.get("question_id"), bool):
        raise ValueError("field 'question_id' must be a string or an integer")
    if not isinstance(obj.get("model"), str):
        raise ValueError("field 'model' must be a string")
    games = obj.get("games")
    if not isinstance(games, list) or not games:
        raise ValueError("field 'games' must be a non-empty list")
    for i, game in enumerate(games):
        if not isinstance(game, dict) or not (
            game.get("score") is None or isinstance(game.get("score"), str)
        ):
            raise ValueError(f"game {i + 1} must be an object whose 'score' is a label or null")
    return obj


def judgment_path(data: DataDir, judge_model: str, model: str) -> Path:
    return data.judgment_dir / file_stem_safe(judge_model) / f"{file_stem_safe(model)}.jsonl"


def judgment_output(path: Path, retry_unparsed: bool) -> OutputSpec:
    def scored(record: dict[str, Any]) -> bool:
        return all(game.get("score") is not None for game in record["games"])

    return OutputSpec(
        path=path,
        parse=parse_judgment,
        key=lambda r: r["question_id"],
        sort_key=lambda r: sortable_id(r["question_id"]),
        is_done=scored if retry_unparsed else (lambda r: True),
    )


@dataclass(frozen=True)
class ArenaPlan:
    judge_model: str
    baseline_model: str
    models: list[str]
    questions: list[Question]
    matches: dict[str, list[ArenaMatch]]  # per model
    specs: dict[str, OutputSpec]
    gaps: list[str]
    already_done: int

    def summary(self, bench: str) -> dict[str, Any]:
        total = sum(len(m) for m in self.matches.values())
        return {
            "bench": bench,
            "mode": "pairwise-baseline",
            "judge": self.judge_model,
            "baseline": self.baseline_model,
            "models": self.models,
            "questions": len(self.questions),
            "judgments": total,
            "already_done": self.already_done,
            "to_make": total - self.already_done,
            "judge_calls": 2 * (total - self.already_done),
            "output": str(next(iter(self.specs.values())).path.parent) if self.specs else "",
        }

    def jobs(self, caller: Caller, config: JudgeConfig, params: SamplingParams) -> list[Job]:
        def task(match: ArenaMatch) -> Task:
            return Task(
                match.question.question_id,
                match.label,
                lambda: judge_match(caller, match, config, self.judge_model, params),
            )

        def tasks_for(model: str) -> Any:
            def make(done: set[Hashable]) -> list[Task]:
                return [task(m) for m in self.matches[model] if m.question.question_id not in done]

            return make

        return [Job(self.specs[model], tasks_for(model)) for model in self.models]


def plan_arena(
    data: DataDir,
    *,
    judge_model: str,
    baseline_model: str,
    models: Sequence[str] | None,
    first_n: int | None,
    retry_unparsed: bool,
) -> ArenaPlan:
    questions = select_questions(data.questions(), first_n)
    chosen = [m for m in (models or data.answer_models()) if m != baseline_model]
    if not chosen:
        raise UsageError(f"no models to judge against {baseline_model}; list them with --model-list")
    answers = {}
    for model in [*chosen, baseline_model]:
        path = data.answer_path(model)
        if not path.exists():
            raise UsageError(f"no answers for '{model}': {path} does not exist")
        answers[model] = data.answers(model)
    gaps = []
    for model, by_question in answers.items():
        missing = [q.question_id for q in questions if q.question_id not in by_question]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            gaps.append(
                f"{model}: no answer to {len(missing)} question(s): {', '.join(map(str, missing[:5]))}{more}"
            )
    matches: dict[str, list[ArenaMatch]] = {}
    specs: dict[str, OutputSpec] = {}
    already = 0
    for model in chosen:
        baseline = answers[baseline_model]
        matches[model] = [
            ArenaMatch(q, model, answers[model][q.question_id], baseline[q.question_id])
            for q in questions
            if q.question_id in answers[model] and q.question_id in baseline
        ]
        specs[model] = judgment_output(judgment_path(data, judge_model, model), retry_unparsed)
        done = done_keys(specs[model])
        already += sum(1 for m in matches[model] if m.question.question_id in done)
    return ArenaPlan(judge_model, baseline_model, chosen, questions, matches, specs, gaps, already)


def planned_run(plan: ArenaPlan, config: JudgeConfig, bench: str) -> PlannedRun:
    params = SamplingParams(temperature=config.temperature, max_tokens=config.max_tokens)

    def count_unparsed() -> int:
        return sum(
            1
            for spec in plan.specs.values()
            if spec.path.exists()
            for _, labels in scan_judgments(spec.path)
            if None in labels
        )

    return PlannedRun(
        summary=plan.summary(bench),
        gaps=plan.gaps,
        # Upstream judges what exists; three published answer files are incomplete.
        gaps_are_fatal=False,
        output=plan.specs[plan.models[0]].path.parent,
        params=params,
        make_jobs=lambda caller: plan.jobs(caller, config, params),
        count_unparsed=count_unparsed,
    )


# ---------------------------------------------------------------- scoring

# Game 1 shows the baseline as A; game 2 shows the model as A. For each label:
# who won ("model", "baseline" or "tie"), and whether the verdict was a strong one.
GAME_1 = {
    "A>>B": ("baseline", True),
    "A>B": ("baseline", False),
    "A=B": ("tie", False),
    "B>A": ("model", False),
    "B>>A": ("model", True),
}
GAME_2 = {
    "A>>B": ("model", True),
    "A>B": ("model", False),
    "A=B": ("tie", False),
    "B>A": ("baseline", False),
    "B>>A": ("baseline", True),
}


@dataclass
class BattleCounts:
    model_wins: float = 0
    baseline_wins: float = 0
    ties: float = 0
    unscored_games: int = 0


def count_battles(
    games: Iterator[tuple[QuestionId, Sequence[str | None]]],
    weight: int = WEIGHT,
    first_game_only: bool = False,
) -> BattleCounts:
    counts = BattleCounts()
    for _, labels in games:
        for table, label in zip((GAME_1, GAME_2), labels[:1] if first_game_only else labels, strict=False):
            outcome = table.get(label or "")
            if outcome is None:
                counts.unscored_games += 1
                continue
            side, strong = outcome
            battles = weight if strong else 1
            if side == "model":
                counts.model_wins += battles
            elif side == "baseline":
                counts.baseline_wins += battles
            else:
                counts.ties += battles
    return counts


# Read straight from the raw bytes: JSON escapes every quote inside a string,
# so `"score":` and `"question_id":` can only be keys, never text in a prompt.
QUESTION_ID = re.compile(rb'"question_id":\s*(?:"([^"\\]*)"|(-?\d+))')
SCORE = re.compile(rb'"score":\s*(?:"([^"\\]*)"|(null))')
TOKEN_LEN = re.compile(rb'"token_len":\s*(\d+)')


def _lines(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(line number, start, end) of each non-blank line, without copying it."""
    start, number, size = 0, 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        number += 1
        first, last = start, end
        start = end + 1
        while first < last and data[first] in b" \t\r":
            first += 1
        while last > first and data[last - 1] in b" \t\r":
            last -= 1
        if first < last:
            yield number, first, last


def scan_judgments(path: Path) -> Iterator[tuple[QuestionId, list[str | None]]]:
    """(question_id, game labels) per line of an arena judgment file.

    The files are large (prompts and judgments of two games per line, about
    7 MB per model) and only the labels matter for scores, so the fields are
    picked out of the raw bytes. A line that does not read that way is decoded
    in full and validated; a bad one is reported as path:line.
    """
    data = path.read_bytes()
    for number, start, end in _lines(data):
        labels: list[str | None] = []
        position = start
        while (at := data.find(b'"score":', position, end)) >= 0:
            found = SCORE.match(data, at, end)
            if found is None:
                break
            labels.append(None if found.group(1) is None else found.group(1).decode())
            position = found.end()
        key = data.find(b'"question_id":', start, end)
        question = QUESTION_ID.match(data, key, end) if key >= 0 else None
        well_formed = data[start] == 0x7B and data[end - 1] == 0x7D  # { ... }
        if question is None or not labels or not well_formed or at >= 0:
            yield _decode_judgment(path, data[start:end], number)
            continue
        raw_id = question.group(1)
        yield (raw_id.decode() if raw_id is not None else int(question.group(2))), labels


def _decode_judgment(path: Path, line: bytes, number: int) -> tuple[QuestionId, list[str | None]]:
    import json

    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        parse_judgment(obj)
    except ValueError as exc:
        raise DataError(path, str(exc) or "not a judgment record", number) from None
    return obj["question_id"], [game.get("score") for game in obj["games"]]


def scan_token_lengths(path: Path) -> list[int]:
    """turns[0].token_len of each answer (else conv_metadata.token_len), read as scan_judgments reads.

    In arena-hard files the first token_len of a line is the first turn's or,
    when the turn has none, conv_metadata's: the value upstream's show_result uses.
    """
    data = path.read_bytes()
    lengths = []
    for number, start, end in _lines(data):
        at = data.find(b'"token_len":', start, end)
        found = TOKEN_LEN.match(data, at, end) if at >= 0 else None
        if found is None:
            lengths.append(_decode_token_length(path, data[start:end], number))
        else:
            lengths.append(int(found.group(1)))
    return lengths


def _decode_token_length(path: Path, line: bytes, number: int) -> int:
    import json

    try:
        obj = json.loads(line)
        turn = obj["choices"][0]["turns"][0]
        value = turn.get("token_len") if isinstance(turn, dict) else None
        if value is None:
            value = obj.get("conv_metadata", {}).get("token_len")
        if value is None:
            value = token_length(turn if isinstance(turn, str) else turn["content"])
        return int(value)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise DataError(path, "not an answer record with a first turn", number) from None


def _file_battles(path: Path) -> BattleCounts:
    return count_battles(scan_judgments(path))


def _file_avg_tokens(path: Path) -> int | None:
    lengths = scan_token_lengths(path) if path.exists() else []
    # Upstream prints the mean as an int, truncating.
    return int(sum(lengths) / len(lengths)) if lengths else None


def _map_files(function: Any, paths: Sequence[Path]) -> list[Any]:
    """`function` over `paths`, spread over the CPU's cores where processes can fork cheaply.

    Reading 74 judgment files is about 500 MB of bytes to scan; this is most
    of `mtb results` for Arena-Hard, and it splits evenly by file.
    """
    import multiprocessing
    import os

    workers = min(len(paths), os.cpu_count() or 1)
    if workers < 2 or len(paths) < 8 or "fork" not in multiprocessing.get_all_start_methods():
        return [function(p) for p in paths]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(function, paths, chunksize=max(1, len(paths) // (4 * workers))))


def _file_games(path: Path) -> list[tuple[QuestionId, list[str | None]]]:
    return list(scan_judgments(path))


def games_by_model(paths: Sequence[Path]) -> dict[str, list[tuple[QuestionId, list[str | None]]]]:
    """Every judgment's game labels, per judgment file (for style control, which needs each battle)."""
    return dict(zip((p.stem for p in paths), _map_files(_file_games, paths), strict=True))


def style_totals_by_model(paths: dict[str, Path]) -> dict[str, dict[QuestionId, dict[str, float]]]:
    return dict(zip(paths, _map_files(load_style_totals, list(paths.values())), strict=True))


def battles_by_model(paths: Sequence[Path]) -> dict[str, BattleCounts]:
    """Battle counts per judgment file, named after the file (the model)."""
    return dict(zip((p.stem for p in paths), _map_files(_file_battles, paths), strict=True))


def avg_tokens_by_model(paths: dict[str, Path]) -> dict[str, int | None]:
    return dict(zip(paths, _map_files(_file_avg_tokens, list(paths.values())), strict=True))


@dataclass(frozen=True)
class ArenaScore:
    model: str
    score: float  # predicted win rate against the baseline, in percent
    ci_low: float
    ci_high: float
    avg_tokens: int | None
    battles: float

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "score": self.score,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "avg_tokens": self.avg_tokens,
        }


def arena_scores(
    counts: dict[str, BattleCounts],
    baseline: str,
    *,
    rounds: int = 100,
    seed: int = 42,
    avg_tokens: dict[str, int | None] | None = None,
) -> list[ArenaScore]:
    """Bradley–Terry scores against `baseline`, with bootstrap 95% intervals."""
    import numpy as np

    from mtb import bradley_terry as bt

    models = sorted(m for m in counts if m != baseline)
    if not models:
        raise UsageError(f"no judgments against {baseline} to score")
    names = [baseline, *models]
    index = np.arange(1, len(names))
    table = np.array(
        [[counts[m].model_wins, counts[m].baseline_wins, counts[m].ties] for m in models], dtype=float
    )

    def strengths(cells: np.ndarray) -> np.ndarray:
        pairs = bt.PairCounts(
            first=index,
            second=np.zeros(len(models), dtype=int),
            first_wins=cells[:, 0] + cells[:, 2] / 2,
            second_wins=cells[:, 1] + cells[:, 2] / 2,
        )
        return bt.fit(pairs, len(names), anchor=0)

    point = strengths(table)
    # A bootstrap round redraws every battle of the table with replacement,
    # as upstream resamples its battle rows: a multinomial over the cells.
    rng = np.random.default_rng(seed)
    total = table.sum()
    cells = rng.multinomial(int(total), (table / total).ravel(), size=rounds).reshape(rounds, *table.shape)
    samples = np.array([strengths(c) for c in cells])
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    tokens = avg_tokens or {}
    scores = [ArenaScore(baseline, 50.0, 50.0, 50.0, tokens.get(baseline), 0.0)]
    for k, model in enumerate(models, start=1):
        scores.append(
            ArenaScore(
                model=model,
                score=float(100 * bt.win_rate(point[k])),
                ci_low=float(100 * bt.win_rate(low[k])),
                ci_high=float(100 * bt.win_rate(high[k])),
                avg_tokens=tokens.get(model),
                battles=float(table[k - 1].sum()),
            )
        )
    scores.sort(key=lambda s: s.score, reverse=True)
    return scores


# ---------------------------------------------------------------- style control

# Which conv_metadata totals each control uses, as upstream's show_result flags:
# --style-control (all four), --length-control-only, --markdown-control-only.
STYLE_CONTROLS = {
    "style": ("token_len", "header_count", "list_count", "bold_count"),
    "length": ("token_len",),
    "markdown": ("header_count", "list_count", "bold_count"),
}


def style_totals(answer: dict[str, Any]) -> dict[str, float]:
    """conv_metadata's four totals for one answer record (computed when the record has none)."""
    metadata = answer.get("conv_metadata")
    if not isinstance(metadata, dict):
        turn = answer["choices"][0]["turns"][0]
        metadata = conv_metadata(turn if isinstance(turn, str) else turn["content"])
    totals = {}
    for name in STYLE_CONTROLS["style"]:
        value = metadata[name]
        totals[name] = float(value if isinstance(value, (int, float)) else sum(value.values()))
    return totals


def load_style_totals(path: Path) -> dict[QuestionId, dict[str, float]]:
    totals = {}
    for number, obj in iter_json_lines(path):
        try:
            totals[obj["question_id"]] = style_totals(obj)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise DataError(path, "answer without conv_metadata or a first turn", number) from None
    return totals


@dataclass(frozen=True)
class StyleResult:
    scores: list[ArenaScore]
    coefficients: dict[str, float]  # style coefficient per feature (on the z-scored features)


def style_controlled_scores(
    battles: dict[str, list[tuple[QuestionId, list[str | None]]]],
    style: dict[str, dict[QuestionId, dict[str, float]]],
    baseline: str,
    control: str,
    *,
    rounds: int = 100,
    seed: int = 42,
    weight: int = WEIGHT,
    avg_tokens: dict[str, int | None] | None = None,
) -> StyleResult:
    """Scores with style held equal, as upstream's --style-control and its two variants.

    For each battle the style features are (baseline − model) / (baseline + model + 1)
    per total, z-scored over all battles; the fit adds one coefficient per
    feature to the Bradley–Terry model (`bradley_terry.fit_with_features`).
    """
    import numpy as np

    from mtb import bradley_terry as bt

    names = STYLE_CONTROLS[control]
    models = sorted(m for m in battles if m != baseline)
    index = {m: i for i, m in enumerate([baseline, *models], start=0)}
    rows: dict[tuple[int, QuestionId, float], float] = {}
    for model in models:
        for question_id, labels in battles[model]:
            for table, label in zip((GAME_1, GAME_2), labels, strict=False):
                verdict = table.get(label or "")
                if verdict is None or question_id not in style[model] or question_id not in style[baseline]:
                    continue
                side, strong = verdict
                y = {"baseline": 1.0, "model": 0.0, "tie": 0.5}[side]
                key = (index[model], question_id, y)
                rows[key] = rows.get(key, 0.0) + (weight if strong else 1)
    if not rows:
        raise UsageError(f"no battles with style data against {baseline}")
    keys = list(rows)
    model_of = np.array([k[0] for k in keys])
    outcome = np.array([k[2] for k in keys])
    counts = np.array([rows[k] for k in keys])
    a = np.array([[style[baseline][k[1]][n] for n in names] for k in keys])
    b = np.array([[style[[baseline, *models][k[0]]][k[1]][n] for n in names] for k in keys])
    diff = (a - b) / (a + b + 1)
    # z-scored over every battle (weighted by how often each occurs), as upstream does over its rows.
    mean = np.average(diff, axis=0, weights=counts)
    std = np.sqrt(np.average((diff - mean) ** 2, axis=0, weights=counts))
    features = (diff - mean) / np.where(std > 0, std, 1.0)

    n_models = len(models) + 1
    point = bt.fit_with_features(model_of, features, outcome, counts, n_models)
    rng = np.random.default_rng(seed)
    total = int(counts.sum())
    samples = []
    for redrawn in rng.multinomial(total, counts / counts.sum(), size=rounds):
        present = redrawn > 0
        fitted = bt.fit_with_features(
            model_of[present], features[present], outcome[present], redrawn[present], n_models, start=point
        )
        samples.append(fitted[:n_models] - fitted[0])
    low, high = np.percentile(np.array(samples), [2.5, 97.5], axis=0)
    ln10 = np.log(bt.ELO_BASE)
    strength = (point[:n_models] - point[0]) * ln10
    tokens = avg_tokens or {}
    scores = [ArenaScore(baseline, 50.0, 50.0, 50.0, tokens.get(baseline), 0.0)]
    for model in models:
        i = index[model]
        scores.append(
            ArenaScore(
                model=model,
                score=float(100 * bt.win_rate(strength[i])),
                ci_low=float(100 * bt.win_rate(low[i] * ln10)),
                ci_high=float(100 * bt.win_rate(high[i] * ln10)),
                avg_tokens=tokens.get(model),
                battles=float(counts[model_of == i].sum()),
            )
        )
    scores.sort(key=lambda s: s.score, reverse=True)
    return StyleResult(scores, {n: float(c) for n, c in zip(names, point[n_models:], strict=True)})
