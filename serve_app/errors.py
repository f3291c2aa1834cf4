"""The one place where errors become HTTP statuses and `{"error": {"type", "message", "details"}}` bodies.

PlatformError                       errors of the Serve application itself
├── BadRequestError          400    a request the platform cannot take (bad header, bad filter)
├── UnauthorizedError        401    no credentials, or credentials that are invalid, expired or revoked
├── ForbiddenError           403    the policy denies the action to this principal
├── NotFoundError            404    no such record in the caller's tenant
├── ConflictError            409    the record exists, or an idempotent call with this key is still running
├── PayloadTooLargeError     413    the request body exceeds AGENTS_MAX_BODY_BYTES
├── UnprocessableError       422    a well-formed request the platform cannot act on (an invalid workflow)
│   └── IdempotencyMismatchError    an Idempotency-Key reused with a different request
├── RateLimitedError         429    over a rate limit; carries the seconds until the window resets
└── UnavailableError         503    a dependency (a deployment, the catalogue, PostgreSQL, Redis) is down

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


class BadRequestError(PlatformError):
    type = "bad_request"


class UnauthorizedError(PlatformError):
    type = "unauthorized"


class ForbiddenError(PlatformError):
    type = "forbidden"


class NotFoundError(PlatformError):
    type = "not_found"


class ConflictError(PlatformError):
    type = "conflict"


class PayloadTooLargeError(PlatformError):
    type = "payload_too_large"


class UnprocessableError(PlatformError):
    type = "unprocessable"


class IdempotencyMismatchError(UnprocessableError):
    type = "idempotency_key_reused"


class RateLimitedError(PlatformError):
    type = "rate_limited"

    def __init__(self, message: str, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class UnavailableError(PlatformError):
    type = "service_unavailable"


STATUS: dict[type[Exception], int] = {
    BadRequestError: 400,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    UnprocessableError: 422,
    RateLimitedError: 429,
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


def headers_for(exc: BaseException, status: int) -> dict[str, str] | None:
    if isinstance(exc, RateLimitedError):
        return {"Retry-After": str(exc.retry_after)}
    if status == 401:
        return {"WWW-Authenticate": 'Bearer realm="agents"'}
    if status == 503:
        return {"Retry-After": "1"}
    return None


def response_for(exc: BaseException) -> Response:
    status, body = describe(exc)
    return JSONResponse(body, status_code=status, headers=headers_for(exc, status))


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
