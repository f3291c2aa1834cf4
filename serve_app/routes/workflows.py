"""`/v1/workflows` (versions) and `/v1/runs` (start, watch, cancel): the gateway's side of `dag.engine`."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Header, Query
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from agents import Catalog
from agents.errors import DefinitionError, UnknownAgentError
from dag.engine import ENDED
from dag.spec import Workflow
from dag.validate import WorkflowError, check
from serve_app import sse
from serve_app.audit import read_stream
from serve_app.control import Control
from serve_app.errors import ForbiddenError, UnavailableError, UnprocessableError
from serve_app.policy import Principal
from serve_app.responses import JSONResponse
from serve_app.workflows import WorkflowStore, run_events_key

Engine = Callable[[], Any]  # the driver actor's handle


class WorkflowInvalidError(UnprocessableError):
    type = "workflow_invalid"


class RunInputError(UnprocessableError):
    type = "input_validation_error"


class RunRequest(BaseModel):
    input: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, description="default: the latest")


def run_plan(workflow: Workflow, catalog: Catalog) -> dict[str, dict[str, Any]]:
    """What the engine needs of the catalogue for each step: its agent's category; for a graph, team or
    chat, every agent's category and description (a manager or selector reads the descriptions)."""
    plan: dict[str, dict[str, Any]] = {}
    for step in workflow.steps:
        if step.agent is not None:
            plan[step.id] = {"agent": step.agent, "category": catalog.get(step.agent).category}
        else:
            agents = [catalog.get(name) for name in step.agents()]
            plan[step.id] = {
                "pattern": step.kind,
                "agents": {a.name: a.category for a in agents},
                "roster": {a.name: a.description for a in agents},
            }
    return plan


def _categories(entry: dict[str, Any]) -> dict[str, str]:
    """agent -> category of one plan entry."""
    return entry["agents"] if "agents" in entry else {entry["agent"]: entry["category"]}


