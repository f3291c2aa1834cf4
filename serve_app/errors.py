"""The one place where errors become HTTP statuses and `{"error": {"type", "message", "details"}}` bodies.

PlatformError                       errors of the Serve application itself
├── PayloadTooLargeError     413    the request body exceeds AGENTS_MAX_BODY_BYTES
└── UnavailableError         503    a dependency (a deployment, the catalogue) is not ready

Errors of the agent runtime (`agents.errors`) map by their class, walking the class hierarchy.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from agents.errors import (
    AgentError,
    DefinitionError,
    GuardrailError,
    InputValidationError,
    OutputValidationError,
    ProviderError,
    ProviderRateLimitError,
    ProviderTimeoutError,
    UnknownAgentError,
)
from serve_app.responses import JSONResponse

log = logging.getLogger(__name__)


class PlatformError(Exception):
    type = "platform_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class PayloadTooLargeError(PlatformError):
    type = "payload_too_large"


class UnavailableError(PlatformError):
    type = "service_unavailable"


STATUS: dict[type[Exception], int] = {
    PayloadTooLargeError: 413,
    UnavailableError: 503,
    UnknownAgentError: 404,
    InputValidationError: 422,
    GuardrailError: 422,
    ProviderTimeoutError: 504,
    ProviderRateLimitError: 503,
    ProviderError: 502,
    OutputValidationError: 502,
    DefinitionError: 500,
    AgentError: 500,
    PlatformError: 500,
}


def status_for(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(kind: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "details": details}}


def _details(exc: BaseException) -> Any:
    if isinstance(exc, InputValidationError | OutputValidationError):
        return [{"path": e.path, "message": e.message} for e in exc.errors]
    if isinstance(exc, GuardrailError):
        return {"where": exc.where, "kinds": exc.kinds}
    if isinstance(exc, UnknownAgentError):
        return {"agent": exc.name}
    if isinstance(exc, ProviderError):
        return {"provider": exc.provider}
    if isinstance(exc, PlatformError):
        return exc.details
    return None


def describe(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The status and body for an error of the runtime or of the platform; others are internal errors."""
    status = status_for(exc)
    if isinstance(exc, AgentError | PlatformError):
        return status, error_body(exc.type, exc.message, _details(exc))
    log.exception("unhandled error", exc_info=exc)
    return 500, error_body("internal_error", "the server failed to handle the request")


def response_for(exc: BaseException) -> Response:
    status, body = describe(exc)
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the error handlers on `app`."""

    async def on_error(request: Request, exc: Exception) -> Response:
        return response_for(exc)

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            {"path": "/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        body = error_body("request_validation_error", "the request is not valid", details)
        return JSONResponse(body, status_code=422)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(kind, str(exc.detail)), status_code=exc.status_code)

    app.add_exception_handler(AgentError, on_error)
    app.add_exception_handler(PlatformError, on_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
