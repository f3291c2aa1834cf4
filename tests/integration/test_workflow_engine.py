"""`dag.engine` on a real local Ray with the PostgreSQL run log: parallel steps, conditions, fan-out,
retries, cancellation, and a run that survives the death of its driver."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from agents import Catalog
from agents.sample import Sampler
from dag import engine
from dag.spec import Workflow
from dag.validate import check
from serve_app.db import Database
from serve_app.routes.workflows import run_plan
from serve_app.store import Store
from serve_app.workflows import WorkflowStore
from tests.conftest import ROOT
from tests.workflow_support import CALLS, FAILURES, LATENCY, TEST_CALL, TEST_LOG

pytestmark = pytest.mark.timeout(240)

DIAMOND: dict[str, Any] = {
    "id": "diamond",
    "description": "Edit, then review and edit again in parallel, then write a bio from both.",
    "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    "steps": [
        {"id": "a", "agent": "comms_ap_style_editor", "input": {"text": "${{ input.text }}"}},
        {
            "id": "b",
            "agent": "comms_inclusive_language_reviewer",
            "input": {"text": "${{ steps.a.output.edited_text }}"},
        },
        {
            "id": "c",
            "agent": "comms_ap_style_editor",
            "input": {"text": "${{ steps.a.output.edited_text }} again"},
        },
        {
            "id": "d",
            "agent": "comms_executive_bio_writer",
            "input": {
                "cv_text": "${{ steps.c.output.edited_text }} rated ${{ steps.b.output.inclusivity_rating }}"
            },
        },
    ],
}


@pytest.fixture(scope="module")
def cluster(database_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token written to ~/.ray by this test
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        namespace=engine.NAMESPACE,
        runtime_env={"env_vars": env},
        log_to_driver=False,
    )
    yield env
    ray.shutdown()


def start_driver(env: dict[str, str], tmp_path: Path, **extra: Any) -> tuple[Any, Path]:
    journal = tmp_path / "calls.log"
    variables = {**env, CALLS: str(journal), **{k: json.dumps(v) for k, v in extra.items()}}
    handle = engine.driver(TEST_CALL, TEST_LOG, name=f"driver-{secrets.token_hex(4)}", env=variables)
    return handle, journal


async def new_run(
    db: Database, tenant: str, document: dict[str, Any], data: dict[str, Any], catalog: Catalog
) -> str:
    workflow = Workflow.from_data(document)
    check(workflow, catalog)
    workflows = WorkflowStore(db)
    stored = await workflows.create(tenant, workflow, "user:test")
    plan = run_plan(workflow, catalog)
    run_id, _ = await workflows.create_run(tenant, stored, workflow.with_defaults(data), "user:test", plan)
    return run_id


async def finished(db: Database, tenant: str, run_id: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        run = await WorkflowStore(db).run(tenant, run_id)
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.05)


def steps(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["step"]: s for s in run["steps"]}


async def test_a_diamond_runs_its_middle_steps_in_parallel(
    cluster: dict[str, str], db: Database, tenant: str, catalog: Catalog, tmp_path: Path
) -> None:
    driver, _ = start_driver(
        cluster,
        tmp_path,
        **{LATENCY: {"comms_inclusive_language_reviewer": 0.6, "comms_ap_style_editor": 0.3}},
    )
    run_id = await new_run(db, tenant, DIAMOND, {"text": "Our new CEO starts Monday."}, catalog)
    await driver.start.remote(run_id)
    run = await finished(db, tenant, run_id)
    assert run["status"] == "succeeded", run
    by = steps(run)
    assert all(s["status"] == "succeeded" and s["attempts"] == 1 for s in by.values())
    assert by["b"]["started_at"] < by["c"]["finished_at"] and by["c"]["started_at"] < by["b"]["finished_at"]
    assert set(run["output"]) == {"a", "b", "c", "d"}
    assert isinstance(run["output"]["d"]["bio_short"], str)


async def test_conditions_fan_out_retries_and_skips(
    cluster: dict[str, str], db: Database, tenant: str, catalog: Catalog, tmp_path: Path
) -> None:
    driver, journal = start_driver(cluster, tmp_path, **{FAILURES: {"comms_inclusive_language_reviewer": 2}})
    document = {
        "id": "branches",
        "description": "A condition that holds, one that does not, a fan-out, and a join that runs anyway.",
        "input_schema": {
            "type": "object",
            "properties": {
                "texts": {"type": "array", "items": {"type": "string"}},
                "strict": {"type": "boolean"},
            },
            "required": ["texts", "strict"],
        },
        "steps": [
            {
                "id": "edit",
                "agent": "comms_ap_style_editor",
                "for_each": {"items": "${{ input.texts }}", "as": "text", "max_concurrency": 2},
                "input": {"text": "${{ text }}"},
            },
            {
                "id": "review",
                "agent": "comms_inclusive_language_reviewer",
                "when": "${{ input.strict == true }}",
                "input": {"text": "${{ steps.edit.output[0].edited_text }}"},
                "retry": {"attempts": 3, "backoff_s": 0.05},
            },
            {
                "id": "skipped",
                "agent": "comms_ap_style_editor",
                "when": "${{ input.strict == false }}",
                "input": {"text": "never"},
            },
            {
                "id": "after_skip",
                "agent": "comms_ap_style_editor",
                "depends_on": ["skipped"],
                "input": {"text": "never either"},
            },
            {
                "id": "join",
                "agent": "comms_ap_style_editor",
                "depends_on": ["skipped", "review"],
                "run_if_skipped": True,
                "input": {"text": "joined"},
            },
        ],
    }
    run_id = await new_run(db, tenant, document, {"texts": ["one", "two", "three"], "strict": True}, catalog)
    await driver.start.remote(run_id)
    run = await finished(db, tenant, run_id)
    assert run["status"] == "succeeded", run
    by = steps(run)
    assert [by[s]["status"] for s in ("edit", "review", "skipped", "after_skip", "join")] == [
        "succeeded", "succeeded", "skipped", "skipped", "succeeded",
    ]  # fmt: skip
    assert len(by["edit"]["output"]) == 3 and by["review"]["attempts"] == 3
    calls = journal.read_text().split()
    assert calls.count("comms_inclusive_language_reviewer") == 3


async def test_a_failing_step_fails_the_run_and_cancel_stops_one(
    cluster: dict[str, str], db: Database, tenant: str, catalog: Catalog, tmp_path: Path
) -> None:
    driver, _ = start_driver(
        cluster,
        tmp_path,
        **{FAILURES: {"comms_inclusive_language_reviewer": 99}, LATENCY: {"comms_executive_bio_writer": 30}},
    )
    failing = await new_run(db, tenant, DIAMOND, {"text": "x"}, catalog)
    await driver.start.remote(failing)
    run = await finished(db, tenant, failing)
    assert run["status"] == "failed" and run["error"]["step"] == "b" and run["error"]["status"] == 503
    assert steps(run)["d"]["status"] == "skipped"

    slow = dict(
        DIAMOND,
        steps=[
            DIAMOND["steps"][0],
            {**DIAMOND["steps"][3], "input": {"cv_text": "${{ steps.a.output.edited_text }}"}},
        ],
    )
    cancelled = await new_run(db, tenant, slow, {"text": "x"}, catalog)
    await driver.start.remote(cancelled)
    await asyncio.sleep(1.0)
    began = time.monotonic()
    assert await driver.cancel.remote(cancelled)
    run = await finished(db, tenant, cancelled, within=10)
    assert run["status"] == "cancelled" and time.monotonic() - began < 5


async def test_a_run_survives_its_driver_dying_without_rerunning_finished_steps(
    cluster: dict[str, str], db: Database, tenant: str, catalog: Catalog, tmp_path: Path
) -> None:
    driver, journal = start_driver(cluster, tmp_path, **{LATENCY: {"comms_executive_bio_writer": 3}})
    run_id = await new_run(db, tenant, DIAMOND, {"text": "Survive this."}, catalog)
    await driver.start.remote(run_id)
    deadline = time.monotonic() + 30
    while steps(await WorkflowStore(db).run(tenant, run_id)).get("d", {}).get("status") != "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    os.kill(await driver.pid.remote(), signal.SIGKILL)
    run = await finished(db, tenant, run_id, within=90)
    assert run["status"] == "succeeded", run
    calls = [line.split()[1] for line in journal.read_text().splitlines()]
    assert calls.count("comms_inclusive_language_reviewer") == 1  # b finished before the kill
    assert calls.count("comms_ap_style_editor") == 2  # a and c, once each
    assert await driver.resume.remote() == [run_id]  # the restarted driver picked it up


async def test_runs_are_recorded_per_tenant(
    db: Database, store: Store, tenant: str, catalog: Catalog
) -> None:
    run_id = await new_run(db, tenant, DIAMOND, {"text": "x"}, catalog)
    other = f"{tenant}-wf"
    await store.create_tenant(other, other)
    with pytest.raises(Exception, match="no such run"):
        await WorkflowStore(db).run(other, run_id)
    assert (await WorkflowStore(db).run(tenant, run_id))["created_at"] <= dt.datetime.now(dt.UTC)


async def test_every_shipped_workflow_runs_on_the_offline_provider(
    cluster: dict[str, str], db: Database, tenant: str, catalog: Catalog, tmp_path: Path
) -> None:
    driver, _ = start_driver(cluster, tmp_path)
    files = sorted((ROOT / "definitions" / "workflows").glob("*.yaml"))
    started = {}
    for path in files:
        workflow = Workflow.from_file(path)
        document = workflow.model_dump(mode="json", by_alias=True, exclude_none=True)
        run_id = await new_run(
            db, tenant, document, Sampler(workflow.input_schema)({"run": path.stem}), catalog
        )
        await driver.start.remote(run_id)
        started[path.stem] = run_id
    for name, run_id in started.items():
        run = await finished(db, tenant, run_id, within=120)
        if name == "launch_team":
            # The offline manager's plan fits its schema but assigns tasks to no member: it is told so,
            # plans again, and the step fails naming the problem.
            assert run["status"] == "failed" and run["error"]["type"] == "bad_plan", run["error"]
            assert [t["role"] for t in run["turns"]] == ["plan", "plan"]
            assert run["turns"][1]["input"]["problems"], run["turns"][1]
            continue
        assert run["status"] == "succeeded", (name, run["input"], run["error"])
        assert any(s["status"] == "succeeded" for s in run["steps"]), name
        if name in ("brand_copy_loop", "positioning_chat"):
            turns = run["turns"]
            assert turns and all(t["status"] == "succeeded" for t in turns), turns
            assert [t["seq"] for t in turns] == list(range(1, len(turns) + 1))
            usage = run["steps"][0]["output"]["usage"]  # the workflow's one step
            assert usage["calls"] == len(turns) and usage["tokens"] == sum(t["tokens"] for t in turns)
    assert len(started) >= 10


async def test_a_graph_resumes_from_its_recorded_turns_and_a_chat_is_cancelled_mid_turn(
    cluster: dict[str, str], db: Database, tenant: str, catalog: Catalog, tmp_path: Path
) -> None:
    voice, writer = "marketing_brand_voice_checker", "marketing_content_writer"
    driver, journal = start_driver(cluster, tmp_path, **{LATENCY: {voice: 3}})
    loop = Workflow.from_file(ROOT / "definitions" / "workflows" / "brand_copy_loop.yaml")
    document = loop.model_dump(mode="json", by_alias=True, exclude_none=True)
    data = {"topic": "Acme Cloud", "audience": "CTOs", "brand_guidelines": "Plain words."}
    run_id = await new_run(db, tenant, document, data, catalog)
    await driver.start.remote(run_id)
    deadline = time.monotonic() + 30
    while not any(t["role"] == "voice" for t in (await WorkflowStore(db).run(tenant, run_id))["turns"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    os.kill(await driver.pid.remote(), signal.SIGKILL)  # the first voice turn is under way
    run = await finished(db, tenant, run_id, within=90)
    assert run["status"] == "succeeded", run["error"]
    path = run["output"]["path"]
    calls = [line.split()[1] for line in journal.read_text().splitlines()]
    assert calls.count(writer) == path.count("write")  # the first draft was replayed, not written again
    assert [t["role"] for t in run["turns"]] == path
    assert all(t["state"]["draft"] is not None for t in run["turns"])  # the shared state, per turn

    slow = dict.fromkeys(("marketing_positioning_statement_writer", "project_discussion_moderator"), 30)
    driver, _ = start_driver(cluster, tmp_path, **{LATENCY: slow})
    chat = Workflow.from_file(ROOT / "definitions" / "workflows" / "positioning_chat.yaml")
    document = chat.model_dump(mode="json", by_alias=True, exclude_none=True)
    run_id = await new_run(db, tenant, document, {"question": "How?", "product_facts": "Fast."}, catalog)
    await driver.start.remote(run_id)
    deadline = time.monotonic() + 30
    while not (await WorkflowStore(db).run(tenant, run_id))["turns"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert await driver.cancel.remote(run_id)
    run = await finished(db, tenant, run_id, within=10)
    assert run["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while (turn := (await WorkflowStore(db).run(tenant, run_id))["turns"][0])["status"] == "running":
        assert time.monotonic() < deadline, turn
        await asyncio.sleep(0.05)
    assert turn["role"] == "selector" and turn["error"]["type"] == "cancelled"
