"""Agent versions: `PUT /v1/agents/{name}` publishes one (active, or a canary with `?canary=<percent>`),
`GET /v1/agents/{name}/versions` lists them, `POST .../rollback` and `POST .../promote` move the release.
The gateway's side of `serve_app.releases`; every serving process follows through `serve_app.routing`."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from agents import AgentSpec, Catalog
from agents.errors import DefinitionError
from serve_app.control import Control
from serve_app.errors import UnprocessableError
from serve_app.policy import Principal
from serve_app.releases import ReleaseStore, announce
from serve_app.routing import Release


class DefinitionInvalidError(UnprocessableError):
    type = "definition_invalid"


class RollbackRequest(BaseModel):
    version: str | None = Field(default=None, max_length=64, description="default: the one before the active")


def releases_router(control: Control, catalog: Callable[[], Catalog]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["releases"])
    publisher = Depends(control.requires("agents:publish"))

    async def releases() -> ReleaseStore:
        await control.ready()
        return ReleaseStore(control.db)

    async def answer(release: Release) -> dict[str, Any]:
        await announce(control.redis, release)
        await control.reload_routing()
        return {**release.public(), "links": {"versions": f"/v1/agents/{release.name}/versions"}}

    @router.put(
        "/agents/{name}",
        responses={
            404: {"description": "no agent of that name in the catalogue"},
            409: {"description": "this version exists with another definition"},
            422: {"description": "an invalid definition: the problems `agentctl definitions lint` names"},
        },
    )
    async def publish(
        name: str,
        document: Annotated[dict[str, Any], Body(description="the agent's definition, as in its YAML file")],
        principal: Annotated[Principal, publisher],
        canary: Annotated[
            int | None, Query(ge=1, le=99, description="a canary taking this share of calls, in percent")
        ] = None,
    ) -> dict[str, Any]:
        """Store a new version of an agent and make it active (or its canary); nothing changes when any
        check fails."""
        baseline = catalog().get(name)
        spec = _valid(document, name, baseline)
        return await answer(await (await releases()).publish(spec, baseline, principal.subject, canary))

    @router.get("/agents/{name}/versions")
    async def versions(
        name: str, _: Annotated[Principal, Depends(control.requires("agents:read"))]
    ) -> dict[str, Any]:
        """Every stored version, newest first, and which answer calls."""
        baseline = catalog().get(name)
        store = await releases()
        release = await store.release(name)
        return {
            "name": name,
            "catalogue_version": baseline.version,
            "release": release.public() if release else None,
            "versions": await store.versions(name),
        }

    @router.post("/agents/{name}/rollback")
    async def rollback(
        name: str, body: RollbackRequest, principal: Annotated[Principal, publisher]
    ) -> dict[str, Any]:
        """Make an earlier version active again and end any canary."""
        baseline = catalog().get(name)
        return await answer(await (await releases()).rollback(baseline, body.version, principal.subject))

    @router.post("/agents/{name}/promote")
    async def promote(name: str, principal: Annotated[Principal, publisher]) -> dict[str, Any]:
        """The canary becomes the active version."""
        baseline = catalog().get(name)
        return await answer(await (await releases()).promote(baseline, principal.subject))

    return router


def _valid(document: dict[str, Any], name: str, baseline: AgentSpec) -> AgentSpec:
    try:
        spec = AgentSpec.from_data(document, source=f"PUT /v1/agents/{name}")
    except DefinitionError as exc:
        raise DefinitionInvalidError(
            "the definition is not valid",
            details=[{"path": e.path or "/", "message": e.message} for e in exc.errors],
        ) from exc
    for field, given, expected in (("name", spec.name, name), ("category", spec.category, baseline.category)):
        if given != expected:
            problem = {"path": f"/{field}", "message": f"{given!r} is not {expected!r}"}
            raise DefinitionInvalidError(f"the definition's {field} must be {expected!r}", details=[problem])
    return spec
