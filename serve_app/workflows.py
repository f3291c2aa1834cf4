"""Workflows on the platform: their versions and runs in PostgreSQL, run events in Redis, and the ports the
Ray engine (`dag.engine`) loads in its actors: the run log and the agent call through Serve handles."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from dag.engine import Caller, RunRecord, RunStatus, StepOutcome, Turn
from dag.spec import Workflow
from serve_app.db import Database
from serve_app.errors import ConflictError, NotFoundError

EVENTS_MAX_LEN = 1000
EVENTS_TTL_SECONDS = 7 * 24 * 3600
_RUN_COLUMNS = (
    "r.id::text AS id, r.tenant_id, w.name AS workflow, w.version, r.status, r.input, r.output, r.error,"
    " r.actor, r.created_at, r.started_at, r.finished_at"
)
_TURN_COLUMNS = "step, seq, role, agent, status, input, output, state, error, tokens, attempts"
RUN_TURNS_MAX = 2000  # turns listed with a run


def run_events_key(run_id: str) -> str:
    return f"wf:run:{run_id}"


class WorkflowStore:
    """Versions and runs, always within the caller's tenant (row-level security)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, tenant_id: str, workflow: Workflow, actor: str) -> dict[str, Any]:
        """A new version: one more than the latest of that name."""
        document = workflow.model_dump(mode="json", by_alias=True, exclude_none=True)
        async with self.db.tenant(tenant_id) as c:
            await c.execute("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))", tenant_id, workflow.id)
            version = await c.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM workflows WHERE name = $1", workflow.id
            )
            document["version"] = version
            row = await c.fetchrow(
                "INSERT INTO workflows (tenant_id, name, version, definition, created_by)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id::text, name, version, created_at",
                tenant_id,
                workflow.id,
                version,
                document,
                actor,
            )
        return {**dict(row), "definition": document}  # type: ignore[arg-type]

    async def latest(self, tenant_id: str) -> list[dict[str, Any]]:
        """The latest version of each workflow."""
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(
                "SELECT DISTINCT ON (name) id::text, name, version,"
                " definition->>'description' AS description, created_at FROM workflows"
                " ORDER BY name, version DESC LIMIT 1000"
            )
        return [dict(r) for r in rows]

    async def get(self, tenant_id: str, name: str, version: int | None = None) -> dict[str, Any]:
        async with self.db.tenant(tenant_id) as c:
            row = await c.fetchrow(
                "SELECT id::text, name, version, definition, created_by, created_at FROM workflows"
                " WHERE name = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
                name,
                version,
            )
        if row is None:
            raise NotFoundError(f"no workflow {name!r}" + (f" version {version}" if version else ""))
        return dict(row)

    async def create_run(
        self,
        tenant_id: str,
        workflow: dict[str, Any],
        input: dict[str, Any],
        actor: str,
        plan: dict[str, dict[str, Any]],
        idempotency_key: str | None = None,
    ) -> tuple[str, bool]:
        """(run id, created). A second run with the same idempotency key returns the first (the unique key
        decides, so two at once cannot both start one)."""
        async with self.db.tenant(tenant_id) as c:
            run_id: str | None = await c.fetchval(
                "INSERT INTO workflow_runs"
                " (tenant_id, workflow_id, status, input, actor, idempotency_key, plan)"
                " VALUES ($1, $2::uuid, 'pending', $3, $4, $5, $6)"
                " ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id::text",
                tenant_id,
                workflow["id"],
                input,
                actor,
                idempotency_key,
                plan,
            )
            if run_id is None:
                found = await c.fetchrow(
                    "SELECT id::text, workflow_id::text, input FROM workflow_runs WHERE idempotency_key = $1",
                    idempotency_key,
                )
                assert found is not None  # the row the insert ran into
                if found["workflow_id"] != workflow["id"] or found["input"] != input:
                    raise ConflictError(
                        "this Idempotency-Key started a run of another workflow or input",
                        details={"header": "Idempotency-Key", "run": found["id"]},
                    )
                return found["id"], False
        return run_id, True

    async def run(self, tenant_id: str, run_id: str) -> dict[str, Any]:
        async with self.db.tenant(tenant_id) as c:
            try:
                row = await c.fetchrow(
                    f"SELECT {_RUN_COLUMNS} FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id"
                    " WHERE r.id = $1::uuid",
                    run_id,
                )
            except asyncpg.DataError:
                row = None
            if row is None:
                raise NotFoundError("no such run", details={"id": run_id})
            steps = await c.fetch(
                "SELECT step, status, attempts, output, error, started_at, finished_at FROM workflow_steps"
                " WHERE run_id = $1::uuid ORDER BY started_at NULLS LAST, step",
                run_id,
            )
            turns = await c.fetch(
                f"SELECT {_TURN_COLUMNS}, started_at, finished_at FROM workflow_turns"
                " WHERE run_id = $1::uuid ORDER BY step, seq LIMIT $2",
                run_id,
                RUN_TURNS_MAX,
            )
        return {**dict(row), "steps": [dict(s) for s in steps], "turns": [dict(t) for t in turns]}

    async def runs(
        self, tenant_id: str, workflow: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        async with self.db.tenant(tenant_id) as c:
            rows = await c.fetch(
                f"SELECT {_RUN_COLUMNS} FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id"
                " WHERE ($1::text IS NULL OR w.name = $1) ORDER BY r.created_at DESC LIMIT $2",
                workflow,
                limit,
            )
        return [dict(r) for r in rows]


class PostgresRunLog:
    """The engine's run log: states in PostgreSQL (across tenants: the engine acts for every tenant),
    events in a capped Redis Stream per run."""

    def __init__(self, database_url: str, redis_url: str | None) -> None:
        self.db = Database(database_url, size=4)
        self.redis = Redis.from_url(redis_url, socket_timeout=2) if redis_url else None
        self._connected = False
        self._connecting = asyncio.Lock()

    async def _ready(self) -> Database:
        """Connected once, however many steps ask at the same moment."""
        if not self._connected:
            async with self._connecting:
                if not self._connected:
                    await self.db.connect()
                    self._connected = True
        return self.db

    async def _execute(self, query: str, *args: Any) -> None:
        async with (await self._ready()).system() as c:
            await c.execute(query, *args)

    async def load(self, run_id: str) -> RunRecord:
        db = await self._ready()
        async with db.system() as c:
            row = await c.fetchrow(
                "SELECT r.tenant_id, r.actor, r.input, r.status, r.plan, w.definition FROM workflow_runs r"
                " JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1::uuid",
                run_id,
            )
            if row is None:
                raise LookupError(f"no run {run_id}")
            steps = await c.fetch(
                "SELECT step, status, output, error, attempts FROM workflow_steps WHERE run_id = $1::uuid"
                " AND status IN ('succeeded', 'skipped')",
                run_id,
            )
        return RunRecord(
            run_id,
            Caller(row["tenant_id"], row["actor"]),
            row["definition"],
            row["plan"],
            row["input"],
            row["status"],
            {
                s["step"]: StepOutcome(s["step"], s["status"], s["output"], s["error"], s["attempts"])
                for s in steps
            },
        )

    async def unfinished(self) -> list[str]:
        db = await self._ready()
        async with db.system() as c:
            rows = await c.fetch(
                "SELECT id::text FROM workflow_runs WHERE status IN ('pending', 'running')"
                " ORDER BY created_at"
            )
        return [r["id"] for r in rows]

    async def run_started(self, run_id: str) -> None:
        await self._execute(
            "UPDATE workflow_runs SET status = 'running', started_at = coalesce(started_at, now()),"
            " updated_at = now() WHERE id = $1::uuid AND status IN ('pending', 'running')",
            run_id,
        )

    async def step_started(self, run_id: str, step: str, attempt: int) -> None:
        await self._execute(
            "INSERT INTO workflow_steps (run_id, tenant_id, step, status, attempts, started_at)"
            " SELECT id, tenant_id, $2, 'running', $3, now() FROM workflow_runs WHERE id = $1::uuid"
            " ON CONFLICT (run_id, step) DO UPDATE SET status = 'running', attempts = EXCLUDED.attempts,"
            " started_at = coalesce(workflow_steps.started_at, now())",
            run_id,
            step,
            attempt,
        )

    async def step_finished(self, run_id: str, outcome: StepOutcome) -> None:
        status = "failed" if outcome.status == "cancelled" else outcome.status
        await self._execute(
            "INSERT INTO workflow_steps"
            " (run_id, tenant_id, step, status, attempts, output, error, finished_at)"
            " SELECT id, tenant_id, $2, $3, $4, $5, $6, now() FROM workflow_runs WHERE id = $1::uuid"
            " ON CONFLICT (run_id, step) DO UPDATE SET status = EXCLUDED.status,"
            " attempts = EXCLUDED.attempts, output = EXCLUDED.output, error = EXCLUDED.error,"
            " finished_at = now()",
            run_id,
            outcome.step,
            status,
            outcome.attempts,
            outcome.output,
            outcome.error,
        )

    async def turn_started(self, run_id: str, turn: Turn) -> None:
        await self._record_turn(run_id, turn)

    async def turn_finished(self, run_id: str, turn: Turn) -> None:
        await self._record_turn(run_id, turn)

    async def _record_turn(self, run_id: str, turn: Turn) -> None:
        """The turn's row as `turn` says, replacing one recorded under its number: a running turn starts
        now, an ended one keeps its start (none when its start was not recorded) and ends now."""
        await self._execute(
            "INSERT INTO workflow_turns (run_id, tenant_id, step, seq, role, agent, status, input, output,"
            " state, error, tokens, attempts, started_at, finished_at)"
            " SELECT id, tenant_id, $2, $3, $4, $5, $6::text, $7, $8, $9, $10, $11, $12,"
            " CASE WHEN $6::text = 'running' THEN now() END, CASE WHEN $6::text <> 'running' THEN now() END"
            " FROM workflow_runs WHERE id = $1::uuid"
            " ON CONFLICT (run_id, step, seq) DO UPDATE SET role = EXCLUDED.role, agent = EXCLUDED.agent,"
            " status = EXCLUDED.status, input = EXCLUDED.input, output = EXCLUDED.output,"
            " state = EXCLUDED.state, error = EXCLUDED.error, tokens = EXCLUDED.tokens,"
            " attempts = EXCLUDED.attempts, finished_at = EXCLUDED.finished_at,"
            " started_at = coalesce(EXCLUDED.started_at, workflow_turns.started_at)",
            run_id,
            turn.step,
            turn.seq,
            turn.role,
            turn.agent,
            turn.status,
            turn.input,
            turn.output,
            turn.state,
            turn.error,
            turn.tokens,
            turn.attempts,
        )

    async def turns(self, run_id: str, step: str) -> list[Turn]:
        db = await self._ready()
        async with db.system() as c:
            rows = await c.fetch(
                f"SELECT {_TURN_COLUMNS} FROM workflow_turns WHERE run_id = $1::uuid AND step = $2"
                " ORDER BY seq",
                run_id,
                step,
            )
        return [Turn(**dict(r)) for r in rows]

    async def run_finished(
        self, run_id: str, status: RunStatus, output: Any, error: dict[str, Any] | None
    ) -> None:
        await self._execute(
            "UPDATE workflow_runs SET status = $2, output = $3, error = $4, finished_at = now(),"
            " updated_at = now() WHERE id = $1::uuid",
            run_id,
            status,
            output,
            error,
        )

    async def event(self, run_id: str, kind: str, data: Mapping[str, Any]) -> None:
        if self.redis is None:
            return
        key = run_events_key(run_id)
        fields = {"kind": kind, "data": orjson.dumps({"run": run_id, "kind": kind, **data, "at": _now()})}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(key, fields, maxlen=EVENTS_MAX_LEN, approximate=True)  # type: ignore[arg-type]
                pipe.expire(key, EVENTS_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError):
            pass  # the states are in PostgreSQL; events are for watching


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def platform_log() -> PostgresRunLog:
    """The run log of an engine actor on the platform (DATABASE_URL and REDIS_URL from its environment)."""
    return PostgresRunLog(os.environ["DATABASE_URL"], os.environ.get("REDIS_URL"))


def platform_call() -> Any:
    """Agent calls through the category deployments' Serve handles, with the run's caller: the same
    guardrails, execution records and events as a direct call."""
    from ray import serve

    from serve_app.control import Caller as PlatformCaller

    handles: dict[str, Any] = {}

    async def call(
        agent: str, category: str, input: dict[str, Any], caller: Caller, request_id: str
    ) -> tuple[int, dict[str, Any]]:
        handle = handles.get(category)
        if handle is None:
            handle = handles[category] = serve.get_deployment_handle(category, app_name=category)
        status, body = await handle.invoke.remote(
            agent, input, request_id, PlatformCaller(caller.tenant_id, caller.actor)
        )
        return int(status), dict(body)

    return call


PLATFORM_CALL = "serve_app.workflows:platform_call"
PLATFORM_LOG = "serve_app.workflows:platform_log"
