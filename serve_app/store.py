"""The platform's records in PostgreSQL: tenants, users, API keys, agent calls and their analytics.

Everything done on a tenant's behalf goes through `Database.tenant`, so row-level security bounds it even
where a query names no tenant. Sign-in and key lookup, which happen before the tenant is known, and the
audit writer, which batches rows of many tenants, use `Database.system`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from serve_app.db import Database
from serve_app.security.secrets import hash_password, key_hash, new_api_key, verify_password

Role = Literal["admin", "developer", "viewer"]
UsageKey = Literal["day", "category", "agent", "tenant"]
_USAGE_COLUMN: dict[UsageKey, str] = {
    "day": "day",
    "category": "category",
    "agent": "agent",
    "tenant": "tenant_id",
}
DEFAULT_TENANT = "default"


class LastAdminError(Exception):
    """A change would leave a tenant without an active admin."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant_id: str
    owner_id: str | None
    name: str
    prefix: str
    role: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime
    hash: bytes = b""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "role": self.role,
            "scopes": list(self.scopes),
            "owner_id": self.owner_id,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Execution:
    """One agent call, as the audit writer records it."""

    tenant_id: str
    actor: str
    agent: str
    category: str
    version: str
    status: Literal["ok", "error"]
    http_status: int
    latency_ms: float
    request_id: str
    error_type: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    provider: str | None = None
    model: str | None = None
    created_at: dt.datetime | None = None


_KEY_COLUMNS = (
    "id::text, tenant_id, owner_id::text, name, prefix, role, scopes, expires_at, revoked_at, created_at"
)
# Calls, error rate and latency percentiles of a group of executions.
_CALL_FIGURES = (
    "count(*) AS calls, avg((status = 'error')::int)::float8 AS error_rate,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms"
)
_USER_COLUMNS = "id::text, tenant_id, email, role, disabled, created_at"
_EXECUTION_COLUMNS = (
    "tenant_id, actor, agent, category, version, status, http_status, latency_ms, request_id, error_type, "
    "input_tokens, output_tokens, cost_usd, provider, model, created_at"
)


def _key(row: Any, with_hash: bool = False) -> ApiKey:
    return ApiKey(
        row["id"],
        row["tenant_id"],
        row["owner_id"],
        row["name"],
        row["prefix"],
        row["role"],
        tuple(row["scopes"]),
        row["expires_at"],
        row["revoked_at"],
        row["created_at"],
        bytes(row["hash"]) if with_hash else b"",
    )


