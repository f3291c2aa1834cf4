"""POST .../agents/{name}/invoke: JSON, or SSE with `Accept: text/event-stream` or `?stream=true`.

The first hop of a call (the category's own replica on the direct path, the gateway otherwise) checks the
credentials and the policy and honours `Idempotency-Key`; the category's replica records the execution."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response, StreamingResponse

from serve_app import sse
from serve_app.control import Caller, Control
from serve_app.errors import BadRequestError
from serve_app.idempotency import Replay
from serve_app.logcontext import bound
from serve_app.models import InvokeRequest, InvokeResponse
from serve_app.responses import JSONResponse
from serve_app.routing import split_version
from serve_app.service import StreamOpening

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no credentials, or invalid, expired or revoked ones"},
    403: {"description": "the policy does not let this principal invoke this agent"},
    404: {"description": "no agent of that name"},
    409: {"description": "a call with this Idempotency-Key is still running"},
    413: {"description": "the body is too large"},
    422: {"description": "the input breaks the agent's input schema (every failing path listed)"},
    429: {"description": "over a rate limit (see Retry-After)"},
    502: {"description": "the model provider failed or answered outside the output schema"},
    504: {"description": "the model provider did not answer in time"},
}


class Invoker(Protocol):
    def category_of(self, name: str) -> str: ...

    async def invoke(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> tuple[int, dict[str, Any]]: ...

    async def open_stream(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> StreamOpening: ...


StreamFlag = Annotated[bool, Query(description="answer as server-sent events")]
AcceptHeader = Annotated[str | None, Header()]
IdempotencyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="a retry with the same key gets the first answer back"),
]


async def respond(
    invoker: Invoker,
    control: Control | None,
    name: str,
    body: InvokeRequest,
    request: Request,
    stream: bool,
) -> Response:
    caller = None
    if control is not None and control.enabled:
        principal = await control.authenticate(request)
        resource = {"category": invoker.category_of(name), "agent": split_version(name)[0]}
        control.authorize(principal, "agents:invoke", resource)
        caller = Caller.of(principal)
    with bound(agent=name, tenant=caller.tenant_id if caller else None):
        return await _answer(invoker, control, name, body, request, stream, caller)


async def _answer(
    invoker: Invoker,
    control: Control | None,
    name: str,
    body: InvokeRequest,
    request: Request,
    stream: bool,
    caller: Caller | None,
) -> Response:
    request_id: str = request.scope["state"]["request_id"]
    key = request.headers.get("idempotency-key")
    if sse.wants_stream(request.headers.get("accept"), stream):
        if key is not None:
            raise BadRequestError(
                "Idempotency-Key applies to JSON answers, not to streams",
                details={"header": "Idempotency-Key"},
            )
        opening = await invoker.open_stream(name, body.input, request_id, caller)
        if opening.events is None:
            return JSONResponse(opening.body, status_code=opening.status)
        return StreamingResponse(
            opening.events, media_type=sse.MEDIA_TYPE, headers={"Cache-Control": "no-cache"}
        )
    if key is None or control is None or caller is None:
        status, payload = await invoker.invoke(name, body.input, request_id, caller)
        return JSONResponse(payload, status_code=status)
    await control.ready()
    claim = await control.idempotency.begin(caller.tenant_id, caller.actor, key, name, body.input)
    if isinstance(claim, Replay):
        return JSONResponse(claim.body, status_code=claim.status, headers={"Idempotent-Replayed": "true"})
    try:
        status, payload = await invoker.invoke(name, body.input, request_id, caller)
    except BaseException:
        await control.idempotency.abandon(claim)
        raise
    await control.idempotency.finish(claim, status, payload)
    return JSONResponse(payload, status_code=status)


def invoke_router(
    invoker: Invoker, control: Control | None = None, *, path: str = "/agents/{name}/invoke"
) -> APIRouter:
    router = APIRouter(tags=["invoke"])

    @router.post(path, response_model=InvokeResponse, responses=ERRORS, summary="Invoke an agent")
    async def invoke(
        name: str,
        body: InvokeRequest,
        request: Request,
        stream: StreamFlag = False,
        accept: AcceptHeader = None,
        idempotency_key: IdempotencyHeader = None,
    ) -> Response:
        return await respond(invoker, control, name, body, request, stream)

    return router
