"""Credentials, policy, revocation, rate limits, idempotency and the audit trail against real PostgreSQL
and Redis."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator

import jwt
import pytest
from redis.asyncio import Redis

from serve_app.audit import STREAM, AuditLog, follow
from serve_app.errors import (
    ConflictError,
    ForbiddenError,
    IdempotencyMismatchError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)
from serve_app.idempotency import Claim, Idempotency, Replay
from serve_app.policy import RegoPolicy
from serve_app.security.guard import Guard, Limits
from serve_app.security.tokens import TokenIssuer
from serve_app.store import Store
from tests.integration.test_store import execution

SECRET = b"s" * 32


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_timeout=2)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def policy() -> RegoPolicy:
    return RegoPolicy()


@pytest.fixture
def guard(store: Store, redis_client: Redis, policy: RegoPolicy, pepper: bytes) -> Guard:
    return Guard(store, redis_client, policy, TokenIssuer(SECRET, 3600), pepper, Limits(5, 8))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_tokens_authenticate_and_every_forgery_is_refused(guard: Guard, tenant: str) -> None:
    token, _ = guard.tokens.issue("u1", tenant, "developer")
    principal = await guard.authenticate(bearer(token))
    assert (principal.tenant_id, principal.role, principal.kind) == (tenant, "developer", "user")

    expired, _ = guard.tokens.issue("u1", tenant, "developer", now=0)
    wrong_key, _ = TokenIssuer(b"x" * 32, 3600).issue("u1", tenant, "admin")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered_payload = base64.urlsafe_b64encode(json.dumps({**claims, "role": "admin"}).encode()).rstrip(b"=")
    tampered = f"{header}.{tampered_payload.decode()}.{signature}"
    unsigned = jwt.encode({**claims, "role": "admin"}, None, algorithm="none")  # type: ignore[arg-type]
    no_jti = jwt.encode({k: v for k, v in claims.items() if k != "jti"}, SECRET, algorithm="HS256")
    for bad, reason in [
        (expired, "expired"),
        (wrong_key, "invalid"),
        (tampered, "invalid"),
        (unsigned, "invalid"),
        (no_jti, "invalid"),
        ("garbage", "invalid"),
    ]:
        with pytest.raises(UnauthorizedError, match=reason):
            await guard.authenticate(bearer(bad))
    for headers in [{}, {"authorization": f"Basic {token}"}, {"authorization": "Bearer "}]:
        with pytest.raises(UnauthorizedError):
            await guard.authenticate(headers)


async def test_a_revoked_token_is_refused_until_it_would_have_expired(
    guard: Guard, tenant: str, redis_client: Redis
) -> None:
    token, claims = guard.tokens.issue("u2", tenant, "viewer")
    await guard.authenticate(bearer(token))
    await guard.revoke_token(claims)
    with pytest.raises(UnauthorizedError, match="revoked"):
        await guard.authenticate(bearer(token))
    ttl = await redis_client.ttl(f"revoked:jti:{claims.jti}")
    assert 3500 < ttl <= 3605


async def test_api_keys_by_either_header_and_revoked_or_expired_ones_refused(
    guard: Guard, store: Store, tenant: str
) -> None:
    key, secret = await store.create_api_key(tenant, name="ci", role="developer", scopes=("agents:invoke",))
    for headers in (bearer(secret), {"x-api-key": secret}):
        principal = await guard.authenticate(headers)
        assert principal.subject == f"key:{key.id}" and principal.scopes == frozenset({"agents:invoke"})
    with pytest.raises(UnauthorizedError, match="not valid"):
        await guard.authenticate({"x-api-key": secret[:-4] + "AAAA"})
    revoked = await store.revoke_api_key(tenant, key.id)
    assert revoked is not None
    await guard.mark_key_revoked(revoked)
    with pytest.raises(UnauthorizedError, match="revoked"):
        await guard.authenticate({"x-api-key": secret})

    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    _, old = await store.create_api_key(tenant, name="old", role="admin", expires_at=past)
    with pytest.raises(UnauthorizedError, match="expired"):
        await guard.authenticate({"x-api-key": old})


async def test_a_key_revoked_elsewhere_is_refused_despite_the_cache(
    guard: Guard, store: Store, tenant: str, redis_client: Redis, policy: RegoPolicy, pepper: bytes
) -> None:
    key, secret = await store.create_api_key(tenant, name="shared", role="viewer")
    await guard.authenticate({"x-api-key": secret})  # now cached in this process
    other = Guard(store, redis_client, policy, guard.tokens, pepper, guard.limits)
    revoked = await store.revoke_api_key(tenant, key.id)
    assert revoked is not None
    await other.mark_key_revoked(revoked)
    with pytest.raises(UnauthorizedError, match="revoked"):
        await guard.authenticate({"x-api-key": secret})


async def test_policy_denies_a_viewer_invoking(guard: Guard, tenant: str) -> None:
    token, _ = guard.tokens.issue("u3", tenant, "viewer")
    resource = {"category": "marketing", "agent": "marketing_content_writer"}
    with pytest.raises(ForbiddenError, match="viewer"):
        await guard.check(bearer(token), "agents:invoke", resource)
    assert (await guard.check(bearer(token), "agents:read")).role == "viewer"


async def test_rate_limits_per_credential_and_per_tenant(guard: Guard, store: Store, tenant: str) -> None:
    _, first = await store.create_api_key(tenant, name="a", role="developer")
    _, second = await store.create_api_key(tenant, name="b", role="developer")
    for _ in range(5):
        await guard.authenticate({"x-api-key": first})
    with pytest.raises(RateLimitedError) as caught:
        await guard.authenticate({"x-api-key": first})
    assert 1 <= caught.value.retry_after <= 60 and caught.value.details["scope"] == "principal"
    await guard.authenticate({"x-api-key": second})
    await guard.authenticate({"x-api-key": second})
    with pytest.raises(RateLimitedError) as caught:
        await guard.authenticate({"x-api-key": second})  # 9th call of the tenant this window
    assert caught.value.details["scope"] == "tenant"


async def test_redis_down_fails_closed_unless_configured_open(
    store: Store, policy: RegoPolicy, pepper: bytes, tenant: str
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    tokens = TokenIssuer(SECRET, 3600)
    token, _ = tokens.issue("u4", tenant, "admin")
    closed = Guard(store, dead, policy, tokens, pepper, Limits(5, 5))
    with pytest.raises(UnavailableError, match="Redis"):
        await closed.authenticate(bearer(token))
    opened = Guard(store, dead, policy, tokens, pepper, Limits(5, 5, fail_open=True))
    assert (await opened.authenticate(bearer(token))).role == "admin"
    await dead.aclose()


async def test_idempotent_replay_mismatch_and_running(redis_client: Redis, tenant: str) -> None:
    idem = Idempotency(redis_client)
    key = secrets.token_hex(8)
    claim = await idem.begin(tenant, "user:1", key, "agent_a", {"x": 1})
    assert isinstance(claim, Claim)
    with pytest.raises(ConflictError):
        await idem.begin(tenant, "user:1", key, "agent_a", {"x": 1})
    await idem.finish(claim, 200, {"output": {"ok": True}})
    replay = await idem.begin(tenant, "user:1", key, "agent_a", {"x": 1})
    assert replay == Replay(200, {"output": {"ok": True}})
    with pytest.raises(IdempotencyMismatchError):
        await idem.begin(tenant, "user:1", key, "agent_a", {"x": 2})
    assert isinstance(await idem.begin(tenant, "user:2", key, "agent_a", {"x": 1}), Claim)  # per actor

    failed = await idem.begin(tenant, "user:1", "k-failed", "agent_a", {})
    assert isinstance(failed, Claim)
    await idem.finish(failed, 502, {"error": {}})
    assert isinstance(await idem.begin(tenant, "user:1", "k-failed", "agent_a", {}), Claim)


async def test_audit_writes_rows_and_events_and_waits_out_a_database_outage(
    store: Store, redis_client: Redis, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = AuditLog(store, redis_client, max_len=1000, interval=0.01)
    audit.start()
    events = follow(redis_client, tenant, last_id="$", block_ms=2000)
    first_event = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.05)
    real = store.record_executions
    failures = 2

    async def flaky(rows: list[object]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            from serve_app.db import DatabaseUnavailableError

            raise DatabaseUnavailableError("down")
        await real(rows)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "record_executions", flaky)
    for i in range(3):
        await audit.record(execution(tenant, request_id=f"audit-{i}"))
    await asyncio.wait_for(audit.flush(), 10)
    rows = await store.list_executions(tenant)
    assert sorted(r["request_id"] for r in rows) == ["audit-0", "audit-1", "audit-2"]
    event_id, event = await asyncio.wait_for(first_event, 5)
    assert event_id and event["tenant_id"] == tenant and event["request_id"] == "audit-0"
    assert await redis_client.xlen(STREAM) >= 3
    await audit.close()
    await events.aclose()
