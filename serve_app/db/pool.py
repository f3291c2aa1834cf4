"""One asyncpg pool per process. Tenant work runs in a transaction switched to the `agents_tenant` role with
`app.tenant_id` set, so row-level security limits every statement to that tenant's rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import orjson

from serve_app.errors import UnavailableError

if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.pool.PoolConnectionProxy[asyncpg.Record]


class DatabaseUnavailableError(UnavailableError):
    """PostgreSQL could not be reached or did not answer in time (503)."""


_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.TooManyConnectionsError,
)


# One round trip: `role` is the setting behind SET ROLE; both end with the transaction.
_SCOPE = "SELECT set_config('role', 'agents_tenant', true), set_config('app.tenant_id', $1, true)"


async def _init(connection: asyncpg.Connection[asyncpg.Record]) -> None:
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


class Database:
    """Owns the pool. `system()` is for work that spans tenants (sign-in, key lookup, audit batches);
    `tenant(id)` for everything done on a tenant's behalf."""

    def __init__(self, url: str, *, size: int = 4, timeout: float = 5.0, statement_timeout_ms: int = 10_000):
        self.url = url
        self.size = size
        self.timeout = timeout
        self.statement_timeout_ms = statement_timeout_ms
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None

    async def connect(self) -> Database:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.size,
                timeout=self.timeout,
                command_timeout=self.timeout * 2,
                init=_init,
                server_settings={"statement_timeout": str(self.statement_timeout_ms)},
            )
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailableError(f"PostgreSQL is unreachable: {exc}") from exc
        return self

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise DatabaseUnavailableError("the database is not connected")
        return self._pool

    @asynccontextmanager
    async def system(self) -> AsyncIterator[Connection]:
        """A transaction as the pool's own role (row-level security does not apply)."""
        try:
            async with self.pool.acquire(timeout=self.timeout) as connection, connection.transaction():
                yield connection
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailableError(f"PostgreSQL is unavailable: {exc}") from exc

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[Connection]:
        """A transaction that sees and writes only `tenant_id`'s rows."""
        async with self.system() as connection:
            await connection.execute(_SCOPE, tenant_id)
            yield connection
