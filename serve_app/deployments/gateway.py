"""The gateway: the ingress at `/` that serves the catalogue and forwards invocations by handle.

Each category deployment is the ingress of its own application (so that a call to
`/v1/categories/<id>/agents/<name>/invoke` reaches the category's replicas with no hop); the
gateway therefore gets their handles by application name, once per catalogue change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import Depends, FastAPI, Request
from pydantic import ValidationError
from ray import serve
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator
from starlette.responses import Response

from agents import AgentSpec, Catalog
from agents.errors import DefinitionError, UnknownAgentError
from dag import engine
from serve_app.api import new_api
from serve_app.control import Caller, Control
from serve_app.errors import UnavailableError, describe
from serve_app.logcontext import install
from serve_app.models import InvokeRequest, InvokeResponse
from serve_app.routes.catalog import catalog_router
from serve_app.routes.health import health_router
from serve_app.routes.identity import identity_router
from serve_app.routes.invoke import (
    ERRORS,
    AcceptHeader,
    IdempotencyHeader,
    StreamFlag,
    invoke_router,
    respond,
)
from serve_app.routes.records import records_router
from serve_app.routes.releases import releases_router
from serve_app.routes.ui import mount_ui
from serve_app.routes.workflows import workflows_router
from serve_app.routing import split_version
from serve_app.service import CatalogConfig, StreamOpening, digest, parse_catalog, with_definitions
from serve_app.settings import get_settings
from serve_app.workflows import PLATFORM_CALL, PLATFORM_LOG

log = logging.getLogger(__name__)
STATUS_CACHE_SECONDS = 2.0


@serve.ingress()
class Gateway:
    """Catalogue browsing, health, and `POST /v1/agents/{name}/invoke` forwarded to the category."""

    def __init__(self) -> None:
        install()
        self.settings = get_settings()
        self.control = Control(self.settings)
        self._driver: Any = None
        self._catalog: Catalog | None = None
        self._handles: dict[str, DeploymentHandle[Any]] = {}
        self.digest = ""
        self.rejected: str | None = None
        self._status: tuple[float, list[dict[str, Any]]] = (0.0, [])

    def __serve_build_asgi_app__(self) -> FastAPI:
        api = new_api("AI Agents Platform", self.settings)
        api.include_router(catalog_router(self.catalog, [self.control.requires("agents:read")], self._shown))
        api.include_router(releases_router(self.control, self.catalog))
        api.include_router(invoke_router(self, self.control, path="/v1/agents/{name}/invoke"))
        api.include_router(health_router(self._ready, self._info))
        api.include_router(identity_router(self.control))
        api.include_router(records_router(self.control))
        api.include_router(workflows_router(self.control, self.catalog, self._engine))
        analytics = Depends(self.control.requires("analytics:read"))

        @api.get("/v1/deployments", tags=["health"], dependencies=[analytics])
        async def deployments() -> dict[str, Any]:
            """Serve's applications and deployments, with their replicas by state."""
            return {"applications": await self._applications()}

        mount_ui(api, self.settings.ui_dir)

        @api.post(
            "/v1/categories/{category}/agents/{name}/invoke",
            response_model=InvokeResponse,
            responses=ERRORS,
            tags=["invoke"],
            summary="Invoke an agent on its category's replicas (the direct path)",
        )
        async def invoke_in_category(
            category: str,
            name: str,
            body: InvokeRequest,
            request: Request,
            stream: StreamFlag = False,
            accept: AcceptHeader = None,
            idempotency_key: IdempotencyHeader = None,
        ) -> Response:
            # Normally answered by the category's own application; reached here only as a fallback.
            if self.catalog().get(name).category != category:
                raise UnknownAgentError(name)
            return await respond(self, self.control, name, body, request, stream)

        return api

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        try:
            user_config = with_definitions(user_config, self.settings.definitions_dir, None)
            config = CatalogConfig.model_validate(user_config)
            catalog = parse_catalog(config)
        except (DefinitionError, ValidationError) as exc:
            message = exc.message if isinstance(exc, DefinitionError) else str(exc)
            self.rejected = message
            log.error("refused a new catalogue: %s", message)
            if self._catalog is None:
                raise
            return
        for category in catalog.categories:
            if category.id not in self._handles:
                self._handles[category.id] = serve.get_deployment_handle(category.id, app_name=category.id)
        self._catalog = catalog
        self.digest = digest(config.agents)
        self.rejected = None
        log.info("gateway serves %d agents in %d categories", len(catalog), len(catalog.categories))

    def _engine(self) -> Any:
        if self._driver is None:
            self._driver = engine.driver(PLATFORM_CALL, PLATFORM_LOG)
        return self._driver

    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise UnavailableError("the catalogue is not loaded yet")
        return self._catalog

    # -- forwarding (the Invoker protocol of routes.invoke) --------------------------------------

    async def _shown(self, name: str) -> AgentSpec:
        routing = await self.control.routing(None)
        return routing.shown(self.catalog().find, name)

    def category_of(self, name: str) -> str:
        return self.catalog().get(split_version(name)[0]).category

    def _handle(self, name: str) -> DeploymentHandle[Any]:
        return self._handles[self.category_of(name)]

    async def invoke(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> tuple[int, dict[str, Any]]:
        for attempt in (1, 2):
            try:
                handle = self._handle(name)
                status, body = await handle.invoke.remote(name, input, request_id, caller)
            except (RayActorError, ActorUnavailableError) as exc:
                # The replica died with the call (its node was lost): once more, on a live replica.
                if attempt == 1:
                    log.warning("replica lost during %s (%s); calling again", request_id, type(exc).__name__)
                    continue
                return describe(_unavailable(exc))
            except Exception as exc:
                return describe(_unavailable(exc))
            return status, body
        raise AssertionError("unreachable")

    async def open_stream(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> StreamOpening:
        try:
            handle = self._handle(name)
            events: DeploymentResponseGenerator[Any] = handle.options(stream=True).stream.remote(
                name, input, request_id, caller
            )  # type: ignore[assignment]
            status, body = await events.__anext__()
        except Exception as exc:
            status, body = describe(_unavailable(exc))
            return StreamOpening(status, body, None)
        if body is not None:
            return StreamOpening(status, body, None)
        return StreamOpening(200, None, events)

    async def __del__(self) -> None:
        await self.control.close()

    # -- health ----------------------------------------------------------------------------------

    def _info(self) -> dict[str, Any]:
        loaded = self._catalog
        return {
            "agents": len(loaded) if loaded else 0,
            "categories": len(loaded.categories) if loaded else 0,
            "digest": self.digest,
            "rejected": self.rejected,
        }

    async def _applications(self) -> list[dict[str, Any]]:
        checked, applications = self._status
        if time.monotonic() - checked >= STATUS_CACHE_SECONDS:
            applications = await asyncio.to_thread(_serve_applications)
            self._status = (time.monotonic(), applications)
        return applications

    async def _ready(self) -> tuple[bool, dict[str, Any]]:
        applications = await self._applications()
        not_running = sorted(a["name"] for a in applications if a["status"] != "RUNNING")
        return not not_running, {"applications": len(applications), "not_running": not_running}


def _unavailable(exc: Exception) -> Exception:
    if isinstance(exc, UnknownAgentError | UnavailableError):
        return exc
    log.warning("category deployment failed: %s", exc)
    return UnavailableError(
        "the agent's category deployment is unavailable", details={"cause": type(exc).__name__}
    )


def _name(status: Any) -> str:
    return str(status.value if hasattr(status, "value") else status)


def _serve_applications() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "status": _name(app.status),
            "deployments": [
                {
                    "name": deployment_name,
                    "status": _name(deployment.status),
                    "replicas": {_name(state): n for state, n in deployment.replica_states.items()},
                    "message": deployment.message,
                }
                for deployment_name, deployment in app.deployments.items()
            ],
        }
        for name, app in sorted(serve.status().applications.items())
    ]
