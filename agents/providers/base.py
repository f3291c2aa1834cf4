"""The port every model provider implements, and the values that cross it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from agents.schema import CompiledSchema


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One call to a model: what to say, which shape to answer in, and how long to wait."""

    agent: str
    system: str
    messages: tuple[Message, ...]
    input: Mapping[str, Any]
    output_schema: CompiledSchema
    model: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.3
    timeout: float = 60.0  # one attempt
    deadline: float = 120.0  # every attempt and every wait between them


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """What the model answered. `output` is the parsed JSON, or None when the text was not JSON."""

    output: Any
    text: str
    usage: Usage
    provider: str
    model: str


StreamItem = str | ModelResponse
"""A stream yields text chunks, then exactly one ModelResponse."""


@runtime_checkable
class Provider(Protocol):
    """A model provider. `complete` answers at once; `stream` yields text, then the response."""

    name: str

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]: ...

    async def aclose(self) -> None:
        """Release connections; the provider is not used afterwards."""


def parse_json(text: str) -> Any:
    """The JSON document in `text` (tolerating a fenced code block), or None."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
