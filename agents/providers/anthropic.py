"""Anthropic's Messages API through the official SDK.

Structured output: the agent's output schema becomes the `input_schema` of one tool, and the model
is forced to call it. Retries with backoff (honouring `retry-after`) on 408/409/429/5xx/529 are the
SDK's own; `ModelRequest.deadline` bounds the whole call, waits included. API version 2026-10-21
(SDK 2.x) takes no sampling parameters, so `temperature` is not sent. The client uses the SDK's aiohttp
transport: half the CPU per call of its httpx one, and CPU per call is what bounds a burst of slow calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anthropic

from agents.providers.base import ModelRequest, ModelResponse, StreamItem, Usage, dumps, parse_json
from agents.providers.errors import translate

DEFAULT_MODEL = "claude-sonnet-5-5"
TOOL_NAME = "submit_output"


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        max_retries: int = 2,
        client: anthropic.AsyncAnthropic | None = None,
    ) -> None:
        """Explicit arguments first; the SDK then reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL."""
        self.model = model
        self._client = client or anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            http_client=anthropic.DefaultAioHttpClient(),
        )

    async def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            async with asyncio.timeout(request.deadline):
                message = await self._client.messages.create(**self._params(request))
        except Exception as exc:
            raise translate(exc, sdk=anthropic, provider=self.name) from exc
        return self._response(message)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        try:
            async with asyncio.timeout(request.deadline):
                async with self._client.messages.stream(**self._params(request)) as events:
                    async for event in events:
                        if event.type == "content_block_delta":
                            delta = event.delta
                            if delta.type == "input_json_delta" and delta.partial_json:
                                yield delta.partial_json
                            elif delta.type == "text_delta" and delta.text:
                                yield delta.text
                    message = await events.get_final_message()
        except Exception as exc:
            raise translate(exc, sdk=anthropic, provider=self.name) from exc
        yield self._response(message)

    async def aclose(self) -> None:
        await self._client.close()

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        return {
            "model": request.model or self.model,
            "system": request.system,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "tools": [
                {
                    "name": TOOL_NAME,
                    "description": f"Submit the result of {request.agent}, matching this schema exactly.",
                    "input_schema": request.output_schema.schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
            "timeout": request.timeout,
        }

    def _response(self, message: Any) -> ModelResponse:
        usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
        for block in message.content:
            if block.type == "tool_use":
                return ModelResponse(block.input, dumps(block.input), usage, self.name, message.model)
        text = "".join(block.text for block in message.content if block.type == "text")
        return ModelResponse(parse_json(text), text, usage, self.name, message.model)