class Store:
    def __init__(self, db: Database, pepper: bytes) -> None:
        self.db = db
        self._pepper = pepper

    # -- tenants and users ---------------------------------------------------------------------

    async def create_tenant(self, tenant_id: str, name: str) -> bool:
        """False if it already exists."""
        async with self.db.system() as c:
            status: str = await c.execute(
                "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", tenant_id, name
            )
        return status.endswith(" 1")

    async def create_user(self, tenant_id: str, email: str, password: str, role: Role) -> User:
        hashed = hash_password(password)
        async with self.db.tenant(tenant_id) as c:
            row = await c.fetchrow(
                "INSERT INTO users (tenant_id, email, password_hash, role) VALUES ($1, lower($2), $3, $4)"
                " RETURNING id::text, tenant_id, email, role",
                tenant_id,
                email,
                hashed,
                role,
            )
        assert row is not None  # INSERT ... RETURNING
        return User(row["id"], row["tenant_id"], row["email"], row["role"])

    async def authenticate(self, email: str, password: str) -> User | None:
        """One argon2 verification whether the user is unknown, disabled or the password wrong."""
        async with self.db.system() as c:
            row = await c.fetchrow(
                "SELECT id::text, tenant_id, email, role, password_hash, disabled FROM users"
                " WHERE email = lower($1)",
                email,
            )
        ok = verify_password(row["password_hash"] if row else None, password)
        if not ok or row is None or row["disabled"]:
            return None
        return User(row["id"], row["tenant_id"], row["email"], row["role"])

    async def active_user(self, user_id: str) -> User | None:
        """The user, unless unknown or disabled: a refresh takes the role it has now."""
        async with self.db.system() as c:
            row = await c.fetchrow(
                "SELECT id::text, tenant_id, email, role FROM users WHERE id::text = $1 AND NOT disabled",
                user_id,
            )
        return None if row is None else User(row["id"], row["tenant_id"], row["email"], row["role"])

    async def list_users(self, tenant_id: str) -> list[dict[str, Any]]:
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at, email LIMIT 10000")
        return [dict(r) for r in rows]

    async def update_user(
        self, tenant_id: str, user_id: str, *, role: Role | None = None, disabled: bool | None = None
    ) -> dict[str, Any] | None:
        """Change a user's role or disabled flag; None if there is no such user in the tenant. Raises
        `LastAdminError` rather than leave the tenant without an active admin."""
        async with self.db.tenant(tenant_id) as c:
            # Serialises concurrent changes to the tenant's admins, so two cannot each remove "another" one.
            admins = await c.fetch(
                "SELECT id::text FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE"
            )
            row = await c.fetchrow(
                f"UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled)"
                f" WHERE id::text = $1 RETURNING {_USER_COLUMNS}",
                user_id,
                role,
                disabled,
            )
            if row is None:
                return None
            remaining = {a["id"] for a in admins} - {user_id}
            if row["role"] == "admin" and not row["disabled"]:
                remaining.add(user_id)
            if admins and not remaining:
                raise LastAdminError("the tenant would be left without an active admin")
        return dict(row)

    # -- API keys --------------------------------------------------------------------------------

    async def create_api_key(
        self,
        tenant_id: str,
        *,
        name: str,
        role: Role,
        owner_id: str | None = None,
        scopes: tuple[str, ...] = (),
        expires_at: dt.datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """The record and the secret; the secret is not stored and cannot be shown again."""
        new = new_api_key()
        async with self.db.tenant(tenant_id) as c:
            row = await c.fetchrow(
                "INSERT INTO api_keys (tenant_id, owner_id, name, prefix, hash, role, scopes, expires_at)"
                f" VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8) RETURNING {_KEY_COLUMNS}",
                tenant_id,
                owner_id,
                name,
                new.prefix,
                key_hash(self._pepper, new.secret),
                role,
                list(scopes),
                expires_at,
            )
        return _key(row), new.secret

    async def find_api_key(self, prefix: str) -> ApiKey | None:
        async with self.db.system() as c:
            row = await c.fetchrow(f"SELECT {_KEY_COLUMNS}, hash FROM api_keys WHERE prefix = $1", prefix)
        return _key(row, with_hash=True) if row else None

    async def list_api_keys(self, tenant_id: str, owner_id: str | None = None) -> list[ApiKey]:
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE ($1::uuid IS NULL OR owner_id = $1::uuid)"
                " ORDER BY created_at DESC LIMIT 1000",
                owner_id,
            )
        return [_key(r) for r in rows]

    async def revoke_api_key(self, tenant_id: str, key_id: str, owner_id: str | None = None) -> ApiKey | None:
        """None if no such key in this tenant (or not the owner's). Revoking twice keeps the first time."""
        async with self.db.tenant(tenant_id) as c:
            row = await c.fetchrow(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
                " WHERE id::text = $1 AND ($2::uuid IS NULL OR owner_id = $2::uuid)"
                f" RETURNING {_KEY_COLUMNS}",
                key_id,
                owner_id,
            )
        return _key(row) if row else None

    # -- executions and analytics ----------------------------------------------------------------

    async def record_executions(self, rows: list[Execution]) -> None:
        """One transaction for the batch: all rows (and their rollups) or none."""
        if not rows:
            return
        now = dt.datetime.now(dt.UTC)
        records = [
            (
                r.tenant_id, r.actor, r.agent, r.category, r.version, r.status, r.http_status, r.latency_ms,
                r.request_id, r.error_type, r.input_tokens, r.output_tokens, r.cost_usd, r.provider, r.model,
                r.created_at or now,
            )
            for r in rows
        ]  # fmt: skip
        async with self.db.system() as c:
            await c.executemany(
                f"INSERT INTO executions ({_EXECUTION_COLUMNS}) VALUES"
                " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                records,
            )

    async def list_executions(
        self,
        tenant_id: str,
        *,
        agent: str | None = None,
        category: str | None = None,
        status: str | None = None,
        actor: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Newest first; page with `before_id` (the last id of the previous page). Filters are parameters."""
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(
                f"SELECT id, {_EXECUTION_COLUMNS} FROM executions"
                " WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR category = $2)"
                " AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR actor = $4)"
                " AND ($5::timestamptz IS NULL OR created_at >= $5)"
                " AND ($6::timestamptz IS NULL OR created_at < $6)"
                " AND ($7::bigint IS NULL OR id < $7)"
                " ORDER BY id DESC LIMIT $8",
                agent,
                category,
                status,
                actor,
                since,
                until,
                before_id,
                limit,
            )
        return [dict(r) for r in rows]

    async def usage(
        self,
        tenant_id: str | None,
        *,
        since: dt.date,
        until: dt.date,
        group_by: UsageKey = "day",
        split: UsageKey | None = None,
    ) -> list[dict[str, Any]]:
        """Daily rollups summed by `group_by` (and `split`, one row per pair). `tenant_id` None: every
        tenant's (for the platform's operators)."""
        keys = _USAGE_COLUMN[group_by]
        selected = f"{keys} AS key"
        if split is not None:
            keys += f", {_USAGE_COLUMN[split]}"
            selected += f", {_USAGE_COLUMN[split]} AS split"
        query = (
            f"SELECT {selected}, sum(calls)::bigint AS calls, sum(errors)::bigint AS errors,"
            " sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens,"
            " sum(cost_usd)::float8 AS cost_usd FROM usage_daily WHERE day >= $1 AND day <= $2"
            f" GROUP BY {keys} ORDER BY {keys} LIMIT 20000"
        )
        async with self.db.system() if tenant_id is None else self.db.tenant(tenant_id) as c:
            rows = await c.fetch(query, since, until)
        return [dict(r) for r in rows]

    async def overview(self, tenant_id: str, *, since: dt.datetime, bucket_seconds: int) -> dict[str, Any]:
        """Totals of the calls since `since`, and the same per `bucket_seconds` (buckets without calls are
        left out)."""
        figures = f"{_CALL_FIGURES}, count(*) FILTER (WHERE status = 'error') AS errors"
        async with self.db.tenant(tenant_id) as c:
            totals = await c.fetchrow(
                f"SELECT {figures}, coalesce(sum(input_tokens), 0)::bigint AS input_tokens,"
                " coalesce(sum(output_tokens), 0)::bigint AS output_tokens,"
                " coalesce(sum(cost_usd), 0)::float8 AS cost_usd FROM executions WHERE created_at >= $1",
                since,
            )
            series = await c.fetch(
                "SELECT to_timestamp(floor(extract(epoch FROM created_at) / $2::integer) * $2::integer) AS t,"
                f" {figures} FROM executions WHERE created_at >= $1 GROUP BY 1 ORDER BY 1",
                since,
                bucket_seconds,
            )
        assert totals is not None  # an aggregate without GROUP BY always has its one row
        result = dict(totals)
        result["error_rate"] = result["error_rate"] or 0.0  # no calls: none failed
        return {"totals": result, "series": [dict(r) for r in series]}

    async def agent_stats(
        self, tenant_id: str, *, since: dt.datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(
                f"SELECT agent, category, {_CALL_FIGURES}"
                " FROM executions WHERE created_at >= $1 GROUP BY agent, category"
                " ORDER BY calls DESC, agent LIMIT $2",
                since,
                limit,
            )
        return [dict(r) for r in rows]

    async def version_stats(self, tenant_id: str, *, agent: str, since: dt.datetime) -> list[dict[str, Any]]:
        """One agent's calls since `since` by the version that answered them: to compare a canary."""
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(
                f"SELECT version, {_CALL_FIGURES}, sum(cost_usd)::float8 AS cost_usd,"
                " max(created_at) AS last_call"
                " FROM executions WHERE agent = $1 AND created_at >= $2 GROUP BY version ORDER BY version",
                agent,
                since,
            )
        return [dict(r) for r in rows]

    # -- first start -----------------------------------------------------------------------------

    async def bootstrap(self, admin_email: str, admin_password: str) -> str | None:
        """Create the default tenant, its admin and an admin API key, once. Returns the key's secret the
        first time, None afterwards."""
        if not await self.create_tenant(DEFAULT_TENANT, "Default tenant"):
            return None
        user = await self.create_user(DEFAULT_TENANT, admin_email, admin_password, "admin")
        _, secret = await self.create_api_key(
            DEFAULT_TENANT, name="bootstrap admin", role="admin", owner_id=user.id
        )
        return secret
