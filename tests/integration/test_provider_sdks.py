"""The real `anthropic` and `openai` SDKs against fake APIs on loopback: answers, streams, retries, faults."""

from __future__ import annotations

import time

import pytest

from agents import AgentRunner, AgentSpec, Catalog
from agents.errors import ProviderRateLimitError, ProviderTimeoutError, ProviderUnavailableError
from agents.providers.anthropic import AnthropicProvider
from agents.providers.openai import OpenAIProvider
from agents.runner import AgentResult, RunContext, RunnerConfig, TextChunk
from tests.fakes import FakeAnthropic, FakeOpenAI, Fault

INPUT = {"topic": "Reusable bottles for hikers", "content_type": "email"}


@pytest.fixture
def spec(catalog: Catalog) -> AgentSpec:
    return catalog.get("marketing_content_writer")


def _runner(
    anthropic: FakeAnthropic | None = None,
    openai: FakeOpenAI | None = None,
    *,
    fallbacks: tuple[str, ...] = (),
    retries: int = 2,
    config: RunnerConfig | None = None,
) -> AgentRunner:
    providers: dict[str, AnthropicProvider | OpenAIProvider] = {}
    if anthropic is not None:
        providers["anthropic"] = AnthropicProvider(
            api_key="test-key", base_url=anthropic.url, max_retries=retries
        )
    if openai is not None:
        providers["openai"] = OpenAIProvider(
            api_key="test-key", base_url=f"{openai.url}/v1", max_retries=retries
        )
    return AgentRunner(providers, default_provider=next(iter(providers)), fallbacks=fallbacks, config=config)


async def test_anthropic_forced_tool_answer_fits_the_schema(
    fake_anthropic: FakeAnthropic, spec: AgentSpec
) -> None:
    async with _runner(fake_anthropic) as runner:
        result = await runner.invoke(spec, INPUT)
    assert spec.output.errors(result.output) == []
    assert result.provider == "anthropic" and result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    body = fake_anthropic.calls("/v1/messages")[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "submit_output"}
    assert body["tools"][0]["input_schema"] == spec.output_schema
    assert body["system"] == spec.system_prompt
    assert "temperature" not in body  # API 2026-10-21 refuses sampling parameters


async def test_anthropic_stream_yields_json_text_then_the_result(
    fake_anthropic: FakeAnthropic, spec: AgentSpec
) -> None:
    async with _runner(fake_anthropic) as runner:
        events = [e async for e in runner.stream(spec, INPUT)]
    final = events[-1]
    assert isinstance(final, AgentResult)
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert '"headline"' in text and len(events) > 2
    assert spec.output.errors(final.output) == []


@pytest.mark.parametrize("kind", ["rate_limit", "overloaded", "server_error"])
async def test_anthropic_retries_honour_retry_after(
    fake_anthropic: FakeAnthropic, spec: AgentSpec, kind: str
) -> None:
    fake_anthropic.inject(Fault(kind, retry_after=0.01), Fault(kind, retry_after=0.01))  # type: ignore[arg-type]
    started = time.perf_counter()
    async with _runner(fake_anthropic) as runner:
        result = await runner.invoke(spec, INPUT)
    assert [c.fault for c in fake_anthropic.calls()] == [kind, kind, None]
    assert time.perf_counter() - started < 0.5  # retry-after, not the SDK's 0.5 s default backoff
    assert result.attempts == 1


async def test_anthropic_gives_up_after_the_retries(fake_anthropic: FakeAnthropic, spec: AgentSpec) -> None:
    fake_anthropic.inject(*[Fault("rate_limit", retry_after=0.01)] * 3)
    async with _runner(fake_anthropic) as runner:
        with pytest.raises(ProviderRateLimitError):
            await runner.invoke(spec, INPUT)
        assert len(fake_anthropic.calls()) == 3
        fake_anthropic.inject(*[Fault("overloaded", retry_after=0.01)] * 3)
        with pytest.raises(ProviderUnavailableError):
            await runner.invoke(spec, INPUT)


async def test_a_hung_call_times_out(fake_anthropic: FakeAnthropic, spec: AgentSpec) -> None:
    fake_anthropic.inject(Fault("hang", seconds=5))
    config = RunnerConfig(timeout=0.2, deadline=0.5)
    started = time.perf_counter()
    async with _runner(fake_anthropic, retries=0, config=config) as runner:
        with pytest.raises(ProviderTimeoutError):
            await runner.invoke(spec, INPUT)
    assert time.perf_counter() - started < 2


async def test_output_that_breaks_the_schema_once_is_repaired(
    fake_anthropic: FakeAnthropic, spec: AgentSpec
) -> None:
    fake_anthropic.inject(Fault("bad_output"))
    async with _runner(fake_anthropic) as runner:
        result = await runner.invoke(spec, INPUT)
    assert result.attempts == 2
    repair = fake_anthropic.calls()[1].body["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert "does not match the required output schema" in repair[-1]["content"]


async def test_openai_response_format_and_stream(fake_openai: FakeOpenAI, spec: AgentSpec) -> None:
    async with _runner(openai=fake_openai) as runner:
        result = await runner.invoke(spec, INPUT)
        events = [e async for e in runner.stream(spec, INPUT)]
    assert spec.output.errors(result.output) == [] and result.provider == "openai"
    body = fake_openai.calls()[0].body
    assert body["response_format"]["json_schema"]["schema"] == spec.output_schema
    assert body["messages"][0] == {"role": "system", "content": spec.system_prompt}
    final = events[-1]
    assert isinstance(final, AgentResult) and final.usage.output_tokens > 0


async def test_openai_text_that_is_not_json_is_repaired(fake_openai: FakeOpenAI, spec: AgentSpec) -> None:
    fake_openai.inject(Fault("not_json"))
    async with _runner(openai=fake_openai) as runner:
        result = await runner.invoke(spec, INPUT)
    assert result.attempts == 2


async def test_fallback_from_anthropic_to_openai(
    fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI, spec: AgentSpec
) -> None:
    fake_anthropic.inject(*[Fault("overloaded", retry_after=0.01)] * 2)
    async with _runner(fake_anthropic, fake_openai, fallbacks=("openai",), retries=1) as runner:
        result = await runner.invoke(spec, INPUT)
        assert result.provider == "openai"
        assert len(fake_anthropic.calls()) == 2 and len(fake_openai.calls()) == 1
        direct = await runner.invoke(spec, INPUT, RunContext(provider="openai"))
    assert direct.provider == "openai"
