"""Every agent call becomes an execution row in PostgreSQL and an event in a Redis Stream.

Calls hand their record to `AuditLog.record`, which queues it; a background task writes batches (one
transaction per batch, rollups included) and appends the events with one pipeline. While PostgreSQL is down
the batch is kept and retried with backoff; the queue is bounded, so callers wait rather than rows being
dropped. `close()` flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from serve_app.db import DatabaseUnavailableError
from serve_app.store import Execution, Store

log = logging.getLogger(__name__)
STREAM = "agents:events"
STREAM_BLOCK_MS = 15_000  # how long one read of a stream waits for entries before a keep-alive


def stream_client(url: str) -> Redis:
    """A client for `read_stream`: its reads may wait `STREAM_BLOCK_MS`, so its socket timeout is longer."""
    return Redis.from_url(url, socket_timeout=STREAM_BLOCK_MS / 1000 + 5, socket_connect_timeout=2)


def event_fields(row: Execution) -> dict[str, str]:
    data = dataclasses.asdict(row)
    data["created_at"] = row.created_at.isoformat() if row.created_at else None
    return {"tenant": row.tenant_id, "data": orjson.dumps(data).decode()}


class AuditLog:
    def __init__(
        self,
        store: Store,
        redis: Redis,
        *,
        max_len: int = 100_000,
        batch_size: int = 500,
        interval: float = 0.2,
        queue_size: int = 10_000,
        close_timeout: float = 10.0,
    ) -> None:
        self.close_timeout = close_timeout
        self.store = store
        self.redis = redis
        self.max_len = max_len
        self.batch_size = batch_size
        self.interval = interval
        self._queue: asyncio.Queue[Execution] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def record(self, row: Execution) -> None:
        await self._queue.put(row)

    async def flush(self) -> None:
        """Wait until everything recorded so far is written."""
        await self._queue.join()

    async def close(self) -> None:
        """Write what is queued (waiting up to `close_timeout` for PostgreSQL), then stop."""
        try:
            if self._task is not None:
                async with asyncio.timeout(self.close_timeout):
                    await self._queue.join()
        except TimeoutError:
            log.error("%d execution rows not written at shutdown", self._queue.qsize())
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(self.interval)
            batch = [first]
            while not self._queue.empty() and len(batch) < self.batch_size:
                batch.append(self._queue.get_nowait())
            backoff = 0.1
            while True:
                try:
                    await self._write(batch)
                    break
                except DatabaseUnavailableError as exc:
                    log.warning("audit batch of %d waits for PostgreSQL: %s", len(batch), exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[Execution]) -> None:
        if not batch:
            return
        await self.store.record_executions(batch)
        self.written += len(batch)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for row in batch:
                    pipe.xadd(STREAM, event_fields(row), maxlen=self.max_len, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("%d events not streamed (Redis unavailable): %s", len(batch), exc)


async def read_stream(
    redis: Redis, key: str, *, last_id: str = "$", block_ms: int | None = None
) -> AsyncGenerator[tuple[str, dict[str, str]], None]:
    """Entries of the Redis Stream `key` after `last_id`, forever, as (id, fields) in text. Yields ("", {})
    on idle timeouts so that the caller can send a keep-alive. `redis` must allow reads that long (see
    `stream_client`)."""
    while True:
        answer: Any = await redis.xread({key: last_id}, count=500, block=block_ms or STREAM_BLOCK_MS)
        if not answer:
            yield "", {}
            continue
        for _, entries in answer:
            for entry_id, fields in entries:
                last_id = _text(entry_id)
                yield last_id, {_text(k): _text(v) for k, v in fields.items()}


async def follow(
    redis: Redis, tenant_id: str | None, *, last_id: str = "$", block_ms: int | None = None
) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
    """Agent call events after `last_id`, forever; only `tenant_id`'s unless it is None. Yields ("", {})
    on idle timeouts."""
    async for entry_id, fields in read_stream(redis, STREAM, last_id=last_id, block_ms=block_ms):
        if not entry_id:
            yield "", {}
        elif tenant_id is None or fields["tenant"] == tenant_id:
            yield entry_id, orjson.loads(fields["data"])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
