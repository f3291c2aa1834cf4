"""Every page of the web UI audited by axe-core (WCAG 2.2 A and AA rules) in light and dark colours, at a
desktop and a phone width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ROOT
from tests.e2e.conftest import UI, Platform

AXE = ROOT / "tests" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AUDIT = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
  return result.violations.map((v) => ({
    rule: v.id, impact: v.impact, help: v.help,
    where: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${n.failureSummary}`),
  }));
}"""


def audit(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=AXE)
    found: list[dict[str, Any]] = page.evaluate(AUDIT, RULES)
    return found


@pytest.fixture(params=["light", "dark"])
def audited(request: pytest.FixtureRequest, platform: Platform, browser: Browser) -> Iterator[UI]:
    """A signed-in page that lets axe-core in (the UI's policy would refuse the injected script)."""
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing: npm ci --prefix tests/ui (looked for {AXE})")
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, color_scheme=request.param, bypass_csp=True
    )
    context.set_default_timeout(30_000)
    ui = UI(context.new_page(), platform)
    yield ui
    context.close()


def _a_finished_run(platform: Platform) -> str:
    article = {
        "target_keyword": "workflow automation",
        "serp_outlines": [{"url": "https://example.com/a", "headings": ["What it is", "Why it matters"]}],
        "url": "https://example.com/blog/automation",
        "audience": "operations leads",
        "brand_guidelines": "Plain and friendly.",
    }
    with platform.client() as http:
        answer = http.post("/v1/workflows/seo_article/runs?wait=true&timeout=60", json={"input": article})
    assert answer.status_code == 200, answer.text
    run_id: str = answer.json()["id"]
    return run_id


def test_every_page_passes_the_accessibility_audit(audited: UI) -> None:
    page = audited.page
    page.goto(f"{audited.platform.url}/ui/#/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    problems = {"signin": audit(page)}
    audited.sign_in(audited.platform.email, audited.platform.password)
    run_id = _a_finished_run(audited.platform)
    pages = {
        "agents": ("#/agents", ".agent-card"),
        "agent": ("#/agents/marketing_content_writer", "form"),
        "agent-published": ("#/agents/marketing_case_study_writer", "form"),  # versions (test_releases)
        "dashboard": ("#/dashboard", ".stat-value"),
        "analytics": ("#/analytics", "svg"),
        "workflows": ("#/workflows", "a[href^='#/workflows/']"),
        "workflow": ("#/workflows/seo_article", "svg"),
        "run": (f"#/runs/{run_id}", "svg"),
        "admin-keys": ("#/admin?tab=keys", "table"),
        "admin-users": ("#/admin?tab=users", "table"),
        "admin-roles": ("#/admin?tab=roles", "table"),
    }
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 844})
        for name, (route, ready) in pages.items():
            audited.goto(route)
            expect(page.locator(f"main {ready}").first).to_be_visible()
            problems[f"{name}@{width}"] = audit(page)
    found = {name: p for name, p in problems.items() if p}
    assert found == {}, "\n".join(f"{name}: {p}" for name, p in found.items())


def test_a_viewer_sees_only_what_its_role_allows(platform: Platform, browser_page: Page) -> None:
    """A viewer: no Admin, nothing to run, no executions; the pages it may open still work."""
    email, password = f"viewer-{id(browser_page)}@example.com", "viewer password 123"
    with httpx.Client(base_url=platform.url, headers={"x-api-key": platform.api_key}) as http:
        created = http.post("/v1/users", json={"email": email, "password": password, "role": "viewer"})
        assert created.status_code == 201, created.text
    ui = UI(browser_page, platform)
    ui.sign_in(email, password)
    page = ui.page
    nav = page.get_by_role("navigation", name="Main")
    for shown in ("Marketplace", "Dashboard", "Analytics", "Workflows"):
        expect(nav.get_by_role("link", name=shown)).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_be_hidden()
    ui.goto("#/agents/marketing_content_writer")
    expect(page.get_by_role("button", name="Run")).to_be_disabled()
    expect(page.get_by_text("Your role (viewer) may read agents but not invoke them.")).to_be_visible()
    ui.goto("#/dashboard")
    expect(page.get_by_text("Your role does not include reading executions.")).to_be_visible()
    ui.goto("#/analytics")
    expect(page.get_by_role("heading", name="Calls per day by tenant")).to_have_count(0)
    ui.goto("#/workflows/seo_article")
    expect(page.get_by_role("button", name="Start run")).to_have_count(0)
    ui.shot("viewer-dashboard")
