"""`agentctl db|tenants|users|keys` and agent versions against a real PostgreSQL (and Redis)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest
import redis
import yaml
from typer.testing import CliRunner

from agents import Catalog
from serve_app.cli import app
from serve_app.db import Database
from serve_app.routing import CHANNEL
from serve_app.service import definition
from serve_app.settings import get_settings
from serve_app.store import Store
from tests.conftest import DEFINITIONS

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


def test_agent_versions_from_the_command_line(
    database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    agent = "marketing_ab_test_designer"
    spec = Catalog.load(DEFINITIONS).get(agent)
    newer = tmp_path / f"{agent}.yaml"
    newer.write_text(yaml.safe_dump({**definition(spec), "version": "1.2.0"}))
    heard = redis.Redis.from_url(redis_url).pubsub()  # type: ignore[no-untyped-call]
    heard.subscribe(CHANNEL)
    published = json.loads(run("agents", "publish", str(newer), "--canary", "10", "--json"))
    assert (published["active"], published["canary"], published["canary_percent"]) == ("1.0.0", "1.2.0", 10)
    messages = [heard.get_message(timeout=2) for _ in range(2)]
    assert any(m and m["type"] == "message" and agent.encode() in m["data"] for m in messages)
    assert json.loads(run("agents", "promote", agent, "--json"))["active"] == "1.2.0"
    assert "active 1.0.0" in run("agents", "rollback", agent)
    again = cli.invoke(app, ["agents", "promote", agent])
    assert again.exit_code == 1 and "has no canary to promote" in again.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**definition(spec), "version": "x"}))
    refused = cli.invoke(app, ["agents", "publish", str(broken)])
    assert refused.exit_code == 1 and "/version" in refused.output
