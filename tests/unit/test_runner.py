"""The runner's pipeline, on scripted providers: input errors, repair, fallback, streaming, guardrails."""

from __future__ import annotations

from typing import Any

import pytest

from agents import AgentRunner, AgentSpec
from agents.errors import (
    GuardrailError,
    InputValidationError,
    OutputValidationError,
    ProviderUnavailableError,
)
from agents.providers import FunctionProvider, ModelRequest, OfflineProvider, scripted
from agents.runner import AgentResult, RunContext, TextChunk

SPEC = AgentSpec.from_text(
    """
name: ticket_triager
category: customer_support
description: Sorts a support ticket into a queue with a priority.
system_prompt: You are a support lead. Read the ticket and choose its queue and priority.
input_schema:
  type: object
  additionalProperties: false
  required: [subject, body]
  properties:
    subject: {type: string, maxLength: 200}
    body: {type: string}
    channel: {type: string, enum: [email, chat, phone]}
output_schema:
  type: object
  additionalProperties: false
  required: [queue, priority, reply]
  properties:
    queue: {type: string, enum: [billing, technical, account]}
    priority: {type: integer, minimum: 1, maximum: 4}
    reply: {type: string}
guardrails: {pii: redact, blocked_topics: [legal advice]}
"""
)
GOOD = {"queue": "billing", "priority": 2, "reply": "We are on it."}
TICKET = {"subject": "Charged twice", "body": "My card was charged twice."}


def _runner(*providers: FunctionProvider | OfflineProvider, fallbacks: tuple[str, ...] = ()) -> AgentRunner:
    return AgentRunner(
        {p.name: p for p in providers}, default_provider=providers[0].name, fallbacks=fallbacks
    )


async def test_input_errors_list_every_path_and_call_no_model() -> None:
    provider = scripted(GOOD)
    with pytest.raises(InputValidationError) as info:
        await _runner(provider).invoke(SPEC, {"subject": "x" * 201, "channel": "fax", "extra": 1})
    paths = sorted(e.path for e in info.value.errors)
    assert paths == ["", "", "/channel", "/subject"]  # missing body, unknown field, enum, length
    assert provider.requests == []


async def test_a_non_object_input_is_refused() -> None:
    with pytest.raises(InputValidationError):
        await _runner(scripted(GOOD)).invoke(SPEC, ["not", "an", "object"])


async def test_invalid_output_is_repaired_once_with_the_errors_sent_back() -> None:
    provider = scripted({"queue": "sales", "priority": 9}, GOOD)
    result = await _runner(provider).invoke(SPEC, TICKET)
    assert result.output == GOOD
    assert result.attempts == 2
    repair = provider.requests[1].messages[-1].content
    assert "/queue" in repair and "/priority" in repair and "reply" in repair
    assert result.usage.input_tokens == 20  # both attempts are counted


async def test_output_still_invalid_after_repair_is_an_error_not_a_result() -> None:
    provider = scripted("not json at all", {"queue": "billing"})
    with pytest.raises(OutputValidationError) as info:
        await _runner(provider).invoke(SPEC, TICKET)
    assert info.value.attempts == 2
    assert [e.path for e in info.value.errors] == ["", ""]  # priority and reply missing
    assert len(provider.requests) == 2


async def test_fallback_provider_answers_when_the_first_fails() -> None:
    failing = FunctionProvider(lambda r: ProviderUnavailableError("down", provider="primary"), name="primary")
    backup = scripted(GOOD, name="backup")
    result = await _runner(failing, backup, fallbacks=("backup",)).invoke(SPEC, TICKET)
    assert result.provider == "backup"
    assert len(failing.requests) == 1


async def test_without_fallback_the_provider_error_surfaces() -> None:
    failing = FunctionProvider(lambda r: ProviderUnavailableError("down", provider="primary"), name="primary")
    with pytest.raises(ProviderUnavailableError):
        await _runner(failing).invoke(SPEC, TICKET)


