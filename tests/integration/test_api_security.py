"""The HTTP API with authentication, policy, rate limits, idempotency and audit, in process against real
PostgreSQL and Redis (each reached through a TCP proxy that the outage tests cut)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents import AgentRunner, Catalog
from agents.providers import FunctionProvider, OfflineProvider
from agents.providers.base import ModelRequest
from serve_app import audit
from serve_app.api import new_api
from serve_app.audit import read_stream
from serve_app.control import Control
from serve_app.routes.catalog import catalog_router
from serve_app.routes.identity import identity_router
from serve_app.routes.invoke import invoke_router
from serve_app.routes.records import records_router
from serve_app.service import AgentService
from serve_app.settings import Settings
from serve_app.store import DEFAULT_TENANT, Store
from tests.fakes.tcp_proxy import TcpProxy

WRITER = "marketing_content_writer"
BRIEF = {"topic": "Trail bottles", "content_type": "email"}
PASSWORD = "a long enough password"


@dataclass
class Platform:
    http: httpx.AsyncClient
    control: Control
    store: Store
    tenant: str
    calls: list[ModelRequest]
    postgres: TcpProxy
    redis: TcpProxy

    async def login(self, role: str, tenant: str | None = None) -> dict[str, str]:
        tenant = tenant or self.tenant
        email = f"{role}-{secrets.token_hex(3)}@{tenant}.example"
        await self.store.create_user(tenant, email, PASSWORD, role)  # type: ignore[arg-type]
        answer = await self.http.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"authorization": f"Bearer {answer.json()['access_token']}"}


def _offline_counting(calls: list[ModelRequest]) -> FunctionProvider:
    offline = OfflineProvider()

    def answer(request: ModelRequest) -> Any:
        calls.append(request)
        return offline._answer(request).output

    return FunctionProvider(answer, name="offline")


@pytest.fixture
async def platform(
    catalog: Catalog, database_url: str, redis_url: str, tenant: str, store: Store
) -> AsyncIterator[Platform]:
    postgres = await TcpProxy.for_url(database_url).start()
    redis = await TcpProxy.for_url(redis_url).start()
    settings = Settings(
        env="test",
        jwt_secret=SecretStr("j" * 40),
        key_pepper=SecretStr("p" * 32),
        database_url=postgres.url(database_url),
        redis_url=redis.url(redis_url),
        rate_limit_per_key=1000,
        rate_limit_per_tenant=1000,
        max_body_bytes=4096,
    )
    control = Control(settings)
    calls: list[ModelRequest] = []
    services = {}
    for category in ("marketing", "legal"):
        runner = AgentRunner({"offline": _offline_counting(calls)}, default_provider="offline")
        service = AgentService(category, runner, control)
        agents = [s.model_dump(mode="json", by_alias=True) for s in catalog.in_category(category)]
        service.configure({"category": category, "agents": agents})
        services[category] = service
    api = new_api("test", settings)
    api.include_router(catalog_router(lambda: catalog, [control.requires("agents:read")]))
    for category, service in services.items():
        api.include_router(
            invoke_router(service, control, path=f"/v1/categories/{category}/agents/{{name}}/invoke")
        )
    api.include_router(identity_router(control))
    api.include_router(records_router(control))
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await control.ready()
        yield Platform(http, control, Store(control.db, b"p" * 32), tenant, calls, postgres, redis)
    await control.close()
    await postgres.stop()
    await redis.stop()


def invoke_path(agent: str = WRITER) -> str:
    return f"/v1/categories/{agent.split('_')[0]}/agents/{agent}/invoke"


def assert_error(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["type"] == kind and error["message"]
    return error


async def test_no_or_bad_credentials_get_401_with_a_json_body(platform: Platform) -> None:
    answer = await platform.http.post(invoke_path(), json={"input": BRIEF})
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    for headers in ({"authorization": "Bearer nope"}, {"x-api-key": "aap_000000000000_" + "x" * 43}):
        assert_error(await platform.http.get("/v1/agents", headers=headers), 401, "unauthorized")
    bad = await platform.http.post("/v1/auth/token", json={"email": "nobody@x.example", "password": "x"})
    assert_error(bad, 401, "unauthorized")
    assert platform.calls == []


async def test_a_developer_invokes_and_the_call_is_recorded(platform: Platform) -> None:
    headers = await platform.login("developer")
    answer = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=headers)
    assert answer.status_code == 200, answer.text
    await platform.control.audit.flush()
    listed = await platform.http.get("/v1/executions", headers=await platform.login("admin"))
    assert listed.status_code == 200, listed.text
    rows = listed.json()["items"]
    assert [(r["agent"], r["status"], r["request_id"]) for r in rows] == [
        (WRITER, "ok", answer.json()["request_id"])
    ]
    assert rows[0]["actor"].startswith("user:") and rows[0]["tenant_id"] == platform.tenant


async def test_the_policy_decides_who_invokes_what(platform: Platform) -> None:
    viewer = await platform.login("viewer")
    error = assert_error(
        await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=viewer), 403, "forbidden"
    )
    assert error["details"]["action"] == "agents:invoke"
    assert (await platform.http.get("/v1/agents", headers=viewer)).status_code == 200
    developer = await platform.login("developer")
    legal = invoke_path("legal_nda_reviewer")
    assert_error(await platform.http.post(legal, json={"input": {}}, headers=developer), 403, "forbidden")
    assert_error(await platform.http.get("/v1/executions", headers=viewer), 403, "forbidden")
    assert platform.calls == []


async def test_logout_revokes_the_token(platform: Platform) -> None:
    headers = await platform.login("viewer")
    assert (await platform.http.post("/v1/auth/logout", headers=headers)).status_code == 204
    error = assert_error(await platform.http.get("/v1/agents", headers=headers), 401, "unauthorized")
    assert "revoked" in error["message"]


async def test_api_keys_shown_once_used_by_either_header_and_revoked(platform: Platform) -> None:
    developer = await platform.login("developer")
    created = await platform.http.post("/v1/api-keys", json={"name": "ci"}, headers=developer)
    assert created.status_code == 201, created.text
    key = created.json()
    listed = (await platform.http.get("/v1/api-keys", headers=developer)).json()
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    for headers in ({"x-api-key": key["key"]}, {"authorization": f"Bearer {key['key']}"}):
        answer = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=headers)
        assert answer.status_code == 200, answer.text
    revoked = await platform.http.delete(f"/v1/api-keys/{key['id']}", headers=developer)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers={"x-api-key": key["key"]})
    assert_error(after, 401, "unauthorized")
    escalate = await platform.http.post(
        "/v1/api-keys", json={"name": "x", "role": "admin"}, headers=developer
    )
    assert_error(escalate, 403, "forbidden")


async def test_nothing_crosses_tenants(platform: Platform) -> None:
    mine = await platform.login("admin")
    await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=mine)
    key = (await platform.http.post("/v1/api-keys", json={"name": "mine"}, headers=mine)).json()
    await platform.control.audit.flush()

    other_tenant = f"{platform.tenant}-b"
    await platform.store.create_tenant(other_tenant, "B")
    theirs = await platform.login("admin", other_tenant)
    assert (await platform.http.get("/v1/executions", headers=theirs)).json()["items"] == []
    assert (await platform.http.get("/v1/api-keys", headers=theirs)).json() == []
    assert_error(await platform.http.delete(f"/v1/api-keys/{key['id']}", headers=theirs), 404, "not_found")
    usage = (await platform.http.get("/v1/analytics/usage?group_by=agent", headers=theirs)).json()
    assert usage["items"] == []
    assert len((await platform.http.get("/v1/executions", headers=mine)).json()["items"]) == 1


@pytest.mark.parametrize(
    "hostile", ["x' OR '1'='1", "'; DROP TABLE executions; --", "%' UNION SELECT * FROM api_keys --"]
)
async def test_hostile_filters_and_malformed_input(platform: Platform, hostile: str) -> None:
    admin = await platform.login("admin")
    for field in ("agent", "category", "actor"):
        answer = await platform.http.get("/v1/executions", params={field: hostile}, headers=admin)
        assert answer.status_code == 200 and answer.json()["items"] == []
    bad = await platform.http.get("/v1/executions", params={"since": hostile}, headers=admin)
    error = assert_error(bad, 422, "request_validation_error")
    assert error["details"][0]["path"] == "/query/since"
    assert_error(
        await platform.http.get("/v1/executions?status=maybe", headers=admin), 422, "request_validation_error"
    )
    big = await platform.http.post(invoke_path(), content=b'{"input": "' + b"x" * 8000 + b'"}', headers=admin)
    assert_error(big, 413, "payload_too_large")
    broken = await platform.http.post(
        invoke_path(), content=b'{"input": ', headers={**admin, "content-type": "application/json"}
    )
    assert broken.status_code == 422
    short = await platform.http.post(
        "/v1/users", json={"email": "a@b.c", "password": "x", "role": "viewer"}, headers=admin
    )
    assert assert_error(short, 422, "request_validation_error")["details"][0]["path"] == "/body/password"


async def test_rate_limit_answers_429_with_retry_after(platform: Platform) -> None:
    headers = await platform.login("viewer")
    platform.control.guard.limits = platform.control.guard.limits.__class__(3, 1000)
    statuses = [(await platform.http.get("/v1/agents", headers=headers)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await platform.http.get("/v1/agents", headers=headers)
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_an_idempotent_retry_gets_the_first_answer_without_a_second_model_call(
    platform: Platform,
) -> None:
    headers = {**(await platform.login("developer")), "idempotency-key": secrets.token_hex(8)}
    first = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=headers)
    second = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and second.headers["idempotent-replayed"] == "true"
    assert len(platform.calls) == 1
    other = await platform.http.post(invoke_path(), json={"input": {**BRIEF, "topic": "x"}}, headers=headers)
    assert_error(other, 422, "idempotency_key_reused")
    bad_key = await platform.http.post(
        invoke_path(), json={"input": BRIEF}, headers={**headers, "idempotency-key": "a b"}
    )
    assert_error(bad_key, 400, "bad_request")


async def test_redis_down_fails_closed_with_503(platform: Platform) -> None:
    headers = await platform.login("developer")
    platform.redis.down()
    answer = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=headers)
    assert_error(answer, 503, "service_unavailable")
    assert platform.calls == []
    platform.redis.up()
    assert (
        await platform.http.post(invoke_path(), json={"input": BRIEF}, headers=headers)
    ).status_code == 200


async def test_postgres_down_gives_503_and_recorded_calls_land_when_it_returns(platform: Platform) -> None:
    admin = await platform.login("admin")
    key = (await platform.http.post("/v1/api-keys", json={"name": "outage"}, headers=admin)).json()["key"]
    await platform.http.post(invoke_path(), json={"input": BRIEF}, headers={"x-api-key": key})  # key cached
    await platform.control.audit.flush()
    platform.postgres.down()
    down = await platform.http.get("/v1/executions", headers=admin)
    assert_error(down, 503, "service_unavailable")
    token = await platform.http.post("/v1/auth/token", json={"email": "x@y.example", "password": "x"})
    assert_error(token, 503, "service_unavailable")
    during = await platform.http.post(invoke_path(), json={"input": BRIEF}, headers={"x-api-key": key})
    assert during.status_code == 200  # the key is cached; the row waits for PostgreSQL
    await asyncio.sleep(0.5)
    platform.postgres.up()
    await asyncio.wait_for(platform.control.audit.flush(), 15)
    rows = (await platform.http.get("/v1/executions", headers=admin)).json()["items"]
    assert during.json()["request_id"] in {r["request_id"] for r in rows}
    assert len(rows) == 2


# -- the web UI's session, /v1/me, users and roles, dashboards --------------------------------------------


async def _session(platform: Platform, role: str, tenant: str | None = None) -> tuple[str, httpx.Response]:
    email = f"{role}-{secrets.token_hex(3)}@example.com"
    await platform.store.create_user(tenant or platform.tenant, email, PASSWORD, role)  # type: ignore[arg-type]
    platform.http.cookies.clear()
    answer = await platform.http.post(
        "/v1/auth/token", json={"email": email, "password": PASSWORD, "session": True}
    )
    assert answer.status_code == 200, answer.text
    return email, answer


def _refresh_cookie(answer: httpx.Response) -> str:
    header = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes, header
    assert "Path=/v1/auth" in header and "SameSite=strict" in header
    return header.split(";")[0].partition("=")[2]


async def _refresh(platform: Platform, cookie: str) -> httpx.Response:
    platform.http.cookies.clear()
    return await platform.http.post("/v1/auth/refresh", headers={"cookie": f"agents_refresh={cookie}"})


async def test_a_session_cookie_is_traded_once_for_a_new_token_and_signed_out(platform: Platform) -> None:
    _, signed_in = await _session(platform, "developer")
    first = _refresh_cookie(signed_in)
    refreshed = await _refresh(platform, first)
    assert refreshed.status_code == 200, refreshed.text
    second = _refresh_cookie(refreshed)
    token = refreshed.json()["access_token"]
    assert second != first and token != signed_in.json()["access_token"]
    bearer = {"authorization": f"Bearer {token}"}
    assert (await platform.http.get("/v1/agents?limit=1", headers=bearer)).status_code == 200
    # The cookie is used up; neither kind of token passes for the other.
    assert_error(await _refresh(platform, first), 401, "unauthorized")
    as_bearer = await platform.http.get("/v1/agents", headers={"authorization": f"Bearer {second}"})
    assert "access token expected" in assert_error(as_bearer, 401, "unauthorized")["message"]
    assert_error(await _refresh(platform, token), 401, "unauthorized")
    # Sign-out revokes the bearer token and the cookie, and clears it.
    platform.http.cookies.clear()
    out = await platform.http.post(
        "/v1/auth/logout", headers={**bearer, "cookie": f"agents_refresh={second}"}
    )
    assert out.status_code == 204 and 'agents_refresh=""' in out.headers["set-cookie"]
    assert_error(await _refresh(platform, second), 401, "unauthorized")
    assert_error(await platform.http.get("/v1/agents", headers=bearer), 401, "unauthorized")
    assert_error(await platform.http.post("/v1/auth/logout"), 401, "unauthorized")


async def test_a_refresh_takes_the_users_current_role_and_refuses_a_disabled_user(platform: Platform) -> None:
    admin = await platform.login("admin")
    email, signed_in = await _session(platform, "developer")
    users = (await platform.http.get("/v1/users", headers=admin)).json()
    user = next(u for u in users if u["email"] == email)
    changed = await platform.http.patch(f"/v1/users/{user['id']}", json={"role": "viewer"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    refreshed = await _refresh(platform, _refresh_cookie(signed_in))
    assert refreshed.json()["role"] == "viewer"
    await platform.http.patch(f"/v1/users/{user['id']}", json={"disabled": True}, headers=admin)
    assert_error(await _refresh(platform, _refresh_cookie(refreshed)), 401, "unauthorized")
    again = await platform.http.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert_error(again, 401, "unauthorized")


async def test_me_says_who_and_what_the_policy_allows(platform: Platform) -> None:
    email, signed_in = await _session(platform, "developer")
    bearer = {"authorization": f"Bearer {signed_in.json()['access_token']}"}
    me = (await platform.http.get("/v1/me", headers=bearer)).json()
    assert me["email"] == email and me["kind"] == "user" and me["role"] == "developer"
    assert {"agents:invoke", "keys:manage"} <= set(me["actions"])
    assert not {"users:manage", "keys:admin", "analytics:platform"} & set(me["actions"])
    assert me["platform"] is False
    viewer = (await platform.http.get("/v1/me", headers=await platform.login("viewer"))).json()
    assert "agents:invoke" not in viewer["actions"] and "agents:read" in viewer["actions"]
    roles = (await platform.http.get("/v1/roles", headers=bearer)).json()
    developer = next(r for r in roles if r["name"] == "developer")
    assert "legal" in developer["restricted_categories"] and "users:manage" not in developer["actions"]
    assert "analytics:platform" not in next(r for r in roles if r["name"] == "admin")["actions"]


async def test_users_are_listed_changed_and_the_last_admin_stays(platform: Platform) -> None:
    tenant = f"{platform.tenant}-u"
    await platform.store.create_tenant(tenant, "Users")
    admin_email, signed_in = await _session(platform, "admin", tenant)
    admin = {"authorization": f"Bearer {signed_in.json()['access_token']}"}
    created = await platform.http.post(
        "/v1/users",
        json={"email": "Dev@Users.example", "password": PASSWORD, "role": "developer"},
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["email"] == "dev@users.example"
    listed = (await platform.http.get("/v1/users", headers=admin)).json()
    assert [u["email"] for u in listed] == [admin_email, "dev@users.example"]
    me = next(u for u in listed if u["email"] == admin_email)
    for change in ({"role": "viewer"}, {"disabled": True}):
        refused = await platform.http.patch(f"/v1/users/{me['id']}", json=change, headers=admin)
        assert assert_error(refused, 409, "conflict")["details"]["field"] == f"/{next(iter(change))}"
    dev = next(u for u in listed if u["email"] == "dev@users.example")
    promoted = await platform.http.patch(f"/v1/users/{dev['id']}", json={"role": "admin"}, headers=admin)
    assert promoted.json()["role"] == "admin"
    demoted = await platform.http.patch(f"/v1/users/{me['id']}", json={"role": "viewer"}, headers=admin)
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"
    assert_error(
        await platform.http.patch(f"/v1/users/{dev['id']}", json={}, headers=admin), 400, "bad_request"
    )
    bad_role = await platform.http.patch(f"/v1/users/{dev['id']}", json={"role": "root"}, headers=admin)
    assert assert_error(bad_role, 422, "request_validation_error")["details"][0]["path"] == "/body/role"
    for missing in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        gone = await platform.http.patch(f"/v1/users/{missing}", json={"role": "viewer"}, headers=admin)
        assert_error(gone, 404, "not_found")
    # Another tenant's admin neither sees nor changes these users.
    other = await platform.login("admin")
    assert dev["email"] not in {
        u["email"] for u in (await platform.http.get("/v1/users", headers=other)).json()
    }
    across = await platform.http.patch(f"/v1/users/{dev['id']}", json={"role": "viewer"}, headers=other)
    assert_error(across, 404, "not_found")
    viewer = await platform.login("viewer")
    assert_error(await platform.http.get("/v1/users", headers=viewer), 403, "forbidden")


async def test_overview_and_usage_by_pairs_and_by_tenant(platform: Platform) -> None:
    admin = await platform.login("admin")
    for topic in ("a", "b", "c"):
        await platform.http.post(invoke_path(), json={"input": {**BRIEF, "topic": topic}}, headers=admin)
    await platform.http.post(invoke_path(), json={"input": {"topic": 5}}, headers=admin)
    await platform.control.audit.flush()
    overview = (await platform.http.get("/v1/analytics/overview?minutes=15", headers=admin)).json()
    totals = overview["totals"]
    assert (totals["calls"], totals["errors"], totals["error_rate"]) == (4, 1, 0.25)
    assert 0 < totals["p50_ms"] <= totals["p95_ms"] and overview["bucket_seconds"] == 15
    assert sum(b["calls"] for b in overview["series"]) == 4
    pairs = await platform.http.get("/v1/analytics/usage?group_by=day&split=agent", headers=admin)
    assert [(r["split"], r["calls"], r["errors"]) for r in pairs.json()["items"]] == [(WRITER, 4, 1)]
    same = await platform.http.get("/v1/analytics/usage?group_by=agent&split=agent", headers=admin)
    assert assert_error(same, 400, "bad_request")["details"]["field"] == "split"
    # Every tenant's figures only for the platform tenant's admins.
    by_tenant = await platform.http.get("/v1/analytics/usage?group_by=tenant", headers=admin)
    assert "platform tenant" in assert_error(by_tenant, 403, "forbidden")["message"]
    await platform.store.create_tenant(DEFAULT_TENANT, "Platform")
    _, operator = await _session(platform, "admin", DEFAULT_TENANT)
    operator_headers = {"authorization": f"Bearer {operator.json()['access_token']}"}
    assert (await platform.http.get("/v1/me", headers=operator_headers)).json()["platform"] is True
    everyone = await platform.http.get(
        "/v1/analytics/usage?group_by=tenant&split=agent", headers=operator_headers
    )
    assert (platform.tenant, WRITER, 4) in {
        (r["key"], r["split"], r["calls"]) for r in everyone.json()["items"]
    }


async def test_an_idle_event_stream_outwaits_the_ordinary_redis_timeout(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "STREAM_BLOCK_MS", 3000)  # longer than the ordinary client's 2 s timeout
    idle = f"idle:{secrets.token_hex(4)}"
    assert await asyncio.wait_for(anext(read_stream(platform.control.streams, idle)), 10) == ("", {})
    with pytest.raises(RedisTimeoutError):
        await anext(read_stream(platform.control.redis, idle))