def workflows_router(control: Control, catalog: Callable[[], Catalog], engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["workflows"])

    async def store() -> WorkflowStore:
        await control.ready()
        return WorkflowStore(control.db)

    @router.post("/workflows", status_code=201)
    async def create(
        document: Annotated[
            dict[str, Any], Body(description="a workflow definition (see definitions/workflows)")
        ],
        principal: Annotated[Principal, Depends(control.requires("workflows:manage"))],
    ) -> dict[str, Any]:
        """Validate and store a new version of a workflow."""
        try:
            workflow = Workflow.from_data(document, source="body")
            check(workflow, catalog())
        except WorkflowError as exc:
            raise WorkflowInvalidError(
                "the workflow is not valid",
                details=[{"path": p.field, "message": str(p)} for p in exc.problems],
            ) from exc
        except DefinitionError as exc:
            raise WorkflowInvalidError("the workflow is not valid", details=exc.message.splitlines()) from exc
        return await (await store()).create(principal.tenant_id, workflow, principal.subject)

    @router.get("/workflows")
    async def index(
        principal: Annotated[Principal, Depends(control.requires("workflows:read"))],
    ) -> list[Any]:
        return await (await store()).latest(principal.tenant_id)

    @router.get("/workflows/{name}")
    async def show(
        name: str,
        principal: Annotated[Principal, Depends(control.requires("workflows:read"))],
        version: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        return await (await store()).get(principal.tenant_id, name, version)

    @router.post(
        "/workflows/{name}/runs", status_code=202, responses={200: {"description": "with ?wait=true"}}
    )
    async def start(
        name: str,
        body: RunRequest,
        principal: Annotated[Principal, Depends(control.requires("workflows:run"))],
        wait: bool = False,
        within: Annotated[float, Query(alias="timeout", gt=0, le=600)] = 120,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
    ) -> JSONResponse:
        """Start a run (202 with its id); with `wait=true` answer when it ends or `timeout` passes."""
        workflows = await store()
        found = await workflows.get(principal.tenant_id, name, body.version)
        workflow = Workflow.from_data(found["definition"], source=name)
        errors = workflow.input.errors(body.input)
        if errors:
            raise RunInputError(
                "the input does not match the workflow's input schema",
                details=[{"path": "/input" + e.path, "message": e.message} for e in errors],
            )
        data = workflow.with_defaults(body.input)
        current = catalog()
        try:
            plan = run_plan(workflow, current)
        except UnknownAgentError as exc:
            raise WorkflowInvalidError(f"agent {exc.name} is no longer in the catalogue") from exc
        for step in workflow.steps:
            for agent, category in _categories(plan[step.id]).items():
                try:
                    control.authorize(principal, "agents:invoke", {"category": category, "agent": agent})
                except ForbiddenError as exc:
                    message = f"step {step.id}: {exc.message}"
                    raise ForbiddenError(message, details={"step": step.id, "agent": agent}) from exc
        run_id, created = await workflows.create_run(
            principal.tenant_id, found, data, principal.subject, plan, idempotency_key
        )
        if created:
            try:
                await engine().start.remote(run_id)
            except Exception as exc:
                raise UnavailableError("the workflow engine is unavailable") from exc
        if wait:
            run = await _await_run(workflows, principal.tenant_id, run_id, within)
            return JSONResponse(run, status_code=200 if run["status"] in ENDED else 202)
        return JSONResponse(
            {"id": run_id, "status": "pending", "links": {"run": f"/v1/runs/{run_id}"}}, status_code=202
        )

    @router.get("/runs")
    async def runs(
        principal: Annotated[Principal, Depends(control.requires("workflows:read"))],
        workflow: Annotated[str | None, Query(max_length=63)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[Any]:
        return await (await store()).runs(principal.tenant_id, workflow, limit)

    @router.get("/runs/{run_id}")
    async def run(
        run_id: str, principal: Annotated[Principal, Depends(control.requires("workflows:read"))]
    ) -> dict[str, Any]:
        """Status, output, and each step's status, attempts, output, error and timing."""
        return await (await store()).run(principal.tenant_id, run_id)

    @router.post("/runs/{run_id}/cancel")
    async def cancel(
        run_id: str, principal: Annotated[Principal, Depends(control.requires("workflows:run"))]
    ) -> dict[str, Any]:
        workflows = await store()
        current = await workflows.run(principal.tenant_id, run_id)
        if current["status"] in ENDED:
            return current
        try:
            await engine().cancel.remote(run_id)
        except Exception as exc:
            raise UnavailableError("the workflow engine is unavailable") from exc
        return await _await_run(workflows, principal.tenant_id, run_id, 10)

    @router.get("/runs/{run_id}/events", response_class=StreamingResponse)
    async def events(
        run_id: str, principal: Annotated[Principal, Depends(control.requires("workflows:read"))]
    ) -> StreamingResponse:
        """The run's lifecycle as server-sent events, from its start; ends with the run."""
        await (await store()).run(principal.tenant_id, run_id)  # 404 for other tenants' runs

        async def stream() -> AsyncIterator[str]:
            async for entry_id, fields in read_stream(control.streams, run_events_key(run_id), last_id="0"):
                if not entry_id:
                    yield ": keep-alive\n\n"
                    continue
                kind = fields["kind"]
                yield sse.event(kind, orjson.loads(fields["data"]), event_id=entry_id)
                if kind.removeprefix("run.") in ENDED and kind.startswith("run."):
                    return

        return StreamingResponse(stream(), media_type=sse.MEDIA_TYPE, headers={"Cache-Control": "no-cache"})

    return router


async def _await_run(workflows: WorkflowStore, tenant_id: str, run_id: str, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    delay = 0.02
    while True:
        run = await workflows.run(tenant_id, run_id)
        if run["status"] in ENDED or time.monotonic() >= deadline:
            return run
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)
