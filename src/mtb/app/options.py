"""The typed specs' common parts: checking values as the flags do, and the local-model options.

Every spec field is named as its flag, in snake_case (`first_n` is `--first-n`),
so one checker serves the CLI and the Python API with the same messages, and an
unknown keyword argument can be answered with the closest flag.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mtb.errors import UsageError
from mtb.jsonl import unnamable

# Requests in flight at once (--parallel, --judge-parallel): beyond any provider's limit or any
# batch a local model runs. Unbounded, `eval --judge-parallel 1e30` started that many workers for
# the judge that follows generation, and filled memory until the kernel killed mtb.
MAX_PARALLEL = 10_000


MAX_CHOICES = 100


def flag(default: Any = None, *, minimum: float | None = None, maximum: float | None = None) -> Any:
    """A spec field with the range its flag accepts."""
    metadata = {"minimum": minimum, "maximum": maximum}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def flag_name(name: str, prefix: str = "") -> str:
    return f"--{prefix}{name.replace('_', '-')}"


def _describe(name: str, prefix: str) -> str:
    return f"{prefix.replace('-', '_')}{name} ({flag_name(name, prefix)})"


def _check_value(name: str, value: Any, hint: Any, prefix: str) -> Any:
    """`value` as `hint` wants it (a str path becomes a Path), or a UsageError naming the argument."""
    where = _describe(name, prefix)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        problems = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _check_value(name, value, option, prefix)
            except UsageError as exc:
                problems.append(str(exc))
        raise UsageError(problems[0])
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise UsageError(f"{where}: must be one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        items = [value] if isinstance(value, (str, Path)) else value
        if not isinstance(items, (list, tuple)):
            raise UsageError(f"{where}: expected a list, got {value!r}")
        return [_check_value(name, v, item, prefix) for v in items]
    if origin is tuple:
        kinds = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(kinds):
            raise UsageError(f"{where}: expected {len(kinds)} values, got {value!r}")
        return tuple(_check_value(name, v, k, prefix) for v, k in zip(value, kinds, strict=True))
    if hint is bool:
        if not isinstance(value, bool):
            raise UsageError(f"{where}: expected True or False, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise UsageError(f"{where}: expected a string, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, (str, Path)):
            raise UsageError(f"{where}: expected a path, got {value!r}")
        problem = unnamable(Path(value))
        if problem:
            raise UsageError(f"{where}: {problem}")
        return Path(value)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):  # type: ignore[arg-type]
            raise UsageError(f"{where}: expected {hint.__name__}, got {value!r}")  # type: ignore[union-attr]
        check_fields(value)
        return value
    return value


def check_fields(spec: Any, prefix: str = "") -> None:
    """Check (and normalise) every field of a spec by its type hint and range, as the flags would."""
    hints = typing.get_type_hints(type(spec))
    for spec_field in dataclasses.fields(spec):
        name = spec_field.name
        value = _check_value(name, getattr(spec, name), hints[name], getattr(spec, "flag_prefix", prefix))
        low, high = spec_field.metadata.get("minimum"), spec_field.metadata.get("maximum")
        numbers = value if isinstance(value, list) else [value]
        for number in numbers:
            if not isinstance(number, (int, float)) or isinstance(number, bool):
                continue
            where = _describe(name, getattr(spec, "flag_prefix", prefix))
            if low is not None and number < low:
                raise UsageError(f"{where}: must be {low:g} or more, got {number:g}")
            if high is not None and number > high:
                raise UsageError(f"{where}: must be at most {high:g}, got {number:g}")
        object.__setattr__(spec, name, value)


def unknown_arguments(function: str, given: Mapping[str, Any], known: list[str]) -> None:
    """A TypeError naming the closest known argument (and its flag) for each unknown one."""
    unknown = [name for name in given if name not in known]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r} ({flag_name(close[0])})?" if close else ""
    raise TypeError(f"{function}() got an unexpected keyword argument {name!r}{hint}")


# The options of a local model (transformers or vLLM), named as `generate`'s flags;
# the judge's are the same with a `judge_` prefix (`--judge-dtype`).
@dataclass
class LocalOptions:
    backend: str = "auto"
    chat_template: Path | None = None
    dtype: str | None = None
    revision: str | None = None
    base_model: str | None = None
    merge_adapter: bool = False
    seed: int | None = flag(minimum=0)
    batch_size: int | None = flag(minimum=1)
    tensor_parallel_size: int | None = flag(minimum=1)
    num_gpus_total: int | None = flag(minimum=1)
    max_model_len: int | None = flag(minimum=1)
    gpu_memory_utilization: float | None = flag(minimum=0.01, maximum=1.0)
    flag_prefix: str = field(default="", repr=False, compare=False)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "flag_prefix"]

    @classmethod
    def take(cls, values: dict[str, Any], prefix: str = "") -> LocalOptions:
        """Pop the options named `<prefix><name>` out of `values` (a command's flags, the API's kwargs)."""
        found = {name: values.pop(f"{prefix}{name}") for name in cls.names() if f"{prefix}{name}" in values}
        return cls(**found, flag_prefix=prefix.replace("_", "-"))

    def given(self) -> list[str]:
        """The flags set away from their defaults, as typed: for "only apply to local models" errors."""
        return [
            flag_name(name, self.flag_prefix)
            for name in self.names()
            if getattr(self, name) not in (None, False, "auto")
        ]

    def config(self, model_path: str) -> Any:
        """The backend's `LocalModelConfig`, with mtb's defaults for the options not given."""
        from mtb.backends.local import LocalModelConfig

        return LocalModelConfig(
            model_path=model_path,
            backend=self.backend,
            chat_template=self.chat_template,
            dtype=self.dtype or "auto",
            revision=self.revision,
            seed=0 if self.seed is None else self.seed,
            max_batch_size=self.batch_size or 32,
            tensor_parallel_size=self.tensor_parallel_size or 1,
            num_gpus_total=self.num_gpus_total,
            max_model_len=self.max_model_len,
            gpu_memory_utilization=self.gpu_memory_utilization or 0.9,
            base_model=self.base_model,
            merge_adapter=self.merge_adapter,
        )


@dataclass
class Answering:
    """How a model answers: the sampling flags `generate` and `eval` share."""

    # Answers per question: FastChat's default is 1; 1e30 planned that many requests per question
    # before the first was sent (a hang, then memory filled).
    num_choices: int = flag(1, minimum=1, maximum=MAX_CHOICES)
    max_tokens: int | None = flag(minimum=1)
    force_temperature: float | None = flag(minimum=0.0)
    system_prompt: str | None = None


@dataclass
class Judged:
    """Who judges and how: the judge flags `judge` and `eval` share."""

    mode: Literal["single", "pairwise-baseline", "pairwise-all"] | None = None
    baseline_model: str | None = None
    judge_model: str | None = None
    judge_api_base: str | None = None
    judge_api_key: str | None = field(default=None, repr=False)
    judge_provider: str = "openai"
    reference_model: str | None = None
    # Judgments per item: 100 is far past any use (the paper's K is 5), and `--samples 1e30` planned
    # that many matches, filling memory before the first request.
    samples: int = flag(1, minimum=1, maximum=100)
    judge_model_path: str | None = None
    judge_local: LocalOptions = field(default_factory=lambda: LocalOptions(flag_prefix="judge-"))

    def check_judge(self) -> None:
        """A local judge's flags without one, or an API judge's flags with one, are usage errors."""
        if self.judge_model_path is None:
            given = self.judge_local.given()
            if given:
                raise UsageError(f"{', '.join(given)} only apply to a local judge (--judge-model-path)")
            return
        api_flags = {"--judge-api-base": self.judge_api_base, "--judge-api-key": self.judge_api_key}
        given = [name for name, value in api_flags.items() if value]
        if self.judge_provider != "openai":
            given.append("--judge-provider")
        if given:
            raise UsageError(
                f"{', '.join(given)} only apply to a judge behind an API (not --judge-model-path)"
            )

    @property
    def judge_name(self) -> str | None:
        """The judge's name in file names and records: a local judge's folder's last part unless named."""
        if self.judge_model is None and self.judge_model_path is not None:
            return name_from_path(self.judge_model_path)
        return self.judge_model


