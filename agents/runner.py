"""One generic runner for every agent.

validate input → guardrails on input → messages → provider (with fallback) → parse and validate the
output, with one repair round → guardrails on output → result.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agents.errors import FieldError, InputValidationError, OutputValidationError
from agents.guardrails import Guardrails
from agents.providers.base import Message, ModelRequest, ModelResponse, Provider, Usage, dumps
from agents.providers.fallback import FallbackProvider
from agents.spec import AgentSpec

REPAIR_ATTEMPTS = 1


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class RunContext:
    """Who asks, and how this one call should run."""

    request_id: str = field(default_factory=new_request_id)
    tenant: str | None = None
    actor: str | None = None
    provider: str | None = None  # overrides the agent's provider for this call


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Defaults for agents that leave their model settings unset."""

    max_tokens: int = 1024
    temperature: float = 0.3
    timeout: float = 60.0
    deadline: float = 120.0


@dataclass(frozen=True, slots=True)
class AgentResult:
    agent: str
    version: str
    output: dict[str, Any]
    usage: Usage
    latency_ms: float
    provider: str
    model: str
    request_id: str
    attempts: int = 1
    redactions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A piece of streamed output text, already through the guardrails."""

    text: str


StreamEvent = TextChunk | AgentResult


class AgentRunner:
    """Runs any agent against the configured providers."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        *,
        default_provider: str,
        fallbacks: Sequence[str] = (),
        config: RunnerConfig | None = None,
        guardrails: Guardrails | None = None,
    ) -> None:
        unknown = {default_provider, *fallbacks} - set(providers)
        if unknown:
            raise ValueError(f"unknown provider(s): {', '.join(sorted(unknown))}")
        self._providers = dict(providers)
        self.default_provider = default_provider
        self._fallbacks = tuple(fallbacks)
        self._chains: dict[str, Provider] = {}
        self.config = config or RunnerConfig()
        self.guardrails = guardrails or Guardrails()

    async def __aenter__(self) -> AgentRunner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self._providers.values():
            await provider.aclose()

    @property
    def provider_names(self) -> list[str]:
        return list(self._providers)

    def provider_for(self, spec: AgentSpec, context: RunContext | None = None) -> Provider:
        name = (context.provider if context else None) or spec.model.provider or self.default_provider
        chain = self._chains.get(name)
        if chain is None:
            if name not in self._providers:
                raise ValueError(f"agent {spec.name!r} asks for provider {name!r}, which is not configured")
            names = [name, *(f for f in self._fallbacks if f != name)]
            members = [self._providers[n] for n in names]
            chain = members[0] if len(members) == 1 else FallbackProvider(members)
            self._chains[name] = chain
        return chain

    async def invoke(self, spec: AgentSpec, input: Any, context: RunContext | None = None) -> AgentResult:
        context = context or RunContext()
        started = time.perf_counter()
        request, input_redactions = self._request(spec, input, context)
        provider = self.provider_for(spec, context)
        response = await provider.complete(request)
        return await self._finish(spec, request, provider, response, context, started, input_redactions)

    async def stream(
        self, spec: AgentSpec, input: Any, context: RunContext | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Text chunks as the model writes them (guardrails applied), then the validated result."""
        context = context or RunContext()
        started = time.perf_counter()
        request, input_redactions = self._request(spec, input, context)
        provider = self.provider_for(spec, context)
        text_filter = self.guardrails.stream_filter(spec)
        response: ModelResponse | None = None
        async for item in provider.stream(request):
            if isinstance(item, str):
                safe = text_filter.feed(item)
                if safe:
                    yield TextChunk(safe)
            else:
                response = item
        rest = text_filter.finish()
        if rest:
            yield TextChunk(rest)
        assert response is not None, "a provider stream ends with its response"
        yield await self._finish(spec, request, provider, response, context, started, input_redactions)

    # -- the pipeline's steps ------------------------------------------------------------------

    def _request(
        self, spec: AgentSpec, input: Any, context: RunContext
    ) -> tuple[ModelRequest, dict[str, int]]:
        if not isinstance(input, Mapping):
            raise InputValidationError([FieldError("", "the input must be a JSON object")])
        errors = spec.input.errors(input)
        if errors:
            raise InputValidationError(errors)
        clean, redactions = self.guardrails.check_input(spec, input)
        model, cfg = spec.model, self.config
        request = ModelRequest(
            agent=spec.name,
            system=spec.system_prompt,
            messages=(Message("user", _user_message(clean)),),
            input=clean,
            output_schema=spec.output,
            model=model.name,
            max_tokens=model.max_tokens or cfg.max_tokens,
            temperature=model.temperature if model.temperature is not None else cfg.temperature,
            timeout=cfg.timeout,
            deadline=cfg.deadline,
        )
        return request, redactions

    async def _finish(
        self,
        spec: AgentSpec,
        request: ModelRequest,
        provider: Provider,
        response: ModelResponse,
        context: RunContext,
        started: float,
        input_redactions: dict[str, int],
    ) -> AgentResult:
        usage = response.usage
        attempts = 1
        errors = _output_errors(spec, response)
        while errors and attempts <= REPAIR_ATTEMPTS:
            request = _repair(request, response, errors)
            response = await provider.complete(request)
            usage += response.usage
            attempts += 1
            errors = _output_errors(spec, response)
        if errors:
            raise OutputValidationError(errors, attempts=attempts)
        output, redactions = self.guardrails.check_output(spec, response.output)
        for kind, n in input_redactions.items():
            redactions[kind] = redactions.get(kind, 0) + n
        return AgentResult(
            agent=spec.name,
            version=spec.version,
            output=output,
            usage=usage,
            latency_ms=(time.perf_counter() - started) * 1000,
            provider=response.provider,
            model=response.model,
            request_id=context.request_id,
            attempts=attempts,
            redactions=redactions,
        )


def _user_message(input: Mapping[str, Any]) -> str:
    return "Input (JSON):\n" + dumps(input)


def _output_errors(spec: AgentSpec, response: ModelResponse) -> list[FieldError]:
    if response.output is None:
        return [FieldError("", "the answer is not a JSON document")]
    return spec.output.errors(response.output)


def _repair(request: ModelRequest, response: ModelResponse, errors: list[FieldError]) -> ModelRequest:
    listing = "\n".join(f"- {e}" for e in errors[:20])
    note = (
        "Your previous answer does not match the required output schema:\n"
        f"{listing}\n"
        "Answer again with one JSON object that fixes every problem listed."
    )
    messages = (*request.messages, Message("assistant", response.text or "(empty)"), Message("user", note))
    return replace(request, messages=messages)
