from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from serve_app.db import Database, upgrade
from serve_app.store import Store
from tests.fakes import FakeAnthropic, FakeOpenAI
from tests.services import TEST_REDIS_DB, Servers, create_database, drop_database
from tests.services import servers as find_servers
from tests.services import stop as stop_servers


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_anthropic(_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    _anthropic_server.reset()
    yield _anthropic_server
    _anthropic_server.reset()


@pytest.fixture
def fake_openai(_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    _openai_server.reset()
    yield _openai_server
    _openai_server.reset()


# -- PostgreSQL and Redis ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    found = find_servers()
    yield found
    stop_servers(found)


@pytest.fixture(scope="session")
def database_url(servers: Servers) -> Iterator[str]:
    url = asyncio.run(create_database(servers.postgres))
    asyncio.run(upgrade(url))
    yield url
    asyncio.run(drop_database(servers.postgres, url))


@pytest.fixture(scope="session")
def redis_url(servers: Servers) -> str:
    url = f"{servers.redis}/{TEST_REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database(database_url, size=4).connect()
    yield database
    await database.close()


@pytest.fixture
def pepper() -> bytes:
    return b"p" * 32


@pytest.fixture
def store(db: Database, pepper: bytes) -> Store:
    return Store(db, pepper)


@pytest.fixture
async def tenant(store: Store) -> str:
    """A new tenant per test: tests share the session's database and never see each other's rows."""
    tenant_id = f"t-{secrets.token_hex(5)}"
    await store.create_tenant(tenant_id, f"Tenant {tenant_id}")
    return tenant_id
