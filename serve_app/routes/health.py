"""GET /healthz (the process is up) and GET /readyz (everything it depends on is ready)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from serve_app.responses import JSONResponse

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def health_router(ready: Readiness, info: Callable[[], dict[str, Any]] = dict) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok", **info()})

    @router.get("/readyz")
    async def readyz() -> Response:
        ok, details = await ready()
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", **details}, status_code=200 if ok else 503
        )

    return router
