"""The store against a real PostgreSQL: migrations, row-level security, identity records, executions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest

import serve_app.store as store_module
from serve_app.db import Database, migrations, upgrade
from serve_app.security import secrets as secret_module
from serve_app.security.secrets import key_hash, parse_api_key, same_hash
from serve_app.store import Execution, Store


def execution(tenant: str, agent: str = "legal_nda_reviewer", **changes: object) -> Execution:
    fields: dict[str, object] = {
        "tenant_id": tenant,
        "actor": "user:1",
        "agent": agent,
        "category": agent.split("_")[0],
        "version": "1.0.0",
        "status": "ok",
        "http_status": 200,
        "latency_ms": 100.0,
        "request_id": "r-1",
        "input_tokens": 10,
        "output_tokens": 20,
        "cost_usd": 0.001,
    }
    fields.update(changes)
    return Execution(**fields)  # type: ignore[arg-type]


async def test_migrations_apply_once_and_a_changed_file_is_refused(database_url: str, tmp_path: Path) -> None:
    assert await upgrade(database_url) == []
    for m in migrations():
        (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql + "\n-- edited\n")
    with pytest.raises(ValueError, match="changed after it was applied"):
        await upgrade(database_url, tmp_path)
    (tmp_path / "12_bad.sql").write_text("")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        migrations(tmp_path)


async def test_row_level_security_bounds_queries_that_name_no_tenant(store: Store, db: Database) -> None:
    a, b = "rls-a", "rls-b"
    for t in (a, b):
        await store.create_tenant(t, t)
    await store.record_executions([execution(a), execution(a), execution(b)])
    async with db.tenant(a) as c:
        tenants = {r["tenant_id"] for r in await c.fetch("SELECT tenant_id FROM executions")}
        assert tenants == {a}
        assert {r["tenant_id"] for r in await c.fetch("SELECT tenant_id FROM usage_daily")} == {a}
        assert [r["id"] for r in await c.fetch("SELECT id FROM tenants")] == [a]
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.tenant(a) as c:
            await c.execute(
                "INSERT INTO executions (tenant_id, actor, agent, category, version, status, http_status,"
                " latency_ms, request_id) VALUES ($1, 'x', 'y', 'z', '1', 'ok', 200, 1, 'r')",
                b,
            )
    async with db.tenant(a) as c:
        deleted = await c.execute("DELETE FROM executions WHERE tenant_id = $1", b)
        assert deleted == "DELETE 0"
    async with db.system() as c:
        await c.execute("SET LOCAL ROLE agents_tenant")
        assert await c.fetchval("SELECT count(*) FROM executions") == 0  # no tenant set: nothing


async def test_users_sign_in_and_unknown_users_cost_one_verification(
    store: Store, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await store.create_user(tenant, f"Ada@{tenant}.example", "correct horse", "developer")
    assert user.email == f"ada@{tenant}.example"
    assert await store.authenticate(f"ADA@{tenant}.example", "correct horse") == user
    verified: list[str | None] = []
    real = secret_module.verify_password

    def counting(stored: str | None, password: str) -> bool:
        verified.append(stored)
        return real(stored, password)

    monkeypatch.setattr(store_module, "verify_password", counting)
    assert await store.authenticate(user.email, "wrong") is None
    assert await store.authenticate(f"nobody@{tenant}.example", "correct horse") is None
    assert len(verified) == 2 and verified[1] is None
    with pytest.raises(asyncpg.UniqueViolationError):
        await store.create_user(tenant, user.email, "x", "viewer")


async def test_api_keys_are_stored_as_keyed_hashes_and_stay_in_their_tenant(
    store: Store, tenant: str, pepper: bytes
) -> None:
    user = await store.create_user(tenant, f"keys@{tenant}.example", "pw", "developer")
    key, secret = await store.create_api_key(
        tenant, name="ci", role="developer", owner_id=user.id, scopes=("agents:invoke",)
    )
    prefix = parse_api_key(secret)
    assert prefix == key.prefix
    found = await store.find_api_key(prefix)
    assert found is not None and found.id == key.id and found.scopes == ("agents:invoke",)
    assert same_hash(found.hash, key_hash(pepper, secret))
    assert secret.encode() not in found.hash
    assert [k.id for k in await store.list_api_keys(tenant)] == [key.id]

    other = f"{tenant}-other"
    await store.create_tenant(other, other)
    assert await store.list_api_keys(other) == []
    assert await store.revoke_api_key(other, key.id) is None
    revoked = await store.revoke_api_key(tenant, key.id)
    assert revoked is not None and revoked.revoked_at is not None
    again = await store.revoke_api_key(tenant, key.id)
    assert again is not None and again.revoked_at == revoked.revoked_at


async def test_executions_roll_up_per_day_and_agent(store: Store, tenant: str) -> None:
    day = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    await store.record_executions(
        [
            execution(tenant, latency_ms=100, created_at=day),
            execution(tenant, latency_ms=300, created_at=day),
            execution(tenant, status="error", http_status=502, error_type="provider_error", created_at=day),
            execution(tenant, agent="hr_onboarding_planner", created_at=day + dt.timedelta(days=1)),
        ]
    )
    by_agent = await store.usage(
        tenant, since=day.date(), until=day.date() + dt.timedelta(days=1), group_by="agent"
    )
    assert {r["key"]: (r["calls"], r["errors"], r["input_tokens"]) for r in by_agent} == {
        "hr_onboarding_planner": (1, 0, 10),
        "legal_nda_reviewer": (3, 1, 30),
    }
    by_day = await store.usage(tenant, since=day.date(), until=day.date(), group_by="day")
    assert [(r["key"], r["calls"]) for r in by_day] == [(day.date(), 3)]
    stats = {r["agent"]: r for r in await store.agent_stats(tenant, since=day - dt.timedelta(days=1))}
    assert stats["legal_nda_reviewer"]["calls"] == 3
    assert stats["legal_nda_reviewer"]["p50_ms"] == 100.0
    assert stats["legal_nda_reviewer"]["error_rate"] == pytest.approx(1 / 3)
    page = await store.list_executions(tenant, limit=2)
    rest = await store.list_executions(tenant, before_id=page[-1]["id"], limit=10)
    assert len(page) == 2 and len(rest) == 2 and page[-1]["id"] > rest[0]["id"]
    assert len(await store.list_executions(tenant, status="error")) == 1


@pytest.mark.parametrize(
    "hostile",
    [
        "x' OR '1'='1",
        "'; DROP TABLE executions; --",
        "legal_nda_reviewer\x00",
        "%",
        "\\",
        "$1",
        "*/ SELECT 1 /*",
    ],
)
async def test_filters_are_parameters_not_sql(store: Store, tenant: str, hostile: str) -> None:
    await store.record_executions([execution(tenant)])
    for field in ("agent", "category", "status", "actor"):
        try:
            rows = await store.list_executions(tenant, **{field: hostile})  # type: ignore[arg-type]
        except asyncpg.CharacterNotInRepertoireError:
            assert "\x00" in hostile  # PostgreSQL text cannot hold NUL: refused, not run
            continue
        assert rows == []
    assert len(await store.list_executions(tenant)) == 1
