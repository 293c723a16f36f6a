"""OpenAI's Batch API through the openai SDK: upload the lines, create a batch, poll it, download results.

Any OpenAI-compatible server with `/v1/files` and `/v1/batches` works the same
way (the project's test server serves both).
"""

from __future__ import annotations

import json
from typing import Any, Final

import openai

from mtb.backends.base import EndpointConfig
from mtb.backends.openai_compat import async_client, backend_error_from
from mtb.batch import BatchStatus

ENDPOINT: Final = "/v1/chat/completions"
WINDOW: Final = "24h"  # the only completion window OpenAI offers


class OpenAIBatchClient:
    def __init__(self, config: EndpointConfig) -> None:
        self.client = async_client(config)

    async def submit(self, lines: list[dict[str, Any]], metadata: dict[str, str]) -> tuple[str, str]:
        """Upload the lines as a JSONL file and create a batch of them: (batch id, input file id)."""
        content = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        try:
            uploaded = await self.client.files.create(file=("mtb-batch.jsonl", content), purpose="batch")
            batch = await self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window=WINDOW,
                metadata=metadata,
            )
        except openai.OpenAIError as exc:
            raise backend_error_from(exc) from None
        return batch.id, uploaded.id

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self.client.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise backend_error_from(exc) from None
        counts = batch.request_counts
        return BatchStatus(
            batch.status,
            counts.total if counts else 0,
            counts.completed if counts else 0,
            counts.failed if counts else 0,
            batch.output_file_id,
            batch.error_file_id,
        )

    async def download(self, file_id: str) -> str:
        try:
            content = await self.client.files.content(file_id)
        except openai.OpenAIError as exc:
            raise backend_error_from(exc) from None
        return content.text

    async def aclose(self) -> None:
        await self.client.close()
