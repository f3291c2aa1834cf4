"""A fake HTTP API on loopback, in a thread of the test process or as its own process.

Faults are queued and consumed one per request, in order; `latency` applies to every request. A
process started with `python -m tests.fakes.<api>` is configured over HTTP (`POST /_fake/config`).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FaultKind = Literal["rate_limit", "overloaded", "server_error", "hang", "bad_output", "not_json"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after: float | None = None  # seconds, sent as `retry-after` with rate_limit / overloaded
    seconds: float = 30.0  # how long `hang` waits before answering


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    fault: str | None
    at: float


Handler = Callable[[Request, dict[str, Any], "Fault | None"], Awaitable[Response]]


class FakeServer:
    """Base of the fakes: routes, fault queue, latency, request log, thread lifecycle."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.faults: deque[Fault] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- to override -------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, Handler]]:
        raise NotImplementedError

    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(
            {"error": {"type": kind, "message": message}}, status_code=status, headers=headers
        )

    # -- configuration -----------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()
        self.latency = 0.0

    def calls(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the app -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        routes = [Route(path, self._wrap(handler), methods=["POST"]) for path, handler in self.routes()]
        routes.append(Route("/_fake/config", self._config, methods=["POST", "GET"]))
        return Starlette(routes=routes)

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                return self.error(400, "invalid_request_error", "body is not JSON")
            with self._lock:
                fault = self.faults.popleft() if self.faults else None
                self.requests.append(
                    Recorded(request.url.path, body, fault.kind if fault else None, time.time())
                )
            if self.latency:
                await asyncio.sleep(self.latency)
            if fault is not None and fault.kind == "hang":
                await asyncio.sleep(fault.seconds)
            if fault is not None and fault.kind in ("rate_limit", "overloaded", "server_error"):
                return self._fault_response(fault)
            return await handler(request, body, fault)

        return endpoint

    def _fault_response(self, fault: Fault) -> Response:
        headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.kind == "rate_limit":
            return self.error(429, "rate_limit_error", "rate limited", headers)
        if fault.kind == "overloaded":
            return self.error(529, "overloaded_error", "overloaded", headers)
        return self.error(500, "api_error", "internal error", headers)

    async def _config(self, request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if "latency" in body:
                self.latency = float(body["latency"])
            if body.get("reset"):
                self.reset()
            self.inject(*(Fault(**f) for f in body.get("faults", [])))
        return JSONResponse(
            {
                "latency": self.latency,
                "faults": [asdict(f) for f in self.faults],
                "requests": len(self.requests),
            }
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off", backlog=4096)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_main(factory: Callable[[float], FakeServer], description: str) -> None:
    """Run a fake as its own process: `python -m tests.fakes.<api> --port N --latency S`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = factory(args.latency)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(server.app(), log_level="warning", lifespan="off", backlog=4096)).run(
        sockets=[sock]
    )
