"""The turns of collaboration steps in PostgreSQL: what the run log records, replaces and lists, what a run
shows of them, and that they stay within their tenant."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from dag.engine import Turn
from dag.spec import Workflow
from serve_app.db import Database
from serve_app.errors import NotFoundError
from serve_app.store import Store
from serve_app.workflows import RUN_TURNS_MAX, PostgresRunLog, WorkflowStore

DOCUMENT: dict[str, Any] = {
    "id": "turns",
    "description": "One step whose turns the tests record by hand.",
    "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
    "steps": [{"id": "debate", "agent": "comms_ap_style_editor", "input": {"text": "${{ input.text }}"}}],
}


@pytest.fixture
async def run_log(database_url: str) -> AsyncIterator[PostgresRunLog]:
    log = PostgresRunLog(database_url, None)
    yield log
    await log.db.close()


async def new_run(db: Database, tenant: str) -> str:
    workflows = WorkflowStore(db)
    stored = await workflows.create(tenant, Workflow.from_data(DOCUMENT), "user:test")
    plan = {"debate": {"agent": "comms_ap_style_editor", "category": "comms"}}
    run_id, _ = await workflows.create_run(tenant, stored, {"text": "hi"}, "user:test", plan)
    return run_id


def turn(seq: int, step: str = "debate", **changes: Any) -> Turn:
    fields: dict[str, Any] = {
        "step": step,
        "seq": seq,
        "role": f"node_{seq}",
        "agent": "comms_ap_style_editor",
        "status": "running",
        "input": {"text": f"turn {seq}"},
    }
    fields.update(changes)
    return Turn(**fields)


async def test_turns_are_recorded_finished_and_listed_by_seq(
    db: Database, tenant: str, run_log: PostgresRunLog
) -> None:
    run_id = await new_run(db, tenant)
    await run_log.turn_started(run_id, turn(2))
    await run_log.turn_started(run_id, turn(1))
    await run_log.turn_started(run_id, turn(1, step="other"))
    running = await run_log.turns(run_id, "debate")
    assert running == [turn(1), turn(2)]

    done = turn(
        1,
        status="succeeded",
        output={"edited_text": "Hi."},
        state={"draft": "Hi."},
        tokens=42,
        attempts=2,
    )
    await run_log.turn_finished(run_id, done)
    failed = turn(2, status="failed", error={"type": "upstream_error", "message": "503"}, attempts=3)
    await run_log.turn_finished(run_id, failed)
    assert await run_log.turns(run_id, "debate") == [done, failed]
    assert await run_log.turns(run_id, "other") == [turn(1, step="other")]
    assert await run_log.turns(run_id, "nowhere") == []

    rows = {
        t["seq"]: t for t in (await WorkflowStore(db).run(tenant, run_id))["turns"] if t["step"] == "debate"
    }
    assert isinstance(rows[1]["started_at"], dt.datetime)
    assert rows[1]["finished_at"] >= rows[1]["started_at"]


async def test_a_finish_without_a_start_still_writes_the_turn(
    db: Database, tenant: str, run_log: PostgresRunLog
) -> None:
    run_id = await new_run(db, tenant)
    finished = turn(1, status="succeeded", output={"answer": 1}, tokens=7, attempts=1)
    await run_log.turn_finished(run_id, finished)
    assert await run_log.turns(run_id, "debate") == [finished]
    [row] = (await WorkflowStore(db).run(tenant, run_id))["turns"]
    assert row["started_at"] is None and isinstance(row["finished_at"], dt.datetime)


async def test_a_turn_recorded_again_under_its_seq_replaces_the_earlier_one(
    db: Database, tenant: str, run_log: PostgresRunLog
) -> None:
    run_id = await new_run(db, tenant)
    first = turn(1, status="succeeded", output={"a": 1}, state={"s": 1}, tokens=10, attempts=1)
    await run_log.turn_started(run_id, turn(1))
    await run_log.turn_finished(run_id, first)

    again = turn(1, role="critic", agent="comms_inclusive_language_reviewer", input={"text": "again"})
    await run_log.turn_started(run_id, again)
    assert await run_log.turns(run_id, "debate") == [again]  # no output, state, tokens left from before
    [row] = (await WorkflowStore(db).run(tenant, run_id))["turns"]
    assert row["finished_at"] is None and row["started_at"] is not None

    failed = replace(again, status="failed", error={"type": "cancelled"}, attempts=1)
    await run_log.turn_finished(run_id, failed)
    assert await run_log.turns(run_id, "debate") == [failed]


async def test_a_run_shows_its_turns_by_step_then_seq(
    db: Database, tenant: str, run_log: PostgresRunLog
) -> None:
    run_id = await new_run(db, tenant)
    for step, seq in [("b", 2), ("a", 3), ("b", 1), ("a", 1), ("a", 2)]:
        await run_log.turn_started(run_id, turn(seq, step=step))
    await run_log.turn_finished(run_id, turn(1, step="a", status="succeeded", output={"x": [1]}, tokens=5))

    run = await WorkflowStore(db).run(tenant, run_id)
    assert [(t["step"], t["seq"]) for t in run["turns"]] == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)]
    first = run["turns"][0]
    assert set(first) == {
        "step",
        "seq",
        "role",
        "agent",
        "status",
        "input",
        "output",
        "state",
        "error",
        "tokens",
        "attempts",
        "started_at",
        "finished_at",
    }
    assert (first["role"], first["status"], first["input"], first["output"], first["tokens"]) == (
        "node_1",
        "succeeded",
        {"text": "turn 1"},
        {"x": [1]},
        5,
    )
    assert run["steps"] == []  # turns are listed whether or not their step has a row yet


async def test_a_run_lists_at_most_its_first_turns(db: Database, tenant: str) -> None:
    run_id = await new_run(db, tenant)
    async with db.system() as c:
        await c.execute(
            "INSERT INTO workflow_turns (run_id, tenant_id, step, seq, role, agent, status)"
            " SELECT $1::uuid, $2, 'debate', n, 'speaker', 'x', 'succeeded' FROM generate_series(1, $3) n",
            run_id,
            tenant,
            RUN_TURNS_MAX + 1,
        )
    turns = (await WorkflowStore(db).run(tenant, run_id))["turns"]
    assert [t["seq"] for t in turns] == list(range(1, RUN_TURNS_MAX + 1))


async def test_another_tenant_sees_none_of_the_turns(
    db: Database, store: Store, tenant: str, run_log: PostgresRunLog
) -> None:
    other = f"{tenant}-x"
    await store.create_tenant(other, other)
    run_id = await new_run(db, tenant)
    await run_log.turn_started(run_id, turn(1))
    await run_log.turn_finished(run_id, turn(2, status="succeeded", output={"secret": "s"}))

    assert len((await WorkflowStore(db).run(tenant, run_id))["turns"]) == 2
    with pytest.raises(NotFoundError):
        await WorkflowStore(db).run(other, run_id)
    async with db.tenant(other) as c:
        assert await c.fetchval("SELECT count(*) FROM workflow_turns WHERE run_id = $1::uuid", run_id) == 0
        updated = await c.execute("UPDATE workflow_turns SET output = '{}' WHERE run_id = $1::uuid", run_id)
        assert updated == "UPDATE 0"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # nor write one in the owner's name
        async with db.tenant(other) as c:
            await c.execute(
                "INSERT INTO workflow_turns (run_id, tenant_id, step, seq, role, agent, status)"
                " VALUES ($1::uuid, $2, 'debate', 9, 'speaker', 'x', 'running')",
                run_id,
                tenant,
            )
    async with db.tenant(tenant) as c:
        assert await c.fetchval("SELECT count(*) FROM workflow_turns WHERE run_id = $1::uuid", run_id) == 2
