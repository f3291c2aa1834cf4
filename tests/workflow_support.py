"""Ports for running `dag.engine` in tests: agent calls answered in process by the offline provider (with
per-agent latency and injected failures, from the environment of the Ray job), and the PostgreSQL run log."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from agents import AgentRunner, Catalog
from agents.providers import OfflineProvider
from agents.runner import RunContext
from dag.engine import AgentCall, Caller
from serve_app.errors import describe
from serve_app.models import invoke_body
from serve_app.workflows import PLATFORM_LOG
from tests.conftest import DEFINITIONS

LATENCY = "WF_TEST_LATENCY"  # {"agent": seconds}
FAILURES = "WF_TEST_FAILURES"  # {"agent": how many first calls answer 503}
CALLS = "WF_TEST_CALLS"  # a file: one line per agent call, "request_id agent"


def offline_call() -> AgentCall:
    catalog = Catalog.load(DEFINITIONS)
    runner = AgentRunner({"offline": OfflineProvider()}, default_provider="offline")
    latency: dict[str, float] = json.loads(os.environ.get(LATENCY, "{}"))
    failures: dict[str, int] = json.loads(os.environ.get(FAILURES, "{}"))
    journal = os.environ.get(CALLS)

    async def call(
        agent: str, category: str, input: dict[str, Any], caller: Caller, request_id: str
    ) -> tuple[int, dict[str, Any]]:
        if journal:
            _note(journal, f"{request_id} {agent}\n")
        await asyncio.sleep(latency.get(agent, 0.0))
        if failures.get(agent, 0) > 0:
            failures[agent] -= 1
            return 503, {"error": {"type": "service_unavailable", "message": "injected"}}
        spec = catalog.get(agent)
        assert spec.category == category
        try:
            result = await runner.invoke(spec, input, RunContext(request_id=request_id))
        except Exception as exc:
            return describe(exc)
        return 200, invoke_body(result)

    return call


def _note(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line)


TEST_CALL = "tests.workflow_support:offline_call"
TEST_LOG = PLATFORM_LOG  # DATABASE_URL and REDIS_URL come from the Ray job's environment
