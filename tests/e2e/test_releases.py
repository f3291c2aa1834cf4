"""Agent versions on the served platform: a version published while calls run fails none of them, every
replica switches to it, the earlier version stays invocable on both paths, and a rollback switches back."""

from __future__ import annotations

import threading
import time
from typing import Any

from playwright.sync_api import expect

from agents import Catalog
from agents.sample import Sampler
from serve_app.service import definition
from tests.e2e.conftest import UI, Platform

AGENT = "marketing_case_study_writer"
CALLERS = 4


def _switched(answers: list[tuple[int, str | None]], version: str, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if len(answers) > 20 and {v for _, v in answers[-20:]} == {version}:
            return
        time.sleep(0.1)
    raise AssertionError(f"calls still answered by {sorted({str(v) for _, v in answers[-20:]})}")


def _by_version(platform: Platform, agent: str) -> dict[str, int]:
    with platform.client() as http:
        rows = http.get("/v1/analytics/versions", params={"agent": agent, "hours": 24}).json()["items"]
    return {r["version"]: r["calls"] for r in rows}


def _recorded(platform: Platform, agent: str, calls: int, within: float = 30) -> dict[str, int]:
    """Calls of `agent` by version, once the audit log (which writes in batches) holds `calls` of them."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = _by_version(platform, agent)
        if sum(found.values()) >= calls:
            return found
        time.sleep(0.2)
    raise AssertionError(f"fewer than {calls} calls of {agent} recorded")


def test_a_version_published_under_load_fails_no_call(platform: Platform) -> None:
    spec = Catalog.load(platform.definitions).get(AGENT)
    body = {"input": Sampler(spec.input_schema)({"e2e": "releases"})}
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def call() -> None:
        with platform.client() as http:
            while not stop.is_set():
                answer = http.post(f"/v1/agents/{AGENT}/invoke", json=body)
                answers.append((answer.status_code, answer.json().get("version")))

    callers = [threading.Thread(target=call) for _ in range(CALLERS)]
    for caller in callers:
        caller.start()
    try:
        _switched(answers, "1.0.0")
        with platform.client() as http:
            published = http.put(f"/v1/agents/{AGENT}", json={**definition(spec), "version": "1.1.0"})
            assert published.status_code == 200, published.text
            _switched(answers, "1.1.0")
            shown: dict[str, Any] = http.get(f"/v1/agents/{AGENT}").json()
            assert shown["version"] == "1.1.0"
            for path in (
                f"/v1/agents/{AGENT}@1.0.0/invoke",
                f"/v1/categories/marketing/agents/{AGENT}@1.0.0/invoke",
            ):
                earlier = http.post(path, json=body)
                assert earlier.status_code == 200 and earlier.json()["version"] == "1.0.0", earlier.text
            back = http.post(f"/v1/agents/{AGENT}/rollback", json={})
            assert back.status_code == 200 and back.json()["active"] == "1.0.0"
            _switched(answers, "1.0.0")
    finally:
        stop.set()
        for caller in callers:
            caller.join(timeout=30)
    failed = [a for a in answers if a[0] != 200]
    assert failed == [] and len(answers) > 100, (len(answers), failed[:5])
    assert {v for _, v in answers} == {"1.0.0", "1.1.0"}
    with platform.client() as http:
        recorded = http.get("/v1/analytics/versions", params={"agent": AGENT, "hours": 1}).json()["items"]
    assert {row["version"] for row in recorded} == {"1.0.0", "1.1.0"}


def test_a_canary_is_compared_and_promoted_on_the_agents_page(ui: UI) -> None:
    agent = "marketing_campaign_report_writer"
    spec = Catalog.load(ui.platform.definitions).get(agent)
    body = {"input": Sampler(spec.input_schema)({"e2e": "canary"})}
    before = sum(_by_version(ui.platform, agent).values())
    with ui.platform.client() as http:
        canary = http.put(f"/v1/agents/{agent}?canary=50", json={**definition(spec), "version": "2.0.0"})
        assert canary.status_code == 200, canary.text
        answered = [http.post(f"/v1/agents/{agent}/invoke", json=body).json()["version"] for _ in range(12)]
    assert set(answered) == {"1.0.0", "2.0.0"}
    counted = _recorded(ui.platform, agent, before + len(answered))
    page = ui.page
    ui.goto(f"#/agents/{agent}")
    heading = page.get_by_role("heading", name="Versions", exact=True)
    versions = page.locator("section.card").filter(has=heading)
    expect(versions.get_by_text("Active: 1.0.0, canary 2.0.0 on 50 % of calls")).to_be_visible()
    table = versions.get_by_role("table", name=f"Versions of {agent}")
    for version in ("1.0.0", "2.0.0"):
        row = table.get_by_role("row").filter(has=page.get_by_text(version, exact=True))
        expect(row.get_by_role("cell").nth(3)).to_have_text(str(counted[version]))
    ui.shot("agent-versions")
    versions.get_by_role("button", name="Promote 2.0.0").click()
    expect(versions.get_by_text("2.0.0 is now active.")).to_be_visible()
    expect(versions.get_by_text("Active: 2.0.0")).to_be_visible()
    with ui.platform.client() as http:
        assert http.get(f"/v1/agents/{agent}/versions").json()["release"]["active"] == "2.0.0"
        assert http.post(f"/v1/agents/{agent}/invoke", json=body).json()["version"] == "2.0.0"
