"""A provider whose answers come from a function: scripted answers for tests and examples."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agents.providers.base import ModelRequest, ModelResponse, StreamItem, Usage, dumps, parse_json

Answer = Any  # a JSON-able value, or a str of JSON text, or an exception to raise
AnswerFn = Callable[[ModelRequest], Answer | Awaitable[Answer]]


class FunctionProvider:
    """Answers each request with `fn(request)`; records every request it was given."""

    model = "function"

    def __init__(self, fn: AnswerFn, *, name: str = "function", chunk: int = 16) -> None:
        self.name = name
        self._fn = fn
        self._chunk = chunk
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        answer = self._fn(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, BaseException):
            raise answer
        text = answer if isinstance(answer, str) else dumps(answer)
        output = parse_json(text) if isinstance(answer, str) else answer
        return ModelResponse(output, text, Usage(10, max(1, len(text) // 4)), self.name, self.model)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        response = await self.complete(request)
        for i in range(0, len(response.text), self._chunk):
            yield response.text[i : i + self._chunk]
        yield response

    async def aclose(self) -> None:
        return None


def scripted(*answers: Answer, name: str = "scripted") -> FunctionProvider:
    """A provider that gives `answers` in order, then repeats the last one."""
    remaining = list(answers)

    def next_answer(request: ModelRequest) -> Answer:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return FunctionProvider(next_answer, name=name)
