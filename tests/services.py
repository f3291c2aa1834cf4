"""PostgreSQL and Redis for the tests: the servers named by DATABASE_URL and REDIS_URL, else embedded ones
(started once, kept under /tmp/aap-test-services). Each session gets a fresh database and Redis DB 13."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from serve_app.settings import Settings

TEST_REDIS_DB = 13


EMBEDDED = Settings(data_dir=Path("/tmp/aap-test-services"))


@dataclass(frozen=True)
class Servers:
    postgres: str  # a URL whose database may be used to create others
    redis: str  # base URL without a database number
    embedded: bool = False  # started here: stop them at the end


def servers() -> Servers:
    postgres, redis = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if postgres and redis:
        return Servers(postgres, without_db(redis))
    from serve_app.embedded import ensure_services

    settings = EMBEDDED.model_copy(update={"database_url": postgres, "redis_url": redis})
    found = ensure_services(settings)
    return Servers(found.database_url, without_db(found.redis_url), embedded=bool(found.started))


def stop(found: Servers) -> None:
    if found.embedded:
        from serve_app.embedded import stop_services

        stop_services(EMBEDDED)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def without_db(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=""))


async def create_database(server_url: str) -> str:
    name = f"agents_test_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
