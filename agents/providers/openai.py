"""Any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama, llama.cpp) through the official SDK.

Structured output through `response_format` with the agent's output schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai

from agents.providers.base import ModelRequest, ModelResponse, StreamItem, Usage, parse_json
from agents.providers.errors import translate

DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        """Explicit arguments first; the SDK then reads OPENAI_API_KEY and OPENAI_BASE_URL."""
        self.model = model
        self._client = client or openai.AsyncOpenAI(
            api_key=api_key or _placeholder_key(base_url),
            base_url=base_url,
            max_retries=max_retries,
            http_client=openai.DefaultAioHttpClient(),
        )

    async def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            async with asyncio.timeout(request.deadline):
                completion = await self._client.chat.completions.create(**self._params(request))
        except Exception as exc:
            raise translate(exc, sdk=openai, provider=self.name) from exc
        text = completion.choices[0].message.content or "" if completion.choices else ""
        usage = completion.usage
        return ModelResponse(
            parse_json(text),
            text,
            Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            self.name,
            completion.model,
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        parts: list[str] = []
        usage = Usage()
        model = request.model or self.model
        try:
            async with asyncio.timeout(request.deadline):
                chunks = await self._client.chat.completions.create(
                    **self._params(request), stream=True, stream_options={"include_usage": True}
                )
                async for chunk in chunks:
                    model = chunk.model or model
                    if chunk.usage:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                            yield choice.delta.content
        except Exception as exc:
            raise translate(exc, sdk=openai, provider=self.name) from exc
        text = "".join(parts)
        yield ModelResponse(parse_json(text), text, usage, self.name, model)

    async def aclose(self) -> None:
        await self._client.close()

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        messages: list[dict[str, str]] = [{"role": "system", "content": request.system}]
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        return {
            "model": request.model or self.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": request.output_schema.schema, "strict": False},
            },
            "timeout": request.timeout,
        }


def _placeholder_key(base_url: str | None) -> str | None:
    # Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) take any key; the SDK insists on one.
    return "unused" if base_url else None
