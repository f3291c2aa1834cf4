"""`agentctl db|tenants|users|keys` against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets

import pytest
from typer.testing import CliRunner

from serve_app.cli import app
from serve_app.db import Database
from serve_app.settings import get_settings
from serve_app.store import Store

cli = CliRunner()


@pytest.fixture(autouse=True)
def _environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTS_JWT_SECRET", "j" * 32)
    monkeypatch.setenv("AGENTS_KEY_PEPPER", "p" * 32)
    get_settings.cache_clear()


def run(*args: str) -> str:
    done = cli.invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def signs_in(database_url: str, email: str, password: str) -> bool:
    async def check() -> bool:
        db = await Database(database_url, size=1).connect()
        try:
            return await Store(db, b"p" * 32).authenticate(email, password) is not None
        finally:
            await db.close()

    return asyncio.run(check())


def test_tenants_users_and_keys_from_the_command_line(database_url: str) -> None:
    tenant = f"cli-{secrets.token_hex(4)}"
    assert "up to date" in run("db", "upgrade")
    assert "created tenant" in run("tenants", "create", tenant, "--name", "CLI")
    assert "created tenant" in run("tenants", "create", f"{tenant}-cli", "--name", "CLI")
    refused = cli.invoke(app, ["tenants", "create", f"{tenant}-cli"])
    assert refused.exit_code == 1 and "exists" in refused.output

    output = run("users", "create", f"ops@{tenant}.example", "--role", "admin", "--tenant", tenant)
    password = output.split("password")[1].split()[0]
    assert signs_in(database_url, f"ops@{tenant}.example", password)

    created = json.loads(
        run("keys", "create", "deploy", "--tenant", tenant, "--scope", "agents:invoke", "--json")
    )
    assert created["key"].startswith("aap_") and created["scopes"] == ["agents:invoke"]
    listed = json.loads(run("keys", "list", "--tenant", tenant, "--json"))
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert "revoked" in run("keys", "revoke", created["id"], "--tenant", tenant)
    missing = cli.invoke(app, ["keys", "revoke", created["id"], "--tenant", f"{tenant}-cli"])
    assert missing.exit_code == 1 and "no API key" in missing.output
    bad_role = cli.invoke(app, ["users", "create", "x@y.example", "--role", "owner", "--tenant", tenant])
    assert bad_role.exit_code != 0
