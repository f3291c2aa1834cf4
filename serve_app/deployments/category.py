"""One deployment per category: the HTTP ingress of its own application, and a handle target."""

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import ValidationError
from ray import serve

from agents.errors import DefinitionError
from serve_app.api import new_api
from serve_app.control import Caller, Control
from serve_app.models import AgentSummary
from serve_app.policy import Principal
from serve_app.routes.health import health_router
from serve_app.routes.invoke import invoke_router
from serve_app.runtime import build_runner
from serve_app.service import AgentService, with_definitions
from serve_app.settings import get_settings

log = logging.getLogger(__name__)


@serve.ingress()
class CategoryDeployment:
    """Serves the agents of one category; the definitions arrive as `user_config`."""

    def __init__(self, category: str) -> None:
        self.settings = get_settings()
        self.control = Control(self.settings)
        self.service = AgentService(category, build_runner(self.settings), self.control)
        self.rejected: str | None = None

    def __serve_build_asgi_app__(self) -> FastAPI:
        api = new_api(f"Agents: {self.service.category}", self.settings, docs=False)
        api.include_router(invoke_router(self.service, self.control))
        api.include_router(health_router(self._ready, self._info))
        reader = self.control.requires("agents:read")

        @api.get("/agents", response_model=list[AgentSummary], tags=["catalogue"])
        async def agents(_: Annotated[Principal, Depends(reader)]) -> list[AgentSummary]:
            return [AgentSummary.of(s) for s in self.service.agents]

        return api

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Swap in new definitions without a restart. An invalid set is refused whole: the current
        agents keep serving and the refusal shows in /healthz."""
        try:
            user_config = with_definitions(user_config, self.settings.definitions_dir, self.service.category)
            self.service.configure(user_config)
            self.rejected = None
        except (DefinitionError, ValidationError) as exc:
            self.rejected = exc.message if isinstance(exc, DefinitionError) else str(exc)
            log.error("refused new definitions for %s: %s", self.service.category, self.rejected)
            if not self.service.digest:
                raise

    async def __del__(self) -> None:
        await self.control.close()

    async def _ready(self) -> tuple[bool, dict[str, Any]]:
        return bool(self.service.digest), self._info()

    def _info(self) -> dict[str, Any]:
        return {
            "category": self.service.category,
            "replica": serve.get_replica_context().replica_id.unique_id,
            "agents": len(self.service.agents),
            "digest": self.service.digest,
            "rejected": self.rejected,
        }

    # -- called through deployment handles (by the gateway and by workflows) --------------------

    async def invoke(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> tuple[int, dict[str, Any]]:
        return await self.service.invoke(name, input, request_id, caller)

    async def stream(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> AsyncIterator[Any]:
        """First item: `(status, error body or None)`; then, on 200, the SSE events."""
        opening = await self.service.open_stream(name, input, request_id, caller)
        yield (opening.status, opening.body)
        if opening.events is not None:
            async for event in opening.events:
                yield event

    def info(self) -> dict[str, Any]:
        return self._info()
