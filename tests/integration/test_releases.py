"""Agent versions against real PostgreSQL and Redis: publish, `name@version`, canary, promote, rollback,
refusals that change nothing, and a second serving process following the announcements.

Releases are platform-wide and the session shares one database, so each test publishes its own agent."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from agents import AgentRunner, Catalog
from agents.providers import OfflineProvider
from agents.sample import Sampler
from serve_app.api import new_api
from serve_app.control import Control
from serve_app.routes.catalog import catalog_router
from serve_app.routes.identity import identity_router
from serve_app.routes.invoke import invoke_router
from serve_app.routes.records import records_router
from serve_app.routes.releases import releases_router
from serve_app.service import AgentService, definition
from serve_app.settings import Settings
from serve_app.store import Store

PASSWORD = "a long enough password"


@dataclass
class Served:
    http: httpx.AsyncClient
    control: Control
    store: Store
    tenant: str
    catalog: Catalog

    async def login(self, role: str) -> dict[str, str]:
        email = f"{role}-{secrets.token_hex(3)}@releases.example"
        await self.store.create_user(self.tenant, email, PASSWORD, role)  # type: ignore[arg-type]
        answer = await self.http.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
        return {"authorization": f"Bearer {answer.json()['access_token']}"}

    def changed(self, agent: str, new_version: str, **fields: Any) -> dict[str, Any]:
        """The catalogue's definition of `agent` as a new version."""
        return {**definition(self.catalog.get(agent)), "version": new_version, **fields}

    async def call(self, name: str, headers: dict[str, str], request_id: str | None = None) -> dict[str, Any]:
        spec = self.catalog.get(name.partition("@")[0])
        body = {"input": Sampler(spec.input_schema)({"release": spec.name})}
        sent = {**headers, "x-request-id": request_id or secrets.token_hex(8)}
        answer = await self.http.post(
            f"/v1/categories/{spec.category}/agents/{name}/invoke", json=body, headers=sent
        )
        return {"status": answer.status_code, **answer.json()}


def settings_for(database_url: str, redis_url: str) -> Settings:
    return Settings(
        env="test",
        jwt_secret=SecretStr("j" * 40),
        key_pepper=SecretStr("p" * 32),
        database_url=database_url,
        redis_url=redis_url,
        rate_limit_per_key=100_000,
        rate_limit_per_tenant=100_000,
    )


def app(catalog: Catalog, control: Control) -> httpx.AsyncClient:
    service = AgentService(
        "marketing", AgentRunner({"offline": OfflineProvider()}, default_provider="offline"), control
    )
    service.configure(
        {"category": "marketing", "agents": [definition(s) for s in catalog.in_category("marketing")]}
    )
    api = new_api("test", control.settings)
    api.include_router(catalog_router(lambda: catalog, [control.requires("agents:read")]))
    api.include_router(releases_router(control, lambda: catalog))
    api.include_router(invoke_router(service, control, path="/v1/categories/marketing/agents/{name}/invoke"))
    api.include_router(records_router(control))
    api.include_router(identity_router(control))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test")


@pytest.fixture
async def served(catalog: Catalog, database_url: str, redis_url: str, tenant: str) -> AsyncIterator[Served]:
    control = Control(settings_for(database_url, redis_url))
    async with app(catalog, control) as http:
        await control.ready()
        yield Served(http, control, Store(control.db, b"p" * 32), tenant, catalog)
    await control.close()


async def _executions(served: Served, headers: dict[str, str], agent: str) -> list[str]:
    await served.control.audit.flush()
    rows = (await served.http.get("/v1/executions", params={"agent": agent}, headers=headers)).json()
    return [r["version"] for r in rows["items"]]


async def test_a_published_version_answers_and_the_earlier_one_stays_invocable(served: Served) -> None:
    agent = "marketing_content_writer"
    developer = await served.login("developer")
    assert (await served.call(agent, developer))["version"] == "1.0.0"
    new = served.changed(
        agent, "1.1.0", description="Writes marketing copy, now with a stronger call to action"
    )
    published = await served.http.put(f"/v1/agents/{agent}", json=new, headers=developer)
    assert published.status_code == 200, published.text
    assert published.json()["active"] == "1.1.0" and published.json()["canary"] is None
    assert (await served.call(agent, developer))["version"] == "1.1.0"
    assert (await served.call(f"{agent}@1.0.0", developer))["version"] == "1.0.0"
    assert (await served.call(f"{agent}@9.9.9", developer))["status"] == 404
    assert await _executions(served, developer, agent) == ["1.0.0", "1.1.0", "1.0.0"]

    listed = (await served.http.get(f"/v1/agents/{agent}/versions", headers=developer)).json()
    assert [(v["version"], v["source"]) for v in listed["versions"]] == [
        ("1.1.0", "published"),
        ("1.0.0", "catalogue"),
    ]
    assert listed["release"]["active"] == "1.1.0" and listed["catalogue_version"] == "1.0.0"

    # The same definition again changes nothing; rolling back (to the one before) does.
    again = await served.http.put(f"/v1/agents/{agent}", json=new, headers=developer)
    assert again.status_code == 200 and again.json()["revision"] == published.json()["revision"] + 1
    back = await served.http.post(f"/v1/agents/{agent}/rollback", json={}, headers=developer)
    assert back.status_code == 200 and back.json()["active"] == "1.0.0"
    assert (await served.call(agent, developer))["version"] == "1.0.0"