async def test_context_can_choose_the_provider_and_carries_the_request_id() -> None:
    runner = _runner(scripted(GOOD), OfflineProvider())
    result = await runner.invoke(SPEC, TICKET, RunContext(request_id="req-1", provider="offline"))
    assert (result.provider, result.request_id) == ("offline", "req-1")


async def test_the_request_carries_prompt_input_and_limits() -> None:
    provider = scripted(GOOD)
    await _runner(provider).invoke(SPEC, TICKET)
    request: ModelRequest = provider.requests[0]
    assert request.system == SPEC.system_prompt
    assert '"subject":"Charged twice"' in request.messages[0].content
    assert request.output_schema is SPEC.output
    assert request.max_tokens == 1024


async def test_output_pii_is_redacted_and_counted() -> None:
    answer = {**GOOD, "reply": "Write to jane.roe@acme-corp.com or call (415) 555-2671."}
    result = await _runner(scripted(answer)).invoke(SPEC, TICKET)
    assert result.output["reply"] == "Write to [REDACTED_EMAIL] or call [REDACTED_PHONE]."
    assert result.redactions == {"email": 1, "phone": 1}


async def test_blocked_topics_withhold_the_output() -> None:
    answer = {**GOOD, "reply": "Here is some Legal Advice for you."}
    with pytest.raises(GuardrailError) as info:
        await _runner(scripted(answer)).invoke(SPEC, TICKET)
    assert info.value.kinds == {"blocked_topic": 1}


async def test_block_mode_refuses_output_with_pii() -> None:
    spec = SPEC.model_copy(update={"guardrails": SPEC.guardrails.model_copy(update={"pii": "block"})})
    answer = {**GOOD, "reply": "SSN 123-45-6789"}
    with pytest.raises(GuardrailError) as info:
        await _runner(scripted(answer)).invoke(spec, TICKET)
    assert info.value.kinds == {"ssn": 1}


async def test_input_scanning_redacts_before_the_model_sees_it() -> None:
    spec = SPEC.model_copy(update={"guardrails": SPEC.guardrails.model_copy(update={"scan_input": True})})
    provider = scripted(GOOD)
    result = await _runner(provider).invoke(
        spec, {"subject": "Card", "body": "my card is 4111 1111 1111 1111"}
    )
    assert "4111" not in provider.requests[0].messages[0].content
    assert result.redactions == {"card_number": 1}


async def test_stream_yields_text_then_the_validated_result() -> None:
    reply = (
        "Thanks for writing in. " * 8 + "Reach me at jane.roe@acme-corp.com any time, or on +44 20 7946 0958."
    )
    answer = {**GOOD, "reply": reply}
    provider = FunctionProvider(lambda r: answer, chunk=3)
    events = [e async for e in _runner(provider).stream(SPEC, TICKET)]
    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    final = events[-1]
    assert isinstance(final, AgentResult)
    text = "".join(chunks)
    assert "jane.roe" not in text and "acme-corp" not in text and "7946" not in text
    assert "[REDACTED_EMAIL]" in text and "[REDACTED_PHONE]" in text
    assert final.output["reply"].endswith("Reach me at [REDACTED_EMAIL] any time, or on [REDACTED_PHONE].")
    assert len(chunks) > 1


async def test_stream_repairs_invalid_output_before_the_result() -> None:
    provider = scripted({"queue": "nope"}, GOOD)
    events = [e async for e in _runner(provider).stream(SPEC, TICKET)]
    final = events[-1]
    assert isinstance(final, AgentResult) and final.output == GOOD and final.attempts == 2


def test_unknown_providers_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown provider"):
        AgentRunner({"offline": OfflineProvider()}, default_provider="anthropic")


async def test_async_answer_functions_are_awaited() -> None:
    async def answer(request: ModelRequest) -> dict[str, Any]:
        return GOOD

    result = await _runner(FunctionProvider(answer)).invoke(SPEC, TICKET)
    assert result.output == GOOD
