"""A chain of providers: the next one is tried when the one before fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from agents.errors import ProviderError
from agents.providers.base import ModelRequest, ModelResponse, Provider, StreamItem


class FallbackProvider:
    """Tries `providers` in order. A stream falls back only before its first chunk."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = tuple(providers)
        self.name = self.providers[0].name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        error: ProviderError | None = None
        for provider in self.providers:
            try:
                return await provider.complete(request)
            except ProviderError as exc:
                error = exc
        assert error is not None
        raise error

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        error: ProviderError | None = None
        for provider in self.providers:
            started = False
            try:
                async for item in provider.stream(request):
                    started = True
                    yield item
                return
            except ProviderError as exc:
                if started:
                    raise
                error = exc
        assert error is not None
        raise error

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
