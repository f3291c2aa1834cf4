"""`agentctl db upgrade`, `agentctl tenants|users|keys ...`: the platform's records, from the command line.

They use DATABASE_URL, or the embedded PostgreSQL of the data directory (started if it is not running)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, TypeVar

import asyncpg
import typer

from serve_app.cli.output import console, fail, print_json, table
from serve_app.db import Database, DatabaseUnavailableError, upgrade
from serve_app.security.secrets import WeakSecretError, signing_keys
from serve_app.settings import Settings, get_settings
from serve_app.store import DEFAULT_TENANT, Store

T = TypeVar("T")
Role = Literal["admin", "developer", "viewer"]
TenantOption = Annotated[str, typer.Option("--tenant", help="tenant id")]
JsonOption = Annotated[bool, typer.Option("--json")]

db_app = typer.Typer(help="The PostgreSQL schema.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants.", no_args_is_help=True)
users_app = typer.Typer(help="Users of a tenant.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of a tenant.", no_args_is_help=True)


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from serve_app.embedded import ServiceError, ensure_services

    try:
        return ensure_services(settings).database_url
    except ServiceError as exc:
        fail(exc.summary)


def _run(work: Callable[[Store], Awaitable[T]]) -> T:
    settings = get_settings()
    url = database_url(settings)
    try:
        _, pepper = signing_keys(settings)
    except WeakSecretError as exc:
        fail(str(exc))

    async def run() -> T:
        db = await Database(url, size=1).connect()
        try:
            return await work(Store(db, pepper))
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except DatabaseUnavailableError as exc:
        fail(exc.message)
    except asyncpg.PostgresError as exc:
        fail(f"PostgreSQL refused it: {exc}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations that are missing, each in its own transaction."""
    url = database_url(get_settings())
    try:
        done = asyncio.run(upgrade(url))
    except (OSError, asyncpg.PostgresError, ValueError) as exc:
        fail(f"migration failed: {exc}")
    names = [f"{m.version:04d}_{m.name}" for m in done]
    console.print(f"applied {', '.join(names)}" if names else "the schema is up to date")


@tenants_app.command("create")
def tenants_create(tenant_id: str, name: Annotated[str, typer.Option(help="display name")] = "") -> None:
    """Create a tenant."""
    created = _run(lambda store: store.create_tenant(tenant_id, name or tenant_id))
    if not created:
        fail(f"tenant {tenant_id} exists")
    console.print(f"created tenant {tenant_id}")


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="admin, developer or viewer")] = "developer",
    tenant: TenantOption = DEFAULT_TENANT,
    password: Annotated[str | None, typer.Option(help="default: a generated one, printed once")] = None,
) -> None:
    """Create a user who signs in with e-mail and password (POST /v1/auth/token)."""
    chosen = password or secrets.token_urlsafe(18)
    user = _run(lambda store: store.create_user(tenant, email, chosen, role))
    console.print(f"created {user.role} {user.email} in {user.tenant_id}")
    if password is None:
        console.print(f"  password  {chosen}  (shown once)")


@keys_app.command("create")
def keys_create(
    name: str,
    role: Annotated[Role, typer.Option()] = "developer",
    tenant: TenantOption = DEFAULT_TENANT,
    scope: Annotated[list[str] | None, typer.Option(help="an action it may do; repeat; none: all")] = None,
    days: Annotated[int | None, typer.Option(min=1, max=3650, help="expires after")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; its secret is printed once."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    key, secret = _run(
        lambda store: store.create_api_key(
            tenant, name=name, role=role, scopes=tuple(scope or ()), expires_at=expires
        )
    )
    if as_json:
        print_json({**key.public(), "key": secret})
        return
    console.print(f"created {key.role} key {key.name} ({key.id}) in {key.tenant_id}")
    console.print(f"  key  {secret}  (shown once)")


@keys_app.command("list")
def keys_list(tenant: TenantOption = DEFAULT_TENANT, as_json: JsonOption = False) -> None:
    """API keys of a tenant (never their secrets)."""
    keys = _run(lambda store: store.list_api_keys(tenant))
    if as_json:
        print_json([k.public() for k in keys])
        return
    rows = [
        (k.id, k.name, k.prefix, k.role, ",".join(k.scopes) or "*", k.expires_at or "", k.revoked_at or "")
        for k in keys
    ]
    table(f"API keys of {tenant}", ["id", "name", "prefix", "role", "scopes", "expires", "revoked"], rows)


@keys_app.command("revoke")
def keys_revoke(key_id: str, tenant: TenantOption = DEFAULT_TENANT) -> None:
    """Revoke an API key (at once on every replica that checks Redis, within 30 s on the others)."""
    key = _run(lambda store: store.revoke_api_key(tenant, key_id))
    if key is None:
        fail(f"no API key {key_id} in {tenant}")
    console.print(f"revoked {key.name} ({key.id}) at {key.revoked_at}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
