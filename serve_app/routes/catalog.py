"""GET /v1/categories, /v1/agents (filters, search, pages) and /v1/agents/{name}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from agents import AgentSpec, Catalog
from serve_app.models import AgentDetail, AgentPage, AgentSummary, CategoryResponse


def catalog_router(
    current: Callable[[], Catalog],
    guards: Sequence[Callable[..., Awaitable[Any]]] = (),
    shown: Callable[[str], Awaitable[AgentSpec]] | None = None,
) -> APIRouter:
    """`guards`: dependencies every route runs first (the credentials check). `shown`: the definition an
    agent's page shows (its active version, or the one `name@version` names); the catalogue's by default."""
    router = APIRouter(prefix="/v1", tags=["catalogue"], dependencies=[Depends(g) for g in guards])

    @router.get("/categories", response_model=list[CategoryResponse])
    async def categories() -> list[CategoryResponse]:
        catalog = current()
        counts = catalog.count_by_category()
        return [CategoryResponse.of(c, counts[c.id]) for c in catalog.categories]

    @router.get("/agents", response_model=AgentPage)
    async def agents(
        q: Annotated[str | None, Query(max_length=200, description="words to search for")] = None,
        category: Annotated[str | None, Query(max_length=80)] = None,
        tag: Annotated[str | None, Query(max_length=40)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> AgentPage:
        found = current().search(q, category=category, tag=tag)
        items = [AgentSummary.of(s) for s in found[offset : offset + limit]]
        return AgentPage(total=len(found), offset=offset, limit=limit, items=items)

    @router.get(
        "/agents/{name}", response_model=AgentDetail, responses={404: {"description": "no such agent"}}
    )
    async def agent(name: str) -> AgentDetail:
        return AgentDetail.of(await shown(name) if shown else current().get(name))

    return router
