"""A graph step exported to LangGraph takes the same path to the same state as the platform's engine, on
the same scripted agents; its loop bound ends or fails it the same way; its nodes can call the platform's
HTTP API. Runs when the `langgraph` extra is installed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agents import Catalog
from dag import langgraph_export
from dag.collaborate import CollaborationError
from tests.unit.test_workflow_patterns import (
    CLAIMS,
    VOICE,
    WRITER,
    Agents,
    answers,
    graph_step,
    run,
    voice,
    workflow,
)

pytest.importorskip("langgraph")


def scripts(*verdicts: str) -> dict[str, Any]:
    return {
        WRITER: lambda given: {"headline": "H", "body": f"draft of {given['topic'][:40]}"},
        VOICE: voice(*verdicts),
        CLAIMS: answers({"summary": "fine", "claims": []}),
    }


def on_langgraph(agents: Agents) -> langgraph_export.AgentFn:
    async def call(agent: str, payload: dict[str, Any]) -> Any:
        status, body = await agents(agent, "", payload, None, "")  # type: ignore[arg-type]
        assert status == 200, body
        return body["output"]

    return call


@pytest.mark.parametrize(
    ("verdicts", "overrides"),
    [
        (("rewrite", "approve"), {}),
        (("rewrite",), {"on_limit": "end"}),
    ],
    ids=["loops-then-ends", "stopped-by-the-bound"],
)
async def test_langgraph_takes_the_engines_path_to_the_same_state(
    catalog: Catalog, verdicts: tuple[str, ...], overrides: dict[str, Any]
) -> None:
    step = graph_step(**overrides)
    native, _ = await run(catalog, step, Agents(scripts(*verdicts)))
    assert native.status == "succeeded", native.error
    exported = Agents(scripts(*verdicts))
    context = {"input": {"topic": "Acme Cloud"}}
    output = await langgraph_export.run_graph(workflow(step).step("copy"), on_langgraph(exported), context)
    assert output == {k: v for k, v in native.output.items() if k != "usage"}
    assert [a for a, _ in exported.calls] == [
        {"write": WRITER, "voice": VOICE, "claims": CLAIMS}[n] for n in output["path"]
    ]


async def test_the_loop_bound_fails_the_langgraph_run_as_on_the_engine(catalog: Catalog) -> None:
    step = workflow(graph_step()).step("copy")
    with pytest.raises(CollaborationError, match="would run more than max_visits"):
        await langgraph_export.run_graph(
            step, on_langgraph(Agents(scripts("rewrite"))), {"input": {"topic": "x"}}
        )
    with pytest.raises(ValueError, match="not a graph"):
        langgraph_export.state_graph(
            workflow({"id": "one", "agent": WRITER, "input": {"topic": "x", "content_type": "email"}}).step(
                "one"
            ),
            on_langgraph(Agents({})),
            {},
        )


async def test_nodes_can_call_the_platforms_http_api(catalog: Catalog) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "brand_voice" in request.url.path:
            return httpx.Response(503, json={"error": {"type": "service_unavailable"}})
        return httpx.Response(200, json={"output": {"body": "hello"}})

    transport = httpx.MockTransport(answer)
    call = langgraph_export.platform_agents("http://platform", "aap_key", catalog, transport=transport)
    assert await call(WRITER, {"topic": "t"}) == {"body": "hello"}
    request = seen[0]
    assert request.url.path == f"/v1/categories/marketing/agents/{WRITER}/invoke"
    assert request.headers["authorization"] == "Bearer aap_key"
    assert json.loads(request.content) == {"input": {"topic": "t"}}
    with pytest.raises(CollaborationError, match="answered 503"):
        await call(VOICE, {"copy": "c"})
