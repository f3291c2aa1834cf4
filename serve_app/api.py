"""The FastAPI application every ingress starts from: error handlers, request ids, body limit."""

from __future__ import annotations

from fastapi import FastAPI

from serve_app import errors
from serve_app.middleware import BodyLimitMiddleware, RequestIdMiddleware
from serve_app.responses import JSONResponse
from serve_app.settings import Settings

VERSION = "1.0.0"


def new_api(title: str, settings: Settings, *, docs: bool = True) -> FastAPI:
    api = FastAPI(
        title=title,
        version=VERSION,
        default_response_class=JSONResponse,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    errors.install(api)
    api.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    api.add_middleware(RequestIdMiddleware)
    return api
