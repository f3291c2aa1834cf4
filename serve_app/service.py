"""What a category replica serves: its agents, swapped whole on reconfigure, and the runner."""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agents import AgentRunner, AgentSpec, Catalog, CategorySpec
from agents.errors import CatalogError, DefinitionError, UnknownAgentError
from agents.runner import AgentResult, RunContext, TextChunk
from serve_app import sse
from serve_app.control import Caller, Control
from serve_app.errors import describe
from serve_app.logcontext import bound, install, run_of
from serve_app.metrics import metrics
from serve_app.models import invoke_body
from serve_app.routing import CATALOGUE_ONLY, split_version

log = logging.getLogger(__name__)


def pack(definitions: list[dict[str, Any]]) -> str:
    """Definitions as gzip+base64 text: an eighth of the size through Serve's controller and GCS."""
    return base64.b64encode(gzip.compress(orjson.dumps(definitions), compresslevel=5)).decode("ascii")


def unpack(value: Any) -> Any:
    """The definitions list from `pack`'s text (a list is taken as it is)."""
    if isinstance(value, str):
        try:
            return orjson.loads(gzip.decompress(base64.b64decode(value, validate=True)))
        except (ValueError, OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"packed definitions are unreadable: {exc}") from exc
    return value


Definitions = Annotated[list[dict[str, Any]], BeforeValidator(unpack)]


class CategoryConfig(BaseModel):
    """The `user_config` of a category deployment: the definitions of its agents (a list, or packed)."""

    model_config = ConfigDict(extra="forbid")

    category: str
    agents: Definitions = Field(default_factory=list)
    digest: str | None = Field(default=None, description="of the definitions, when they come from disk")


class CatalogConfig(BaseModel):
    """The `user_config` of the gateway: every category and every definition (a list, or packed)."""

    model_config = ConfigDict(extra="forbid")

    categories: list[dict[str, Any]]
    agents: Definitions
    digest: str | None = Field(default=None, description="of the definitions, when they come from disk")


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def definition(spec: AgentSpec) -> dict[str, Any]:
    """A definition as the Serve config carries it (and as its digest is computed)."""
    data: dict[str, Any] = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def with_definitions(user_config: Mapping[str, Any], root: Path, category: str | None) -> dict[str, Any]:
    """`user_config` with its definitions, read from `root` (the image's catalogue) when it carries only their
    digest (a Serve config for Kubernetes, where the packed definitions would exceed an object's size
    limit); a digest that does not match what is on disk is refused."""
    if "agents" in user_config:
        return dict(user_config)
    agents = [definition(s) for s in Catalog.load(root, only=category)]
    expected = user_config.get("digest")
    if expected is not None and digest(agents) != expected:
        raise DefinitionError(
            f"the definitions in {root} (digest {digest(agents)}) are not the ones the Serve config names"
            f" (digest {expected}): deploy the image built with them",
            source="user_config",
        )
    return {**user_config, "agents": agents}


def parse_specs(definitions: list[dict[str, Any]]) -> list[AgentSpec]:
    """Every definition, or a CatalogError naming each one that fails."""
    specs: list[AgentSpec] = []
    problems: list[DefinitionError] = []
    for data in definitions:
        try:
            specs.append(AgentSpec.from_data(data, source=str(data.get("name", "?"))))
        except DefinitionError as exc:
            problems.append(exc)
    if problems:
        raise CatalogError(problems)
    return specs


def parse_catalog(config: CatalogConfig) -> Catalog:
    return Catalog(parse_specs(config.agents), [CategorySpec.model_validate(c) for c in config.categories])


@dataclass(frozen=True, slots=True)
class StreamOpening:
    """The start of a streamed call: an error (status, body) or 200 with the SSE events to send."""

    status: int
    body: dict[str, Any] | None
    events: AsyncIterator[str] | None


