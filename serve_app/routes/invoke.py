"""POST .../agents/{name}/invoke: JSON, or SSE with `Accept: text/event-stream` or `?stream=true`."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response, StreamingResponse

from serve_app import sse
from serve_app.models import InvokeRequest, InvokeResponse
from serve_app.responses import JSONResponse
from serve_app.service import StreamOpening

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no agent of that name"},
    413: {"description": "the body is too large"},
    422: {"description": "the input breaks the agent's input schema (every failing path listed)"},
    502: {"description": "the model provider failed or answered outside the output schema"},
    504: {"description": "the model provider did not answer in time"},
}


class Invoker(Protocol):
    async def invoke(self, name: str, input: Any, request_id: str) -> tuple[int, dict[str, Any]]: ...

    async def open_stream(self, name: str, input: Any, request_id: str) -> StreamOpening: ...


StreamFlag = Annotated[bool, Query(description="answer as server-sent events")]
AcceptHeader = Annotated[str | None, Header()]


async def respond(
    invoker: Invoker, name: str, body: InvokeRequest, request: Request, stream: bool
) -> Response:
    request_id: str = request.scope["state"]["request_id"]
    if sse.wants_stream(request.headers.get("accept"), stream):
        opening = await invoker.open_stream(name, body.input, request_id)
        if opening.events is None:
            return JSONResponse(opening.body, status_code=opening.status)
        return StreamingResponse(
            opening.events, media_type=sse.MEDIA_TYPE, headers={"Cache-Control": "no-cache"}
        )
    status, payload = await invoker.invoke(name, body.input, request_id)
    return JSONResponse(payload, status_code=status)


def invoke_router(invoker: Invoker, *, path: str = "/agents/{name}/invoke") -> APIRouter:
    router = APIRouter(tags=["invoke"])

    @router.post(path, response_model=InvokeResponse, responses=ERRORS, summary="Invoke an agent")
    async def invoke(
        name: str,
        body: InvokeRequest,
        request: Request,
        stream: StreamFlag = False,
        accept: AcceptHeader = None,
    ) -> Response:
        return await respond(invoker, name, body, request, stream)

    return router
