"""Log records carry the call's tenant, agent and run; inputs and prompts never reach INFO."""

from __future__ import annotations

import logging

import pytest

from agents import AgentRunner, Catalog
from agents.providers import OfflineProvider
from serve_app.control import Caller
from serve_app.logcontext import bound, install, run_of
from serve_app.service import AgentService

SECRET_TEXT = "sk-ant-api03-" + "x" * 40


def test_records_inside_a_call_carry_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    install()
    log = logging.getLogger("serve_app.test")
    with caplog.at_level(logging.INFO), bound(tenant="acme", agent="legal_nda_reviewer", run_id=None):
        log.warning("inside")
    log.warning("outside")
    inside, outside = caplog.records[-2:]
    assert (inside.tenant, inside.agent) == ("acme", "legal_nda_reviewer")  # type: ignore[attr-defined]
    assert not hasattr(inside, "run_id") and not hasattr(outside, "tenant")


def test_workflow_step_calls_name_their_run() -> None:
    run = "0f8e2a52-4c1b-4f5e-9d0a-3b2c1d0e9f8a"
    assert run_of(f"{run}-review-2") == run
    assert run_of("abc123") is None


async def test_a_call_logs_no_input_and_no_prompt(catalog: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    service = AgentService(
        "marketing", AgentRunner({"offline": OfflineProvider()}, default_provider="offline")
    )
    spec = catalog.get("marketing_content_writer")
    with caplog.at_level(logging.DEBUG):
        service.configure(
            {
                "category": "marketing",
                "agents": [
                    s.model_dump(mode="json", by_alias=True) for s in catalog.in_category("marketing")
                ],
            }
        )
        status, _ = await service.invoke(
            spec.name,
            {"topic": f"launch {SECRET_TEXT}", "content_type": "email"},
            "r-1",
            Caller("acme", "u:1"),
        )
        refused, _ = await service.invoke(spec.name, {"topic": SECRET_TEXT}, "r-2", Caller("acme", "u:1"))
    assert (status, refused) == (200, 422)
    assert any(r.levelno >= logging.INFO for r in caplog.records)
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            text = record.getMessage()
            assert SECRET_TEXT not in text and spec.system_prompt[:60] not in text
