"""The shared HTTP pieces on a category's service, in process: invoke, stream, errors, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agents import AgentRunner, Catalog
from agents.errors import DefinitionError, ProviderTimeoutError
from agents.providers import FunctionProvider, OfflineProvider
from serve_app.api import new_api
from serve_app.errors import describe
from serve_app.routes.invoke import invoke_router
from serve_app.service import AgentService
from serve_app.settings import Settings

WRITER = "marketing_content_writer"
BRIEF = {"topic": "Trail bottles", "content_type": "email"}


def _config(catalog: Catalog) -> dict[str, object]:
    agents = [s.model_dump(mode="json", by_alias=True) for s in catalog.in_category("marketing")]
    return {"category": "marketing", "agents": agents}


@pytest.fixture
def service(catalog: Catalog) -> AgentService:
    service = AgentService(
        "marketing", AgentRunner({"offline": OfflineProvider()}, default_provider="offline")
    )
    service.configure(_config(catalog))
    return service


@pytest.fixture
def http(service: AgentService) -> Iterator[TestClient]:
    api = new_api("test", Settings(max_body_bytes=4096))
    api.include_router(invoke_router(service))
    with TestClient(api) as client:
        yield client


def test_invoke_answers_with_output_usage_and_request_id(http: TestClient) -> None:
    response = http.post(f"/agents/{WRITER}/invoke", json={"input": BRIEF})
    assert response.status_code == 200
    body = response.json()
    assert body["agent"] == WRITER and body["provider"] == "offline"
    assert body["usage"]["input_tokens"] > 0
    assert body["request_id"] == response.headers["x-request-id"]
    given = http.post(f"/agents/{WRITER}/invoke", json={"input": BRIEF}, headers={"X-Request-ID": "req-7"})
    assert given.json()["request_id"] == "req-7"


def test_stream_sends_chunks_then_the_result(http: TestClient) -> None:
    response = http.post(f"/agents/{WRITER}/invoke?stream=true", json={"input": BRIEF})
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b]
    assert blocks[-1].startswith("event: result")
    text = "".join(json.loads(b.split("data: ", 1)[1])["text"] for b in blocks[:-1])
    assert json.loads(text) == json.loads(blocks[-1].split("data: ", 1)[1])["output"]


def test_errors_have_status_and_body(http: TestClient) -> None:
    missing = http.post("/agents/nope/invoke", json={"input": {}})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"type": "agent_not_found", "message": "no agent named 'nope'", "details": {"agent": "nope"}}
    }
    bad = http.post(f"/agents/{WRITER}/invoke", json={"input": {"topic": 1}})
    assert bad.status_code == 422
    assert {d["path"] for d in bad.json()["error"]["details"]} == {"", "/topic"}
    streamed = http.post(
        f"/agents/{WRITER}/invoke", json={"input": {}}, headers={"Accept": "text/event-stream"}
    )
    assert streamed.status_code == 422  # refused before the stream starts
    shapeless = http.post(f"/agents/{WRITER}/invoke", json={"inputs": {}})
    assert shapeless.status_code == 422
    assert shapeless.json()["error"]["type"] == "request_validation_error"
    assert shapeless.json()["error"]["details"][0]["path"] == "/body/input"


def test_oversized_bodies_get_413_by_header_and_by_stream(http: TestClient) -> None:
    big = {"input": {**BRIEF, "topic": "x" * 5000}}
    assert http.post(f"/agents/{WRITER}/invoke", json=big).status_code == 413

    def chunks() -> Iterator[bytes]:
        yield json.dumps(big).encode()

    streamed = http.post(
        f"/agents/{WRITER}/invoke", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["details"] == {"limit_bytes": 4096}


def test_a_bad_definition_set_is_refused_whole(service: AgentService, catalog: Catalog) -> None:
    before = service.digest
    config = _config(catalog)
    broken = dict(config["agents"][0])  # type: ignore[index]
    broken["input_schema"] = {"type": "object", "properties": {"x": {"type": "nope"}}}
    with pytest.raises(DefinitionError):
        service.configure({**config, "agents": [broken, *config["agents"][1:]]})  # type: ignore[index]
    assert service.digest == before and len(service.agents) == 52
    with pytest.raises(DefinitionError):
        service.configure({**config, "category": "legal"})


async def test_provider_failures_map_to_gateway_statuses(catalog: Catalog) -> None:
    slow = FunctionProvider(lambda r: ProviderTimeoutError("slow", provider="anthropic"), name="anthropic")
    service = AgentService("marketing", AgentRunner({"anthropic": slow}, default_provider="anthropic"))
    service.configure(_config(catalog))
    status, body = await service.invoke(WRITER, BRIEF, "r1")
    assert status == 504 and body["error"]["type"] == "provider_timeout"


def test_unexpected_errors_do_not_leak_their_message() -> None:
    status, body = describe(RuntimeError("database password is hunter2"))
    assert status == 500 and "hunter2" not in json.dumps(body)


def test_packed_definitions_configure_the_same_agents(service: AgentService, catalog: Catalog) -> None:
    from serve_app.service import pack

    config = _config(catalog)
    before = service.digest
    service.configure({"category": "marketing", "agents": pack(config["agents"])})  # type: ignore[arg-type]
    assert service.digest == before and len(service.agents) == 52
    with pytest.raises(ValueError, match="unreadable"):
        service.configure({"category": "marketing", "agents": "not-base64!"})
    assert service.digest == before
