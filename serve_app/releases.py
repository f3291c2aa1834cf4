"""Published agent versions: every version kept in PostgreSQL, one active per agent, and an optional canary
that answers a share of its calls (`serve_app.routing` applies them in each serving process).

The catalogue on disk is the baseline: an agent nobody has published is served from it. The first
publication of an agent also stores its catalogue definition, so that it can be rolled back to.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents import AgentSpec
from serve_app.db import Database
from serve_app.errors import ConflictError, NotFoundError, UnprocessableError
from serve_app.routing import CHANNEL, RELEASE_COLUMNS, Release, release_of
from serve_app.service import definition, digest

log = logging.getLogger(__name__)


class VersionConflictError(ConflictError):
    type = "version_conflict"


class ReleaseError(UnprocessableError):
    type = "release_error"


class ReleaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def publish(
        self, spec: AgentSpec, baseline: AgentSpec, actor: str, canary_percent: int | None = None
    ) -> Release:
        """Store `spec` as a new version and make it active, or the canary at `canary_percent`. Publishing
        a version again with the same definition changes nothing but the routing; with another definition
        it is refused. All in one transaction."""
        async with self.db.system() as c:
            release = await self._lock(c, spec.name)
            if release is None:
                await self._store(c, baseline, "catalogue", actor)
            await self._store(c, spec, "published", actor)
            if canary_percent:
                active = release.active if release else baseline.version
                if active == spec.version:
                    raise ReleaseError(
                        f"{spec.version} is already active: a canary must be another version",
                        details={"field": "/version"},
                    )
                return await self._route(c, spec, active, spec.version, canary_percent, actor)
            return await self._route(c, spec, spec.version, None, 0, actor)

    async def rollback(self, baseline: AgentSpec, version: str | None, actor: str) -> Release:
        """Make an earlier version active again (by default the newest one older than the active), and end
        any canary."""
        async with self.db.system() as c:
            release = await self._lock(c, baseline.name)
            if release is None:
                raise ReleaseError(
                    f"{baseline.name} has never been published: it runs its catalogue version",
                    details={"field": "/version"},
                )
            if version is None:
                version = await c.fetchval(
                    "SELECT version FROM agent_versions WHERE name = $1 AND seq <"
                    " (SELECT seq FROM agent_versions WHERE name = $1 AND version = $2)"
                    " ORDER BY seq DESC LIMIT 1",
                    baseline.name,
                    release.active,
                )
                if version is None:
                    raise ReleaseError(
                        f"no version of {baseline.name} is older than {release.active}",
                        details={"field": "/version"},
                    )
            elif not await self._exists(c, baseline.name, version):
                raise NotFoundError(
                    f"{baseline.name} has no version {version}", details={"field": "/version"}
                )
            return await self._route(c, baseline, version, None, 0, actor)

    async def promote(self, baseline: AgentSpec, actor: str) -> Release:
        """The canary becomes the active version."""
        async with self.db.system() as c:
            release = await self._lock(c, baseline.name)
            if release is None or release.canary is None:
                raise ReleaseError(f"{baseline.name} has no canary to promote", details={"field": "/canary"})
            return await self._route(c, baseline, release.canary, None, 0, actor)

    async def release(self, name: str) -> Release | None:
        async with self.db.system() as c:
            row = await c.fetchrow(f"SELECT {RELEASE_COLUMNS} FROM agent_releases WHERE name = $1", name)
        return None if row is None else release_of(row)

    async def versions(self, name: str) -> list[dict[str, Any]]:
        async with self.db.system() as c:
            rows = await c.fetch(
                "SELECT version, digest, source, created_by, created_at FROM agent_versions WHERE name = $1"
                " ORDER BY seq DESC",
                name,
            )
        return [dict(r) for r in rows]

    # -- inside a transaction ---------------------------------------------------------------------------

    @staticmethod
    async def _lock(c: Any, name: str) -> Release | None:
        row = await c.fetchrow(
            f"SELECT {RELEASE_COLUMNS} FROM agent_releases WHERE name = $1 FOR UPDATE", name
        )
        return None if row is None else release_of(row)

    @staticmethod
    async def _exists(c: Any, name: str, version: str) -> bool:
        found: bool = await c.fetchval(
            "SELECT EXISTS (SELECT 1 FROM agent_versions WHERE name = $1 AND version = $2)", name, version
        )
        return found

    @staticmethod
    async def _store(c: Any, spec: AgentSpec, source: str, actor: str) -> None:
        data = definition(spec)
        stored = await c.fetchval(
            "SELECT digest FROM agent_versions WHERE name = $1 AND version = $2", spec.name, spec.version
        )
        if stored is None:
            # A first publication may race another: the primary key lets only one in.
            await c.execute(
                "INSERT INTO agent_versions (name, version, category, definition, digest, source, created_by)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                spec.name,
                spec.version,
                spec.category,
                data,
                digest(data),
                source,
                actor,
            )
        elif stored != digest(data) and source == "published":
            raise VersionConflictError(
                f"{spec.name} {spec.version} exists with another definition: publish it as a new version",
                details={"field": "/version"},
            )

    @staticmethod
    async def _route(
        c: Any, spec: AgentSpec, active: str, canary: str | None, percent: int, actor: str
    ) -> Release:
        row = await c.fetchrow(
            "INSERT INTO agent_releases AS r (name, category, active, canary, canary_percent, updated_by)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET active = EXCLUDED.active,"
            " canary = EXCLUDED.canary, canary_percent = EXCLUDED.canary_percent, revision = r.revision + 1,"
            f" updated_by = EXCLUDED.updated_by, updated_at = now() RETURNING {RELEASE_COLUMNS}",
            spec.name,
            spec.category,
            active,
            canary,
            percent,
            actor,
        )
        return release_of(row)


async def announce(redis: Redis, release: Release) -> None:
    """Tell every serving process; a lost message is made good by their periodic reload."""
    message = orjson.dumps({"name": release.name, "category": release.category, "revision": release.revision})
    try:
        await redis.publish(CHANNEL, message)
    except (RedisError, OSError) as exc:
        log.warning("could not announce release of %s: %s", release.name, exc)
