"""Preflight: every step of a command checked before its first paid request.

A new user's `mtb eval` generated every answer (hours, on a GPU) before it found
that the judge had no key. What can be known without a paid request is known
here, for every step at once, and a failure says what to fix:

    the data        the benchmark's questions (or the command that downloads them)
    each model      behind an API: its provider's extra and its key;
                    local: its folder (or Hub id), adapter and base, chat template, extras
    the judge       the same; behind an OpenAI-compatible API, that it answers a models list
    the judge's data  its prompts, planned over (temporarily empty) answer files

Nothing it finds is curable by running the same command again, so no message
here says to; and it writes nothing: a failed preflight leaves the data
directory as it found it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mtb.errors import MissingExtraError, UsageError

if TYPE_CHECKING:
    from mtb.app.evaluate import EvalSpec
    from mtb.app.generate import GenerateSpec
    from mtb.app.options import LocalOptions
    from mtb.app.summary import ModelSpec
    from mtb.backends.base import EndpointConfig
    from mtb.data import DataDir

# Seconds a judge's models list may take: enough for a distant API, short beside a run.
REACHABLE_TIMEOUT = 10.0


def check_eval(spec: EvalSpec, models: list[ModelSpec], data: DataDir) -> None:
    """Every step of `mtb eval`, before any model answers: raises the first problem found."""
    data.questions()
    for model in models:
        check_generation(spec.generate_spec(model))
    check_judge(spec, data)
    check_judge_data(spec, [m.name for m in models], data)
    check_results(spec, data)


def check_results(spec: EvalSpec, data: DataDir) -> None:
    """The results step's own needs: a manifest's `language` needs the language extra and a code
    it knows (found at the end, both left every answer and judgment paid for and no scores)."""
    language = data.bench.language
    if language is None or (spec.mode or "single") != "single":
        return  # pairwise results do not check the answers' language
    from mtb import language as identification

    identification.check_code(language, f"{data.bench.path}: language")


def check_generation(spec: GenerateSpec) -> None:
    """One model's generation: an API model's key and extra, or a local model's files and extras."""
    from mtb.backends import resolve_endpoint

    if spec.model is None:
        check_local_model(spec.model_path or "", "--model-path", spec.local)
        return
    check_provider(spec.provider, "--provider")
    bases: list[str | None] = [b for b in spec.api_base or [] if b] or [None]
    for base in bases:
        resolve_endpoint(
            "generate",
            spec.provider,
            spec.model,
            base,
            spec.api_key,
            spec.timeout,
            key_option="--api-key",
            base_option="--api-base",
        )


def check_judge(spec: EvalSpec, data: DataDir) -> None:
    """The judge: a local one's files and extras, or an API one's key, extra and endpoint."""
    from mtb.backends import resolve_endpoint

    if spec.judge_model_path is not None:
        check_local_model(spec.judge_model_path, "--judge-model-path", spec.judge_local)
        return
    check_provider(spec.judge_provider, "--judge-provider")
    config = resolve_endpoint(
        "judge",
        spec.judge_provider,
        spec.judge_name or data.bench.default_judge,
        spec.judge_api_base,
        spec.judge_api_key,
        spec.timeout,
        key_option="--judge-api-key",
        base_option="--judge-api-base",
    )
    check_reachable(config, "judge", "--judge-api-base")


def check_judge_data(spec: EvalSpec, names: list[str], data: DataDir) -> None:
    """The judge's own inputs (its prompts): planned as a judge that follows generation plans.

    The plan reads the answer files, which may not exist yet; empty ones stand in
    for the check and are taken away again.
    """
    from mtb.app.judge import AnswerWatch, Judging
    from mtb.app.reporter import Recorder

    paths = [data.bench.protocol.answer_output(data, name).path for name in names]
    with placeholder_files(paths, keep=False):
        Judging(spec.judge_spec(names), Recorder(), follow=AnswerWatch())


def check_local_model(model_path: str, flag: str, local: LocalOptions) -> None:
    """A local model's folder (or Hub id), its adapter's base, its chat template and its extras."""
    from mtb.backends.adapters import resolve_adapter
    from mtb.backends.local import check_model_path
    from mtb.backends.local_base import read_chat_template

    check_model_path(model_path, flag)
    adapter = resolve_adapter(model_path, local.base_model)
    if local.chat_template is not None:
        read_chat_template(local.chat_template)
    check_local_extras(local.backend, adapter is not None)


def check_local_extras(backend: str, adapter: bool) -> None:
    """The packages a local model loads with, found without importing them (torch takes seconds)."""
    if backend == "vllm":
        needed, extra = ["vllm"], "vllm"
    else:  # hf, or auto: vLLM when it is installed and a GPU is there, else transformers
        needed, extra = ["torch", "transformers", "jinja2"], "local"
        if adapter and importlib.util.find_spec("vllm") is None:
            needed.append("peft")
    for package in needed:
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError(package, extra)


def check_provider(provider: str, option: str) -> None:
    """A provider's own package (litellm) is there; an unknown provider is named with the known ones."""
    from mtb.backends import provider_names

    if provider not in provider_names():
        raise UsageError(f"{option}: unknown provider '{provider}' (known: {', '.join(provider_names())})")
    if provider == "litellm" and importlib.util.find_spec("litellm") is None:
        raise MissingExtraError("litellm", "litellm")


def check_reachable(config: EndpointConfig, role: str, base_option: str) -> None:
    """An OpenAI-compatible endpoint answers its models list (free) and takes its key.

    Refused connections, unknown hosts and silence are said now, with a refused
    key (401, 403); a server without a models list (404, ...) is let through, as
    the first request will tell.
    """
    if config.provider != "openai" or not config.api_base:
        return
    url = config.api_base.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REACHABLE_TIMEOUT):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise UsageError(
                f"the {role}'s endpoint {config.api_base} refused its key (HTTP {exc.code} on its models "
                f"list); nothing was sent: check {config.key_hint}"
            ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UsageError(
            f"the {role}'s endpoint {config.api_base} cannot be reached ({reason}); nothing was sent: "
            f"start its server, or correct {base_option}"
        ) from None


@contextlib.contextmanager
def placeholder_files(paths: Iterable[Path], *, keep: bool) -> Iterator[list[Path]]:
    """Empty files where `paths` are missing, for a plan made before they are written.

    They are taken away if the block fails, and at its end unless `keep`; the
    list of those made is what the block gets.
    """
    made: list[Path] = []
    folders: list[Path] = []
    try:
        for path in paths:
            if path.exists():
                continue
            for folder in reversed(path.parents):
                if not folder.exists():
                    folders.append(folder)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            made.append(path)
    except OSError as exc:
        _remove(made, folders)
        raise UsageError(f"cannot create the answer files: {exc}") from None
    try:
        yield made
    except BaseException:
        _remove(made, folders)
        raise
    if not keep:
        _remove(made, folders)


def remove_if_empty(paths: Iterable[Path]) -> None:
    """Take away files a run made but never wrote to (a model that answered nothing)."""
    for path in paths:
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()


def _remove(made: list[Path], folders: list[Path]) -> None:
    for path in made:
        with contextlib.suppress(OSError):
            path.unlink()
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if nothing else went in
