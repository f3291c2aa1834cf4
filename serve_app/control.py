"""What each serving process needs to govern calls: the store, Redis, the policy, the guard, the audit log
and idempotency keys. Connected lazily, once, on the first call that needs them (in the replica's event
loop); `close()` flushes the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from redis.asyncio import Redis

from agents import AgentSpec
from serve_app.audit import AuditLog, stream_client
from serve_app.db import Database, DatabaseUnavailableError
from serve_app.errors import ForbiddenError, UnavailableError
from serve_app.idempotency import Idempotency
from serve_app.policy import Principal, load_policy
from serve_app.pricing import cost_usd
from serve_app.routing import CATALOGUE_ONLY, ReleaseFeed, Routing
from serve_app.security.guard import Guard, Limits
from serve_app.security.secrets import signing_keys
from serve_app.security.tokens import TokenIssuer
from serve_app.settings import Settings
from serve_app.store import DEFAULT_TENANT, Execution, Store

log = logging.getLogger(__name__)
FEED_RETRY_SECONDS = 5.0
ANONYMOUS = Principal(DEFAULT_TENANT, "anonymous", "admin", "user")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a call is made for; crosses the handle from the gateway to a category replica."""

    tenant_id: str
    actor: str

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(principal.tenant_id, principal.subject)


class Control:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()
        self._ready = False
        self.db: Database
        self.redis: Redis
        self.streams: Redis
        self.store: Store
        self.guard: Guard
        self.audit: AuditLog
        self.idempotency: Idempotency
        self._feeds: dict[str | None, ReleaseFeed] = {}

    @property
    def enabled(self) -> bool:
        """Off only with AGENTS_AUTH=false and no database: then calls are anonymous and not recorded."""
        return self.settings.auth or self.settings.database_url is not None

    async def ready(self) -> Control:
        if self._ready:
            return self
        async with self._lock:
            if not self._ready:
                await self._connect()
                self._ready = True
        return self

    async def _connect(self) -> None:
        s = self.settings
        if not s.database_url or not s.redis_url:
            raise UnavailableError("DATABASE_URL and REDIS_URL must be set to authenticate and record calls")
        secret, pepper = signing_keys(s)
        try:
            self.db = await Database(s.database_url, size=s.db_pool_size).connect()
        except DatabaseUnavailableError as exc:
            raise UnavailableError(str(exc)) from exc
        self.redis = Redis.from_url(s.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.streams = stream_client(s.redis_url)  # blocking reads of the event streams
        self.store = Store(self.db, pepper)
        policy = await asyncio.to_thread(load_policy, s.opa_url, platform_tenant=DEFAULT_TENANT)
        limits = Limits(s.rate_limit_per_key, s.rate_limit_per_tenant, s.redis_fail_open)
        self.guard = Guard(
            self.store,
            self.redis,
            policy,
            TokenIssuer(secret, s.token_ttl_minutes * 60, s.refresh_ttl_hours * 3600),
            pepper,
            limits,
        )
        self.audit = AuditLog(self.store, self.redis, max_len=s.events_max_len)
        self.audit.start()
        self.idempotency = Idempotency(self.redis)

    async def routing(self, category: str | None) -> Routing:
        """The releases of `category` (of all: None) that this process serves, kept current. While
        PostgreSQL cannot be reached at first, the catalogue's definitions alone (tried again after
        `FEED_RETRY_SECONDS`); always, without a database."""
        if not self.enabled:
            return CATALOGUE_ONLY
        feed = self._feeds.get(category)
        if feed is None:
            feed = self._feeds[category] = ReleaseFeed(category)
        if not feed.started and time.monotonic() >= feed.retry_at:
            try:
                await self.ready()
                await feed.start(self.db, self.streams)
            except (UnavailableError, DatabaseUnavailableError) as exc:
                feed.retry_at = time.monotonic() + FEED_RETRY_SECONDS
                log.warning("releases of %s not loaded (%s): serving the catalogue's", category or "all", exc)
        return feed.routing

    async def reload_routing(self) -> None:
        """Reload this process's releases now (after it changed them itself; others hear the announcement)."""
        for feed in self._feeds.values():
            if feed.started:
                await feed.reload(self.db)

    async def close(self) -> None:
        for feed in self._feeds.values():
            await feed.close()
        if self._ready:
            await self.audit.close()
            await self.redis.aclose()
            await self.streams.aclose()
            await self.db.close()
            self._ready = False

    async def authenticate(self, request: Request) -> Principal:
        if not self.settings.auth:
            return ANONYMOUS
        await self.ready()
        return await self.guard.authenticate(request.headers)

    def authorize(self, principal: Principal, action: str, resource: dict[str, str] | None = None) -> None:
        if self.settings.auth:
            self.guard.authorize(principal, action, resource)

    async def check(self, request: Request, action: str, resource: dict[str, str] | None = None) -> Principal:
        principal = await self.authenticate(request)
        self.authorize(principal, action, resource)
        return principal

    def allows(self, principal: Principal, action: str, resource: dict[str, str] | None = None) -> bool:
        """Whether the policy lets `principal` do `action`, without raising."""
        if not self.settings.auth:
            return True
        try:
            self.guard.authorize(principal, action, resource)
        except (ForbiddenError, UnavailableError):
            return False
        return True

    def requires(self, action: str) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency: the principal, if the policy allows `action` (no resource)."""

        async def dependency(request: Request) -> Principal:
            return await self.check(request, action)

        return dependency

    async def record(
        self,
        caller: Caller | None,
        spec: AgentSpec,
        status: int,
        body: dict[str, Any],
        started: float,
        request_id: str,
    ) -> None:
        """One execution row and event for a finished call (`body`: the answer or the error body)."""
        if caller is None or not self.enabled:
            return
        await self.ready()
        usage = body.get("usage") or {}
        error = body.get("error")
        model = body.get("model")
        await self.audit.record(
            Execution(
                tenant_id=caller.tenant_id,
                actor=caller.actor,
                agent=spec.name,
                category=spec.category,
                version=spec.version,
                status="ok" if status < 400 else "error",
                http_status=status,
                latency_ms=body.get("latency_ms") or (time.perf_counter() - started) * 1000,
                request_id=request_id,
                error_type=error.get("type") if isinstance(error, dict) else None,
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                cost_usd=cost_usd(model, usage.get("input_tokens", 0), usage.get("output_tokens", 0)),
                provider=body.get("provider"),
                model=model,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