@dataclass
class Scope:
    """Where and how far a run goes: the data, the questions, patience and money, shared by every run."""

    first_n: int | None = flag(minimum=1)
    bench: str = "mt_bench"
    data_dir: Path = Path("data")
    timeout: float = flag(600.0, minimum=0.1, maximum=86_400.0)
    max_attempts: int = flag(8, minimum=1)
    max_cost: float | None = None
    price_in: float | None = flag(minimum=0.0)
    price_out: float | None = flag(minimum=0.0)
    # Limits the user knows for the endpoint (per minute): paced from the first request (mtb.ratelimit).
    rpm: float | None = None
    tpm: float | None = None
    # The provider's Batch API: half the price, results within its window (mtb.batch).
    batch: bool = False
    no_wait: bool = False
    forget_batches: bool = False

    def check_batch(self, local: bool, provider: str) -> None:
        """The batch and rate-limit flags fit the endpoint (checked by every spec that has one)."""
        check_limits(("--rpm", self.rpm), ("--tpm", self.tpm))
        if self.no_wait and not self.batch:
            raise UsageError("--no-wait goes with --batch: it submits the batch and returns")
        if self.batch and local:
            raise UsageError("--batch applies to models behind an API, not to local models")
        if self.batch and provider != "openai":
            raise UsageError(
                f"--batch needs --provider openai (the OpenAI Batch API, or a server with its "
                f"/v1/files and /v1/batches), not {provider}"
            )


def check_limits(*limits: tuple[str, float | None]) -> None:
    for name, value in limits:
        if value is not None and not value > 0:
            raise UsageError(f"{name} must be a number above 0 (per minute), not {value:g}")


def rate_limits(rpm: float | None, tpm: float | None) -> Any:
    """The known limits as the engine takes them; None when none is given."""
    if rpm is None and tpm is None:
        return None
    from mtb.ratelimit import RateLimits

    return RateLimits(rpm, tpm)


def name_from_path(path: str) -> str:
    """A model's name in file names and results: its path's (or repo id's) last part."""
    return path.rstrip("/").split("/")[-1]


def describe_model(config: Any, backend: Any) -> str:
    """`path` or `adapter on base`, for the lines said before a local model runs."""
    adapter = backend.adapter
    if adapter is None:
        return str(config.model_path)
    merged = ", merged" if config.merge_adapter else ""
    return f"adapter {adapter.path} on {adapter.base}{merged}"
