"""What happened: `/v1/executions`, `/v1/analytics/usage`, `/v1/analytics/agents` and the live `/v1/events`
stream. Every query runs in the caller's tenant (row-level security)."""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel
from starlette.responses import StreamingResponse

from serve_app import sse
from serve_app.audit import follow
from serve_app.control import Control
from serve_app.errors import BadRequestError
from serve_app.policy import Principal
from serve_app.store import UsageKey

Name = Annotated[str | None, Query(max_length=120)]


class ExecutionRecord(BaseModel):
    id: int
    tenant_id: str
    actor: str
    agent: str
    category: str
    version: str
    status: str
    http_status: int
    latency_ms: float
    request_id: str
    error_type: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    provider: str | None
    model: str | None
    created_at: dt.datetime


class ExecutionPage(BaseModel):
    items: list[ExecutionRecord]
    next_before_id: int | None


def records_router(control: Control) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["records"])

    @router.get("/executions", response_model=ExecutionPage)
    async def executions(
        principal: Annotated[Principal, Depends(control.requires("executions:read"))],
        agent: Name = None,
        category: Name = None,
        status: Annotated[Literal["ok", "error"] | None, Query()] = None,
        actor: Name = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        before_id: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> ExecutionPage:
        rows = await control.store.list_executions(
            principal.tenant_id,
            agent=agent,
            category=category,
            status=status,
            actor=actor,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        )
        items = [ExecutionRecord(**{**r, "cost_usd": float(r["cost_usd"])}) for r in rows]
        return ExecutionPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)

    @router.get("/analytics/usage")
    async def usage(
        principal: Annotated[Principal, Depends(control.requires("analytics:read"))],
        since: dt.date | None = None,
        until: dt.date | None = None,
        group_by: UsageKey = "day",
        split: Annotated[UsageKey | None, Query(description="a second key: one row per pair")] = None,
    ) -> dict[str, Any]:
        """Calls, errors, tokens and cost per day, category, agent or tenant. Grouping by tenant spans
        every tenant and needs `analytics:platform`; everything else is the caller's tenant."""
        until = until or dt.datetime.now(dt.UTC).date()
        since = since or until - dt.timedelta(days=30)
        if since > until or (until - since).days > 366:
            raise BadRequestError(
                "since must be before until, at most 366 days apart", details={"field": "since"}
            )
        if split == group_by:
            raise BadRequestError("split must differ from group_by", details={"field": "split"})
        scope: str | None = principal.tenant_id
        if "tenant" in (group_by, split):
            control.authorize(principal, "analytics:platform")
            scope = None
        rows = await control.store.usage(scope, since=since, until=until, group_by=group_by, split=split)
        return {"since": since, "until": until, "group_by": group_by, "split": split, "items": rows}

    @router.get("/analytics/overview")
    async def overview(
        principal: Annotated[Principal, Depends(control.requires("analytics:read"))],
        minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
    ) -> dict[str, Any]:
        """The last `minutes` of agent calls: totals (calls, errors, error rate, p50/p95 latency, tokens,
        cost) and the same in about 60 buckets."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
        bucket = max(10, minutes)  # seconds: 60 buckets a window
        found = await control.store.overview(principal.tenant_id, since=since, bucket_seconds=bucket)
        return {"since": since, "minutes": minutes, "bucket_seconds": bucket, **found}

    @router.get("/analytics/agents")
    async def agents(
        principal: Annotated[Principal, Depends(control.requires("analytics:read"))],
        hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
        limit: Annotated[int, Query(ge=1, le=1500)] = 100,
    ) -> dict[str, Any]:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        rows = await control.store.agent_stats(principal.tenant_id, since=since, limit=limit)
        return {"since": since, "items": rows}

    @router.get("/analytics/versions")
    async def versions(
        principal: Annotated[Principal, Depends(control.requires("analytics:read"))],
        agent: Annotated[str, Query(min_length=1, max_length=120)],
        hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
    ) -> dict[str, Any]:
        """One agent's calls by version (calls, error rate, p50/p95 latency, cost): a canary against the
        active version."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        rows = await control.store.version_stats(principal.tenant_id, agent=agent, since=since)
        return {"agent": agent, "since": since, "items": rows}

    @router.get("/events", response_class=StreamingResponse)
    async def events(
        principal: Annotated[Principal, Depends(control.requires("events:read"))],
        last_event_id: Annotated[str | None, Header(pattern=r"^\d+-\d+$")] = None,
    ) -> StreamingResponse:
        """Agent calls of the caller's tenant as they are recorded (SSE; resumes from Last-Event-ID)."""

        async def stream() -> AsyncIterator[str]:
            async for event_id, event in follow(
                control.streams, principal.tenant_id, last_id=last_event_id or "$"
            ):
                yield sse.event("execution", event, event_id=event_id) if event_id else ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type=sse.MEDIA_TYPE, headers={"Cache-Control": "no-cache"})

    return router