class AgentService:
    """The agents of one category and the runner that runs them."""

    def __init__(self, category: str, runner: AgentRunner, control: Control | None = None) -> None:
        install()
        self.category = category
        self.runner = runner
        self.control = control
        self._agents: dict[str, AgentSpec] = {}
        self.digest = ""

    def configure(self, raw: Mapping[str, Any]) -> None:
        """Replace every agent at once; on any invalid definition keep the current ones and raise."""
        config = CategoryConfig.model_validate(raw)
        if config.category != self.category:
            raise DefinitionError(
                f"config for {config.category!r} sent to {self.category!r}", source="user_config"
            )
        specs = parse_specs(config.agents)
        wrong = [s.name for s in specs if s.category != self.category]
        if wrong:
            raise DefinitionError(f"agents of another category: {', '.join(wrong)}", source="user_config")
        self._agents = {s.name: s for s in specs}
        self.digest = digest(config.agents)
        log.info("category %s serves %d agents (digest %s)", self.category, len(specs), self.digest)

    @property
    def agents(self) -> list[AgentSpec]:
        return list(self._agents.values())

    def get(self, name: str) -> AgentSpec:
        spec = self._agents.get(name)
        if spec is None:
            raise UnknownAgentError(name)
        return spec

    def category_of(self, name: str) -> str:
        return self.get(split_version(name)[0]).category

    async def _pick(self, name: str, request_id: str) -> AgentSpec:
        """The definition that answers this call: a published version when there is one (see
        `serve_app.routing`)."""
        routing = CATALOGUE_ONLY if self.control is None else await self.control.routing(self.category)
        return routing.pick(self._agents.get, name, request_id)

    async def invoke(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        spec: AgentSpec | None = None
        with bound(agent=name, tenant=caller.tenant_id if caller else None, run_id=run_of(request_id)):
            try:
                spec = await self._pick(name, request_id)
                result = await self.runner.invoke(spec, input, RunContext(request_id=request_id))
                status, body = 200, invoke_body(result)
            except Exception as exc:
                status, body = describe(exc)
            if spec is not None:
                await self._record(caller, spec, status, body, started, request_id)
        return status, body

    async def open_stream(
        self, name: str, input: Any, request_id: str, caller: Caller | None = None
    ) -> StreamOpening:
        """Runs the call up to its first event, so that failures before it keep their status code."""
        started = time.perf_counter()
        spec: AgentSpec | None = None
        try:
            spec = await self._pick(name, request_id)
            events = self.runner.stream(spec, input, RunContext(request_id=request_id))
            first = await anext(events)
        except Exception as exc:
            status, body = describe(exc)
            if spec is not None:
                await self._record(caller, spec, status, body, started, request_id)
            return StreamOpening(status, body, None)
        return StreamOpening(200, None, self._sse(first, events, caller, spec, started, request_id))

    async def _record(
        self,
        caller: Caller | None,
        spec: AgentSpec,
        status: int,
        body: dict[str, Any],
        started: float,
        request_id: str,
    ) -> None:
        recorder = metrics()
        if recorder is not None:
            recorder.call(spec.name, spec.category, status, time.perf_counter() - started, body)
        if self.control is None:
            return
        try:
            await self.control.record(caller, spec, status, body, started, request_id)
        except Exception:  # the answer still goes out; the audit log reports its own failures
            log.exception("the call of %s was not recorded", spec.name)

    async def _sse(
        self,
        first: TextChunk | AgentResult,
        rest: AsyncIterator[TextChunk | AgentResult],
        caller: Caller | None,
        spec: AgentSpec,
        started: float,
        request_id: str,
    ) -> AsyncIterator[str]:
        event: TextChunk | AgentResult | None = first
        try:
            while event is not None:
                if isinstance(event, TextChunk):
                    yield sse.event("chunk", {"text": event.text})
                else:
                    body = invoke_body(event)
                    await self._record(caller, spec, 200, body, started, request_id)
                    yield sse.event("result", body)
                event = await anext(rest, None)
        except Exception as exc:
            status, body = describe(exc)
            await self._record(caller, spec, status, body, started, request_id)
            yield sse.event("error", body)