async def test_refused_publications_change_nothing(served: Served) -> None:
    agent = "marketing_seo_content_brief_writer"
    developer = await served.login("developer")
    path = f"/v1/agents/{agent}"
    broken = served.changed(
        agent, "1.1.0", input_schema={"type": "object", "properties": {"x": {"type": "nope"}}}
    )
    answer = await served.http.put(path, json=broken, headers=developer)
    assert answer.status_code == 422 and answer.json()["error"]["type"] == "definition_invalid"
    assert any(d["path"].startswith("/input_schema") for d in answer.json()["error"]["details"])
    for field, value in (("name", "marketing_other"), ("category", "legal"), ("version", "one")):
        wrong = await served.http.put(
            path, json=served.changed(agent, "1.1.0", **{field: value}), headers=developer
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["error"]["details"][0]["path"] == f"/{field}"
    viewer = await served.login("viewer")
    assert (
        await served.http.put(path, json=served.changed(agent, "1.1.0"), headers=viewer)
    ).status_code == 403
    assert (await served.http.put("/v1/agents/no_such_agent", json={}, headers=developer)).status_code == 404
    listed = (await served.http.get(f"{path}/versions", headers=developer)).json()
    assert listed["release"] is None and listed["versions"] == []

    assert (
        await served.http.put(path, json=served.changed(agent, "1.1.0"), headers=developer)
    ).status_code == 200
    other = served.changed(agent, "1.1.0", description="Another definition under a version already taken")
    conflict = await served.http.put(path, json=other, headers=developer)
    assert conflict.status_code == 409 and conflict.json()["error"]["type"] == "version_conflict"
    assert [
        v["version"]
        for v in (await served.http.get(f"{path}/versions", headers=developer)).json()["versions"]
    ] == [
        "1.1.0",
        "1.0.0",
    ]


async def test_a_canary_takes_its_share_then_is_promoted(served: Served) -> None:
    agent = "marketing_meta_tag_writer"
    developer = await served.login("developer")
    canary = await served.http.put(
        f"/v1/agents/{agent}?canary=30", json=served.changed(agent, "2.0.0"), headers=developer
    )
    assert canary.status_code == 200, canary.text
    assert (canary.json()["active"], canary.json()["canary"], canary.json()["canary_percent"]) == (
        "1.0.0",
        "2.0.0",
        30,
    )
    answered = [(await served.call(agent, developer, f"req-{i}"))["version"] for i in range(200)]
    share = answered.count("2.0.0") / len(answered)
    assert 0.2 < share < 0.4, share
    # A request id keeps its side of the split (a retry meets the same version).
    assert {(await served.call(agent, developer, "req-7"))["version"] for _ in range(3)} == {answered[7]}
    await served.control.audit.flush()
    compared = (
        await served.http.get("/v1/analytics/versions", params={"agent": agent}, headers=developer)
    ).json()
    counted = {row["version"]: row["calls"] for row in compared["items"]}
    answered += [answered[7]] * 3
    assert counted == {v: answered.count(v) for v in ("1.0.0", "2.0.0")}
    assert all(row["error_rate"] == 0 and row["p95_ms"] >= row["p50_ms"] for row in compared["items"])

    promoted = await served.http.post(f"/v1/agents/{agent}/promote", headers=developer)
    assert promoted.json()["active"] == "2.0.0" and promoted.json()["canary"] is None
    assert {(await served.call(agent, developer))["version"] for _ in range(20)} == {"2.0.0"}
    nothing = await served.http.post(f"/v1/agents/{agent}/promote", headers=developer)
    assert nothing.status_code == 422 and nothing.json()["error"]["details"]["field"] == "/canary"


async def test_another_serving_process_follows_a_publication(
    served: Served, catalog: Catalog, database_url: str, redis_url: str
) -> None:
    agent = "marketing_brand_voice_checker"
    developer = await served.login("developer")
    other = Control(settings_for(database_url, redis_url))
    try:
        async with app(catalog, other) as http:
            elsewhere = Served(http, other, served.store, served.tenant, catalog)
            assert (await elsewhere.call(agent, developer))["version"] == "1.0.0"  # its feed is running now
            published = await served.http.put(
                f"/v1/agents/{agent}", json=served.changed(agent, "1.0.1"), headers=developer
            )
            assert published.status_code == 200
            for _ in range(100):
                if (await elsewhere.call(agent, developer))["version"] == "1.0.1":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the other process still serves 1.0.0")
    finally:
        await other.close()
