"""The options several commands share, defined once: the model's sampling, the API model, the judge.

`generate`, `judge` and `eval` take the same flags with the same meaning; each
is written here once and named in each command's signature.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mtb.cli.common import Mode
from mtb.cli.local_options import LOCAL, LOCAL_JUDGE

API = "Model behind an API (--model)"
JUDGE = "Judge"

# -- how the model answers ---------------------------------------------------------
ApiBaseOption = Annotated[
    list[str] | None,
    typer.Option(
        "--api-base",
        help="OpenAI-compatible base URL ending in /v1 \\[env: OPENAI_BASE_URL, for the openai "
        "provider and litellm's openai/ models]. Repeat it for replicas of one model: requests go to "
        "the least busy, --parallel in flight on each.",
        rich_help_panel=API,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key \\[env: the provider's variable: OPENAI_API_KEY; litellm: by the model's "
        "prefix, e.g. ANTHROPIC_API_KEY for anthropic/...].",
        show_default=False,
        rich_help_panel=API,
    ),
]
ProviderOption = Annotated[
    str,
    typer.Option(
        "--provider",
        help="openai (any OpenAI-compatible server), litellm (provider/model names) or fake "
        "(in-process, deterministic answers, no key; --model fake).",
        rich_help_panel=API,
    ),
]
NumChoicesOption = Annotated[int, typer.Option("--num-choices", min=1, help="Answers per question.")]
MaxTokensOption = Annotated[
    int | None,
    typer.Option(
        "--max-tokens",
        "--max-new-tokens",
        "--max-new-token",
        min=1,
        help="New tokens per turn \\[default: the benchmark's, 1024].",
    ),
]
ForceTemperatureOption = Annotated[
    float | None,
    typer.Option("--force-temperature", min=0.0, help="One temperature for all questions, over the table."),
]
SystemPromptOption = Annotated[
    str | None, typer.Option("--system-prompt", help="A system message before each conversation.")
]
SeedOption = Annotated[
    int | None,
    typer.Option(
        "--seed", min=0, help="Choice i is sampled with seed + i \\[default: 0].", rich_help_panel=LOCAL
    ),
]

# -- the judge ---------------------------------------------------------------------
ModeOption = Annotated[
    Mode | None,
    typer.Option(
        "--mode",
        help="single: a 1-10 score per answer and turn; pairwise-baseline: each model against "
        "--baseline-model; pairwise-all: every pair of --model-list. Pairs are judged in both orders. "
        "\\[default: single; Arena-Hard: pairwise-baseline]",
        rich_help_panel=JUDGE,
    ),
]
BaselineModelOption = Annotated[
    str | None,
    typer.Option(
        "--baseline-model",
        help="pairwise-baseline: the model others are compared with \\[default: the benchmark's].",
        rich_help_panel=JUDGE,
    ),
]
JudgeModelOption = Annotated[
    str | None,
    typer.Option(
        "--judge-model", help="Judge model \\[default: the benchmark's, gpt-4].", rich_help_panel=JUDGE
    ),
]
JudgeApiBaseOption = Annotated[
    str | None,
    typer.Option(
        "--judge-api-base",
        envvar="MTB_JUDGE_API_BASE",
        help="Judge's base URL \\[default: the provider's own endpoint, e.g. api.openai.com]. "
        "OPENAI_BASE_URL is for generation and never moves the judge.",
        rich_help_panel=JUDGE,
    ),
]
JudgeApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--judge-api-key",
        envvar="MTB_JUDGE_API_KEY",
        help="Judge's API key \\[default: the provider's variable: OPENAI_API_KEY; litellm: by the "
        "model's prefix, e.g. ANTHROPIC_API_KEY for anthropic/...].",
        show_default=False,
        rich_help_panel=JUDGE,
    ),
]
JudgeProviderOption = Annotated[
    str,
    typer.Option(
        "--judge-provider",
        help="openai (any OpenAI-compatible server), litellm (provider/model names) or fake "
        "(in-process, deterministic verdicts, no key; --judge-model fake).",
        rich_help_panel=JUDGE,
    ),
]
ReferenceModelOption = Annotated[
    str | None,
    typer.Option(
        "--reference-model", help="Whose reference answers to use \\[default: gpt-4].", rich_help_panel=JUDGE
    ),
]
SamplesOption = Annotated[
    int,
    typer.Option(
        "--samples",
        min=1,
        help="single: K judgments per answer and turn, each recorded; results show their mean and "
        "the judge's own spread.",
        rich_help_panel=JUDGE,
    ),
]
JudgeModelPathOption = Annotated[
    str | None,
    typer.Option(
        "--judge-model-path",
        help="A local judge: a model folder, adapter folder or Hugging Face repo id, run here "
        "(vLLM or transformers), after any local model under test is released. Its name in file names "
        "is --judge-model, else the path's last part.",
        rich_help_panel=LOCAL_JUDGE,
    ),
]

# -- the provider's Batch API ------------------------------------------------------
BATCH = "Batch API (--batch)"
BatchOption = Annotated[
    bool,
    typer.Option(
        "--batch",
        help="Send the requests through the provider's Batch API (OpenAI's /v1/batches, or a server "
        "with the same endpoints): half the price, results within its 24h window. The batches are "
        "recorded beside the output; a rerun collects them and never sends a request twice.",
        rich_help_panel=BATCH,
    ),
]
NoWaitOption = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="With --batch: submit and return; run the same command later to collect the results.",
        rich_help_panel=BATCH,
    ),
]
ForgetBatchesOption = Annotated[
    bool,
    typer.Option(
        "--forget-batches",
        help="Start over: drop the record of earlier batches (they stay at the provider, uncollected).",
        rich_help_panel=BATCH,
    ),
]

# -- limits the user knows -----------------------------------------------------------
LIMITS = "Rate limits"
RpmOption = Annotated[
    float | None,
    typer.Option(
        "--rpm",
        help="Requests per minute the endpoint allows: paced from the first request (the server's "
        "x-ratelimit headers and 429s are followed anyway).",
        rich_help_panel=LIMITS,
    ),
]
TpmOption = Annotated[
    float | None,
    typer.Option(
        "--tpm",
        help="Tokens per minute the endpoint allows (a request counts its prompt and --max-tokens).",
        rich_help_panel=LIMITS,
    ),
]
JudgeRpmOption = Annotated[
    float | None, typer.Option("--judge-rpm", help="The judge's requests per minute.", rich_help_panel=LIMITS)
]
JudgeTpmOption = Annotated[
    float | None, typer.Option("--judge-tpm", help="The judge's tokens per minute.", rich_help_panel=LIMITS)
]
