"""The offline provider: deterministic answers that fit the output schema, derived from the input."""

from __future__ import annotations

from collections.abc import AsyncIterator

from agents.providers.base import ModelRequest, ModelResponse, StreamItem, Usage, dumps
from agents.sample import SamplerCache

_CHARS_PER_TOKEN = 4
_CHUNK = 48


class OfflineProvider:
    """Needs no key and no network; every result says `provider: offline`."""

    name = "offline"
    model = "offline-schema-sampler"

    def __init__(self) -> None:
        self._samplers = SamplerCache()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return self._answer(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        response = self._answer(request)
        for i in range(0, len(response.text), _CHUNK):
            yield response.text[i : i + _CHUNK]
        yield response

    async def aclose(self) -> None:
        return None

    def _answer(self, request: ModelRequest) -> ModelResponse:
        schema = request.output_schema
        output = self._samplers.get(schema, schema.schema)(request.input)
        text = dumps(output)
        prompt = len(request.system) + sum(len(m.content) for m in request.messages)
        usage = Usage(prompt // _CHARS_PER_TOKEN + 1, len(text) // _CHARS_PER_TOKEN + 1)
        return ModelResponse(output, text, usage, self.name, self.model)
