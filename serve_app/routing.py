"""Which version of an agent answers a call, in each serving process.

`Routing` holds the releases of the agents a process serves (see `serve_app.releases`) and picks the
definition for each call: `name@version` names one; otherwise the active version, or the canary for its
share of request ids; an agent without a release runs its catalogue definition. `ReleaseFeed` keeps it
current: it loads the releases, then reloads them when a change is announced on the Redis channel `CHANNEL`,
and every `RELOAD_SECONDS` in any case, should an announcement be lost. Swapping them is one assignment, so
no call sees half a change; reloads run one at a time, so a reload begun before a change never replaces one
that read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents import AgentSpec
from agents.errors import UnknownAgentError
from serve_app.db import Database, DatabaseUnavailableError

log = logging.getLogger(__name__)
CHANNEL = "agents:releases"
RELOAD_SECONDS = 60.0
WAIT_SECONDS = 10.0  # one wait for a message: shorter than the stream client's socket timeout
RELEASE_COLUMNS = "name, category, active, canary, canary_percent, revision, updated_by, updated_at"


@dataclass(frozen=True, slots=True)
class Release:
    name: str
    category: str
    active: str
    canary: str | None
    canary_percent: int
    revision: int
    updated_by: str
    updated_at: dt.datetime

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "active": self.active,
            "canary": self.canary,
            "canary_percent": self.canary_percent,
            "revision": self.revision,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


def release_of(row: Any) -> Release:
    return Release(*(row[c] for c in RELEASE_COLUMNS.split(", ")))


def split_version(name: str) -> tuple[str, str | None]:
    """`"writer@1.2.0"` -> ("writer", "1.2.0"); a plain name has no version."""
    base, at, version = name.partition("@")
    return base, (version if at else None)


def bucket(request_id: str) -> int:
    """0-99, fixed for a request id: a retried call keeps its side of a canary split."""
    return int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=4).digest(), "big") % 100


async def load_releases(db: Database, category: str | None) -> tuple[list[Release], list[dict[str, Any]]]:
    """The releases of `category` (of every category: None) and the definitions of all their versions."""
    async with db.system() as c:
        if category is None:
            releases = await c.fetch(f"SELECT {RELEASE_COLUMNS} FROM agent_releases")
            definitions = await c.fetch(
                "SELECT definition FROM agent_versions v WHERE EXISTS"
                " (SELECT 1 FROM agent_releases r WHERE r.name = v.name)"
            )
        else:
            releases = await c.fetch(
                f"SELECT {RELEASE_COLUMNS} FROM agent_releases WHERE category = $1", category
            )
            definitions = await c.fetch(
                "SELECT definition FROM agent_versions v WHERE category = $1 AND EXISTS"
                " (SELECT 1 FROM agent_releases r WHERE r.name = v.name)",
                category,
            )
    return [release_of(r) for r in releases], [r["definition"] for r in definitions]


class Routing:
    """Which definition answers a call: `name@version` names one; otherwise the active version, or the
    canary for its share of request ids; an agent without a release runs its catalogue definition."""

    def __init__(self) -> None:
        self._releases: dict[str, Release] = {}
        self._versions: dict[tuple[str, str], AgentSpec] = {}

    def replace(self, releases: Iterable[Release], definitions: Iterable[dict[str, Any]]) -> None:
        versions = {}
        for data in definitions:
            key = (str(data.get("name")), str(data.get("version")))
            # A stored version never changes: one parsed before is kept rather than parsed again.
            versions[key] = self._versions.get(key) or AgentSpec.from_data(data, source="@".join(key))
        self._releases, self._versions = {r.name: r for r in releases}, versions

    def pick(self, catalogue: Callable[[str], AgentSpec | None], name: str, request_id: str) -> AgentSpec:
        """The definition that answers this call."""
        return self._resolve(catalogue, name, request_id)

    def shown(self, catalogue: Callable[[str], AgentSpec | None], name: str) -> AgentSpec:
        """The definition `name` stands for: the version it names, else the active one."""
        return self._resolve(catalogue, name, None)

    def _resolve(
        self, catalogue: Callable[[str], AgentSpec | None], name: str, request_id: str | None
    ) -> AgentSpec:
        base, version = split_version(name)
        baseline = catalogue(base)
        if baseline is None:
            raise UnknownAgentError(name)
        if version is not None:
            return self._version(baseline, name, version)
        release = self._releases.get(base)
        if release is None:
            return baseline
        chosen = release.active
        if (
            request_id is not None
            and release.canary is not None
            and bucket(request_id) < release.canary_percent
        ):
            chosen = release.canary
        return self._versions.get((base, chosen), baseline)

    def _version(self, baseline: AgentSpec, name: str, version: str) -> AgentSpec:
        found = self._versions.get((baseline.name, version))
        if found is None and version == baseline.version:
            found = baseline
        if found is None:
            raise UnknownAgentError(name)
        return found


CATALOGUE_ONLY = Routing()  # where nothing can be published: no database


Loader = Callable[[Database, str | None], Awaitable[tuple[list[Release], list[dict[str, Any]]]]]


class ReleaseFeed:
    """Keeps a `Routing` current for one category (or all): loads it, then reloads on each announcement
    and every `RELOAD_SECONDS`."""

    def __init__(self, category: str | None, load: Loader = load_releases) -> None:
        self.category = category
        self.routing = Routing()
        self._load = load
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()
        self._reloading = asyncio.Lock()
        self.retry_at = 0.0  # when a failed first load may be tried again

    @property
    def started(self) -> bool:
        return self._task is not None

    async def start(self, db: Database, redis: Redis) -> None:
        """The first load, then the listener; later calls return at once."""
        if self._task is not None:
            return
        async with self._started:
            if self._task is None:
                await self.reload(db)
                self._task = asyncio.create_task(self._listen(db, redis))

    async def reload(self, db: Database) -> None:
        async with self._reloading:
            releases, definitions = await self._load(db, self.category)
            self.routing.replace(releases, definitions)

    async def _listen(self, db: Database, redis: Redis) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    await self.reload(db)  # what changed while not subscribed
                    loaded = loop.time()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=WAIT_SECONDS
                        )
                        announced = message is not None and self._concerns(message.get("data"))
                        if announced or loop.time() - loaded >= RELOAD_SECONDS:
                            await self.reload(db)
                            loaded = loop.time()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, DatabaseUnavailableError) as exc:
                log.warning("release feed interrupted (%s); reconnecting", exc)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("release feed failed; reconnecting")
                await asyncio.sleep(1.0)

    def _concerns(self, data: Any) -> bool:
        if self.category is None:
            return True
        with contextlib.suppress(orjson.JSONDecodeError, TypeError, AttributeError):
            return bool(orjson.loads(data).get("category") == self.category)
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
